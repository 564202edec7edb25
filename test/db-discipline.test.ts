/**
 * Database discipline, checked on the sources (there is no ESLint here; the TypeScript parser makes this precise, not
 * a regex over text):
 *
 * 1. Nothing inside a transaction asks the pool for a second connection. MikroORM's `getConnection().execute(...)`
 *    runs on a pooled connection unless it is handed the transaction context; `em.execute(...)`, `boundSql(em)` and the
 *    entity methods use `em`'s own transaction. So `getConnection()` is for the kernel's database bootstrap only.
 * 2. Inside a transaction's callback (`x.transactional(cb)`, `withTransaction(x, cb)`, `withLockedTransaction(x, key, cb)`, or the tenants service's
 *    `inTransaction(ctx, cb)`) the outer EntityManager `x` (or the outer context's `ctx.em`, `ctx.loaders`, or `ctx`
 *    handed to a function), a request's `ctx.em`, the ORM's global `orm.em` and `fork()` are not used: each would run on another pooled
 *    connection while the transaction holds one — outside its locks and its atomicity, and, when a burst holds every
 *    pooled connection this way, waiting forever for one.
 * 3. Advisory locks are taken only through `advisoryXactLock` (kernel/transaction.ts), which refuses to run outside a
 *    transaction; the one session-scoped lock (a dedicated connection) is the kernel's too.
 */
import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const DIRS = ["kernel", "gateway", "subgraphs", "bin"];

/** Files allowed to hold what the rules forbid elsewhere, and why. */
const CONNECTION_OWNERS = new Set(["kernel/db.ts", "kernel/transaction.ts"]);
const LOCK_OWNERS = new Set(["kernel/transaction.ts"]);
/** Functions that read a context's principal only (never its `em`): handing them the outer context is fine. */
const CONTEXT_READERS = new Set(["requirePrincipal"]);

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(path.join(ROOT, dir))) {
      const rel = `${dir}/${name}`;
      if (statSync(path.join(ROOT, rel)).isDirectory()) {
        if (name !== "node_modules" && name !== "migrations") walk(rel);
      } else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) out.push(rel);
    }
  };
  for (const d of DIRS) walk(d);
  return out;
}

export interface Finding {
  file: string;
  line: number;
  rule: "connection" | "outside-transaction" | "advisory-lock";
  text: string;
}

/** The transaction callbacks of a file: `x.transactional(cb)` and `inTransaction(x, cb)`, with their outer `x`. */
function transactionCallbacks(sf: ts.SourceFile): { outer: string; cb: ts.FunctionLikeDeclaration }[] {
  const found: { outer: string; cb: ts.FunctionLikeDeclaration }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      let outer: ts.Expression | undefined;
      let cb: ts.Expression | undefined;
      if (ts.isPropertyAccessExpression(callee) && callee.name.text === "transactional") [outer, cb] = [callee.expression, node.arguments[0]];
      // kernel/transaction.ts's withTransaction(em, cb); the tenants service's inTransaction(ctx, cb)
      if (ts.isIdentifier(callee) && (callee.text === "withTransaction" || callee.text === "inTransaction")) [outer, cb] = [node.arguments[0], node.arguments[1]];
      if (ts.isIdentifier(callee) && callee.text === "withLockedTransaction") [outer, cb] = [node.arguments[0], node.arguments[2]];
      if (outer && cb && (ts.isArrowFunction(cb) || ts.isFunctionExpression(cb))) found.push({ outer: outer.getText(sf), cb });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Whether `node` is an expression reading a value (not a property name, a declared name or a key). */
function isReference(node: ts.Node): boolean {
  const p = node.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === node) return false;
  if ((ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p) || ts.isBindingElement(p)) && p.name === node) return false;
  if ((ts.isVariableDeclaration(p) || ts.isParameter(p)) && p.name === node) return false;
  return true;
}

/** Names a function declares for itself (parameters, variables): a reference by that name is not the outer one. */
function declaredNames(fn: ts.FunctionLikeDeclaration): Set<string> {
  const names = new Set<string>();
  const add = (n: ts.BindingName): void => {
    if (ts.isIdentifier(n)) names.add(n.text);
    else for (const e of n.elements) if (!ts.isOmittedExpression(e)) add(e.name);
  };
  for (const p of fn.parameters) add(p.name);
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) || (ts.isParameter(node) && node.parent !== fn)) add(node.name);
    ts.forEachChild(node, visit);
  };
  if (fn.body) visit(fn.body);
  return names;
}

