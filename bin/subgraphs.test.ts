import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { migrate, openDatabase } from "../kernel/db.js";
import { createTestDatabase, releasePostgres } from "../test/harness/stack.js";
import { SUBGRAPHS } from "./subgraphs.js";

// Guards the committed migrations: applied to an empty database they must produce exactly what the entities
// describe (a changed entity without `npm run migration:create` fails here), and applying them twice is a no-op.
describe("migrations", () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase();
  });
  afterAll(async () => {
    await releasePostgres();
  });

  it.each(SUBGRAPHS.map((s) => [s.name, s] as const))("%s: migrations match the entities", async (_name, s) => {
    const orm = await openDatabase({ url, ...s.database });
    try {
      const first = await migrate(orm, s.database.schema);
      expect(first.length).toBe(s.database.migrations.length);
      expect(await migrate(orm, s.database.schema)).toEqual([]);
      const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, schema: s.database.schema });
      expect(diff.trim()).toBe("");
    } finally {
      await orm.close();
    }
  });

  it("each service keeps to its own Postgres schema", () => {
    const schemas = SUBGRAPHS.map((s) => s.database.schema);
    expect(new Set(schemas).size).toBe(SUBGRAPHS.length);
  });
});
