// Process entry of the sync subgraph: parse config, connect, listen. The only file here with side effects.
import { parseServiceConfig } from "../../kernel/config.js";
import { createLogger } from "../../kernel/logger.js";
import { runMain, runUntilSignal } from "../../kernel/process.js";
import { createPubSub } from "../../kernel/pubsub/index.js";
import { SYNC_DEFAULT_PORT, startSync } from "./start.js";

runMain(async () => {
  const config = parseServiceConfig(SYNC_DEFAULT_PORT, { jwks: true });
  const logger = createLogger(config.logLevel);
  const pubsub = createPubSub({ redisUrl: config.redisUrl, logger });
  const service = await startSync(config, { logger, pubsub });
  runUntilSignal(logger, async () => {
    await service.stop();
    await pubsub.close();
  });
});
