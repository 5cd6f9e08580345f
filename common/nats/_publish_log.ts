/**
 * How {@linkcode NatsPublisher} names itself in the log, and how often its
 * repeated warnings are written.
 *
 * @module
 */

/** Who connects, in connection log lines. */
export const ROLE = "publisher";
/** The prefix of the publisher's log lines. */
export const LABEL = `NATS ${ROLE}`;
/** Repeated warnings (drops, failed publishes) are logged at most this often, ms. */
export const WARN_EVERY_MS = 5000;
