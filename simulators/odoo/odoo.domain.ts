// Odoo domains: normalisation of the prefix notation ('&', '|', '!' and implicit '&'), validation with Odoo 18's error
// messages, and compilation to a row predicate. The planner of the store reads `conjuncts` (top-level AND leaves) to
// walk an index instead of every row.
import { OdooErrors, OdooException, pyRepr } from "./odoo.errors.js";
import type { FieldDef, ModelDef, Row } from "./odoo.models.js";

export const TERM_OPERATORS = new Set([
  "=",
  "!=",
  "<=",
  "<",
  ">",
  ">=",
  "=?",
  "=like",
  "=ilike",
  "like",
  "not like",
  "ilike",
  "not ilike",
  "in",
  "not in",
  "child_of",
  "parent_of",
  "any",
  "not any",
]);

/** What compiling a domain needs from the store. */
export interface DomainHost {
  modelDef(name: string): ModelDef;
  row(model: string, id: number): Row | undefined;
  /** A field's value in the store's representation, computing non-stored fields. */
  value(model: string, row: Row, field: string): unknown;
  rows(model: string): Iterable<Row>;
  referrers(model: string, field: string, id: number): readonly number[];
  displayName(model: string, id: number): string;
}

export type Predicate = (row: Row) => boolean;

/** A validated leaf on a direct (non-dotted) field, as the planner sees it. */
export interface PlannedLeaf {
  field: string;
  operator: string;
  /** The comparison value in the store's representation (datetimes as epoch microseconds). */
  value: unknown;
}

export interface CompiledDomain {
  predicate: Predicate;
  /** Leaves that must all hold (top-level AND), for index bounds. */
  conjuncts: PlannedLeaf[];
  /** Whether a top-level leaf names this field (Odoo skips the implicit active filter then). */
  mentions(field: string): boolean;
}

type Node = { op: "&" | "|"; left: Node; right: Node } | { op: "!"; child: Node } | { op: "leaf"; leaf: unknown[] } | { op: "const"; value: boolean };

/** Odoo's `normalize_domain`: explicit prefix operators, implicit '&' made explicit; ValueError when unbalanced. */
export function normalizeDomain(domain: unknown): unknown[] {
  if (domain === false || domain === null || domain === undefined) return [];
  if (!Array.isArray(domain)) throw OdooErrors.valueError(`Invalid domain: ${pyRepr(domain)}`);
  if (domain.length === 0) return [];
  const result: unknown[] = [];
  let expected = 1;
  const arity: Record<string, number> = { "!": 1, "&": 2, "|": 2 };
  for (const token of domain) {
    if (expected === 0) {
      result.unshift("&");
      expected = 1;
    }
    if (Array.isArray(token)) expected -= 1;
    else expected += (typeof token === "string" && token in arity ? arity[token] : 0) - 1;
    result.push(token);
  }
  if (expected !== 0) throw OdooErrors.valueError(`Domain ${pyRepr(domain)} is syntactically not correct.`);
  return result;
}

/** Compiles a domain on `model` into a predicate; throws the ValueError / psycopg2 errors a real server raises. */
export function compileDomain(host: DomainHost, model: string, domain: unknown): CompiledDomain {
  const tokens = normalizeDomain(domain);
  const topLeaves = (Array.isArray(domain) ? domain : []).filter(Array.isArray) as unknown[][];
  const mentions = (field: string) => topLeaves.some((leaf) => leaf[0] === field);
  if (tokens.length === 0) return { predicate: () => true, conjuncts: [], mentions };

  let pos = 0;
  const parse = (): Node => {
    const token = tokens[pos++];
    if (token === "&" || token === "|") {
      const left = parse();
      const right = parse();
      return { op: token, left, right };
    }
    if (token === "!") return { op: "!", child: parse() };
    if (Array.isArray(token)) return { op: "leaf", leaf: token };
    throw OdooErrors.valueError(`Invalid leaf ${pyRepr(token)}`);
  };
  const tree = parse();

  const conjuncts: PlannedLeaf[] = [];
  const collect = (node: Node): void => {
    if (node.op === "&") {
      collect(node.left);
      collect(node.right);
    } else if (node.op === "leaf") {
      const planned = planLeaf(host, model, node.leaf);
      if (planned) conjuncts.push(planned);
    }
  };

  const build = (node: Node): Predicate => {
    switch (node.op) {
      case "&": {
        const a = build(node.left);
        const b = build(node.right);
        return (row) => a(row) && b(row);
      }
      case "|": {
        const a = build(node.left);
        const b = build(node.right);
        return (row) => a(row) || b(row);
      }
      case "!": {
        const a = build(node.child);
        return (row) => !a(row);
      }
      case "const":
        return node.value ? () => true : () => false;
      case "leaf":
        return compileLeaf(host, model, node.leaf);
    }
  };
  const predicate = build(tree);
  collect(tree);
  return { predicate, conjuncts, mentions };
}

