/**
 * {@linkcode NatsPublisher}'s limits: its publish settings, checked once,
 * and the trades per message that fit, headers included, in the server's
 * `max_payload` and the stream's `max_msg_size`.
 *
 * @module
 */

import type { NatsPublishConfig } from "../config/mod.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { LABEL } from "./_publish_log.ts";

/** A size limit on messages and how to raise it. */
interface SizeLimit {
  bytes: number;
  what: string;
  remedy: string;
}

/** The trades per message that fit: see {@linkcode MessageSizes.fit}. */
export interface Fit {
  /** Trades per message at most; 0 when not even one fits. */
  cap: number;
  /** Why not even one trade fits (when `cap` is 0). */
  error?: Error;
  /** A log line saying why fewer than `batchMaxTrades` fit (when they do). */
  note?: string;
}

function checkSetting(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Invalid publish.${name} ${value}: expected an integer ≥ ${min}`,
    );
  }
  return value;
}

/**
 * Checks the publish settings: `maxInFlight`, `batchMaxTrades` and
 * `queueMaxTrades` are integers ≥ 1, `flushTimeoutMs` a finite number ≥ 0.
 *
 * @throws {RangeError} naming the first bad setting.
 */
export function checkPublishSettings(publish: NatsPublishConfig): void {
  checkSetting("maxInFlight", publish.maxInFlight, 1);
  checkSetting("batchMaxTrades", publish.batchMaxTrades, 1);
  checkSetting("queueMaxTrades", publish.queueMaxTrades, 1);
  if (!(publish.flushTimeoutMs >= 0 && publish.flushTimeoutMs < Infinity)) {
    throw new RangeError(
      `Invalid publish.flushTimeoutMs ${publish.flushTimeoutMs}: expected a finite number of ms ≥ 0`,
    );
  }
}

/** The size of messages of up to `batchMax` trades with up to `headerBytes` of headers, against the limits. */
export class MessageSizes {
  readonly #batchMax: number;
  readonly #headerBytes: number;
  readonly #stream: string;

  /** Sizes for messages of up to `batchMax` trades into `stream`. */
  constructor(options: {
    /** `publish.batchMaxTrades`. */
    batchMax: number;
    /** The longest header block of any message, bytes. */
    headerBytes: number;
    /** The stream's name, in the remedy. */
    stream: string;
  }) {
    this.#batchMax = options.batchMax;
    this.#headerBytes = options.headerBytes;
    this.#stream = options.stream;
  }

  /**
   * The trades per message that fit in the server's `maxPayload` (when
   * known and positive) and the stream's `maxMsgSize` (when known), at most
   * `batchMax`.
   */
  fit(maxPayload: number | undefined, maxMsgSize?: number): Fit {
    const limits: SizeLimit[] = [];
    if (maxPayload !== undefined && maxPayload > 0) {
      limits.push({
        bytes: maxPayload,
        what: `the NATS server's max_payload is ${maxPayload} bytes`,
        remedy: "raise max_payload in the nats-server configuration",
      });
    }
    const stream = this.#stream;
    if (maxMsgSize !== undefined) {
      limits.push({
        bytes: maxMsgSize,
        what: `stream ${stream}'s max_msg_size is ${maxMsgSize} bytes`,
        remedy: `raise it (\`nats stream edit ${stream} --max-msg-size ${
          this.#headerBytes + this.#batchMax * TRADE_RECORD_SIZE
        }\`) or remove it`,
      });
    }
    let cap = this.#batchMax;
    let binding = limits[0];
    for (const limit of limits) {
      const fit = Math.floor(
        (limit.bytes - this.#headerBytes) / TRADE_RECORD_SIZE,
      );
      if (fit < cap) {
        cap = Math.max(0, fit);
        binding = limit;
      }
    }
    if (cap === 0) return { cap, error: this.#noneFits(binding) };
    if (cap < this.#batchMax) {
      return {
        cap,
        note:
          `${LABEL}: messages hold at most ${cap} trades, not ${this.#batchMax}: ${binding.what} (${TRADE_RECORD_SIZE} bytes per trade, up to ${this.#headerBytes} of headers)`,
      };
    }
    return { cap };
  }

  /** The error when a message of one trade on `subject` was refused for its size (`reason`). */
  tradeTooBig(subject: string, reason: string): Error {
    return new Error(
      `one trade does not fit in a message on ${subject} (${reason}): the server's max_payload or the stream's max_msg_size is below ${
        this.#headerBytes + TRADE_RECORD_SIZE
      } bytes (${TRADE_RECORD_SIZE} bytes of trade, up to ${this.#headerBytes} of headers): raise it`,
    );
  }

  #noneFits(binding: SizeLimit): Error {
    return new Error(
      `one trade does not fit in a message: ${binding.what}, and a message of one trade needs up to ${
        this.#headerBytes + TRADE_RECORD_SIZE
      } (${TRADE_RECORD_SIZE} bytes of trade, up to ${this.#headerBytes} of headers): ${binding.remedy}`,
    );
  }
}
