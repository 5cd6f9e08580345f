/**
 * The typed configuration both roles read (see docs/configuration.md).
 *
 * @module
 */

/** Where data_manager gets its trades. */
export type SourceKind = "synthetic" | "binance" | "replay";

/** The formats a replay file may be read as; `auto` looks at the first line. */
export const REPLAY_FORMATS = ["auto", "binance-csv", "ndjson"] as const;

/** One of {@linkcode REPLAY_FORMATS}. */
export type ReplayFormat = typeof REPLAY_FORMATS[number];

/** Which transport trading_core reads from. */
export type DataSourceKind = "ipc" | "nats";

/** How an IPC consumer waits for the next trade: busy-poll, poll then sleep, or yield to the event loop. */
export type WaitStrategy = "spin" | "backoff" | "yield";

/** Where an IPC consumer starts on a ring that is already running. */
export type StartFrom = "newest" | "oldest";

/**
 * How an IPC consumer is delivered trades: `lossy` (a reader that falls a
 * ring behind is lapped and counts its loss) or `tethered` (the producer
 * waits for it, up to its tether timeout, then evicts it).
 */
export type Delivery = "lossy" | "tethered";

/** How a JetStream stream discards messages. */
export type Retention = "limits" | "interest" | "workqueue";

/** Where a JetStream stream keeps messages. */
export type Storage = "file" | "memory";

/** Where a consumer starts in the stream. */
export type DeliverPolicy =
  | "all"
  | "new"
  | "last"
  | "last_per_subject"
  | "by_start_time"
  | "by_start_sequence";

/** How fast a consumer receives stored messages. */
export type ReplayPolicy = "instant" | "original";

/** Log verbosity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Log line format: readable text, or one JSON object per line. */
export type LogFormat = "text" | "json";

/** How a NATS client authenticates; exactly one kind per connection. */
export type NatsAuth =
  | { kind: "none" }
  | { kind: "token"; token: string }
  | { kind: "user"; user: string; password: string }
  | { kind: "nkey"; seed: string }
  | { kind: "jwt"; jwt: string; seed: string }
  | { kind: "creds"; file: string };

/** TLS settings of a NATS connection. */
export interface NatsTls {
  /** CA bundle (PEM) that verifies the server. */
  caFile?: string;
  /** Client certificate (PEM) for mutual TLS. */
  certFile?: string;
  /** Client key (PEM) for mutual TLS. */
  keyFile?: string;
  /** Start TLS before the server's INFO (server option `handshake_first`). */
  handshakeFirst: boolean;
}

/** How to reach a NATS server or cluster. */
export interface NatsConnectionConfig {
  /** Server URLs (`nats://host:port` or `tls://host:port`). */
  servers: string[];
  /** Client connection name, shown by the server's monitoring. */
  name: string;
  /** Authentication. */
  auth: NatsAuth;
  /** TLS, when configured. */
  tls: NatsTls | undefined;
  /** How long one connection attempt may take, ms. */
  connectTimeoutMs: number;
}

/** The JetStream stream data_manager publishes into. */
export interface JetStreamConfig {
  /** Stream name: `stream_name`, or `{stream_name}_{EXCHANGE}` with `stream_per_exchange`. */
  streamName: string;
  /** The one exchange the stream captures (`stream_per_exchange`), lower case; undefined: every exchange (`{prefix}.>`). */
  streamExchange: string | undefined;
  /** First token(s) of every subject. */
  subjectPrefix: string;
  /** Retention policy. */
  retention: Retention;
  /** Storage backend. */
  storage: Storage;
  /** Maximum message age, ms (0 = unlimited). */
  maxAgeMs: number;
  /** Messages kept per subject (-1 = unlimited); derived from `max_bytes_per_subject` when that is set. */
  maxMsgsPerSubject: number;
  /** The per-subject byte budget this came from: the key's, or 100 MB for a NATS publisher that sets no per-subject limit; undefined = none. */
  maxBytesPerSubject: number | undefined;
  /** Total stream bytes (-1 = unlimited). */
  maxBytes: number;
  /** Replicas (1..5). */
  replicas: number;
  /** Deduplication window for `Nats-Msg-Id`, ms. */
  duplicateWindowMs: number;
}

/** How data_manager's NATS publisher pipelines, batches and buffers. */
export interface NatsPublishConfig {
  /** Publishes awaiting their ack at once (`max_in_flight`). */
  maxInFlight: number;
  /** Most trades of one symbol packed into one message while acks are outstanding (`batch_max_trades`; 1 = one message per trade). */
  batchMaxTrades: number;
  /** Trades held while NATS is unreachable or slow; beyond it the oldest are dropped and counted (`queue_max_trades`). */
  queueMaxTrades: number;
  /** How long shutdown waits to publish the queue and collect acks, ms (`flush_timeout`). */
  flushTimeoutMs: number;
}

