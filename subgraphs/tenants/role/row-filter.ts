// Row filters of collection grants: validation (when an admin sets them), `$user`/`$claims` substitution (per caller)
// and evaluation against a document. Pure: no database, no GraphQL.
import { Errors } from "../../../kernel/errors.js";
import { ALL_COLLECTIONS } from "./role.permissions.js";

import { RowFilterOp, type RowFilterSpec } from "../../../kernel/row-filters.js";
export { matchesFilter, matchesRowFilters, RowFilterOp, valueAt, type RowFilterSpec } from "../../../kernel/row-filters.js";

/** What `$user.*` and `$claims.*` refer to when a caller's grants are evaluated. */
export interface FilterSubject {
  userId: string;
  email: string;
  /** Token claims by name (`sub`, `tid`, `email`, `roles`, `plan`, ...). */
  claims: Record<string, unknown>;
}

export const MAX_ROW_FILTERS = 20;
export const MAX_IN_VALUES = 100;
const MAX_STRING = 1000;
const MAX_PATH = 200;
const PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,9}$/;
const COLLECTION = /^[A-Za-z0-9_.-]{1,100}$/;
const REFERENCE = /^\$(user\.(id|email)|claims\.[A-Za-z_][A-Za-z0-9_]{0,63})$/;
const OPS = new Set<string>(Object.values(RowFilterOp));

type Scalar = string | number | boolean | null;

/** A collection name (1–100 of `A-Z a-z 0-9 _ . -`) or `*`; BAD_USER_INPUT otherwise. */
export function validateCollectionName(collection: unknown, field = "collection"): string {
  if (typeof collection !== "string" || (collection !== ALL_COLLECTIONS && !COLLECTION.test(collection))) {
    throw Errors.badInput(`${field} must be "*" or 1 to 100 characters of A-Z, a-z, 0-9, "_", "." and "-"`, field);
  }
  return collection;
}

/**
 * Checks and normalizes row filters; throws BAD_USER_INPUT naming the offending part (`rowFilters[1].value`).
 * EQ/NE take a scalar (string, number, boolean, null); IN/NIN a list of 1–100 scalars; GT/GTE/LT/LTE a number or
 * string; CONTAINS a non-null scalar. Strings starting with `$` must be a known reference or escaped as `$$`.
 */
export function validateRowFilters(input: unknown, field = "rowFilters"): RowFilterSpec[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input)) throw Errors.badInput(`${field} must be a list`, field);
  if (input.length > MAX_ROW_FILTERS) throw Errors.badInput(`${field} may hold at most ${MAX_ROW_FILTERS} filters`, field);
  return input.map((raw, i) => {
    const at = `${field}[${i}]`;
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw Errors.badInput(`${at} must be an object`, at);
    const { field: path, op, value } = raw as Record<string, unknown>;
    if (typeof path !== "string" || path.length > MAX_PATH || !PATH.test(path)) {
      throw Errors.badInput(`${at}.field must be a dot path of up to 10 names of A-Z, a-z, 0-9, "_" and "-"`, `${at}.field`);
    }
    if (typeof op !== "string" || !OPS.has(op)) throw Errors.badInput(`${at}.op must be one of ${[...OPS].join(", ")}`, `${at}.op`);
    return { field: path, op: op as RowFilterOp, value: validateValue(op as RowFilterOp, value, `${at}.value`) };
  });
}

function validateValue(op: RowFilterOp, value: unknown, at: string): unknown {
  switch (op) {
    case RowFilterOp.EQ:
    case RowFilterOp.NE:
      return scalar(value, at);
    case RowFilterOp.IN:
    case RowFilterOp.NIN:
      if (!Array.isArray(value) || value.length < 1 || value.length > MAX_IN_VALUES) {
        throw Errors.badInput(`${at} must be a list of 1 to ${MAX_IN_VALUES} values for ${op}`, at);
      }
      return value.map((v, i) => scalar(v, `${at}[${i}]`));
    case RowFilterOp.GT:
    case RowFilterOp.GTE:
    case RowFilterOp.LT:
    case RowFilterOp.LTE:
      if (typeof value !== "number" && typeof value !== "string") throw Errors.badInput(`${at} must be a number or a string for ${op}`, at);
      return scalar(value, at);
    case RowFilterOp.CONTAINS:
      if (value === null || value === undefined) throw Errors.badInput(`${at} must not be null for CONTAINS`, at);
      return scalar(value, at);
  }
}

function scalar(value: unknown, at: string): Scalar {
  if (value === undefined || value === null) return null;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw Errors.badInput(`${at} must be a finite number`, at);
    return value;
  }
  if (typeof value === "string") {
    if (value.length > MAX_STRING) throw Errors.badInput(`${at} must be at most ${MAX_STRING} characters`, at);
    if (value.startsWith("$") && !value.startsWith("$$") && !REFERENCE.test(value)) {
      throw Errors.badInput(`${at}: unknown reference ${value} (use $user.id, $user.email, $claims.<name>, or $$ for a literal $)`, at);
    }
    return value;
  }
  throw Errors.badInput(`${at} must be a string, number, boolean or null`, at);
}

/** Marks a reference the caller cannot satisfy (a missing claim): the filter group holding it matches nothing. */
export const UNRESOLVED = Symbol("unresolved reference");

/** Replaces `$user.id`, `$user.email`, `$claims.<name>` (and unescapes `$$`) in one filter value. */
export function substituteValue(value: unknown, subject: FilterSubject): unknown {
  if (Array.isArray(value)) {
    const out = value.map((v) => substituteValue(v, subject));
    return out.includes(UNRESOLVED) ? UNRESOLVED : out;
  }
  if (typeof value !== "string" || !value.startsWith("$")) return value;
  if (value.startsWith("$$")) return value.slice(1);
  if (value === "$user.id") return subject.userId;
  if (value === "$user.email") return subject.email;
  if (value.startsWith("$claims.")) {
    const name = value.slice("$claims.".length);
    const claim = Object.prototype.hasOwnProperty.call(subject.claims, name) ? subject.claims[name] : undefined;
    return claim === undefined ? UNRESOLVED : claim;
  }
  return UNRESOLVED;
}

/**
 * One role's filters for one caller: every value substituted, or null when a reference cannot be resolved (then the
 * group must match nothing: failing closed beats comparing against `undefined`).
 */
export function substituteFilters(filters: readonly RowFilterSpec[], subject: FilterSubject): RowFilterSpec[] | null {
  const out: RowFilterSpec[] = [];
  for (const f of filters) {
    const value = substituteValue(f.value, subject);
    if (value === UNRESOLVED) return null;
    out.push({ field: f.field, op: f.op, value });
  }
  return out;
}
