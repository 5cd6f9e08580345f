/**
 * Reads a message's run epoch (`Marketbus-Epoch`, see
 * `common/wire/run_epoch.ts`) from its raw header bytes, without nats.js
 * parsing the header block into a map for every message: the publisher
 * writes the epoch as the last header line, so it is found by a scan
 * backwards from the end of the block (a dozen bytes). A message whose
 * header block is laid out otherwise (another publisher) is read through
 * nats.js's `headers`.
 *
 * @module
 */

import type { JsMsg } from "@nats-io/jetstream";
import { Match, type MsgHdrs } from "@nats-io/nats-core";
import { NO_EPOCH, RUN_EPOCH_HEADER } from "../wire/run_epoch.ts";

/** The nats.js 3.4 message fields read here (not in its types). */
interface RawMsg {
  readonly _rdata?: Uint8Array;
  readonly _msg?: { readonly hdr: number };
}

/** The header line's start, lower case: header names match in any case. */
const NAME = new TextEncoder().encode(
  `\r\n${RUN_EPOCH_HEADER.toLowerCase()}: `,
);
const ZERO = 0x30;
const CR = 0x0d;

/**
 * The run epoch `message` carries, or {@linkcode NO_EPOCH} when it has none
 * (or one that is not a u32 in decimal).
 */
export function messageEpoch(message: JsMsg): number {
  const raw = (message as JsMsg & { readonly msg?: RawMsg }).msg;
  const bytes = raw?._rdata;
  const end = raw?._msg?.hdr ?? -1;
  if (bytes === undefined || end < 0) return headersEpoch(message.headers);
  // The block ends `{digits}\r\n\r\n`.
  if (end < 5 || bytes[end - 4] !== CR) return headersEpoch(message.headers);
  let at = end - 5;
  let value = 0;
  let scale = 1;
  while (at >= 0 && bytes[at] !== 0x20) {
    const digit = bytes[at] - ZERO;
    if (digit < 0 || digit > 9 || scale > 1e9) {
      return headersEpoch(message.headers);
    }
    value += digit * scale;
    scale *= 10;
    at--;
  }
  const start = at + 1 - NAME.length;
  if (scale === 1 || start < 0) {
    return headersEpoch(message.headers);
  }
  for (let i = 0; i < NAME.length; i++) {
    const byte = bytes[start + i];
    const lower = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
    if (lower !== NAME[i]) return headersEpoch(message.headers);
  }
  return value <= 0xffffffff ? value : NO_EPOCH;
}

/**
 * The run epoch in parsed `headers` (any layout, the name in any case; a
 * stored message's, read by a direct get, too), or {@linkcode NO_EPOCH}.
 */
export function headersEpoch(headers: MsgHdrs | undefined): number {
  const text = headers?.values(RUN_EPOCH_HEADER, Match.IgnoreCase)[0];
  if (text === undefined || !/^[0-9]{1,10}$/.test(text)) return NO_EPOCH;
  const value = Number(text);
  return value <= 0xffffffff ? value : NO_EPOCH;
}
