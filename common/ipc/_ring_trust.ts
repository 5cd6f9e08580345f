/**
 * Which ring segments a consumer trusts: those of the publishing user, which
 * no one else may write. Also the cheap look at a ring's epoch, under the
 * same rule.
 *
 * @module
 */

import { readHeader } from "./_header.ts";
import { RING_HEADER_SIZE } from "./layout.ts";
import { openSegment, unmapSegment } from "./segment.ts";

/** Options of {@linkcode ringEpoch}. */
export interface RingTrustOptions {
  /**
   * The uid the segment must belong to (default: this process's effective
   * uid); a segment of another owner, or one that group or others may
   * write, is refused with {@linkcode RingOwnerError}.
   */
  publisherUid?: number;
}

/** What to do about a segment of `name` the reader refuses: the remedy its {@linkcode RingOwnerError} names. */
export function ownerRemedy(name: string): string {
  return `remove it (rm /dev/shm${name}, as its owner or root) and start data_manager as the publishing user, or set data_source.ipc.publisher_uid to that user's uid`;
}

/**
 * The epoch of ring `name`, reading only its header (cheap: for telling a
 * restarted producer's ring from the one already followed).
 *
 * @throws {RingNotFoundError} when it does not exist (yet).
 * @throws {RingFormatError} when it is not a ring this version reads.
 * @throws {RingOwnerError} when it belongs to another user or others may write it.
 */
export function ringEpoch(
  name: string,
  options: RingTrustOptions = {},
): number {
  const segment = openSegment(name, {
    mapBytes: RING_HEADER_SIZE,
    ownerUid: options.publisherUid,
    ownerRemedy: ownerRemedy(name),
  });
  try {
    return readHeader(segment).epoch;
  } finally {
    unmapSegment(segment);
  }
}