/** What the three rules find in one file's text. */
export function check(file: string, text: string): Finding[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const at = (node: ts.Node, rule: Finding["rule"]): void => {
    findings.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, rule, text: node.getText(sf).split("\n")[0]!.slice(0, 120) });
  };
  const visit = (node: ts.Node): void => {
    if (!CONNECTION_OWNERS.has(file) && ts.isPropertyAccessExpression(node) && node.name.text === "getConnection") at(node, "connection");
    if (!LOCK_OWNERS.has(file) && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) && /pg_(try_)?advisory/i.test(node.text)) {
      at(node, "advisory-lock");
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  for (const { outer, cb } of transactionCallbacks(sf)) {
    const own = declaredNames(cb);
    const forbidden = new Set(["ctx.em", "context.em", "orm.em", "this.orm.em", "this.em"]);
    // The outer thing is a request context (the tenants service's inTransaction) or an EntityManager.
    const outerIsContext = /(^|\.)(ctx|context)$/.test(outer);
    if (!own.has(outer.split(".")[0]!)) {
      if (outerIsContext) forbidden.add(`${outer}.em`).add(`${outer}.loaders`);
      else forbidden.add(outer);
    }
    const visitCb = (node: ts.Node): void => {
      if ((ts.isIdentifier(node) || ts.isPropertyAccessExpression(node)) && isReference(node)) {
        const t = node.getText(sf);
        const root = t.split(".")[0]!;
        const outerEm = forbidden.has(t) || t.endsWith(".orm.em");
        if (outerEm && !(own.has(root) && root !== "this") && !(ts.isPropertyAccessExpression(node.parent) && node.parent.expression === node && forbidden.has(node.parent.getText(sf)))) {
          at(node, "outside-transaction");
        }
      }
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === "fork") at(node, "outside-transaction");
      // The outer context handed whole to a function, which would use its `em`.
      if (outerIsContext && ts.isCallExpression(node) && !own.has(outer.split(".")[0]!)) {
        const callee = node.expression.getText(sf);
        if (!CONTEXT_READERS.has(callee)) for (const arg of node.arguments) if (arg.getText(sf) === outer) at(arg, "outside-transaction");
      }
      ts.forEachChild(node, visitCb);
    };
    if (cb.body) visitCb(cb.body);
  }
  return findings;
}

describe("database discipline (sources)", () => {
  it("finds what each rule forbids in a sample, and nothing in the equivalent correct code", () => {
    const bad = `
      async function a(ctx, em, orm) {
        await ctx.em.transactional(async (tx) => {
          await tx.getConnection().execute("select pg_advisory_xact_lock(hashtext(?))", ["k"], "all");
          await ctx.em.find(Thing, {});
          await orm.em.fork().find(Thing, {});
        });
        await withTransaction(em, async (tx) => { await em.flush(); });
        await em.getConnection().execute("select 1");
        await withLockedTransaction(em, "k", async (tx) => { await em.flush(); });
        await inTransaction(ctx, async (tx) => { await ctx.validateRoles(ctx, []); await ctx.em.flush(); });
      }`;
    const rules = check("subgraphs/x/bad.ts", bad).map((f) => `${f.line}:${f.rule}`);
    expect(rules).toContain("9:connection");
    rules.splice(rules.indexOf("9:connection"), 1);
    expect(rules).toEqual(["4:connection", "4:advisory-lock", "5:outside-transaction", "6:outside-transaction", "6:outside-transaction", "8:outside-transaction", "10:outside-transaction", "11:outside-transaction", "11:outside-transaction"]);
    const good = `
      async function a(ctx, em) {
        await ctx.em.transactional(async (tx) => {
          await advisoryXactLock(tx, "k");
          await tx.execute("select 1");
          await ctx.audit.record({ ...ctx, em: tx }, { action: "x" });
        });
        await withTransaction(em, async (em) => { await em.flush(); });
        await em.execute("select 1");
        await inTransaction(ctx, async (tx) => { await ctx.validateRoles(tx, [ctx.principal.userId]); await tx.em.flush(); });
      }`;
    expect(check("subgraphs/x/good.ts", good)).toEqual([]);
  });

  it("no source uses the ORM's connection, an outer EntityManager inside a transaction, or a raw advisory lock", () => {
    const findings = sources().flatMap((file) => check(file, readFileSync(path.join(ROOT, file), "utf8")));
    expect(findings.map((f) => `${f.file}:${f.line} ${f.rule}: ${f.text}`)).toEqual([]);
  });
});
