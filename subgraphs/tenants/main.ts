// Process entry of the tenants subgraph: parse config, connect, listen. The only file here with side effects.
import { z } from "zod";
import { parseEnv, parseServiceConfig } from "../../kernel/config.js";
import { internalSecretSchema } from "../../kernel/internal-auth.js";
import { createLogger } from "../../kernel/logger.js";
import { runMain, runUntilSignal } from "../../kernel/process.js";
import { createPubSub } from "../../kernel/pubsub/index.js";
import { TENANTS_DEFAULT_PORT, startTenants } from "./start.js";
import { ensureTenantWithAdmin } from "./tenant/demo-seed.js";

runMain(async () => {
  const config = parseServiceConfig(TENANTS_DEFAULT_PORT, { jwks: false });
  const { DEMO_SEED, TENANT_RETENTION_DAYS, AUDIT_URL, INTERNAL_SECRET } = parseEnv(
    z.object({
      DEMO_SEED: z.enum(["true", "false"]).default("false"),
      TENANT_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
      AUDIT_URL: z.url({ message: "must be the audit subgraph URL (its outbox relay posts there), e.g. http://audit:4104/graphql" }),
      INTERNAL_SECRET: internalSecretSchema,
    }),
  );
  const logger = createLogger(config.logLevel);
  const pubsub = createPubSub({ redisUrl: config.redisUrl, logger });
  const service = await startTenants(config, { logger, pubsub, retentionDays: TENANT_RETENTION_DAYS, auditUrl: AUDIT_URL, internalSecret: INTERNAL_SECRET });
  if (DEMO_SEED === "true") {
    const demo = await ensureTenantWithAdmin(service.orm, { slug: "demo", name: "Demo Company", adminEmail: "admin@demo.example" });
    // Printed to the terminal only (never to the JSON log), and only when just created.
    if (demo.adminPassword) process.stdout.write(`demo tenant: ${demo.slug} ${demo.adminEmail} password: ${demo.adminPassword}\n`);
  }
  runUntilSignal(logger, async () => {
    await service.stop();
    await pubsub.close();
  });
});
