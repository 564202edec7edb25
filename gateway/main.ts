// Process entry of the gateway: parse config, listen. The only file here with side effects.
import { createLogger } from "../kernel/logger.js";
import { runMain, runUntilSignal } from "../kernel/process.js";
import { createPubSub } from "../kernel/pubsub/index.js";
import { parseGatewayConfig } from "./config.js";
import { startGateway } from "./gateway.js";

runMain(async () => {
  const config = parseGatewayConfig();
  const logger = createLogger(config.logLevel);
  const pubsub = config.redisUrl ? createPubSub({ redisUrl: config.redisUrl, logger }) : undefined;
  const gateway = await startGateway(config, { logger, pubsub });
  runUntilSignal(logger, async () => {
    await gateway.stop();
    await pubsub?.close();
  });
});