function leafRepr(leaf: unknown[]): string {
  return `(${leaf.map(pyRepr).join(", ")})`;
}

/** Unpacks and validates a leaf the way Odoo 18 does (unpack, then field, then operator). */
function checkLeaf(host: DomainHost, model: string, leaf: unknown[]): { path: string[]; operator: string; value: unknown } | "true" | "false" {
  if (leaf.length < 3) throw OdooErrors.valueError(`not enough values to unpack (expected 3, got ${leaf.length})`);
  if (leaf.length > 3) throw OdooErrors.valueError("too many values to unpack (expected 3)");
  const [left, rawOperator, right] = leaf;
  if ((left === 1 || left === 0) && rawOperator === "=" && right === 1) return left === 1 ? "true" : "false";
  if (typeof left !== "string" || left === "") throw OdooErrors.valueError(`Invalid leaf ${leafRepr(leaf)}`);
  const path = left.split(".");
  const def = host.modelDef(model);
  if (!def.fields[path[0]]) throw OdooErrors.valueError(`Invalid field ${model}.${path[0]} in leaf ${leafRepr(leaf)}`);
  const operator = typeof rawOperator === "string" ? rawOperator.toLowerCase() : "";
  if (!TERM_OPERATORS.has(operator)) throw OdooErrors.valueError(`Invalid leaf ${leafRepr(leaf)}`);
  // Walk dotted paths now so an unknown sub-field fails before any row is read.
  let current = def;
  for (let i = 0; i < path.length; i++) {
    const field = current.fields[path[i]];
    if (!field) throw OdooErrors.valueError(`Invalid field ${current.name}.${path[i]} in leaf ${leafRepr(leaf)}`);
    if (i < path.length - 1) {
      if (!field.relation) throw OdooErrors.valueError(`Invalid field ${current.name}.${path[i]} in leaf ${leafRepr(leaf)}`);
      current = host.modelDef(field.relation);
    }
  }
  return { path, operator, value: right };
}

function planLeaf(host: DomainHost, model: string, leaf: unknown[]): PlannedLeaf | undefined {
  const checked = checkLeaf(host, model, leaf);
  if (typeof checked === "string" || checked.path.length !== 1) return undefined;
  const [field] = checked.path;
  const def = host.modelDef(model).fields[field];
  if (!["<", "<=", ">", ">=", "=", "in"].includes(checked.operator)) return undefined;
  if (field === "id" && (typeof checked.value === "number" || Array.isArray(checked.value))) {
    return { field, operator: checked.operator, value: checked.value };
  }
  if (def.type === "datetime" && typeof checked.value === "string" && checked.operator !== "in") {
    return { field, operator: checked.operator, value: datetimeBound(checked.value, checked.operator, field) };
  }
  return undefined;
}

/** A datetime domain value as epoch microseconds; a date alone means the end of the day for '>' and '<=' (as Odoo). */
export function datetimeBound(value: string, operator: string, field = "write_date"): number {
  let text = value;
  if (text.length === 10) text += operator === ">" || operator === "<=" ? " 23:59:59" : " 00:00:00";
  const micros = parseTimestamp(text);
  if (micros === undefined) throw OdooErrors.invalidInput("timestamp", text, `"${field}" ${operator} '${text.slice(0, 10)}`);
  return micros;
}

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** PostgreSQL's reading of a `timestamp` literal (the formats Odoo clients send), as epoch microseconds; undefined if invalid. */
export function parseTimestamp(text: string): number | undefined {
  const m = TIMESTAMP_RE.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  if (Number.isNaN(ms) || +mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +s > 60) return undefined;
  const check = new Date(ms);
  if (check.getUTCDate() !== +d) return undefined;
  let micros = ms * 1000 + Number((frac + "000000").slice(0, 6));
  // `timestamp without time zone` ignores a zone suffix, as PostgreSQL does.
  void zone;
  return micros;
}

