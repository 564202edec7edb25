// Process entry of the connectors subgraph: parse config, connect, listen. The only file here with side effects.
import { z } from "zod";
import { parseEnv, parseServiceConfig } from "../../kernel/config.js";
import { createLogger } from "../../kernel/logger.js";
import { runMain, runUntilSignal } from "../../kernel/process.js";
import { createPubSub } from "../../kernel/pubsub/index.js";
import { CONNECTORS_DEFAULT_PORT, startConnectors } from "./start.js";

runMain(async () => {
  const config = parseServiceConfig(CONNECTORS_DEFAULT_PORT, { jwks: true });
  const { AUDIT_URL } = parseEnv(z.object({ AUDIT_URL: z.url({ message: "must be the audit subgraph URL (its outbox relay posts there), e.g. http://audit:4104/graphql" }) }));
  const logger = createLogger(config.logLevel);
  const pubsub = createPubSub({ redisUrl: config.redisUrl, logger });
  const service = await startConnectors(config, { logger, pubsub, auditUrl: AUDIT_URL });
  runUntilSignal(logger, async () => {
    await service.stop();
    await pubsub.close();
  });
});
