/**
 * What trading_core reads (`[data_source]`): the transport, the exchange and
 * symbols, the shared-memory ring reader and the NATS stream and consumer.
 *
 * The transport is `type`, or, when the file does not say, NATS if the file
 * has a `[data_source.nats]` table and no `[data_source.ipc]` (both: a
 * problem asking for `type`). The NATS consumer reads
 * `data_source.nats.consumer.exchange`/`symbols` over `data_source`'s (see
 * {@linkcode mostSpecific}); the ring reads `data_source`'s. `exchange = "*"`
 * (every exchange) is for NATS only. The returned `exchange` and `symbols`
 * are what the chosen transport reads.
 *
 * @module
 */

import { checkPrefix, normalizeExchange } from "../wire/subjects.ts";
import { readConnection } from "./_connection.ts";
import { readConsumer } from "./_consumer.ts";
import {
  checkCatchUp,
  checkRingDurable,
  readCatchUp,
  readCatchUpHold,
} from "./_catch_up.ts";
import { checkDurableName } from "../wire/ring_names.ts";
import { DEFAULT_EXCHANGE, DEFAULT_SYMBOLS } from "./_defaults.ts";
import { mostSpecific } from "./_most_specific.ts";
import type { Section } from "./_reader.ts";
import { checkRingNames } from "./_ring_names.ts";
import {
  boundedDuration,
  checkJetStreamName,
  COUNT,
  exchangeStreamOf,
  readShmPathPrefix,
  readSymbols,
} from "./_values.ts";
import type {
  DataSourceConfig,
  DataSourceKind,
  Delivery,
  IpcSourceConfig,
  StartFrom,
  WaitStrategy,
} from "./types.ts";

/** Every exchange, where an exchange may be given (NATS only). */
const EVERY_EXCHANGE = "*";
/** Every symbol: NATS reads every subject, the ring every symbol the registry lists. */
const EVERY_SYMBOL = "*";

const CATCH_UP_EVERY =
  'cannot catch up every symbol ("*"): the rings it switches to are listed; expected a list of symbols';

const RING_DURABLE_EVERY =
  'a ring durable (data_source.ipc.durable_name, --ring-durable) cannot follow every symbol ("*"): its positions and its catch-up are per listed ring; expected a list of symbols';

const RING_PER_EXCHANGE =
  `expected one exchange, since the ring (data_source.type = "ipc") is per exchange; for every exchange read NATS (--nats or data_source.type = "nats")`;

const SNAPSHOT_WITHOUT_NATS =
  `the ring's snapshot is read from NATS JetStream, and no NATS server is configured: set data_source.nats.connection.servers (or NATS_URL), or read NATS (--nats)`;

function checkExchangeOrEvery(value: string): string {
  return value === EVERY_EXCHANGE ? value : normalizeExchange(value);
}

function sameSymbols(a: readonly string[], b: readonly string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
}

/** Is `symbols` of `section` the list `["*"]` (every symbol)? */
function everySymbol(section: Section): boolean {
  const raw = section.raw("symbols");
  return Array.isArray(raw) && raw.length === 1 && raw[0] === EVERY_SYMBOL;
}

/** `symbols`, with `["*"]` read as none (every symbol). */
function readSymbolsOrEvery(
  section: Section,
  fallback: readonly string[],
): string[] {
  return everySymbol(section) ? [] : readSymbols(section, fallback);
}

/** `type`, or what the file's tables imply when it is not given. */
function readType(section: Section): DataSourceKind {
  if (section.has("type")) {
    return section.choice<DataSourceKind>("type", "ipc", ["ipc", "nats"]);
  }
  const nats = section.inFile("nats");
  if (nats && section.inFile("ipc")) {
    section.problem(
      "type",
      `missing: the file has both [data_source.ipc] and [data_source.nats]; set data_source.type = "ipc" or "nats" (or give --ipc or --nats)`,
    );
    return "ipc";
  }
  return nats ? "nats" : "ipc";
}

function readIpcSource(section: Section): IpcSourceConfig {
  const shmPathPrefix = readShmPathPrefix(section);
  const wait = section.choice<WaitStrategy>("wait", "backoff", [
    "spin",
    "backoff",
    "yield",
  ]);
  const from = section.choice<StartFrom>("from", "newest", [
    "newest",
    "oldest",
  ]);
  const spinMs = boundedDuration(section, "spin", {
    fallback: 0.02,
    min: 0,
    max: 10,
  });
  const staleAfterMs = boundedDuration(section, "stale_after", {
    fallback: 3000,
    min: 100,
  });
  const delivery = section.choice<Delivery>("delivery", "lossy", [
    "lossy",
    "tethered",
  ]);
  const tetherTimeoutMs = boundedDuration(section, "tether_timeout", {
    fallback: 5000,
    min: 10,
    max: 60_000,
  });
  // Unset: the rings must belong to the user live runs as.
  const publisherUid = section.has("publisher_uid")
    ? section.integer("publisher_uid", 0, { min: 0, max: 4_294_967_294 })
    : undefined;
  const durable = section.optionalString("durable_name", {
    check: checkDurableName,
  });
  section.done();
  return {
    shmPathPrefix,
    wait,
    from,
    spinMs,
    staleAfterMs,
    delivery,
    tetherTimeoutMs,
    ...(publisherUid === undefined ? {} : { publisherUid }),
    ...(durable === undefined ? {} : { durableName: durable }),
  };
}

/** `[data_source.nats]`'s `stream_name` and `subject_prefix`. */
function readNatsNames(
  section: Section,
): { streamName: string; subjectPrefix: string } {
  const streamName = section.string("stream_name", "MARKET_DATA", {
    check: checkJetStreamName,
  });
  const subjectPrefix = section.string("subject_prefix", "market", {
    check: checkPrefix,
  });
  return { streamName, subjectPrefix };
}

