// `npm run schema`: writes schema/<subgraph>.graphql and schema/supergraph.graphql. Fails on composition errors.
import "reflect-metadata";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { composeSchemas } from "./compose.js";

try {
  const { files } = await composeSchemas();
  for (const [name, content] of Object.entries(files)) {
    await writeFile(path.resolve("schema", name), content);
    console.log(`schema/${name}`);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
