/**
 * A header block holding only `Nats-Msg-Id`, encoded straight to bytes for
 * `nc.publish`: the bytes nats.js's `headers()` + `set()` + `encode()` would
 * make, without its per-message Map, key canonicalisation, regex checks and
 * string building. nats.js 3.x's publish only calls `encode()` on the
 * headers it is given; the fast-ingest test checks the server still
 * deduplicates by these ids, so a nats.js change that broke this fails it.
 *
 * @module
 */

import type { MsgHdrs } from "@nats-io/nats-core";
import { invalidArgument } from "../common/errors/invalid.ts";

const HEAD = new TextEncoder().encode("NATS/1.0\r\nNats-Msg-Id: ");
/** Header bytes are carved from slabs this large (nats.js keeps them until it flushes). */
const SLAB_BYTES = 64 * 1024;
const encoder = new TextEncoder();

let slab = new Uint8Array(SLAB_BYTES);
let used = 0;

/** Pre-encoded headers: what nats.js's publish reads of a `MsgHdrs`. */
class EncodedHeaders {
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** The encoded header block. */
  encode(): Uint8Array {
    return this.#bytes;
  }
}

/**
 * Headers for `nc.publish` carrying `Nats-Msg-Id: <id>` and nothing else.
 * Throws a TypeError for an empty id or one with CR, LF or other controls.
 */
export function msgIdHeader(id: string): MsgHdrs {
  const need = HEAD.length + id.length * 3 + 4;
  if (used + need > slab.length) {
    slab = new Uint8Array(Math.max(SLAB_BYTES, need));
    used = 0;
  }
  const start = used;
  slab.set(HEAD, start);
  let at = start + HEAD.length;
  let ascii = true;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) {
      throw new TypeError(
        invalidArgument("Nats-Msg-Id", id, "no control characters"),
      );
    }
    if (code > 0x7e) ascii = false;
    else if (ascii) slab[at++] = code;
  }
  if (id.length === 0) {
    throw new TypeError(invalidArgument("Nats-Msg-Id", id, "a non-empty id"));
  }
  if (!ascii) {
    at = start + HEAD.length +
      encoder.encodeInto(id, slab.subarray(start + HEAD.length)).written;
  }
  slab[at] = 13;
  slab[at + 1] = 10;
  slab[at + 2] = 13;
  slab[at + 3] = 10;
  used = at + 4;
  return new EncodedHeaders(slab.subarray(start, used)) as unknown as MsgHdrs;
}