/** data_manager's NATS publisher. */
export interface NatsTransportConfig extends NatsConnectionConfig {
  /** Publish to NATS (the `--nats` flag; without the key, true when the file lists `servers`). */
  enabled: boolean;
  /** The stream. */
  jetstream: JetStreamConfig;
  /** Pipelining, batching and buffering (`[transport.nats.publish]`). */
  publish: NatsPublishConfig;
}

/** data_manager's shared-memory ring. */
export interface IpcTransportConfig {
  /** Publish into the ring. */
  enabled: boolean;
  /** Segment name prefix: segments are `{prefix}{exchange}_{SYMBOL}`. */
  shmPathPrefix: string;
  /** Ring slots (a power of two). */
  capacity: number;
  /** How often the producer's heartbeat advances, ms. */
  heartbeatIntervalMs: number;
  /** The longest a tethered reader may hold the producer before it is evicted, ms: caps each reader's own `tether_timeout`. */
  maxTetherTimeoutMs: number;
  /** Trades a ring holds back while a tethered reader holds it; full, the holder is evicted. */
  backlog: number;
  /** Registered readers each ring waits for before the source starts (0 = start at once). */
  waitForReaders: number;
}

/** data_manager's synthetic trade generator (`[data_manager.synthetic]`). */
export interface SyntheticConfig {
  /** Generator seed (0..2^32-1): the same seed gives the same symbols, prices, sizes and sides. */
  seed: number;
  /** Trades per second over all symbols; 0 = as fast as possible. */
  rate: number;
  /** Extra trades published back-to-back once per burst interval; 0 = no bursts. */
  burstSize: number;
  /** Time between bursts, ms. */
  burstIntervalMs: number;
  /** Id of the first trade; undefined = derived from the start time, unique per run. */
  firstTradeId: number | undefined;
}

/** What data_manager publishes. */
export interface DataManagerConfig {
  /** Exchange name (lower case). */
  exchange: string;
  /** Symbols (upper case). */
  symbols: string[];
  /** Trade source. */
  source: SourceKind;
  /** Trades to publish before flushing and exiting; 0 = no limit. */
  maxTrades: number;
  /** The synthetic source's settings. */
  synthetic: SyntheticConfig;
  /** The Binance live feed (`[data_manager.binance]`). */
  binance: BinanceConfig;
  /** Replay of a recorded file (`[data_manager.replay]`). */
  replay: ReplayConfig;
  /** The `/metrics` and `/healthz` endpoint (`[data_manager.metrics]`). */
  metrics: MetricsConfig;
}

/** One role's `/metrics` and `/healthz` HTTP endpoint. */
export interface MetricsConfig {
  /** TCP port; 0 = no endpoint. */
  port: number;
  /** Address to listen on. */
  host: string;
  /** `/healthz` reports data as not flowing after this long without a trade, ms (unless idle by design). */
  staleAfterMs: number;
}

/** What trading_core does with an output file that exists and is not empty: refuse to start, replace it, or add to it. */
export type OnExistingFile = "refuse" | "overwrite" | "append";

/** What trading_core does when writing an output file fails (e.g. a full disk): stop consuming, or go on without the file. */
export type OnWriteError = "stop" | "continue";

/** trading_core's processing of the trades (`[trading_core]`). */
export interface TradingCoreConfig {
  /** Module exporting a strategy (`--strategy`), or undefined for none. */
  strategy: string | undefined;
  /** NDJSON file for closed bars (`--bars-out`), or undefined. */
  barsOut: string | undefined;
  /** NDJSON file for the paper broker's fills (`--fills-out`), or undefined. */
  fillsOut: string | undefined;
  /** What `--record` and `bars_out` do with a file that exists and is not empty (`--overwrite`, `--append`). */
  onExistingFile: OnExistingFile;
  /** What a failed write to the `--record` or `bars_out` file does to the consumer (`--on-write-error`). */
  onWriteError: OnWriteError;
  /** Bars (`[trading_core.bars]`). */
  bars: BarsConfig;
  /** The paper broker a strategy trades with (`[trading_core.broker]`). */
  broker: BrokerConfig;
  /** The live web console (`[trading_core.console]`). */
  console: ConsoleConfig;
  /** The `/metrics` and `/healthz` endpoint (`[trading_core.metrics]`). */
  metrics: MetricsConfig;
  /**
   * Above this many (exchange, symbol) streams, `live`'s progress is one
   * summary line plus a line per stream with losses or gaps
   * (`progress_summary_above`, `--progress-summary-above`); at or below it, a
   * line per stream.
   */
  progressSummaryAbove: number;
}

