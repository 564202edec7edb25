import { describe, expect, it } from "@jest/globals";
import { accessBeyond, effectiveGrantOn, mergeGrants, roleGrantFor, substituteGrants, type RoleGrantSource } from "./collection-grant.policy.js";
import { systemRoleGrant, SYSTEM_ROLES } from "./role.permissions.js";
import { RowFilterOp, type RowFilterSpec } from "./row-filter.js";

const PUSH_PULL = ["sync:pull", "sync:push"];
const eq = (field: string, value: unknown): RowFilterSpec => ({ field, op: RowFilterOp.EQ, value });
const role = (name: string, grants: RoleGrantSource["grants"], permissions: string[] = PUSH_PULL): RoleGrantSource => ({ name, permissions, grants });
const grant = (collection: string, canPush: boolean, canPull: boolean, rowFilters: RowFilterSpec[] = []) => ({ collection, canPush, canPull, rowFilters });
const system = (name: "ADMIN" | "USER" | "ANALYST"): RoleGrantSource => ({ name, permissions: SYSTEM_ROLES[name]!, grants: [systemRoleGrant(name)] });

describe("one role's grant on a collection", () => {
  it("uses the role's own grant, else its * grant, else nothing", () => {
    const r = role("SALES", [grant("*", false, true), grant("orders", true, true, [eq("dept", "SALES")]), grant("payroll", false, false)]);
    expect(roleGrantFor(r, "orders")).toEqual({ collection: "orders", canPush: true, canPull: true, rowFilters: [eq("dept", "SALES")], inherited: false });
    expect(roleGrantFor(r, "contacts")).toEqual({ collection: "contacts", canPush: false, canPull: true, rowFilters: [], inherited: true });
    expect(roleGrantFor(r, "payroll")).toMatchObject({ canPush: false, canPull: false, inherited: false });
    expect(roleGrantFor(role("NONE", []), "orders")).toEqual({ collection: "orders", canPush: false, canPull: false, rowFilters: [], inherited: false });
  });

  it("counts push and pull only while the role holds sync:push / sync:pull", () => {
    expect(roleGrantFor(role("R", [grant("orders", true, true)], ["sync:pull"]), "orders")).toMatchObject({ canPush: false, canPull: true });
    expect(roleGrantFor(role("R", [grant("orders", true, true)], ["sync:push"]), "orders")).toMatchObject({ canPush: true, canPull: false });
  });

  it("gives system roles * access by their sync permissions", () => {
    expect(roleGrantFor(system("ADMIN"), "anything")).toMatchObject({ canPush: true, canPull: true, rowFilters: [], inherited: true });
    expect(roleGrantFor(system("ANALYST"), "anything")).toMatchObject({ canPush: false, canPull: true });
  });
});

describe("merging grants across roles", () => {
  it("ORs push and pull, and lists * first then every named collection", () => {
    const merged = mergeGrants([role("A", [grant("orders", false, true)]), role("B", [grant("orders", true, false), grant("contacts", false, true)])]);
    expect(merged.map((g) => [g.collection, g.canPush, g.canPull])).toEqual([
      ["*", false, false],
      ["contacts", false, true],
      ["orders", true, true],
    ]);
  });

  it("ORs row filters across roles (one group per granting role, AND within it)", () => {
    const sales = [eq("dept", "SALES"), { field: "amount", op: RowFilterOp.LT, value: 1000 }];
    const mine = [eq("ownerId", "$user.id")];
    const [, orders] = mergeGrants([role("SALES", [grant("orders", false, true, sales)]), role("OWNER", [grant("orders", true, true, mine)])]);
    expect(orders).toEqual({
      collection: "orders",
      canPush: true,
      canPull: true,
      pushFilters: [{ role: "OWNER", filters: mine }],
      pullFilters: [
        { role: "SALES", filters: sales },
        { role: "OWNER", filters: mine },
      ],
    });
  });

  it("is unrestricted when any granting role has no filters", () => {
    const [, orders] = mergeGrants([role("SALES", [grant("orders", true, true, [eq("dept", "SALES")])]), role("ALL", [grant("orders", false, true)])]);
    expect(orders!.pullFilters).toBeNull();
    expect(orders!.pushFilters).toEqual([{ role: "SALES", filters: [eq("dept", "SALES")] }]);
  });

  it("keeps entries that grant nothing so they override *", () => {
    const merged = mergeGrants([role("R", [grant("*", true, true), grant("payroll", false, false)])]);
    expect(effectiveGrantOn(merged, "payroll")).toEqual({ collection: "payroll", canPush: false, canPull: false, pushFilters: [], pullFilters: [] });
    expect(effectiveGrantOn(merged, "orders")).toMatchObject({ collection: "*", canPush: true, canPull: true, pushFilters: null, pullFilters: null });
  });

  it("lets another role's * fill in where one role denies a collection", () => {
    const merged = mergeGrants([role("R", [grant("*", true, true), grant("payroll", false, false)]), system("ANALYST")]);
    expect(effectiveGrantOn(merged, "payroll")).toMatchObject({ canPush: false, canPull: true, pullFilters: null });
  });

  it("gives nothing to a caller without roles", () => {
    expect(mergeGrants([])).toEqual([{ collection: "*", canPush: false, canPull: false, pushFilters: [], pullFilters: [] }]);
  });

  it("gives system roles everything their permissions allow", () => {
    expect(mergeGrants([system("USER")])).toEqual([{ collection: "*", canPush: true, canPull: true, pushFilters: null, pullFilters: null }]);
  });
});

