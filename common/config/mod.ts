/**
 * Configuration: TOML files validated into typed objects, with the NATS
 * variables (`NATS_URL`, `NATS_TOKEN`, `NATS_USER`, `NATS_PASSWORD`,
 * `NATS_CREDS`) and command-line overrides (see docs/configuration.md).
 *
 * @module
 */

// Loading: built-in defaults < file < NATS variables < command-line flags.
export {
  type ConfigOverride,
  loadConfig,
  type LoadConfigOptions,
  parseConfig,
} from "./load.ts";
export { ConfigError } from "./error.ts";
// The NATS variables read from the environment.
export { NATS_ENV_VARIABLES, type NatsEnv, readNatsEnv } from "./_env.ts";
// Built-in defaults the documentation and the seed config name.
export {
  DEFAULT_EXCHANGE,
  DEFAULT_MAX_BYTES_PER_SUBJECT,
  DEFAULT_NATS_URL,
  DEFAULT_PROGRESS_SUMMARY_ABOVE,
  DEFAULT_SHM_PATH_PREFIX,
  DEFAULT_SYMBOLS,
} from "./_defaults.ts";
// Showing a configuration: server URLs without their credentials.
export { hideUrlCredentials } from "./_connection.ts";
// The validated configuration: the whole and each section.
export {
  type BarClock,
  type BarsConfig,
  type BinanceConfig,
  type BrokerConfig,
  type CatchUpStart,
  type Config,
  type ConsoleConfig,
  type DataManagerConfig,
  type DataSourceConfig,
  type DataSourceKind,
  type DeliverPolicy,
  type Delivery,
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
  type RegistryConfig,
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
} from "./types.ts";
// Defaults and ranges of `[trading_core.broker]`, shared with PaperBroker.
export { BROKER_LIMITS, type BrokerLimit } from "./broker_limits.ts";
// Units in config values and flags: durations, byte sizes, bar intervals.
export { formatDuration, parseDuration } from "./duration.ts";
export { parseByteSize } from "./byte_size.ts";
export { parseBarInterval } from "./bar_interval.ts";
// Sizing the stream: `max_bytes_per_subject` as a per-subject message count.
export {
  maxMsgsPerSubjectFor,
  msgIdHeaderBytes,
  singleTradeMessageSize,
  storedMessageSize,
  type SubjectShape,
} from "./stream_limits.ts";
