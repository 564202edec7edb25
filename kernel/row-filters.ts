// Evaluation of collection-grant row filters against a document. Pure and shared: the tenants service validates and
// stores filters, the sync service applies them to every pushed, pulled and streamed record.

export enum RowFilterOp {
  EQ = "EQ",
  NE = "NE",
  IN = "IN",
  NIN = "NIN",
  GT = "GT",
  GTE = "GTE",
  LT = "LT",
  LTE = "LTE",
  CONTAINS = "CONTAINS",
}

/** One condition on a document: `field` is a dot path (`department`, `owner.id`). */
export interface RowFilterSpec {
  field: string;
  op: RowFilterOp;
  /** JSON; a string `$user.id`, `$user.email` or `$claims.<name>` is replaced by the caller's value. `$$x` means the literal `$x`. */
  value: unknown;
}

/** The value at a dot path of a document (array elements by index); undefined when absent. */
export function valueAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const same = (a: unknown, b: unknown) => (a ?? null) === (b ?? null);
function ordered(a: unknown, b: unknown): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined; // different or unordered types never compare
}

/**
 * Whether `doc` satisfies one (substituted) filter. A missing field equals null. GT/GTE/LT/LTE compare numbers with
 * numbers and strings with strings (ISO dates order correctly), anything else is false. CONTAINS: an array field
 * holding the value, or a string field containing it.
 */
export function matchesFilter(doc: unknown, filter: RowFilterSpec): boolean {
  const actual = valueAt(doc, filter.field);
  const { value } = filter;
  switch (filter.op) {
    case RowFilterOp.EQ:
      return same(actual, value);
    case RowFilterOp.NE:
      return !same(actual, value);
    case RowFilterOp.IN:
      return Array.isArray(value) && value.some((v) => same(actual, v));
    case RowFilterOp.NIN:
      return Array.isArray(value) && !value.some((v) => same(actual, v));
    case RowFilterOp.GT:
    case RowFilterOp.GTE:
    case RowFilterOp.LT:
    case RowFilterOp.LTE: {
      const c = ordered(actual, value);
      if (c === undefined) return false;
      return filter.op === RowFilterOp.GT ? c > 0 : filter.op === RowFilterOp.GTE ? c >= 0 : filter.op === RowFilterOp.LT ? c < 0 : c <= 0;
    }
    case RowFilterOp.CONTAINS:
      if (Array.isArray(actual)) return actual.some((v) => same(v, value));
      return typeof actual === "string" && typeof value === "string" && actual.includes(value);
    default:
      return false;
  }
}

/**
 * Whether `doc` is visible under `groups`: null means unrestricted; otherwise it must satisfy every filter of at
 * least one group (one group per granting role: AND within a role, OR across roles). An empty list matches nothing.
 */
export function matchesRowFilters(doc: unknown, groups: readonly { filters: readonly RowFilterSpec[] }[] | null): boolean {
  if (groups === null) return true;
  return groups.some((g) => g.filters.every((f) => matchesFilter(doc, f)));
}