/** trading_core's live web console (`[trading_core.console]`, `--console-port`). */
export interface ConsoleConfig {
  /** TCP port; 0 picks a free one; undefined (the default) = no console. */
  port: number | undefined;
  /** Address to listen on (default `127.0.0.1`: this machine only). */
  host: string;
  /** Server-Sent Events pushed per second at most, 1 to 20 (default 4). */
  updatesPerSecond: number;
  /** Bar intervals the console builds and charts when `live` builds no bars (no strategy, no `bars_out`); default `["1s", "1m"]`. */
  intervals: string[];
  /** Pages (`/events` connections) open at once at most, 1 to 1000 (default 32); past it a 503 with `Retry-After`. */
  maxClients: number;
}

/** How trading_core builds bars. */
export interface BarsConfig {
  /** Intervals, as written (`"1s"`, `"1m"`). */
  intervals: string[];
  /** How long past its end (on the trade clock) an open bar waits for stragglers before it closes, ms. */
  closeDelayMs: number;
  /** What closes a bar besides a later trade of its stream (`clock`, `--bar-clock`): the wall-driven trade clock, or nothing. */
  clock: BarClock;
  /** How far past its stream's clock a trade may jump before it is an outlier unless the next trade confirms it (`max_clock_jump`, `--max-clock-jump`), ms. */
  maxClockJumpMs: number;
}

/** `"wall"`: a stream's bars also close on its trade clock (latest trade time + wall time since); `"trade"`: only a later trade of the stream closes them. */
export type BarClock = "wall" | "trade";

/** The paper broker's fill model (`[trading_core.broker]`). */
export interface BrokerConfig {
  /** Cash at the start, quote currency (`--balance`). */
  startingBalance: number;
  /** Taker fee of market orders, basis points of the notional (`--fee-bps`). */
  feeBps: number;
  /** Maker fee of limit orders, basis points (`--maker-fee-bps`). */
  makerFeeBps: number;
  /** How far a market order's price is moved against it, basis points (`--slippage-bps`). */
  slippageBps: number;
  /** Trade time from an order's submission until it can fill, ms (`--fill-latency`). */
  latencyMs: number;
  /** Open orders at most; a submit past it is a strategy error (`--max-open-orders`). */
  maxOpenOrders: number;
}

/** The Binance live trade feed. */
export interface BinanceConfig {
  /** Combined-stream WebSocket base URL (named endpoints resolved). */
  endpoint: string;
  /** Silence watchdog, ms: a connection (or a steadily trading symbol) silent this long is reconnected; 0 = off. */
  silenceTimeoutMs: number;
}

/** Replay of a recorded trade file. */
export interface ReplayConfig {
  /** The file (Binance trades CSV or the project's NDJSON, optionally gzipped). */
  file: string | undefined;
  /** 0 = as fast as possible; otherwise original timing × this factor. */
  speed: number;
  /** What a bad row does: skip it (reported) or stop. */
  onError: "skip" | "stop";
  /** File format; `auto` looks at the first line. */
  format: ReplayFormat;
}

/** trading_core's durable or ordered JetStream consumer. */
export interface NatsConsumerConfig {
  /** Durable consumer name; absent = an ordered, ephemeral consumer. */
  durableName: string | undefined;
  /** Exchange to read, or every exchange when undefined (this key over `data_source.exchange`). */
  exchange: string | undefined;
  /** Symbols to read; empty = every symbol of the exchange (this key over `data_source.symbols`). */
  symbols: string[];
  /** Where to start. */
  deliver: DeliverPolicy;
  /** Start time for `by_start_time`. */
  startTime: Date | undefined;
  /** Stream sequence for `by_start_sequence`. */
  startSequence: number | undefined;
  /** Delivery speed of stored messages. */
  replay: ReplayPolicy;
  /** Unacknowledged messages allowed in flight. */
  maxAckPending: number;
  /** Redelivery timeout of an unacknowledged message, ms. */
  ackWaitMs: number;
}

/** trading_core's shared-memory ring reader. */
export interface IpcSourceConfig {
  /** Segment name prefix; must match the publisher's. */
  shmPathPrefix: string;
  /** How to wait for the next trade. */
  wait: WaitStrategy;
  /** Where to start on a ring that is already running. */
  from: StartFrom;
  /** How long `backoff` busy-polls before sleeping, ms (fractional). */
  spinMs: number;
  /** A producer whose heartbeat has not moved for this long is reported dead, ms. */
  staleAfterMs: number;
  /** Lossy (lapped, counted) or tethered (the producer waits for this reader). */
  delivery: Delivery;
  /** How long a tethered reader may hold the producer before it is evicted, ms (the producer may cap it). */
  tetherTimeoutMs: number;
  /** The uid that must own the rings; undefined = the consumer's own. */
  publisherUid?: number;
  /**
   * A ring durable consumer's name (`durable`, `--ring-durable NAME`): its
   * position is kept in /dev/shm/marketbus-durable.NAME and a restart
   * catches up from it through JetStream; undefined = none.
   */
  durableName?: string;
}

