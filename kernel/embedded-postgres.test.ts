// The embedded PostgreSQL's placement and its refusals, with real servers. As root (CI) a data folder inside a folder
// closed to other users gets a stand-in the postgres user can reach; as any other user the data stays where asked.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { EmbeddedPostgresError, ROOT_DATA_HOME, startEmbeddedPostgres } from "./embedded-postgres.js";

const isRoot = process.getuid?.() === 0;
let closed: string;
beforeAll(async () => {
  closed = await mkdtemp(path.join(tmpdir(), "tributary-embedded-pg-")); // mode 700
});
afterAll(async () => {
  await rm(closed, { recursive: true, force: true });
});

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("embedded PostgreSQL from a folder closed to other users", () => {
  it("keeps its data across restarts where the server's user can reach it; a throwaway one leaves nothing behind", async () => {
    const asked = path.join(closed, "kept", ".data");
    const first = await startEmbeddedPostgres({ dataDir: asked });
    let dataDir = first.dataDir;
    try {
      if (isRoot) {
        expect(dataDir.startsWith(`${ROOT_DATA_HOME}/kept-`)).toBe(true);
        expect(first.relocation).toContain(`which cannot enter ${closed}`);
        expect(existsSync(asked)).toBe(false);
        expect((await stat(path.join(dataDir, "pg-password"))).mode & 0o777).toBe(0o600);
      } else {
        expect([dataDir, first.relocation]).toEqual([asked, undefined]);
      }
      await query(await first.createDatabase("kept"), "create table t as select 42 as answer");
    } finally {
      await first.stop();
    }
    const again = await startEmbeddedPostgres({ dataDir: asked });
    try {
      expect(again.dataDir).toBe(dataDir);
      expect(await query(again.urlFor("kept"), "select answer from t")).toEqual([{ answer: 42 }]);
    } finally {
      await again.stop();
      if (isRoot) await rm(dataDir, { recursive: true, force: true });
    }

    const throwaway = await startEmbeddedPostgres({ dataDir: path.join(closed, "throwaway", "data"), persistent: false });
    dataDir = throwaway.dataDir;
    await throwaway.stop();
    expect(existsSync(isRoot ? dataDir : path.join(dataDir, "pg"))).toBe(false);
  }, 60_000);

  it("uses a closed data folder where asked when the folders above are open and it holds only Tributary's data", async () => {
    // How tests and benchmarks ask: a fresh mkdtemp folder (mode 700) in the open /tmp.
    const asked = await mkdtemp(path.join(tmpdir(), "tributary-embedded-pg-own-"));
    const foreign = await mkdtemp(path.join(tmpdir(), "tributary-embedded-pg-foreign-"));
    try {
      await writeFile(path.join(foreign, "notes.txt"), "someone else's\n");
      const own = await startEmbeddedPostgres({ dataDir: asked, persistent: false });
      await own.stop();
      expect([own.dataDir, own.relocation]).toEqual([asked, undefined]);
      expect((await stat(asked)).mode & 0o777).toBe(isRoot ? 0o711 : 0o700);

      const other = await startEmbeddedPostgres({ dataDir: foreign, persistent: false });
      await other.stop();
      // A closed folder holding anything else is never opened: as root the data goes to a stand-in instead.
      expect((await stat(foreign)).mode & 0o777).toBe(0o700);
      if (isRoot) {
        expect(other.dataDir.startsWith(`${ROOT_DATA_HOME}/tmp-`)).toBe(true);
        expect(other.relocation).toContain(`which cannot enter ${foreign}`);
        expect(existsSync(other.dataDir)).toBe(false);
      } else {
        expect(other.dataDir).toBe(foreign);
      }
    } finally {
      await rm(asked, { recursive: true, force: true });
      await rm(foreign, { recursive: true, force: true });
    }
  }, 60_000);

  it("refuses, in one sentence, data whose password file was replaced", async () => {
    const asked = path.join(closed, "replaced", ".data");
    const first = await startEmbeddedPostgres({ dataDir: asked, persistent: true });
    const dataDir = first.dataDir;
    await first.stop();
    try {
      await writeFile(path.join(dataDir, "pg-password"), "not-the-password\n", { mode: 0o600 });
      const err = await startEmbeddedPostgres({ dataDir: asked }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EmbeddedPostgresError);
      expect((err as Error).message).toBe(
        `PostgreSQL in ${dataDir}/pg/ does not accept the password in ${dataDir}/pg-password (that file was replaced): delete ${dataDir}/ to start over.`,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  (isRoot ? it : it.skip)("as root, refuses data the postgres user can no longer reach rather than starting an empty database", async () => {
    const asked = path.join(closed, "moved", ".data");
    await mkdir(path.join(asked, "pg"), { recursive: true });
    await writeFile(path.join(asked, "pg", "PG_VERSION"), "18\n");
    const err = await startEmbeddedPostgres({ dataDir: asked }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedPostgresError);
    expect((err as Error).message).toMatch(
      new RegExp(`^${asked}/ holds PostgreSQL data that the postgres user cannot reach \\(${closed} is closed to other users\\): move that folder to ${ROOT_DATA_HOME}/moved-[0-9a-f]{12}/ to keep the data, or delete it to start over\\.$`),
    );
  });
});
