/**
 * {@linkcode NatsPublisher}'s `HPUB` commands, written as bytes: each
 * message's command line, header block (`Nats-Msg-Id`, then the run's
 * `Marketbus-Epoch`, written once as bytes) and payload go into
 * one reused buffer, handed to the connection once per turn of the event
 * loop, instead of `nc.publish` encoding two strings, checking the subject
 * and queueing four buffers per message. The subject and the reply prefix
 * are encoded once; numbers are written digit by digit.
 *
 * The buffer goes straight to a {@linkcode DenoTransport} (which copies it
 * into its own reused write buffer) when nats.js has nothing queued before
 * it; otherwise, or over another transport, a copy joins nats.js's queue.
 * Fresh copies of a burst cost ~10× a copy into a reused buffer here
 * (zeroed memory, page faults, GC).
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/nats-core";
import type { NatsConnectionImpl } from "@nats-io/nats-core/internal";
import { DenoTransport } from "./_deno_transport.ts";
import { yieldToEventLoop } from "../runtime/delay.ts";
import { NO_EPOCH, RUN_EPOCH_HEADER } from "../wire/run_epoch.ts";

const encoder = new TextEncoder();
const HPUB = encoder.encode("HPUB ");
/** The header block up to the id's value. */
const HEADER_START = encoder.encode("NATS/1.0\r\nNats-Msg-Id: ");
const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const ZERO = 0x30;
/** Bytes of the command line besides the subject and reply prefix, at most (5 numbers of up to 16 digits). */
const LINE_EXTRA = 5 + 3 + 3 * 16 + 2;
/** Bytes of the buffer to begin with. */
const INITIAL_BYTES = 64 * 1024;
/**
 * The buffer grows up to this size (a full window of big messages), so that
 * one turn's messages reach the socket in one write.
 */
const MAX_BYTES = 4 * 1024 * 1024;

/** The header line `Marketbus-Epoch: {epoch}\r\n` as bytes; empty for {@linkcode NO_EPOCH}. */
export function epochLine(epoch: number): Uint8Array {
  if (epoch === NO_EPOCH) return new Uint8Array(0);
  return encoder.encode(`${RUN_EPOCH_HEADER}: ${epoch}\r\n`);
}

/**
 * Bytes of the header block `NATS/1.0\r\nNats-Msg-Id: {id}\r\n{epoch line}\r\n`
 * of an id of `idLength` bytes and an epoch line of `epochBytes`.
 */
export function headerLength(idLength: number, epochBytes = 0): number {
  return HEADER_START.length + idLength + epochBytes + 4;
}

/**
 * Writes the decimal digits of `value` (an integer, 0 ≤ value < 2^53) into
 * `into` at `at`; returns where they end. (Positional arguments: it runs
 * several times per message.)
 */
export function writeDigits(
  into: Uint8Array,
  at: number,
  value: number,
): number {
  if (value >= 0x80000000) return writeLongDigits(into, at, value);
  let small = value | 0;
  let digits = 1;
  for (let rest = small; rest >= 10; rest = (rest / 10) | 0) digits++;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const next = (small / 10) | 0;
    into[i] = ZERO + small - next * 10;
    small = next;
  }
  return end;
}

/** {@linkcode writeDigits} beyond 32-bit integers, in floating point. */
function writeLongDigits(into: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const next = Math.floor(value / 10);
    into[i] = ZERO + (value - next * 10);
    value = next;
  }
  return end;
}

function put(into: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 32) {
    into.set(bytes, at);
  } else {
    for (let i = 0; i < n; i++) into[at + i] = bytes[i];
  }
  return at + n;
}

/** The `HPUB` commands of one connection; see the module documentation. */
export class FrameWriter {
  #epochLine: Uint8Array;
  #buffer = new Uint8Array(INITIAL_BYTES);
  #at = 0;
  #nc: NatsConnectionImpl | undefined;
  #scheduled = false;
  #flushTask = () => this.flush();

  /** Writes messages of the run `epoch` (default {@linkcode NO_EPOCH}: no epoch header). */
  constructor(epoch: number = NO_EPOCH) {
    this.#epochLine = epochLine(epoch);
  }

  /** Bytes of the header block of a message whose id has `idLength` bytes. */
  headerLength(idLength: number): number {
    return headerLength(idLength, this.#epochLine.length);
  }

  /** Hands the commands to `nc` (a nats.js connection) from now on. */
  use(nc: NatsConnection): void {
    this.#nc = nc as NatsConnectionImpl;
  }

  /**
   * Writes `HPUB {subject} {reply}{attempt} …` with the header block of the
   * id (the first `idLength` bytes of `id`) and the epoch, and `payload`; handed over at the
   * end of this turn of the event loop (before, when it outgrew the buffer).
   * (Positional arguments: it runs for every message.)
   */
  hpub(
    subject: Uint8Array,
    reply: Uint8Array,
    attempt: number,
    id: Uint8Array,
    idLength: number,
    payload: Uint8Array,
  ): void {
    const epoch = this.#epochLine;
    const headers = headerLength(idLength, epoch.length);
    const total = headers + payload.length;
    const need = subject.length + reply.length + LINE_EXTRA + total + 2;
    if (this.#at + need > this.#buffer.length) this.#grow(need);
    const b = this.#buffer;
    let at = put(b, this.#at, HPUB);
    at = put(b, at, subject);
    b[at++] = SPACE;
    at = put(b, at, reply);
    at = writeDigits(b, at, attempt);
    b[at++] = SPACE;
    at = writeDigits(b, at, headers);
    b[at++] = SPACE;
    at = writeDigits(b, at, total);
    b[at++] = CR;
    b[at++] = LF;
    at = put(b, at, HEADER_START);
    for (let i = 0; i < idLength; i++) b[at + i] = id[i];
    at += idLength;
    b[at++] = CR;
    b[at++] = LF;
    at = put(b, at, epoch);
    b[at++] = CR;
    b[at++] = LF;
    b.set(payload, at);
    at += payload.length;
    b[at++] = CR;
    b[at++] = LF;
    this.#at = at;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Makes room for `need` more bytes: a bigger buffer, or when at its largest, hands over what it holds first. */
  #grow(need: number): void {
    const size = Math.max(this.#buffer.length * 2, this.#at + need);
    if (size > MAX_BYTES && this.#at > 0) this.flush();
    if (this.#at + need <= this.#buffer.length) return;
    const bigger = new Uint8Array(Math.max(need, Math.min(size, MAX_BYTES)));
    bigger.set(this.#buffer.subarray(0, this.#at));
    this.#buffer = bigger;
  }

  /**
   * Hands what was written to the connection (see the module
   * documentation). Returns a promise settled once the bytes reached the
   * socket, or a turn of the event loop later when nats.js queued them;
   * undefined when there was nothing to send.
   */
  flush(): Promise<void> | undefined {
    this.#scheduled = false;
    if (this.#at === 0) return undefined;
    const bytes = this.#buffer.subarray(0, this.#at);
    this.#at = 0;
    const protocol = this.#nc?.protocol;
    if (protocol === undefined) return undefined;
    if (
      protocol.transport instanceof DenoTransport && protocol.connected &&
      protocol.infoReceived && protocol.outbound.size() === 0
    ) {
      return protocol.transport.send(bytes); // copied before it returns
    }
    protocol.sendCommand(bytes.slice());
    return yieldToEventLoop();
  }
}
