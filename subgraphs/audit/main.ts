// Process entry of the audit subgraph: parse config, connect, listen. The only file here with side effects.
import { z } from "zod";
import { parseEnv, parseServiceConfig } from "../../kernel/config.js";
import { internalSecretSchema } from "../../kernel/internal-auth.js";
import { createLogger } from "../../kernel/logger.js";
import { runMain, runUntilSignal } from "../../kernel/process.js";
import { createPubSub } from "../../kernel/pubsub/index.js";
import { AUDIT_DEFAULT_PORT, startAudit } from "./start.js";

runMain(async () => {
  const config = parseServiceConfig(AUDIT_DEFAULT_PORT, { jwks: true });
  const logger = createLogger(config.logLevel);
  const pubsub = createPubSub({ redisUrl: config.redisUrl, logger });
  const { INTERNAL_SECRET } = parseEnv(z.object({ INTERNAL_SECRET: internalSecretSchema }));
  const service = await startAudit(config, { logger, pubsub, internalSecret: INTERNAL_SECRET });
  runUntilSignal(logger, async () => {
    await service.stop();
    await pubsub.close();
  });
});
