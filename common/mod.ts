/**
 * The shared core of both roles: the wire format (the trade record, its
 * codec and view, fixed-point prices, NATS subjects and message ids; see
 * ./wire/mod.ts) and the configuration (loader, types, units and stream
 * sizing; see ./config/mod.ts). The other common packages (os, runtime,
 * metrics, trade_file, transport, ipc, nats) have their own mod.ts.
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
} from "./wire/mod.ts";
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
  recordCount,
  type TradeOrigin,
  WireFormatError,
} from "./wire/mod.ts";
// Reading the records of a message in place, without decoding them.
export { TradeView } from "./wire/mod.ts";
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
} from "./wire/mod.ts";
// NATS subjects: `{prefix}.{exchange}.{SYMBOL}.trades` and their filters.
export {
  DEFAULT_SUBJECT_PREFIX,
  normalizeExchange,
  normalizeSymbol,
  parseTradeSubject,
  streamSubjects,
  type SubjectOptions,
  tradeFilter,
  type TradeFilterOptions,
  tradeFilters,
  tradeSubject,
} from "./wire/mod.ts";
// The NATS message id that lets JetStream drop a resent message.
export { natsMessageId } from "./wire/mod.ts";
// Loading: built-in defaults < file < NATS variables < command-line flags.
export {
  ConfigError,
  type ConfigOverride,
  loadConfig,
  type LoadConfigOptions,
  parseConfig,
} from "./config/mod.ts";
// The NATS variables read from the environment.
export { NATS_ENV_VARIABLES, type NatsEnv, readNatsEnv } from "./config/mod.ts";
// Built-in defaults the documentation and the seed config name.
export {
  DEFAULT_EXCHANGE,
  DEFAULT_MAX_BYTES_PER_SUBJECT,
  DEFAULT_NATS_URL,
  DEFAULT_SHM_PATH_PREFIX,
  DEFAULT_SYMBOLS,
} from "./config/mod.ts";
// Showing a configuration: server URLs without their credentials.
export { hideUrlCredentials } from "./config/mod.ts";
// The validated configuration: the whole and each section.
export {
  type BarsConfig,
  type BinanceConfig,
  type Config,
  type DataManagerConfig,
  type DataSourceConfig,
  type DataSourceKind,
  type DeliverPolicy,
  type IpcSourceConfig,
  type IpcTransportConfig,
  type JetStreamConfig,
  type LogConfig,
  type LogFormat,
  type LogLevel,
  type MetricsConfig,
  type NatsAuth,
  type NatsConnectionConfig,
  type NatsConsumerConfig,
  type NatsPublishConfig,
  type NatsTls,
  type NatsTransportConfig,
  type OnExistingFile,
  type OnWriteError,
  REPLAY_FORMATS,
  type ReplayConfig,
  type ReplayFormat,
  type ReplayPolicy,
  type Retention,
  type SourceKind,
  type StartFrom,
  type Storage,
  type SyntheticConfig,
  type TradingCoreConfig,
  type WaitStrategy,
} from "./config/mod.ts";
// Units in config values and flags: durations, byte sizes, bar intervals.
export {
  formatDuration,
  parseBarInterval,
  parseByteSize,
  parseDuration,
} from "./config/mod.ts";
// Sizing the stream: `max_bytes_per_subject` as a per-subject message count.
export {
  maxMsgsPerSubjectFor,
  msgIdHeaderBytes,
  singleTradeMessageSize,
  storedMessageSize,
  type SubjectShape,
} from "./config/mod.ts";
