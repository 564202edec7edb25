// The operator CLI end to end: the built `dist/bin/cli.js` (npm test builds it before jest) against a fresh database,
// then the whole stack booted on that same database to prove what the CLI made works for real clients, and a dump of
// every table to prove no secret the CLI printed was stored in clear.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import pg from "pg";
import { pino } from "pino";
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { startStack, type RunningStack } from "../../bin/stack.js";
import { API_KEY_EXCHANGE_PATH, generateInternalSecret, internalHeaders } from "../../kernel/internal-auth.js";
import {
  IdentityAcceptInvitationDocument,
  IdentityLoginDocument,
  IdentityMeDocument,
  IdentityPlatformLoginDocument,
  IdentityRolesDocument,
  IdentityTenantsDocument,
} from "../__generated__/graphql.js";
import { createTestDatabase, releasePostgres } from "../harness/stack.js";
import { codesOf, post } from "./e2e-helpers.js";

const ROOT = process.cwd();
const CLI = path.join(ROOT, "dist/bin/cli.js");

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A refused command: nothing printed on stdout, the reason on stderr. */
function expectRefused(run: CliRun, code?: string): void {
  expect({ stdout: run.stdout.trim(), stderr: run.stderr.trim().length > 0 }).toEqual({ stdout: "", stderr: true });
  if (code) expect(run.stderr).toMatch(new RegExp(`^${code}\\b`, "m"));
}

