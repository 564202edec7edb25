import type { Logger } from "pino";
import type { PubSub } from "./pubsub.js";

/** Per pub/sub instance: whether its last wake-up failed (so an outage is logged once, not once per publish). */
const failing = new WeakMap<PubSub, boolean>();

/**
 * Publishes a wake-up after a commit without waiting for it: readers (live streams, run watchers) re-read from their
 * own cursor on a timer, so a wake-up only makes them early; a response must never wait for one. It never throws and
 * never delays the caller — while Redis is down the publish fails at once (see RedisPubSub) and the readers' timers
 * carry the changes. The first failure of an outage is logged as a warning, the rest at debug, the recovery at info.
 */
export function publishWakeUp(pubsub: PubSub, topic: string, payload: unknown, logger?: Logger): void {
  let published: Promise<void>;
  try {
    published = pubsub.publish(topic, payload);
  } catch (err) {
    published = Promise.reject(err);
  }
  published.then(
    () => {
      if (failing.get(pubsub)) {
        failing.set(pubsub, false);
        logger?.info({ topic }, "wake-ups published again");
      }
    },
    (err: unknown) => {
      if (!failing.get(pubsub)) {
        failing.set(pubsub, true);
        logger?.warn({ err, topic }, "wake-up not published (readers catch up on their re-read timer); further failures logged at debug");
      } else {
        logger?.debug({ err, topic }, "wake-up not published");
      }
    },
  );
}
