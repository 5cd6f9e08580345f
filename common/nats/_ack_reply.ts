/**
 * The delivery and stream sequences of a JetStream message, read from its
 * reply (ack) subject without splitting it: nats.js `JsMsg.info` splits the
 * subject into its tokens and parses five numbers into a new object for
 * every message, the largest cost of the consume callback after the
 * protocol parser (docs/nats.md, "What a message costs the consumer").
 * The feed needs two of them per message.
 *
 * @module
 */

const DOT = 46;
const ZERO = 48;
const NINE = 57;
const PREFIX = "$JS.ACK.";

/** Dot positions of a subject, reused: a reply subject has at most 12 tokens. */
const dots = new Int32Array(16);

/**
 * The sequences of the last reply subject read by {@linkcode readAckReply}.
 * One object, overwritten by each read: copy what must outlive the next.
 */
export const ackReply = {
  /** The consumer's delivery sequence. */
  deliverySequence: 0,
  /** The message's stream sequence. */
  streamSequence: 0,
};

/**
 * Reads the delivery and stream sequences of the JetStream reply subject
 * `reply` into {@linkcode ackReply}; false (`ackReply` unchanged) when
 * `reply` is not one this reads, or undefined (then use nats.js
 * `JsMsg.info`). Both forms
 * are read: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`
 * and the one with domain and account hash before the stream (11 or 12
 * tokens).
 */
export function readAckReply(reply: string | undefined): boolean {
  if (reply === undefined || !reply.startsWith(PREFIX)) return false;
  let count = 0;
  const length = reply.length;
  for (let i = PREFIX.length; i < length; i++) {
    if (reply.charCodeAt(i) === DOT) {
      if (count === dots.length) return false;
      dots[count++] = i;
    }
  }
  // Tokens after "$JS.ACK.": count + 1. The delivery count's token comes
  // after dot 1 (old form, 7 tokens) or dot 3 (10 or 11 tokens).
  const tokens = count + 1;
  const at = tokens === 7 ? 1 : tokens === 9 || tokens === 10 ? 3 : -1;
  if (at < 0) return false;
  const streamSequence = digits(reply, dots[at + 1] + 1, dots[at + 2]);
  const deliverySequence = digits(reply, dots[at + 2] + 1, dots[at + 3]);
  if (streamSequence < 0 || deliverySequence < 0) return false;
  ackReply.streamSequence = streamSequence;
  ackReply.deliverySequence = deliverySequence;
  return true;
}

/** The decimal number in `text` from `start` to `end` (exclusive); -1 when it is empty or holds another character. */
function digits(text: string, start: number, end: number): number {
  if (end <= start) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) return -1;
    value = value * 10 + (c - ZERO);
  }
  return value;
}