/** The JSON object the CLI prints (pretty-printed: from a line "{" to a line "}"; log lines are single-line JSON). */
function printed(run: CliRun): Record<string, any> {
  const lines = run.stdout.split("\n");
  const start = lines.indexOf("{");
  const end = lines.lastIndexOf("}");
  if (run.code !== 0 || start < 0 || end < start) throw new Error(`the CLI printed no result (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(lines.slice(start, end + 1).join("\n"));
}

describe("operator CLI (dist/bin/cli.js)", () => {
  let databaseUrl: string;
  let db: pg.Client;
  let stack: RunningStack | undefined;
  const internalSecret = generateInternalSecret();
  /** Everything the CLI printed once and must never be stored. */
  const secrets: Record<string, string> = {};
  const out: Record<string, Record<string, any>> = {};

  function cli(...args: string[]): Promise<CliRun> {
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, NODE_OPTIONS: "" }, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) {
      throw new Error(`${path.relative(ROOT, CLI)} is missing: build first with \`npm run build\` (\`npm test\` builds before running jest)`);
    }
    databaseUrl = await createTestDatabase();
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await stack?.stop();
    if (databaseUrl) await releasePostgres();
  });

  it("create-tenant prints the tenant and its generated admin password", async () => {
    const run = await cli("create-tenant", "--slug", "cli-a", "--name", "CLI A", "--plan", "starter", "--trial-days", "0");
    const result = printed(run);
    expect(result).toMatchObject({ tenantId: expect.any(String), slug: "cli-a", status: "ACTIVE", adminEmail: "admin@cli-a.example", adminPassword: expect.any(String) });
    expect(result.adminPassword.length).toBeGreaterThanOrEqual(12);
    out.tenant = result;
    secrets.adminPassword = result.adminPassword;
    const rows = await db.query(`select slug, name, plan::text, status::text from tenants.tenant where id = $1`, [result.tenantId]);
    expect(rows.rows).toEqual([{ slug: "cli-a", name: "CLI A", plan: "STARTER", status: "ACTIVE" }]);
    const roles = await db.query(`select name from tenants.role where tenant_id = $1 and system order by name`, [result.tenantId]);
    expect(roles.rows.map((r) => r.name)).toEqual(["ADMIN", "ANALYST", "MANAGER", "READ_ONLY", "USER"]);
  });

  it("create-tenant with a taken slug exits non-zero with CONFLICT on stderr, and creates nothing", async () => {
    const runs: CliRun[] = [];
    for (const slug of ["cli-a", "CLI-A"]) {
      const run = await cli("create-tenant", "--slug", slug, "--name", "Again");
      expectRefused(run, "CONFLICT");
      runs.push(run);
    }
    expect((await db.query(`select count(*)::int as n from tenants.tenant`)).rows[0].n).toBe(1);
    expect(runs.map((r) => r.code !== 0)).toEqual([true, true]);
  });

  it("every refused command exits non-zero (bad input, missing option, unknown tenant, role or command)", async () => {
    const refusedRuns = {
      badSlug: await cli("create-tenant", "--slug", "No Good", "--name", "Bad"),
      missingSlug: await cli("create-tenant", "--name", "No slug"),
      unknownTenant: await cli("create-user", "--tenant", "nope", "--email", "x@nope.example"),
      unknownCommand: await cli("make-coffee"),
    };
    expectRefused(refusedRuns.badSlug, "BAD_USER_INPUT");
    for (const run of Object.values(refusedRuns)) expectRefused(run);
    expect(Object.fromEntries(Object.entries(refusedRuns).map(([name, run]) => [name, run.code !== 0]))).toEqual({ badSlug: true, missingSlug: true, unknownTenant: true, unknownCommand: true });
    expect((await db.query(`select count(*)::int as n from tenants.tenant`)).rows[0].n).toBe(1);
  });

  it("create-user with a password, and without one (prints an invitation token)", async () => {
    secrets.memberPassword = "member-password-from-cli-123";
    const member = printed(await cli("create-user", "--tenant", "cli-a", "--email", "Member@CLI-A.example", "--roles", "USER", "--password", secrets.memberPassword));
    expect(member).toMatchObject({ userId: expect.any(String), email: "member@cli-a.example", status: "ACTIVE", roles: ["USER"], invitationToken: null });
    out.member = member;
    const invited = printed(await cli("create-user", "--tenant", "cli-a", "--email", "invited@cli-a.example"));
    expect(invited).toMatchObject({ status: "INVITED", roles: ["USER"], invitationToken: expect.stringMatching(/^inv\.[A-Za-z0-9_-]{20,}$/) });
    out.invited = invited;
    secrets.invitationToken = invited.invitationToken;
    secrets.invitationSecret = invited.invitationToken.slice("inv.".length);
    // An unknown role is refused, and no user is created.
    expectRefused(await cli("create-user", "--tenant", "cli-a", "--email", "r@cli-a.example", "--roles", "NO_SUCH_ROLE"), "BAD_USER_INPUT");
    const emails = await db.query(`select email from tenants."user" where tenant_id = $1 order by email`, [out.tenant!.tenantId]);
    expect(emails.rows.map((r) => r.email)).toEqual(["admin@cli-a.example", "invited@cli-a.example", "member@cli-a.example"]);
  });

  it("assign-roles replaces a user's roles", async () => {
    const result = printed(await cli("assign-roles", "--tenant", "cli-a", "--email", "member@cli-a.example", "--roles", "MANAGER,ANALYST"));
    expect(result.userId).toBe(out.member!.userId);
    expect([...result.roles].sort()).toEqual(["ANALYST", "MANAGER"]);
    const rows = await db.query(`select roles from tenants."user" where id = $1`, [out.member!.userId]);
    expect([...rows.rows[0].roles].sort()).toEqual(["ANALYST", "MANAGER"]);
    expectRefused(await cli("assign-roles", "--tenant", "cli-a", "--email", "member@cli-a.example", "--roles", "GOD"), "BAD_USER_INPUT");
    const after = await db.query(`select roles from tenants."user" where id = $1`, [out.member!.userId]);
    expect([...after.rows[0].roles].sort()).toEqual(["ANALYST", "MANAGER"]);
  });

  it("create-api-key prints the key once; only its hash is stored", async () => {
    const result = printed(await cli("create-api-key", "--tenant", "cli-a", "--name", "ci", "--scopes", "sync:pull,sync:push"));
    expect(result).toMatchObject({ apiKeyId: expect.any(String), scopes: ["sync:pull", "sync:push"], secret: expect.stringMatching(/^trb_[A-Za-z0-9_-]{20,}$/) });
    expect(result.prefix).toBe(result.secret.slice(0, 12));
    out.apiKey = result;
    secrets.apiKey = result.secret;
    secrets.apiKeySecretPart = result.secret.slice("trb_".length);
    const rows = await db.query(`select secret_hash, scopes, tenant_id from tenants.api_key where id = $1`, [result.apiKeyId]);
    expect(rows.rows).toEqual([{ secret_hash: createHash("sha256").update(result.secret).digest("hex"), scopes: ["sync:pull", "sync:push"], tenant_id: out.tenant!.tenantId }]);
    // Nothing beyond what an ADMIN holds.
    expectRefused(await cli("create-api-key", "--tenant", "cli-a", "--name", "too much", "--scopes", "platform:read"), "FORBIDDEN");
    expect((await db.query(`select count(*)::int as n from tenants.api_key`)).rows[0].n).toBe(1);
  });

  it("create-platform-user prints a generated password (and none when one is given); a duplicate email → CONFLICT", async () => {
    const generated = printed(await cli("create-platform-user", "--email", "Ops@Example.com", "--role", "super_admin"));
    expect(generated).toMatchObject({ platformUserId: expect.any(String), email: "ops@example.com", role: "SUPER_ADMIN", password: expect.any(String) });
    expect(generated.password.length).toBeGreaterThanOrEqual(12);
    secrets.operatorPassword = generated.password;
    secrets.supportPassword = "support-password-from-cli-123";
    const given = printed(await cli("create-platform-user", "--email", "support@example.com", "--role", "SUPPORT", "--password", secrets.supportPassword));
    expect(given).toMatchObject({ email: "support@example.com", role: "SUPPORT" });
    expect(given.password).toBeUndefined();
    expectRefused(await cli("create-platform-user", "--email", "ops@example.com", "--role", "ADMIN"), "CONFLICT");
    expectRefused(await cli("create-platform-user", "--email", "x@example.com", "--role", "ROOT"));
    const rows = await db.query(`select email, role::text from tenants.platform_user order by email`);
    expect(rows.rows).toEqual([{ email: "ops@example.com", role: "SUPER_ADMIN" }, { email: "support@example.com", role: "SUPPORT" }]);
  });

  it("rotate-signing-key retires the current key and starts a new one", async () => {
    // No service has started on this database yet: the first rotation creates the first key, then replaces it.
    const first = printed(await cli("rotate-signing-key"));
    expect(first).toEqual({ kid: expect.any(String), retiredKid: expect.any(String) });
    const result = printed(await cli("rotate-signing-key"));
    // The first rotation's key is published but not yet signing (KEY_ACTIVATION_DELAY_MS): the signing key is still
    // the original one, which is what the second rotation reports as retiring.
    expect(result).toEqual({ kid: expect.any(String), retiredKid: first.retiredKid });
    expect(result.kid).not.toBe(first.kid);
    const keys = await db.query<{ kid: string; retired: boolean }>(`select kid, retired_at is not null as retired from tenants.signing_key order by created_at`);
    expect(keys.rows).toEqual([
      { kid: first.retiredKid, retired: true },
      { kid: first.kid, retired: true },
      { kid: result.kid, retired: false },
    ]);
    out.rotation = result;
  });

  it("no secret the CLI printed (or was given) is stored anywhere in the database", async () => {
    expect(Object.keys(secrets).sort()).toEqual(["adminPassword", "apiKey", "apiKeySecretPart", "invitationSecret", "invitationToken", "memberPassword", "operatorPassword", "supportPassword"]);
    const tables = await db.query<{ s: string; t: string }>(
      `select table_schema as s, table_name as t from information_schema.tables where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
    );
    const parts: string[] = [];
    for (const { s, t } of tables.rows) parts.push(...(await db.query<{ row: string }>(`select x::text as row from "${s}"."${t}" x`)).rows.map((r) => r.row));
    const text = parts.join("\n");
    // Control: the dump does hold the rows the secrets belong to.
    for (const id of [out.tenant!.tenantId, out.member!.userId, out.invited!.userId, out.apiKey!.apiKeyId]) expect(text).toContain(id);
    const stored = Object.entries(secrets).filter(([, secret]) => text.includes(secret)).map(([name]) => name);
    expect(stored).toEqual([]);
  });

  describe("then the stack, booted on the same database", () => {
    let url: string;
    const request = async <R, V>(doc: TypedDocumentNode<R, V>, variables: V, token?: string) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query: print(doc), variables }),
      });
      return (await res.json()) as { data?: R | null; errors?: { extensions?: Record<string, unknown> }[] };
    };
    const login = (email: string, password: string) => request(IdentityLoginDocument, { input: { tenant: "cli-a", email, password } });

    beforeAll(async () => {
      stack = await startStack({ databaseUrl, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }), sandbox: false, internalSecret });
      url = stack.gateway.url;
    });

    it("the tenant admin signs in with the printed password; tokens are signed with the rotated key", async () => {
      // The rotated key signs once its activation delay has passed.
      let res = await login("admin@cli-a.example", secrets.adminPassword!);
      const deadline = Date.now() + 15_000;
      while (res.data && decodeProtectedHeader(res.data.login.accessToken).kid !== out.rotation!.kid && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        res = await login("admin@cli-a.example", secrets.adminPassword!);
      }
      expect(res.errors).toBeUndefined();
      const token = res.data!.login.accessToken;
      expect(decodeProtectedHeader(token).kid).toBe(out.rotation!.kid);
      expect(decodeJwt(token)).toMatchObject({ tid: out.tenant!.tenantId });
      const me = await request(IdentityMeDocument, {}, token);
      expect(me.data?.me).toMatchObject({ email: "admin@cli-a.example", roles: ["ADMIN"] });
      const roles = await request(IdentityRolesDocument, {}, token);
      expect(roles.data?.roles.filter((r) => r.system).map((r) => r.name).sort()).toEqual(["ADMIN", "ANALYST", "MANAGER", "READ_ONLY", "USER"]);
      const keys = ((await (await fetch(stack!.tenants.jwksUrl)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      expect(keys).toEqual(expect.arrayContaining([out.rotation!.kid, out.rotation!.retiredKid]));
    });

    it("the member signs in with the roles assign-roles gave; the invited user accepts and signs in", async () => {
      const member = await login("member@cli-a.example", secrets.memberPassword!);
      expect(member.errors).toBeUndefined();
      expect([...member.data!.login.user.roles].sort()).toEqual(["ANALYST", "MANAGER"]);
      const password = "invited-password-123";
      const accepted = await request(IdentityAcceptInvitationDocument, { input: { token: secrets.invitationToken!, password } });
      expect(accepted.data?.acceptInvitation).toMatchObject({ id: out.invited!.userId, status: "ACTIVE" });
      expect((await login("invited@cli-a.example", password)).data?.login.user.id).toBe(out.invited!.userId);
    });

    it("the platform operator signs in with the printed password and sees the tenant; SUPPORT cannot rotate keys", async () => {
      const res = await request(IdentityPlatformLoginDocument, { input: { email: "ops@example.com", password: secrets.operatorPassword! } });
      expect(res.errors).toBeUndefined();
      const tenants = await request(IdentityTenantsDocument, { first: 10 }, res.data!.platformLogin.accessToken);
      expect(tenants.data?.tenants.nodes.map((n) => n.slug)).toEqual(["cli-a"]);
      const support = await request(IdentityPlatformLoginDocument, { input: { email: "support@example.com", password: secrets.supportPassword! } });
      const rotate = await post(url, "mutation { rotateSigningKey { kid } }", {}, support.data!.platformLogin.accessToken);
      expect(codesOf(rotate.body)).toEqual(["FORBIDDEN"]);
    });

    it("the API key is accepted by the tenants service with its scopes", async () => {
      const res = await fetch(stack!.tenants.url.replace(/\/graphql$/, API_KEY_EXCHANGE_PATH), {
        method: "POST",
        headers: { "content-type": "application/json", ...internalHeaders(internalSecret) },
        body: JSON.stringify({ key: secrets.apiKey }),
      });
      expect(res.status).toBe(200);
      const { accessToken } = (await res.json()) as { accessToken: string };
      expect(decodeJwt(accessToken)).toMatchObject({ sub: out.apiKey!.apiKeyId, tid: out.tenant!.tenantId, knd: "api_key", perms: ["sync:pull", "sync:push"] });
    });
  });
});
