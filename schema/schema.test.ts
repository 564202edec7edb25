import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "@jest/globals";
import { buildSchema } from "graphql";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";
import { SUBGRAPHS } from "../bin/subgraphs.js";
import { composeSchemas } from "./compose.js";

describe("schema/", () => {
  it("committed SDL and supergraph match the code (run `npm run schema` after changing a subgraph)", async () => {
    const { files } = await composeSchemas();
    expect(Object.keys(files).sort()).toEqual(["audit.graphql", "connectors.graphql", "supergraph.graphql", "sync.graphql", "tenants.graphql"]);
    for (const [name, content] of Object.entries(files)) {
      const committed = await readFile(path.resolve("schema", name), "utf8");
      expect({ name, content: committed }).toEqual({ name, content });
    }
  });

  it("subgraph SDL keeps federation keys (printSubgraphSchema, not printSchema)", async () => {
    const sync = await readFile(path.resolve("schema", "sync.graphql"), "utf8");
    expect(sync).toMatch(/type SyncRun\s+@key\(fields: "id"\)/);
  });

  it("composition errors fail instead of writing a supergraph", async () => {
    // A fifth subgraph that redefines SyncRun.status with an incompatible type cannot compose.
    const broken = {
      name: "broken",
      defaultPort: 4999,
      buildSchema: async () =>
        buildSubgraphSchema({
          typeDefs: parse(`
            extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])
            type SyncRun @key(fields: "id") @shareable { id: ID! status: Int! }
            type Query { broken: SyncRun }
          `),
        }),
    };
    await expect(composeSchemas([...SUBGRAPHS, broken])).rejects.toThrow(/Composition failed/);
  });

  it("the supergraph is valid GraphQL with every subgraph joined", async () => {
    const supergraph = await readFile(path.resolve("schema", "supergraph.graphql"), "utf8");
    expect(() => buildSchema(supergraph, { assumeValidSDL: true })).not.toThrow();
    for (const s of SUBGRAPHS) expect(supergraph).toContain(`name: "${s.name}"`);
  });
});
