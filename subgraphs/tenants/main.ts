// Process entry of the tenants subgraph: parse config, connect, listen. The only file here with side effects.
import { parseServiceConfig } from "../../kernel/config.js";
import { createLogger } from "../../kernel/logger.js";
import { runMain, runUntilSignal } from "../../kernel/process.js";
import { createPubSub } from "../../kernel/pubsub/index.js";
import { TENANTS_DEFAULT_PORT, startTenants } from "./start.js";

runMain(async () => {
  const config = parseServiceConfig(TENANTS_DEFAULT_PORT, { jwks: false });
  const logger = createLogger(config.logLevel);
  const pubsub = createPubSub({ redisUrl: config.redisUrl, logger });
  const service = await startTenants(config, { logger, pubsub });
  runUntilSignal(logger, async () => {
    await service.stop();
    await pubsub.close();
  });
});
