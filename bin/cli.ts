// The operator CLI: `npm run cli -- <command> [--options]`. Works on the database directly (DATABASE_URL, or the
// embedded default's data in DATA_DIR), for scripts and first setup. Changes are audited as SERVICE "cli" (or as the
// tenant's first admin where the CLI acts for them: assigning roles, creating API keys).
import "reflect-metadata";
import { parseArgs } from "node:util";
import type { MikroORM } from "@mikro-orm/postgresql";
import { migrate, openDatabase } from "../kernel/db.js";
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedDatabase } from "../kernel/embedded-postgres.js";
import { ConfigError } from "../kernel/config.js";
import { createLogger } from "../kernel/logger.js";
import { createPubSub } from "../kernel/pubsub/index.js";
import { CreateApiKeyInput, createApiKey } from "../subgraphs/tenants/auth/api-key.service.js";
import { KeyStore } from "../subgraphs/tenants/auth/key-store.js";
import { createPlatformUser } from "../subgraphs/tenants/platform/platform.service.js";
import { PlatformRole } from "../subgraphs/tenants/platform/platform-user.entity.js";
import { assignRoles } from "../subgraphs/tenants/role/role.service.js";
import { systemContext } from "../subgraphs/tenants/system-context.js";
import { Plan, Tenant } from "../subgraphs/tenants/tenant/tenant.entity.js";
import { createTenant } from "../subgraphs/tenants/tenant/tenant.service.js";
import { User } from "../subgraphs/tenants/user/user.entity.js";
import { createUser } from "../subgraphs/tenants/user/user.service.js";
import { permissionsOf } from "../subgraphs/tenants/role/role.permissions.js";
import { SUBGRAPHS } from "./subgraphs.js";

const USAGE = `Usage: npm run cli -- <command> [options]

  create-tenant          --slug S --name N [--plan FREE|STARTER|PRO|ENTERPRISE] [--admin-email E] [--trial-days D]
  create-user            --tenant SLUG --email E [--roles ADMIN,USER] [--password P]   (no password: prints an invitation token)
  assign-roles           --tenant SLUG --email E --roles ROLE[,ROLE]
  create-api-key         --tenant SLUG --name N --scopes sync:pull,sync:push [--expires-in-days D]
  create-platform-user   --email E --role SUPER_ADMIN|ADMIN|SUPPORT [--password P]
  rotate-signing-key

Database: DATABASE_URL, or the embedded default's data in DATA_DIR (default .data).
Secrets (passwords, keys) are printed once and stored only as hashes.`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    slug: { type: "string" },
    name: { type: "string" },
    plan: { type: "string" },
    "admin-email": { type: "string" },
    "trial-days": { type: "string" },
    tenant: { type: "string" },
    email: { type: "string" },
    roles: { type: "string" },
    password: { type: "string" },
    scopes: { type: "string" },
    "expires-in-days": { type: "string" },
    role: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

function need(name: keyof typeof values): string {
  const v = values[name];
  if (typeof v !== "string" || !v) throw new ConfigError([`--${name} is required`]);
  return v;
}
const list = (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean);

async function withTenantsDb<T>(fn: (orm: MikroORM) => Promise<T>): Promise<T> {
  let pg: EmbeddedDatabase | undefined;
  let url = process.env.DATABASE_URL;
  if (!url) {
    // Refuses (with a clear message) while `npm start` holds the same data folder: stop it first.
    pg = await startEmbeddedPostgres({ dataDir: process.env.DATA_DIR ?? ".data" });
    url = await pg.createDatabase("tributary");
  }
  const tenants = SUBGRAPHS.find((s) => s.name === "tenants")!;
  const orm = await openDatabase({ url, ...tenants.database });
  try {
    await migrate(orm, tenants.database.schema);
    return await fn(orm);
  } finally {
    await orm.close();
    await pg?.stop();
  }
}

/** The CLI acts as the tenant's first admin: it can grant at most what an ADMIN holds. */
async function actAsAdmin(ctx: ReturnType<typeof systemContext>, tenant: Tenant): Promise<void> {
  const admin = await ctx.em.findOne(User, { roles: { $contains: ["ADMIN"] } }, { orderBy: { createdAt: "asc" } });
  if (!admin) throw new ConfigError([`tenant ${tenant.slug} has no ADMIN user`]);
  ctx.principal = {
    kind: "user", userId: admin.id, tenantId: tenant.id, email: admin.email, roles: admin.roles, permissions: permissionsOf(["ADMIN"]),
    plan: tenant.plan, tokenId: "cli", issuedAt: new Date(), expiresAt: new Date(),
  };
}

async function tenantBySlug(orm: MikroORM, slug: string): Promise<Tenant> {
  const tenant = await orm.em.fork().findOne(Tenant, { slug: slug.toLowerCase() }, { filters: { tenant: false } });
  if (!tenant) throw new ConfigError([`no tenant with slug ${slug}`]);
  return tenant;
}

