// Generates the next migration of one subgraph from the difference between its entities and its committed
// migrations, against a throwaway embedded PostgreSQL. Usage: npm run migration:create -- <subgraph> [name]
import "reflect-metadata";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { migrate, openDatabase } from "../kernel/db.js";
import { startEmbeddedPostgres } from "../kernel/embedded-postgres.js";
import { SUBGRAPHS } from "./subgraphs.js";

const [name, label] = process.argv.slice(2);
const subgraph = SUBGRAPHS.find((s) => s.name === name);
if (!subgraph) {
  console.error(`usage: npm run migration:create -- <${SUBGRAPHS.map((s) => s.name).join("|")}> [name]`);
  process.exit(2);
}
const dir = path.resolve("subgraphs", subgraph.name, "migrations");
const tmp = await mkdtemp(path.join(tmpdir(), "tributary-migrations-"));
const pg = await startEmbeddedPostgres({ dataDir: tmp, persistent: false });
try {
  const url = await pg.createDatabase("migrations");
  const orm = await openDatabase({ url, ...subgraph.database });
  try {
    await migrate(orm, subgraph.database.schema);
    const result = await orm.migrator.create(dir, false, false, label);
    if (!result.fileName) {
      console.log(`${subgraph.name}: entities match the committed migrations; nothing to create`);
    } else {
      console.log(`${subgraph.name}: created ${path.join(dir, result.fileName)}`);
      await writeIndex(dir, subgraph.name);
    }
  } finally {
    await orm.close();
  }
} finally {
  await pg.stop();
  await rm(tmp, { recursive: true, force: true });
}

/** Rewrites migrations/index.ts to list every migration file in name (timestamp) order. */
async function writeIndex(folder: string, service: string): Promise<void> {
  const files = (await readdir(folder)).filter((f) => /^Migration\d+.*\.ts$/.test(f)).sort();
  const lines = files.map((f) => f.replace(/\.ts$/, ""));
  const body = [
    `// Committed migrations of the \`${service}\` schema, in order. Create new ones with \`npm run migration:create -- ${service}\`.`,
    ...lines.map((m) => `import { ${m} } from "./${m}.js";`),
    "",
    "export const migrations = [",
    ...lines.map((m) => `  { name: "${m}", class: ${m} },`),
    "];",
    "",
  ].join("\n");
  await writeFile(path.join(folder, "index.ts"), body);
}