/** `YYYY-MM-DD HH:MM:SS` of epoch microseconds (what Odoo returns: seconds, no zone). */
export function formatDatetime(micros: number): string {
  const second = Math.floor(micros / 1_000_000);
  let text = formatCache.get(second);
  if (text === undefined) {
    const iso = new Date(second * 1000).toISOString();
    text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    if (formatCache.size >= 50_000) formatCache.clear();
    formatCache.set(second, text);
  }
  return text;
}

/** Formatting is hot when serving pages: seconds repeat across records. */
const formatCache = new Map<number, string>();

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** SQL LIKE pattern → RegExp (`%` any run, `_` one character, `\` escapes). */
function likeRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length) source += escapeRe(pattern[++i]);
    else if (c === "%") source += "[\\s\\S]*";
    else if (c === "_") source += "[\\s\\S]";
    else source += escapeRe(c);
  }
  return new RegExp(`^${source}$`, caseInsensitive ? "i" : "");
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A matcher on a text representation for the like family (`like` wraps the value in `%`). */
function textMatcher(operator: string, value: unknown): (text: string) => boolean {
  const needle = value === false || value === null || value === undefined ? "" : String(value);
  const wrapped = operator === "like" || operator === "ilike" || operator === "not like" || operator === "not ilike";
  const insensitive = operator.includes("ilike");
  if (wrapped && !/[%_\\]/.test(needle)) {
    if (insensitive) {
      const lower = needle.toLowerCase();
      return (text) => text.toLowerCase().includes(lower);
    }
    return (text) => text.includes(needle);
  }
  const re = likeRegExp(wrapped ? `%${needle}%` : needle, insensitive);
  return (text) => re.test(text);
}

const isNegative = (op: string) => op === "!=" || op === "not in" || op === "not like" || op === "not ilike" || op === "not any";

/** Coerces a domain value for an integer column as PostgreSQL would (`'12'` works, `'abc'` fails). */
function toInteger(value: unknown, field: string): number {
  if (typeof value === "number" && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  throw OdooErrors.invalidInput("integer", String(value), `"${field}" IN ('${String(value)}')`);
}

function toNumber(value: unknown, field: string): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  throw OdooErrors.invalidInput("double precision", String(value), `"${field}" = '${String(value)}'`);
}

function compileLeaf(host: DomainHost, model: string, leaf: unknown[]): Predicate {
  const checked = checkLeaf(host, model, leaf);
  if (checked === "true") return () => true;
  if (checked === "false") return () => false;
  const { path, value } = checked;
  let { operator } = checked;
  if (operator === "=?") {
    if (value === false || value === null || value === undefined) return () => true;
    operator = "=";
  }
  // Odoo accepts ('f', '=', [..]) as 'in' and ('f', 'in', x) with a scalar.
  if ((operator === "=" || operator === "!=") && Array.isArray(value)) operator = operator === "=" ? "in" : "not in";
  const listValue = operator === "in" || operator === "not in" ? (Array.isArray(value) ? value : [value]) : undefined;

  if (path.length > 1) return compilePathLeaf(host, model, path, operator, value, leaf);

  const [fieldName] = path;
  const def = host.modelDef(model);
  const field = def.fields[fieldName];
  const get = field.compute ? (row: Row) => host.value(model, row, fieldName) : (row: Row) => row[fieldName];

  if (operator === "child_of" || operator === "parent_of") return hierarchyLeaf(host, model, field, fieldName, operator, value);
  if (operator === "any" || operator === "not any") {
    if (!field.relation) throw OdooErrors.valueError(`Invalid leaf ${leafRepr(leaf)}`);
    const sub = compileDomain(host, field.relation, value).predicate;
    const related = relatedIds(host, model, fieldName, field);
    const relation = field.relation;
    const test = (row: Row) => related(row).some((id) => {
      const target = host.row(relation, id);
      return target ? sub(target) : false;
    });
    return operator === "any" ? test : (row) => !test(row);
  }

  switch (field.type) {
    case "many2one":
    case "one2many":
    case "many2many":
      return relationalLeaf(host, model, fieldName, field, operator, value, listValue);
    case "datetime":
      return datetimeLeaf(fieldName, operator, value, listValue, get);
    case "date":
      return dateLeaf(operator, value, listValue, get);
    case "boolean":
      return scalarLeaf(operator, value, listValue, (row) => Boolean(get(row)), (v) => Boolean(v), false);
    case "integer":
    case "many2one_reference":
      if (fieldName === "id" || field.type === "many2one_reference") {
        return scalarLeaf(operator, value, listValue, get, (v) => toInteger(v, fieldName), false);
      }
      return scalarLeaf(operator, value, listValue, get, (v) => toInteger(v, fieldName), false);
    case "float":
    case "monetary":
      return scalarLeaf(operator, value, listValue, get, (v) => toNumber(v, fieldName), false);
    default:
      return scalarLeaf(operator, value, listValue, get, (v) => String(v), true);
  }
}

/** Equality, ordering and like operators on a scalar column (text, numbers, booleans). */
function scalarLeaf(
  operator: string,
  value: unknown,
  listValue: unknown[] | undefined,
  get: (row: Row) => unknown,
  coerce: (v: unknown) => unknown,
  isText: boolean,
): Predicate {
  const unset = (v: unknown) => v === false || v === null || v === undefined || (isText && v === "");
  const valueUnset = value === false || value === null || value === undefined;
  switch (operator) {
    case "=":
      if (valueUnset && !(typeof value === "boolean" && !isText)) return (row) => unset(get(row));
      if (typeof value === "boolean" && !isText) {
        const want = coerce(value);
        return (row) => coerce(get(row)) === want;
      }
      {
        const want = coerce(value);
        return (row) => get(row) === want;
      }
    case "!=":
      if (valueUnset && !(typeof value === "boolean" && !isText)) return (row) => !unset(get(row));
      if (typeof value === "boolean" && !isText) {
        const want = coerce(value);
        return (row) => coerce(get(row)) !== want;
      }
      {
        // Odoo: `f != v` also matches rows where f is NULL.
        const want = coerce(value);
        return (row) => get(row) !== want;
      }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      if (valueUnset) return () => false;
      const want = coerce(value) as number | string;
      const cmp = comparator(operator);
      return (row) => {
        const v = get(row);
        return !unset(v) && (typeof v !== "boolean" || !isText) && cmp(v as number | string, want);
      };
    }
    case "in":
    case "not in": {
      const list = listValue ?? [];
      const wantsUnset = list.some((v) => v === false || v === null);
      const set = new Set(list.filter((v) => v !== false && v !== null).map(coerce));
      const test = (row: Row) => {
        const v = get(row);
        return unset(v) ? wantsUnset : set.has(v);
      };
      return operator === "in" ? test : (row) => !test(row);
    }
    default: {
      // like family: on the column's text.
      const match = textMatcher(operator, value);
      if (isNegative(operator)) return (row) => {
        const v = get(row);
        return unset(v) || !match(String(v));
      };
      return (row) => {
        const v = get(row);
        return !unset(v) && match(String(v));
      };
    }
  }
}

function comparator(op: string): (a: number | string, b: number | string) => boolean {
  switch (op) {
    case "<":
      return (a, b) => a < b;
    case "<=":
      return (a, b) => a <= b;
    case ">":
      return (a, b) => a > b;
    default:
      return (a, b) => a >= b;
  }
}

function datetimeLeaf(fieldName: string, operator: string, value: unknown, listValue: unknown[] | undefined, get: (row: Row) => unknown): Predicate {
  const parse = (v: unknown): number => {
    if (typeof v !== "string") {
      throw new OdooException(
        "psycopg2.errors.UndefinedFunction",
        `operator does not exist: timestamp without time zone ${operator} ${typeof v === "number" ? "integer" : "unknown"}\n`,
      );
    }
    return datetimeBound(v, operator, fieldName);
  };
  if (listValue) {
    const wantsUnset = listValue.some((v) => v === false || v === null);
    const set = new Set(listValue.filter((v) => v !== false && v !== null).map(parse));
    const test = (row: Row) => {
      const v = get(row);
      return v === false || v === null || v === undefined ? wantsUnset : set.has(v as number);
    };
    return operator === "in" ? test : (row) => !test(row);
  }
  if (value === false || value === null) {
    if (operator === "=") return (row) => get(row) === false;
    if (operator === "!=") return (row) => get(row) !== false;
    return () => false;
  }
  if (["like", "ilike", "not like", "not ilike", "=like", "=ilike"].includes(operator)) {
    const match = textMatcher(operator, value);
    return (row) => {
      const v = get(row);
      const text = typeof v === "number" ? formatMicrosFull(v) : "";
      return isNegative(operator) ? !text || !match(text) : !!text && match(text);
    };
  }
  const bound = parse(value);
  switch (operator) {
    case "=":
      return (row) => get(row) === bound;
    case "!=":
      return (row) => get(row) !== bound;
    default: {
      const cmp = comparator(operator);
      return (row) => {
        const v = get(row);
        return typeof v === "number" && cmp(v, bound);
      };
    }
  }
}

/** Full text form of a stored datetime (with microseconds), as PostgreSQL casts it to text. */
function formatMicrosFull(micros: number): string {
  const base = formatDatetime(micros);
  const frac = micros % 1_000_000;
  return frac ? `${base}.${String(frac).padStart(6, "0").replace(/0+$/, "")}` : base;
}

function dateLeaf(operator: string, value: unknown, listValue: unknown[] | undefined, get: (row: Row) => unknown): Predicate {
  const parse = (v: unknown): string => {
    const text = String(v).slice(0, 10);
    if (!DATE_RE.test(text) || parseTimestamp(text) === undefined) throw OdooErrors.invalidInput("date", String(v), `'${String(v)}'`);
    return text;
  };
  if (listValue) {
    const set = new Set(listValue.filter((v) => v !== false && v !== null).map(parse));
    const wantsUnset = listValue.some((v) => v === false || v === null);
    const test = (row: Row) => {
      const v = get(row);
      return v === false ? wantsUnset : set.has(v as string);
    };
    return operator === "in" ? test : (row) => !test(row);
  }
  if (value === false || value === null) {
    if (operator === "=") return (row) => get(row) === false;
    if (operator === "!=") return (row) => get(row) !== false;
    return () => false;
  }
  if (["like", "ilike", "not like", "not ilike", "=like", "=ilike"].includes(operator)) {
    return scalarLeaf(operator, value, undefined, get, String, true);
  }
  const bound = parse(value);
  if (operator === "=") return (row) => get(row) === bound;
  if (operator === "!=") return (row) => get(row) !== bound;
  const cmp = comparator(operator);
  return (row) => {
    const v = get(row);
    return typeof v === "string" && cmp(v, bound);
  };
}

/** Ids a relational field holds for a row (many2one: 0 or 1, x2many: all). */
function relatedIds(host: DomainHost, model: string, fieldName: string, field: FieldDef): (row: Row) => readonly number[] {
  if (field.type === "many2one") {
    return (row) => (typeof row[fieldName] === "number" ? [row[fieldName] as number] : []);
  }
  if (field.type === "one2many") {
    const relation = field.relation!;
    const inverse = field.inverse!;
    return (row) => host.referrers(relation, inverse, row.id);
  }
  return (row) => (Array.isArray(row[fieldName]) ? (row[fieldName] as number[]) : []);
}

function relationalLeaf(
  host: DomainHost,
  model: string,
  fieldName: string,
  field: FieldDef,
  operator: string,
  value: unknown,
  listValue: unknown[] | undefined,
): Predicate {
  const related = relatedIds(host, model, fieldName, field);
  const relation = field.relation!;
  const valueUnset = value === false || value === null || value === undefined;

  // A string (or list of strings) names the target records: Odoo runs a name search on the comodel.
  const names = typeof value === "string" ? [value] : listValue && listValue.length && listValue.every((v) => typeof v === "string") ? (listValue as string[]) : undefined;
  if (names && !["<", "<=", ">", ">="].includes(operator)) {
    const positive = isNegative(operator) ? (operator === "!=" ? "=" : operator === "not in" ? "in" : operator.replace("not ", "")) : operator;
    const matchers = names.map((n) => (positive === "=" || positive === "in" ? (text: string) => text === n : textMatcher(positive, n)));
    const ids = new Set<number>();
    for (const target of host.rows(relation)) {
      const label = host.displayName(relation, target.id);
      if (matchers.some((m) => m(label))) ids.add(target.id);
    }
    const test = (row: Row) => related(row).some((id) => ids.has(id));
    return isNegative(operator) ? (row) => !test(row) : test;
  }

  switch (operator) {
    case "=":
      if (valueUnset) return (row) => related(row).length === 0;
      {
        const want = toInteger(value, fieldName);
        return (row) => related(row).includes(want);
      }
    case "!=":
      if (valueUnset) return (row) => related(row).length > 0;
      {
        const want = toInteger(value, fieldName);
        return (row) => !related(row).includes(want);
      }
    case "in":
    case "not in": {
      const list = listValue ?? [];
      const wantsUnset = list.some((v) => v === false || v === null);
      const set = new Set(list.filter((v) => v !== false && v !== null).map((v) => toInteger(v, fieldName)));
      const test = (row: Row) => {
        const ids = related(row);
        return ids.length === 0 ? wantsUnset : ids.some((id) => set.has(id));
      };
      return operator === "in" ? test : (row) => !test(row);
    }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      if (valueUnset) return () => false;
      const want = toInteger(value, fieldName);
      const cmp = comparator(operator);
      return (row) => related(row).some((id) => cmp(id, want));
    }
    default: {
      // like family against the target's display name.
      const match = textMatcher(operator, value);
      const test = (row: Row) => related(row).some((id) => match(host.displayName(relation, id)));
      return isNegative(operator) ? (row) => !test(row) : test;
    }
  }
}

/** `child_of` / `parent_of` over the model's `parent_id` hierarchy (on `id` or a many2one to a hierarchical model). */
function hierarchyLeaf(host: DomainHost, model: string, field: FieldDef, fieldName: string, operator: string, value: unknown): Predicate {
  const target = fieldName === "id" ? model : field.relation;
  if (!target || !host.modelDef(target).fields.parent_id) {
    throw OdooErrors.valueError(`Invalid field ${model}.${fieldName} for child_of: no parent_id on ${target ?? model}`);
  }
  const roots = (Array.isArray(value) ? value : [value]).filter((v) => v !== false && v !== null).map((v) => toInteger(v, fieldName));
  const set = new Set<number>();
  if (operator === "child_of") {
    const stack = [...roots];
    while (stack.length) {
      const id = stack.pop()!;
      if (set.has(id) || !host.row(target, id)) continue;
      set.add(id);
      stack.push(...host.referrers(target, "parent_id", id));
    }
  } else {
    for (const root of roots) {
      let id: number | false = root;
      while (typeof id === "number" && !set.has(id)) {
        const row = host.row(target, id);
        if (!row) break;
        set.add(id);
        id = row.parent_id as number | false;
      }
    }
  }
  if (fieldName === "id") return (row) => set.has(row.id);
  const related = relatedIds(host, model, fieldName, field);
  return (row) => related(row).some((id) => set.has(id));
}

/** Dotted paths (`parent_id.name`, `child_ids.email`): the leaf holds if it holds for any record at the end of the path. */
function compilePathLeaf(host: DomainHost, model: string, path: string[], operator: string, value: unknown, leaf: unknown[]): Predicate {
  const def = host.modelDef(model);
  const field = def.fields[path[0]];
  const relation = field.relation!;
  const rest = path.slice(1).join(".");
  const sub = compileLeaf(host, relation, [rest, operator, value]);
  const related = relatedIds(host, model, path[0], field);
  void leaf;
  if (isNegative(operator)) {
    return (row) => {
      const ids = related(row);
      return ids.length === 0 || ids.every((id) => {
        const target = host.row(relation, id);
        return !target || sub(target);
      });
    };
  }
  return (row) => related(row).some((id) => {
    const target = host.row(relation, id);
    return target ? sub(target) : false;
  });
}
