// How collection grants combine. Pure: the service loads roles and grants, these functions decide.
//
// Per role, a grant on a collection overrides that role's "*" grant (so a role can have "*" pull but nothing on
// "payroll"). A grant only counts for push or pull while its role also holds `sync:push` / `sync:pull`.
// Across roles, push and pull are OR-ed; row filters are AND-ed within one role and OR-ed across the roles that
// grant the operation (a record is visible if it satisfies all filters of at least one granting role; one granting
// role without filters makes the operation unrestricted).
import { ALL_COLLECTIONS, Permission } from "./role.permissions.js";
import { substituteFilters, type FilterSubject, type RowFilterSpec } from "./row-filter.js";

/** A grant as configured on one role. */
export interface GrantSpec {
  collection: string;
  canPush: boolean;
  canPull: boolean;
  rowFilters: readonly RowFilterSpec[];
}

/** A role as the merge needs it: its name, permissions and configured grants. */
export interface RoleGrantSource {
  name: string;
  permissions: readonly string[];
  grants: readonly GrantSpec[];
}

/** The filters one role contributes (AND-ed). */
export interface FilterGroup {
  role: string;
  filters: RowFilterSpec[];
}

/**
 * What a set of roles may do on one collection (or on `*`: every collection without an entry of its own).
 * Filters: null = every record; a list = records matching all filters of at least one group; [] = no record.
 */
export interface EffectiveGrantSpec {
  collection: string;
  canPush: boolean;
  canPull: boolean;
  pushFilters: FilterGroup[] | null;
  pullFilters: FilterGroup[] | null;
}

/** One role's effective grant on `collection`, and whether it comes from the role's `*` grant. */
export interface RoleCell {
  collection: string;
  canPush: boolean;
  canPull: boolean;
  rowFilters: RowFilterSpec[];
  inherited: boolean;
}

/** What `role` may do on `collection`: its own grant, else its `*` grant, gated by its sync permissions. */
export function roleGrantFor(role: RoleGrantSource, collection: string): RoleCell {
  const own = role.grants.find((g) => g.collection === collection);
  const grant = own ?? role.grants.find((g) => g.collection === ALL_COLLECTIONS);
  if (!grant) return { collection, canPush: false, canPull: false, rowFilters: [], inherited: false };
  return {
    collection,
    canPush: grant.canPush && role.permissions.includes(Permission.SYNC_PUSH),
    canPull: grant.canPull && role.permissions.includes(Permission.SYNC_PULL),
    rowFilters: [...grant.rowFilters],
    inherited: !own,
  };
}

/** Collections named by any grant of `roles`, `*` first, then in code-point order. */
export function collectionsOf(roles: readonly RoleGrantSource[]): string[] {
  const names = new Set<string>(roles.flatMap((r) => r.grants.map((g) => g.collection)));
  names.delete(ALL_COLLECTIONS);
  return [ALL_COLLECTIONS, ...[...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))];
}

function mergeFilters(cells: { role: string; cell: RoleCell }[]): FilterGroup[] | null {
  if (cells.length === 0) return [];
  if (cells.some((c) => c.cell.rowFilters.length === 0)) return null;
  return cells.map((c) => ({ role: c.role, filters: c.cell.rowFilters }));
}

/**
 * The effective grants of a caller holding `roles`: one entry for `*` and one for every collection any of the roles
 * names, including entries that grant nothing (they override `*`). Readers use a collection's own entry, else `*`.
 */
export function mergeGrants(roles: readonly RoleGrantSource[]): EffectiveGrantSpec[] {
  return collectionsOf(roles).map((collection) => {
    const cells = roles.map((r) => ({ role: r.name, cell: roleGrantFor(r, collection) }));
    const push = cells.filter((c) => c.cell.canPush);
    const pull = cells.filter((c) => c.cell.canPull);
    return {
      collection,
      canPush: push.length > 0,
      canPull: pull.length > 0,
      pushFilters: mergeFilters(push),
      pullFilters: mergeFilters(pull),
    };
  });
}

/** The entry that governs `collection`: its own, else `*`, else none (no access). */
export function effectiveGrantOn(grants: readonly EffectiveGrantSpec[], collection: string): EffectiveGrantSpec | undefined {
  return grants.find((g) => g.collection === collection) ?? grants.find((g) => g.collection === ALL_COLLECTIONS);
}

/**
 * Substitutes `$user.*` / `$claims.*` for one caller. A group with a reference the caller cannot satisfy is dropped
 * (it matches nothing), so a grant whose groups are all dropped keeps `[]`: no record.
 */
export function substituteGrants(grants: readonly EffectiveGrantSpec[], subject: FilterSubject): EffectiveGrantSpec[] {
  const groups = (list: FilterGroup[] | null): FilterGroup[] | null =>
    list === null
      ? null
      : list.flatMap((g) => {
          const filters = substituteFilters(g.filters, subject);
          return filters ? [{ role: g.role, filters }] : [];
        });
  return grants.map((g) => ({ ...g, pushFilters: groups(g.pushFilters), pullFilters: groups(g.pullFilters) }));
}

/** One direction on one collection that a role would reach and a caller does not hold there unrestricted. */
export interface AccessBeyond {
  collection: string;
  direction: "push" | "pull";
}

/**
 * Where `role` reaches further than `held` (a caller's effective grants, `$user`/`$claims` substituted): each
 * collection and direction the role grants (its own entry, else its `*` entry, gated by its sync permissions) that
 * the caller does not hold there without row filters. A collection that neither names falls back to `*` on both
 * sides, so the union of their names and `*` covers every collection. With `collection`, only what the role reaches
 * on that one (for `*`: on `*` and on every collection without an entry of its own), the part a change to that entry
 * affects.
 */
export function accessBeyond(held: readonly EffectiveGrantSpec[], role: RoleGrantSource, collection?: string): AccessBeyond[] {
  const names = new Set([...role.grants.map((g) => g.collection), ...held.map((g) => g.collection), ...(collection ? [collection] : [])]);
  names.delete(ALL_COLLECTIONS);
  const beyond: AccessBeyond[] = [];
  for (const name of [ALL_COLLECTIONS, ...[...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))]) {
    const cell = roleGrantFor(role, name);
    if (collection !== undefined && name !== collection && !(collection === ALL_COLLECTIONS && cell.inherited)) continue;
    const mine = effectiveGrantOn(held, name);
    if (cell.canPush && !(mine?.canPush && mine.pushFilters === null)) beyond.push({ collection: name, direction: "push" });
    if (cell.canPull && !(mine?.canPull && mine.pullFilters === null)) beyond.push({ collection: name, direction: "pull" });
  }
  return beyond;
}