describe("substituting the caller into merged grants", () => {
  const subject = { userId: "u-7", email: "eve@acme.example", claims: { region: "EU" } };

  it("replaces $user and $claims in every group", () => {
    const merged = mergeGrants([role("OWNER", [grant("orders", true, true, [eq("ownerId", "$user.id"), eq("region", "$claims.region")])])]);
    const [, orders] = substituteGrants(merged, subject);
    expect(orders!.pullFilters).toEqual([{ role: "OWNER", filters: [eq("ownerId", "u-7"), eq("region", "EU")] }]);
    expect(orders!.pushFilters).toEqual(orders!.pullFilters);
  });

  it("drops a group whose claim the caller lacks (fails closed) and keeps unrestricted grants unrestricted", () => {
    const merged = mergeGrants([
      role("DEPT", [grant("orders", false, true, [eq("dept", "$claims.department")])]),
      role("OWNER", [grant("orders", false, true, [eq("ownerId", "$user.id")]), grant("notes", false, true, [eq("dept", "$claims.department")])]),
      role("ALL", [grant("public", false, true)]),
    ]);
    const byName = Object.fromEntries(substituteGrants(merged, subject).map((g) => [g.collection, g]));
    expect(byName.orders!.pullFilters).toEqual([{ role: "OWNER", filters: [eq("ownerId", "u-7")] }]);
    expect(byName.notes!.pullFilters).toEqual([]);
    expect(byName.notes!.canPull).toBe(true);
    expect(byName.public!.pullFilters).toBeNull();
  });
});

describe("access beyond a caller's", () => {
  const held = (...roles: RoleGrantSource[]) => mergeGrants(roles);

  it("lists each collection and direction the role reaches that the caller does not hold there without filters", () => {
    const caller = held(role("OPS", [grant("public", false, true), grant("orders", true, true, [eq("owner", "x")])]));
    const wide = role("WIDE", [grant("*", false, true), grant("public", true, true)]);
    expect(accessBeyond(caller, wide)).toEqual([
      { collection: "*", direction: "pull" },
      { collection: "orders", direction: "pull" },
      { collection: "public", direction: "push" },
    ]);
    expect(accessBeyond(caller, role("NARROW", [grant("public", false, true, [eq("dept", "a")])]))).toEqual([]);
    expect(accessBeyond(caller, role("NOTHING", [grant("public", true, true)], []))).toEqual([]);
  });

  it("a system role reaches what its * grant says; ADMIN holds everything", () => {
    expect(accessBeyond(held(system("ADMIN")), role("ANY", [grant("*", true, true), grant("payroll", true, true)]))).toEqual([]);
    expect(accessBeyond(held(system("ANALYST")), system("USER"))).toEqual([{ collection: "*", direction: "push" }]);
    // A caller's deny entry on payroll makes a * grant reach beyond it there.
    const most = held(role("MOST", [grant("*", false, true), grant("payroll", false, false)]));
    expect(accessBeyond(most, system("ANALYST"))).toEqual([{ collection: "payroll", direction: "pull" }]);
    // Limited to one entry: what the role reaches through it.
    expect(accessBeyond(most, system("ANALYST"), "orders")).toEqual([]);
    expect(accessBeyond(most, system("ANALYST"), "payroll")).toEqual([{ collection: "payroll", direction: "pull" }]);
    const own = role("OWN", [grant("*", false, true), grant("payroll", false, false)], ["sync:pull"]);
    expect(accessBeyond(most, own, "*")).toEqual([]);
    // A collection neither names is reached through *.
    expect(accessBeyond(held(role("ONE", [grant("public", false, true)])), own, "contacts")).toEqual([{ collection: "contacts", direction: "pull" }]);
  });
});
