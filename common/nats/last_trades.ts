/**
 * The last trade the stream holds per symbol: its `seq` and trade id, read
 * from the last message of each trade subject (a get by the stream leader,
 * so the answer includes every acknowledged publish). A hot standby resumes
 * after it.
 *
 * @module
 */

import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { RecordOffset } from "../wire/record.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { tradeSubject } from "../wire/subjects.ts";

/** The last trade of a symbol in the stream. */
export interface LastTrade {
  /** Its per-symbol seq. */
  seq: number;
  /** Its trade id. */
  tradeId: bigint;
}

/** Options of {@linkcode lastTrades}. */
export interface LastTradesOptions {
  /** The stream. */
  streamName: string;
  /** Its subject prefix. */
  subjectPrefix: string;
  /** The exchange. */
  exchange: string;
}

/**
 * The last trade of each of `symbols` in the stream (undefined for a symbol
 * with no message, or a stream that does not exist).
 */
export async function lastTrades(
  nc: NatsConnection,
  symbols: readonly string[],
  options: LastTradesOptions,
): Promise<(LastTrade | undefined)[]> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const found: (LastTrade | undefined)[] = [];
  for (const symbol of symbols) {
    const subject = tradeSubject(options.exchange, symbol, {
      prefix: options.subjectPrefix,
    });
    let data: Uint8Array | undefined;
    try {
      data = (await jsm.streams.getMessage(options.streamName, {
        last_by_subj: subject,
      }))?.data;
    } catch (error) {
      const missing = error instanceof JetStreamApiError &&
        (error.code === JetStreamApiCodes.NoMessageFound ||
          error.code === JetStreamApiCodes.StreamNotFound);
      if (!missing) throw error;
    }
    found.push(lastRecordOf(data));
  }
  return found;
}

/** The seq and trade id of the last whole record of a message. */
function lastRecordOf(data: Uint8Array | undefined): LastTrade | undefined {
  if (data === undefined || data.byteLength < TRADE_RECORD_SIZE) {
    return undefined;
  }
  const at = (Math.floor(data.byteLength / TRADE_RECORD_SIZE) - 1) *
    TRADE_RECORD_SIZE;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    seq: view.getUint32(at + RecordOffset.Seq, true),
    tradeId: view.getBigUint64(at + RecordOffset.TradeId, true),
  };
}
