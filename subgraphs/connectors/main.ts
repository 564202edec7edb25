// Process entry of the connectors subgraph: parse config, connect, listen. The only file here with side effects.
import { z } from "zod";
import { parseEnv, parseServiceConfig } from "../../kernel/config.js";
import { internalSecretSchema } from "../../kernel/internal-auth.js";
import { createLogger } from "../../kernel/logger.js";
import { runMain, runUntilSignal } from "../../kernel/process.js";
import { createPubSub } from "../../kernel/pubsub/index.js";
import { SecretBox } from "./connector/secret-box.js";
import { CONNECTORS_DEFAULT_PORT, startConnectors } from "./start.js";

runMain(async () => {
  const config = parseServiceConfig(CONNECTORS_DEFAULT_PORT, { jwks: true });
  const peers = parseEnv(
    z.object({
      AUDIT_URL: z.url({ message: "must be the audit subgraph URL (its outbox relay posts there), e.g. http://audit:4104/graphql" }),
      SYNC_URL: z.url({ message: "must be the sync subgraph URL (runs and records go through its internal API), e.g. http://sync:4102/graphql" }),
      INTERNAL_SECRET: internalSecretSchema,
      CONNECTOR_SECRET_KEY: z.string().regex(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/, { message: "must be 32 bytes as 64 hex characters or base64 (openssl rand -base64 32)" }),
      CONNECTOR_WORKERS: z.coerce.number().int().min(0).max(64).default(2),
      /** A worker silent this long (crashed) loses its run, which another worker resumes (default 10, pg-boss' minimum). */
      CONNECTOR_HEARTBEAT_SECONDS: z.coerce.number().int().min(10).max(3600).optional(),
      /** How often silent workers are looked for (default 2). */
      CONNECTOR_SUPERVISE_SECONDS: z.coerce.number().int().min(1).max(3600).optional(),
      /** First retry delay of a run (default 1), doubled per retry with jitter. */
      CONNECTOR_RETRY_DELAY_SECONDS: z.coerce.number().int().min(0).max(3600).optional(),
      CONNECTOR_RETRY_LIMIT: z.coerce.number().int().min(0).max(100).optional(),
    }),
  );
  const logger = createLogger(config.logLevel);
  const pubsub = createPubSub({ redisUrl: config.redisUrl, logger });
  const service = await startConnectors(config, { logger, pubsub }, {
    auditUrl: peers.AUDIT_URL,
    syncUrl: peers.SYNC_URL,
    internalSecret: peers.INTERNAL_SECRET,
    box: SecretBox.fromConfig(peers.CONNECTOR_SECRET_KEY),
    jobs: {
      workers: peers.CONNECTOR_WORKERS,
      heartbeatSeconds: peers.CONNECTOR_HEARTBEAT_SECONDS,
      superviseIntervalSeconds: peers.CONNECTOR_SUPERVISE_SECONDS,
      retryDelaySeconds: peers.CONNECTOR_RETRY_DELAY_SECONDS,
      retryLimit: peers.CONNECTOR_RETRY_LIMIT,
    },
  });
  runUntilSignal(logger, async () => {
    await service.stop();
    await pubsub.close();
  });
});