/**
 * `stream_per_exchange`; with one exchange, checks its stream and durable
 * names `{name}_{EXCHANGE}` (every exchange: the streams found are valid, and
 * a start sequence, which each stream numbers on its own, is refused).
 */
function readStreamPerExchange(
  section: Section,
  names: {
    exchange: string;
    streamName: string;
    durableName?: string;
    consumer: Section;
    deliver: string;
  },
): boolean {
  const on = section.boolean("stream_per_exchange", false);
  const { exchange, streamName, durableName } = names;
  if (on && exchange === EVERY_EXCHANGE) {
    if (names.deliver === "by_start_sequence") {
      names.consumer.problem(
        "start_sequence",
        `cannot start every exchange's stream (stream_per_exchange = true, exchange "*"): each stream numbers its own messages; expected deliver = "by_start_time", or one exchange`,
      );
    }
    return on;
  }
  if (!on) return on;
  exchangeStreamOf(section, streamName, { exchange });
  if (durableName !== undefined) {
    exchangeStreamOf(section, durableName, {
      exchange,
      from: "consumer.durable_name",
    });
  }
  return on;
}

/** The consumer's exchange (`"*"` = every one) and symbols, by the one rule. */
function readConsumerSelection(
  source: Section,
  consumer: Section,
  general: { exchange: string; symbols: string[] },
): { exchange: string; symbols: string[] } {
  const exchange = mostSpecific(
    { section: source, key: "exchange", value: general.exchange },
    {
      section: consumer,
      key: "exchange",
      value: consumer.string("exchange", general.exchange, {
        check: checkExchangeOrEvery,
      }),
    },
  );
  const symbols = mostSpecific(
    { section: source, key: "symbols", value: general.symbols },
    {
      section: consumer,
      key: "symbols",
      value: readSymbolsOrEvery(consumer, general.symbols),
    },
    { same: sameSymbols },
  );
  return { exchange, symbols };
}

/** Checks what the rings read (type "ipc" or a catch-up): one exchange, symbols, valid ring names. */
function checkRings(
  section: Section,
  ipc: { ipc: Section; prefix: string },
  read: { exchange: string; symbols: string[] },
): void {
  const { exchange, symbols } = read;
  if (exchange === EVERY_EXCHANGE) {
    section.invalid("exchange", RING_PER_EXCHANGE);
  }
  if (symbols.length === 0) {
    section.problem(
      "symbols",
      "expected at least one symbol: a ring is per symbol",
    );
  }
  if (exchange !== EVERY_EXCHANGE) {
    checkRingNames(section, {
      ...ipc,
      exchange,
      symbols,
      without: 'read NATS (--nats or data_source.type = "nats")',
    });
  }
}

/** Reads `[data_source]`; legacy keys add to `warnings`. */
export function readDataSource(
  section: Section,
  warnings: string[],
): DataSourceConfig {
  const type = readType(section);
  const exchange = section.string("exchange", DEFAULT_EXCHANGE, {
    check: checkExchangeOrEvery,
  });
  const every = everySymbol(section);
  const symbols = readSymbolsOrEvery(section, DEFAULT_SYMBOLS);
  const maxTrades = section.integer("max_trades", 0, COUNT);
  const catchUp = readCatchUp(section);
  const catchUpHold = readCatchUpHold(section);
  const snapshot = section.boolean("snapshot", false);
  const ipcSection = section.section("ipc");
  const ipc = readIpcSource(ipcSection);
  const natsSection = section.section("nats");
  const names = readNatsNames(natsSection);
  const connectionSection = natsSection.section("connection");
  const connection = readConnection(
    connectionSection,
    "marketbus-trading-core",
  );
  connectionSection.done();
  const consumerSection = natsSection.section("consumer");
  const selection = readConsumerSelection(section, consumerSection, {
    exchange,
    symbols,
  });
  const { durableName, ...policy } = readConsumer(consumerSection, warnings);
  const streamPerExchange = readStreamPerExchange(natsSection, {
    exchange: selection.exchange,
    streamName: names.streamName,
    durableName,
    consumer: consumerSection,
    deliver: policy.deliver,
  });
  natsSection.done();
  section.done();
  checkCatchUp(section, catchUp, { durableName, warnings });
  checkRingDurable(ipcSection, { type, catchUp, durable: ipc.durableName });
  if (snapshot && type === "ipc" && !connectionSection.has("servers")) {
    section.problem("snapshot", SNAPSHOT_WITHOUT_NATS);
  }
  // A catch-up switches to the rings: it reads them as type "ipc" does.
  const rings = type === "ipc" || catchUp !== undefined;
  if (catchUp !== undefined && every) {
    section.problem("symbols", CATCH_UP_EVERY);
  } else if (ipc.durableName !== undefined && every) {
    section.problem("symbols", RING_DURABLE_EVERY);
  } else if (rings && !every) {
    checkRings(section, { ipc: ipcSection, prefix: ipc.shmPathPrefix }, {
      exchange,
      symbols,
    });
  }
  const consumer = {
    durableName,
    exchange: selection.exchange === EVERY_EXCHANGE
      ? undefined
      : selection.exchange,
    symbols: selection.symbols,
    ...policy,
  };
  return {
    type,
    ...(rings ? { exchange, symbols } : selection),
    everySymbol: every || (!rings && selection.symbols.length === 0),
    maxTrades,
    ...(catchUp === undefined ? {} : { catchUp }),
    ...(catchUpHold === undefined ? {} : { catchUpHold }),
    snapshot,
    ipc,
    nats: { connection, consumer, ...names, streamPerExchange },
  };
}
