import { parseServiceConfig } from "../../kernel/config.js";
import { createLogger } from "../../kernel/logger.js";
import { createPubSub } from "../../kernel/pubsub/index.js";
import { runUntilSignal } from "../../kernel/process.js";
import { TENANTS_DEFAULT_PORT, startTenants } from "./start.js";

const config = parseServiceConfig(TENANTS_DEFAULT_PORT, { jwks: false });
const logger = createLogger(config.logLevel);
const pubsub = createPubSub({ redisUrl: config.redisUrl, logger });
const service = await startTenants(config, { logger, pubsub });
runUntilSignal(logger, async () => {
  await service.stop();
  await pubsub.close();
});
