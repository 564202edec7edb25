import { describe, expect, it } from "@jest/globals";
import type { GraphQLError } from "graphql";
import {
  matchesFilter,
  matchesRowFilters,
  RowFilterOp,
  substituteFilters,
  substituteValue,
  UNRESOLVED,
  validateCollectionName,
  validateRowFilters,
  valueAt,
  type FilterSubject,
} from "./row-filter.js";

function errorOf(fn: () => unknown): { code: unknown; field: unknown } {
  try {
    fn();
  } catch (e) {
    const ext = (e as GraphQLError).extensions ?? {};
    return { code: ext.code, field: ext.field };
  }
  throw new Error("expected an error");
}

const subject: FilterSubject = { userId: "u-1", email: "ana@acme.example", claims: { sub: "u-1", plan: "PRO", region: "EU", roles: ["USER"] } };

describe("collection names", () => {
  it.each(["orders", "Orders_2024", "crm.partners", "a-b", "*", "x".repeat(100)])("accepts %s", (name) => {
    expect(validateCollectionName(name)).toBe(name);
  });
  it.each(["", "x".repeat(101), "orders/1", "or ders", "**", "a*", "ünï", null, 3])("refuses %p as BAD_USER_INPUT on collection", (name) => {
    expect(errorOf(() => validateCollectionName(name))).toEqual({ code: "BAD_USER_INPUT", field: "collection" });
  });
});

describe("row filter validation", () => {
  it("accepts every operator with a fitting value and keeps references", () => {
    const filters = [
      { field: "department", op: "EQ", value: "SALES" },
      { field: "owner.id", op: "EQ", value: "$user.id" },
      { field: "archived", op: "NE", value: true },
      { field: "status", op: "IN", value: ["OPEN", "WON", null] },
      { field: "status", op: "NIN", value: ["LOST"] },
      { field: "amount", op: "GT", value: 10 },
      { field: "amount", op: "GTE", value: 10.5 },
      { field: "closedAt", op: "LT", value: "2026-01-01T00:00:00Z" },
      { field: "amount", op: "LTE", value: 1000 },
      { field: "tags", op: "CONTAINS", value: "$claims.region" },
      { field: "email", op: "EQ", value: "$user.email" },
      { field: "note", op: "EQ", value: "$$literal" },
      { field: "deleted", op: "EQ" },
    ];
    expect(validateRowFilters(filters)).toEqual(filters.map((f) => ({ ...f, value: "value" in f ? f.value : null })));
  });

  it("treats null and undefined as no filters", () => {
    expect(validateRowFilters(undefined)).toEqual([]);
    expect(validateRowFilters(null)).toEqual([]);
  });

  it.each([
    [[{ field: "", op: "EQ", value: 1 }], "rowFilters[0].field"],
    [[{ field: "a..b", op: "EQ", value: 1 }], "rowFilters[0].field"],
    [[{ field: "a b", op: "EQ", value: 1 }], "rowFilters[0].field"],
    [[{ field: "a.b.c.d.e.f.g.h.i.j.k", op: "EQ", value: 1 }], "rowFilters[0].field"],
    [[{ field: "ok", op: "EQ", value: 1 }, { field: "ok", op: "LIKE", value: 1 }], "rowFilters[1].op"],
    [[{ field: "a", op: "EQ", value: { nested: true } }], "rowFilters[0].value"],
    [[{ field: "a", op: "EQ", value: [1] }], "rowFilters[0].value"],
    [[{ field: "a", op: "IN", value: "x" }], "rowFilters[0].value"],
    [[{ field: "a", op: "IN", value: [] }], "rowFilters[0].value"],
    [[{ field: "a", op: "IN", value: Array.from({ length: 101 }, (_, i) => i) }], "rowFilters[0].value"],
    [[{ field: "a", op: "NIN", value: [1, { x: 1 }] }], "rowFilters[0].value[1]"],
    [[{ field: "a", op: "GT", value: true }], "rowFilters[0].value"],
    [[{ field: "a", op: "LTE", value: null }], "rowFilters[0].value"],
    [[{ field: "a", op: "CONTAINS", value: null }], "rowFilters[0].value"],
    [[{ field: "a", op: "EQ", value: "$user.password" }], "rowFilters[0].value"],
    [[{ field: "a", op: "EQ", value: "$claims." }], "rowFilters[0].value"],
    [[{ field: "a", op: "IN", value: ["$tenant.id"] }], "rowFilters[0].value[0]"],
    [[{ field: "a", op: "EQ", value: "x".repeat(1001) }], "rowFilters[0].value"],
    [[null], "rowFilters[0]"],
    [{ field: "a" }, "rowFilters"],
    [Array.from({ length: 21 }, () => ({ field: "a", op: "EQ", value: 1 })), "rowFilters"],
  ])("refuses %j naming %s", (input, field) => {
    expect(errorOf(() => validateRowFilters(input))).toEqual({ code: "BAD_USER_INPUT", field });
  });
});

