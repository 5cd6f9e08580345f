/**
 * A serve run's identity: a random non-zero u32 its rings carry in their
 * header (`Epoch`) and its NATS messages in a `Marketbus-Epoch` header, so
 * that a consumer can tell whether a JetStream message and a ring slot
 * belong to the same run (their per-symbol `seq` is then comparable).
 *
 * @module
 */

/** The NATS header holding a message's run epoch, in decimal. */
export const RUN_EPOCH_HEADER = "Marketbus-Epoch";

/** Bytes of the header line `Marketbus-Epoch: {epoch}\r\n` at most (10 digits). */
export const MAX_EPOCH_LINE: number = RUN_EPOCH_HEADER.length + 2 + 10 + 2;

/** No epoch: a message without the header (an older publisher). */
export const NO_EPOCH = 0;

/**
 * A random epoch: a non-zero u32 other than `not`.
 *
 * @example
 * ```ts
 * import { newRunEpoch } from "./run_epoch.ts";
 * const epoch = newRunEpoch();
 * console.assert(epoch > 0 && epoch <= 0xffffffff);
 * ```
 */
export function newRunEpoch(not = NO_EPOCH): number {
  const word = new Uint32Array(1);
  do crypto.getRandomValues(word); while (word[0] === 0 || word[0] === not);
  return word[0];
}

/**
 * Returns `epoch` if it is one (an integer from 1 to 2^32 - 1).
 *
 * @throws {RangeError} naming `what` otherwise.
 */
export function checkRunEpoch(epoch: number, what: string): number {
  if (Number.isInteger(epoch) && epoch >= 1 && epoch <= 0xffffffff) {
    return epoch;
  }
  throw new RangeError(
    `Invalid ${what} ${epoch}: expected an integer from 1 to 4294967295`,
  );
}