const logger = createLogger(process.env.LOG_LEVEL ?? "warn");
const pubsub = createPubSub({ redisUrl: process.env.REDIS_URL, logger });
const print = (obj: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(obj, null, 2)}\n`);

async function main(): Promise<void> {
  const [command] = positionals;
  if (!command || values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  await withTenantsDb(async (orm) => {
    const deps = { pubsub, logger, actor: "cli" };
    switch (command) {
      case "create-tenant": {
        const ctx = systemContext(orm, deps);
        const plan = (values.plan ?? "FREE").toUpperCase() as Plan;
        if (!(plan in Plan)) throw new ConfigError([`--plan must be one of ${Object.keys(Plan).join(", ")}`]);
        const r = await createTenant(ctx, {
          slug: need("slug"),
          name: need("name"),
          plan,
          trialDays: values["trial-days"] !== undefined ? Number(values["trial-days"]) : null,
          adminEmail: values["admin-email"] ?? `admin@${need("slug")}.example`,
        });
        print({ tenantId: r.tenant.id, slug: r.tenant.slug, status: r.tenant.status, adminEmail: r.adminEmail, adminPassword: r.adminPassword });
        break;
      }
      case "create-user": {
        const tenant = await tenantBySlug(orm, need("tenant"));
        const ctx = systemContext(orm, { ...deps, tenantId: tenant.id });
        const r = await createUser(ctx, tenant.id, { email: need("email"), roles: list(values.roles ?? "USER"), password: values.password ?? null });
        print({ userId: r.user.id, email: r.user.email, status: r.user.status, roles: r.user.roles, invitationToken: r.invitationToken });
        break;
      }
      case "assign-roles": {
        const tenant = await tenantBySlug(orm, need("tenant"));
        const ctx = systemContext(orm, { ...deps, tenantId: tenant.id });
        const user = await ctx.em.findOne(User, { email: need("email").toLowerCase() });
        if (!user) throw new ConfigError([`no user ${values.email} in ${tenant.slug}`]);
        await actAsAdmin(ctx, tenant);
        const r = await assignRoles(ctx.em, ctx.principal!, user.id, list(need("roles")));
        await ctx.audit.record(ctx, { tenantId: tenant.id, actorType: "SERVICE", actorId: null, action: "user.roles.assigned", targetType: "User", targetId: user.id, changes: { roles: { before: r.before, after: r.after } } });
        print({ userId: r.user.id, roles: r.after });
        break;
      }
      case "create-api-key": {
        const tenant = await tenantBySlug(orm, need("tenant"));
        const ctx = systemContext(orm, { ...deps, tenantId: tenant.id });
        await actAsAdmin(ctx, tenant);
        const input: CreateApiKeyInput = { name: need("name"), scopes: list(need("scopes")), expiresInDays: values["expires-in-days"] ? Number(values["expires-in-days"]) : null };
        const r = await createApiKey(ctx, input);
        print({ apiKeyId: r.apiKey.id, prefix: r.apiKey.prefix, scopes: r.apiKey.scopes, secret: r.secret });
        break;
      }
      case "create-platform-user": {
        const role = need("role").toUpperCase() as PlatformRole;
        if (!(role in PlatformRole)) throw new ConfigError([`--role must be one of ${Object.keys(PlatformRole).join(", ")}`]);
        const password = values.password ?? (await import("node:crypto")).randomBytes(18).toString("base64url").replace(/[-_]/g, "").slice(0, 16);
        const user = await createPlatformUser(orm.em.fork(), { email: need("email"), role, password });
        print({ platformUserId: user.id, email: user.email, role: user.role, password: values.password ? undefined : password });
        break;
      }
      case "rotate-signing-key": {
        const keyStore = new KeyStore(orm, { issuer: "tributary", audience: "tributary-api" });
        await keyStore.init();
        print(await keyStore.rotate());
        break;
      }
      default:
        throw new ConfigError([`unknown command ${command}`, USAGE]);
    }
  });
}

main()
  .catch((err) => {
    const code = (err as { extensions?: { code?: string } }).extensions?.code;
    // A start that cannot work here (embedded PostgreSQL) says why in one sentence, like a bad option: no stack trace.
    const sentence = err instanceof ConfigError || err instanceof EmbeddedPostgresError;
    process.stderr.write(`${sentence ? err.message : code ? `${code}: ${err.message}` : String(err?.stack ?? err)}\n`);
    process.exitCode = err instanceof ConfigError || code ? 2 : 1;
  })
  // Explicit exit: embedded-postgres's beforeExit hook would otherwise exit with 0 whatever happened.
  .finally(async () => {
    await pubsub.close();
    process.exit(process.exitCode ?? 0);
  });