describe("$user and $claims substitution", () => {
  it("replaces references, unescapes $$ and leaves other values alone", () => {
    expect(substituteValue("$user.id", subject)).toBe("u-1");
    expect(substituteValue("$user.email", subject)).toBe("ana@acme.example");
    expect(substituteValue("$claims.region", subject)).toBe("EU");
    expect(substituteValue("$claims.roles", subject)).toEqual(["USER"]);
    expect(substituteValue("$$user.id", subject)).toBe("$user.id");
    expect(substituteValue(["$user.id", "x", 3], subject)).toEqual(["u-1", "x", 3]);
    expect(substituteValue("SALES", subject)).toBe("SALES");
    expect(substituteValue(42, subject)).toBe(42);
    expect(substituteValue(null, subject)).toBeNull();
  });

  it("marks a missing claim as unresolved, even inside a list", () => {
    expect(substituteValue("$claims.department", subject)).toBe(UNRESOLVED);
    expect(substituteValue(["a", "$claims.department"], subject)).toBe(UNRESOLVED);
    expect(substituteValue("$claims.toString", subject)).toBe(UNRESOLVED); // no prototype lookups
  });

  it("substitutes a role's filters, or gives null when one cannot be resolved", () => {
    expect(substituteFilters([{ field: "ownerId", op: RowFilterOp.EQ, value: "$user.id" }], subject)).toEqual([
      { field: "ownerId", op: RowFilterOp.EQ, value: "u-1" },
    ]);
    expect(
      substituteFilters(
        [
          { field: "ownerId", op: RowFilterOp.EQ, value: "$user.id" },
          { field: "dept", op: RowFilterOp.EQ, value: "$claims.department" },
        ],
        subject,
      ),
    ).toBeNull();
  });
});

describe("row filter evaluation", () => {
  const doc = { department: "SALES", amount: 120, owner: { id: "u-1" }, tags: ["vip", "eu"], title: "Big order", closedAt: "2025-06-01", lines: [{ sku: "A" }] };
  const m = (field: string, op: RowFilterOp, value: unknown) => matchesFilter(doc, { field, op, value });

  it("reads dot paths, array indexes and missing fields", () => {
    expect(valueAt(doc, "owner.id")).toBe("u-1");
    expect(valueAt(doc, "lines.0.sku")).toBe("A");
    expect(valueAt(doc, "owner.name")).toBeUndefined();
    expect(valueAt(doc, "department.length")).toBeUndefined();
    expect(valueAt(doc, "constructor")).toBeUndefined();
  });

  it("compares as documented", () => {
    expect(m("department", RowFilterOp.EQ, "SALES")).toBe(true);
    expect(m("department", RowFilterOp.EQ, "sales")).toBe(false);
    expect(m("missing", RowFilterOp.EQ, null)).toBe(true);
    expect(m("department", RowFilterOp.NE, "HR")).toBe(true);
    expect(m("department", RowFilterOp.IN, ["HR", "SALES"])).toBe(true);
    expect(m("department", RowFilterOp.NIN, ["HR", "SALES"])).toBe(false);
    expect(m("amount", RowFilterOp.GT, 100)).toBe(true);
    expect(m("amount", RowFilterOp.GTE, 120)).toBe(true);
    expect(m("amount", RowFilterOp.LT, 120)).toBe(false);
    expect(m("amount", RowFilterOp.LTE, 120)).toBe(true);
    expect(m("amount", RowFilterOp.GT, "100")).toBe(false); // number vs string never compares
    expect(m("closedAt", RowFilterOp.LT, "2026-01-01")).toBe(true);
    expect(m("missing", RowFilterOp.GT, 0)).toBe(false);
    expect(m("tags", RowFilterOp.CONTAINS, "vip")).toBe(true);
    expect(m("tags", RowFilterOp.CONTAINS, "us")).toBe(false);
    expect(m("title", RowFilterOp.CONTAINS, "order")).toBe(true);
    expect(m("amount", RowFilterOp.CONTAINS, 1)).toBe(false);
  });

  it("ANDs filters within a group, ORs groups, and treats null as unrestricted and [] as nothing", () => {
    const sales = { filters: [{ field: "department", op: RowFilterOp.EQ, value: "SALES" }, { field: "amount", op: RowFilterOp.GT, value: 500 }] };
    const mine = { filters: [{ field: "owner.id", op: RowFilterOp.EQ, value: "u-1" }] };
    expect(matchesRowFilters(doc, [sales])).toBe(false);
    expect(matchesRowFilters(doc, [sales, mine])).toBe(true);
    expect(matchesRowFilters(doc, null)).toBe(true);
    expect(matchesRowFilters(doc, [])).toBe(false);
    expect(matchesRowFilters(doc, [{ filters: [] }])).toBe(true);
  });
});
