/**
 * The wire format shared by both transports: the 48-byte trade record, its
 * codec and zero-copy view, fixed-point prices, and how trades are named on
 * NATS: subjects and message ids (see docs/wire_format.md).
 *
 * The last group (record byte offsets, in-place u64 and epoch-nanosecond
 * writers, the word copy, ring segment names) serves the transports and
 * sources that write records in place and name rings; the root mod.ts
 * leaves it out of the library surface.
 *
 * @module
 */

// The trade record: its fields, sides and flags.
export {
  Side,
  type Trade,
  TRADE_RECORD_SIZE,
  TradeFlags,
  type TradeRecord,
  WIRE_VERSION,
} from "./trade.ts";
// Encoding records into messages and decoding received messages.
export {
  type BufferOptions,
  checkMessage,
  checkTradeRecord,
  decodeTrade,
  decodeTrades,
  encodeMessage,
  encodeTrade,
  encodeTrades,
  lastRecord,
  recordCount,
  type TradeOrigin,
  WireFormatError,
} from "./codec.ts";
// Reading the records of a message in place, without decoding them.
export { TradeView } from "./trade_view.ts";
// Fixed-point prices (× 10^9) and exact parsing of exchange decimals.
export {
  formatPrice,
  MAX_PRICE_FIXED,
  parsePrice,
  parseSize,
  PRICE_DECIMALS,
  PRICE_SCALE,
  priceFromNumber,
  priceToNumber,
} from "./fixed_point.ts";
// NATS subjects: `{prefix}.{exchange}.{SYMBOL}.trades` and their filters.
export {
  DEFAULT_SUBJECT_PREFIX,
  exchangeStreamName,
  normalizeExchange,
  normalizeSymbol,
  parseTradeSubject,
  streamSubjects,
  type StreamSubjectsOptions,
  type SubjectOptions,
  tradeFilter,
  type TradeFilterOptions,
  tradeFilters,
  tradeSubject,
} from "./subjects.ts";
// The NATS message id that lets JetStream drop a resent message.
export { natsMessageId } from "./message_id.ts";
// A serve run's epoch: in its rings' header and its NATS messages' header.
export {
  MAX_EPOCH_LINE,
  newRunEpoch,
  NO_EPOCH,
  RUN_EPOCH_HEADER,
} from "./run_epoch.ts";
// For the transports and sources that write records in place and name
// rings (not in the root mod.ts).
export { RecordOffset } from "./record.ts";
export { setEpochNanos, setU64 } from "./epoch_nanos.ts";
export { checkCount, WordViewCache } from "./words.ts";
export {
  checkDurableName,
  DURABLE_NAME,
  durableShmName,
  joinSegmentName,
  segmentName,
  segmentPath,
  SHM_NAME,
} from "./ring_names.ts";
