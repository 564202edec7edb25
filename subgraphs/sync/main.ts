// Process entry of the sync subgraph: parse config, connect, listen. The only file here with side effects.
import { z } from "zod";
import { parseEnv, parseServiceConfig } from "../../kernel/config.js";
import { internalSecretSchema } from "../../kernel/internal-auth.js";
import { createLogger } from "../../kernel/logger.js";
import { runMain, runUntilSignal } from "../../kernel/process.js";
import { createPubSub } from "../../kernel/pubsub/index.js";
import { SYNC_DEFAULT_PORT, startSync } from "./start.js";

runMain(async () => {
  const config = parseServiceConfig(SYNC_DEFAULT_PORT, { jwks: true });
  const peers = parseEnv(
    z.object({
      CONNECTORS_URL: z.url({ message: "must be the connectors subgraph URL, e.g. http://connectors:4103/graphql" }),
      AUDIT_URL: z.url({ message: "must be the audit subgraph URL (its outbox relay posts there), e.g. http://audit:4104/graphql" }),
      INTERNAL_SECRET: internalSecretSchema,
    }),
  );
  const logger = createLogger(config.logLevel);
  const pubsub = createPubSub({ redisUrl: config.redisUrl, logger });
  const service = await startSync(config, { logger, pubsub }, { connectorsUrl: peers.CONNECTORS_URL, auditUrl: peers.AUDIT_URL, internalSecret: peers.INTERNAL_SECRET });
  runUntilSignal(logger, async () => {
    await service.stop();
    await pubsub.close();
  });
});
