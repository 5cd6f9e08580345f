/**
 * How rings are named: one POSIX shared-memory segment per (exchange,
 * symbol), `{prefix}{exchange}_{SYMBOL}` (see docs/ipc_ring.md). The NATS
 * side's naming is ./subjects.ts.
 *
 * @module
 */

import { normalizeExchange, normalizeSymbol } from "./subjects.ts";

/** A valid POSIX shm name: "/" then 1..254 of `A-Za-z0-9._-`. */
export const SHM_NAME = /^\/[A-Za-z0-9._-]{1,254}$/;

/**
 * The segment name of one ring: `{prefix}{exchange}_{SYMBOL}`.
 *
 * @throws {RangeError} when the exchange or symbol is invalid, or the result
 * is not a valid POSIX shm name (a "/" then 1..254 of `A-Za-z0-9._-`).
 */
export function segmentName(
  prefix: string,
  exchange: string,
  symbol: string,
): string {
  const name = joinSegmentName(
    prefix,
    normalizeExchange(exchange),
    normalizeSymbol(symbol),
  );
  if (!SHM_NAME.test(name)) {
    throw new RangeError(
      `Invalid segment name "${name}" (prefix "${prefix}", exchange "${exchange}", symbol "${symbol}"): ` +
        `expected "/" then 1 to 254 letters, digits, ".", "_" or "-"`,
    );
  }
  return name;
}

/**
 * `{prefix}{exchange}_{SYMBOL}` as given, unchecked: the naming rule alone,
 * for messages about a name {@linkcode segmentName} refused.
 */
export function joinSegmentName(
  prefix: string,
  exchange: string,
  symbol: string,
): string {
  return `${prefix}${exchange}_${symbol}`;
}

/** The file under /dev/shm that backs a segment, for messages. */
export function segmentPath(name: string): string {
  return `/dev/shm${name}`;
}

/** A ring durable consumer's name (`data_source.ipc.durable_name`): 1 to 64 letters, digits, `_` or `-`. */
export const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Returns `name` if it is a ring durable's name.
 *
 * @throws {RangeError} otherwise.
 */
export function checkDurableName(name: string): string {
  if (typeof name === "string" && DURABLE_NAME.test(name)) return name;
  throw new RangeError(
    `Invalid durable name ${
      JSON.stringify(name)
    }: expected 1 to 64 letters, digits, "_" or "-"`,
  );
}

/** The shm name of ring durable `name`'s position file: `/marketbus-durable.{name}` (not a ring: no `_` after `marketbus`). */
export function durableShmName(name: string): string {
  return `/marketbus-durable.${name}`;
}