/**
 * Where a catch-up-then-live consumer's history starts
 * (`data_source.catch_up`): `ago` ms before it starts, at a time, or at its
 * durable consumer's acknowledged position.
 */
export type CatchUpStart =
  | { kind: "ago"; ms: number }
  | { kind: "time"; at: Date }
  | { kind: "durable" };

/** trading_core's sources. */
export interface DataSourceConfig {
  /** Which transport to read (`type`, or implied by the file's tables). */
  type: DataSourceKind;
  /**
   * Exchange the chosen transport reads (lower case): for `ipc` always one
   * exchange; for `nats` the consumer's, `"*"` = every exchange (NATS code
   * reads `nats.consumer.exchange`).
   */
  exchange: string;
  /** Symbols the chosen transport reads (upper case); for `nats` the consumer's, `[]` = every symbol. */
  symbols: string[];
  /** `symbols = ["*"]`: every symbol (the ring: those the registry lists, followed as they appear). */
  everySymbol: boolean;
  /** Trades to read before exiting; 0 = run until stopped. */
  maxTrades: number;
  /**
   * Catch up, then live: replay JetStream from here, then switch each
   * symbol to its ring (whatever `type` says); undefined = no catch-up.
   */
  catchUp?: CatchUpStart;
  /**
   * Live trades held per symbol while it catches up (a power of two);
   * undefined = the catch-up feed's default (262,144).
   */
  catchUpHold?: number;
  /**
   * Deliver each stream's latest stored trade first, marked as a snapshot
   * (read from NATS JetStream, also for the ring: it needs
   * `nats.connection.servers` then).
   */
  snapshot: boolean;
  /** The shared-memory ring. */
  ipc: IpcSourceConfig;
  /** NATS JetStream. */
  nats: {
    /** How to reach the servers. */
    connection: NatsConnectionConfig;
    /** The consumer. */
    consumer: NatsConsumerConfig;
    /** The stream to read (must match the publisher's `stream_name`). */
    streamName: string;
    /** Read the streams `{streamName}_{EXCHANGE}`, one per exchange (must match the publisher's `stream_per_exchange`). */
    streamPerExchange: boolean;
    /** First token(s) of the subjects (must match the publisher's `subject_prefix`). */
    subjectPrefix: string;
  };
}

/** The symbol registry in NATS KV (`[registry]`). */
export interface RegistryConfig {
  /** KV bucket name (stream `KV_{bucket}`). */
  bucket: string;
  /** Time between a publisher's heartbeats, ms. */
  heartbeatIntervalMs: number;
  /** An entry whose last heartbeat is older than this has expired, ms. */
  ttlMs: number;
  /** The bucket's max age: an entry not re-put for this long is removed, ms. */
  maxAgeMs: number;
  /** serve registers its symbols (default: when it publishes to NATS), over `transport.nats`'s connection. */
  register: boolean;
  /** live reads the registry for discovery and publisher health (default: when it reads NATS or every ring symbol), over `data_source.nats.connection`. */
  watch: boolean;
  /** serve waits as a hot standby when its symbols are owned (`--standby`). */
  standby: boolean;
  /** Trades per symbol a hot standby keeps to resume from where the owner stopped. */
  standbyBuffer: number;
}

/** Logging (`[log]`). */
export interface LogConfig {
  /** Verbosity. */
  level: LogLevel;
  /** Line format. */
  format: LogFormat;
  /** Time between progress lines, ms; 0 = no progress lines. */
  progressIntervalMs: number;
}

/** The whole, validated configuration. */
export interface Config {
  /** The file it was loaded from, if any. */
  file: string | undefined;
  /** Publisher settings (`[data_manager]`). */
  dataManager: DataManagerConfig;
  /** Publisher transports (`[transport.*]`). */
  transport: { nats: NatsTransportConfig; ipc: IpcTransportConfig };
  /** Consumer settings (`[data_source.*]`). */
  dataSource: DataSourceConfig;
  /** Consumer processing (`[trading_core]`). */
  tradingCore: TradingCoreConfig;
  /** The symbol registry (`[registry]`). */
  registry: RegistryConfig;
  /** Logging (`[log]`). */
  log: LogConfig;
  /** Deprecations and notes worth printing at start-up. */
  warnings: string[];
}
