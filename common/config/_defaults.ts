/**
 * The built-in defaults other modules need by name.
 *
 * @module
 */

/** Exchange used when none is configured. */
export const DEFAULT_EXCHANGE = "binance";
/** Symbols used when none are configured. */
export const DEFAULT_SYMBOLS: readonly string[] = ["BTCUSDT", "ETHUSDT"];
/** NATS server used when none is configured. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
/** Shared-memory segment name prefix used when none is configured. */
export const DEFAULT_SHM_PATH_PREFIX = "/marketbus_";
/**
 * Per-subject byte budget of a NATS publisher that sets neither
 * `max_bytes_per_subject` nor `max_msgs_per_subject` (the design's 100 MB).
 */
export const DEFAULT_MAX_BYTES_PER_SUBJECT = 100_000_000;
/**
 * Streams above which `live`'s progress is one summary line
 * (`trading_core.progress_summary_above`).
 */
export const DEFAULT_PROGRESS_SUMMARY_ABOVE = 8;
