/**
 * live and the symbol registry: the symbols `--symbols '*'` reads on the
 * ring (those the registry lists, followed as new ones appear), and a
 * `publishers` check in `/healthz` that fails, naming the symbol and its
 * publisher, when a publisher is dead (heartbeat expired; on the ring, also
 * stopped) with no standby, and stays ok while the registry cannot be read
 * (unknown is not dead). The registry is connected in the background, so a NATS server
 * that is down holds neither the start nor a SIGINT.
 *
 * @module
 */

import type { Config } from "../common/config/mod.ts";
import {
  gauge,
  type HealthCheck,
  type HealthReport,
  type MetricFamily,
} from "../common/metrics/mod.ts";
import {
  hostName,
  type OpenRegistry,
  openRegistry,
  PublisherWatch,
  sameHost,
  type SymbolEntry,
} from "../common/registry/mod.ts";
import { segmentName } from "../common/wire/ring_names.ts";
import type { Logger } from "../common/runtime/log.ts";
import type { TradeFeed } from "../common/transport/feed.ts";
import { RingFeed } from "../common/ipc/ring_feed.ts";

/** A stream's place: its exchange and symbol. */
interface StreamPlace {
  /** Exchange. */
  exchange: string;
  /** Symbol. */
  symbol: string;
}

/** The ring live would read for `symbol` (its prefix and exchange). */
function ringOf(config: Config, symbol: string): string | undefined {
  const { exchange, ipc } = config.dataSource;
  try {
    return segmentName(ipc.shmPathPrefix, exchange, symbol);
  } catch {
    return undefined; // a symbol no ring can be named for
  }
}

/** live's view of the registry (`registry.watch`). */
export class LiveRegistry {
  #config: Config;
  #log: Logger;
  #watch: PublisherWatch | undefined;
  #registry: OpenRegistry | undefined;

  private constructor(config: Config, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  /** live's registry view, or undefined when it does not read the registry. */
  static for(config: Config, log: Logger): LiveRegistry | undefined {
    return config.registry.watch ? new LiveRegistry(config, log) : undefined;
  }

  /** The ring's `--symbols '*'`: the registry names the symbols. */
  static discovers(config: Config): boolean {
    return config.dataSource.type === "ipc" && config.dataSource.everySymbol;
  }

  /**
   * Connects over `data_source.nats.connection` (until `signal` aborts),
   * then reads the registry every heartbeat interval. With `--symbols '*'`
   * on the ring `onSymbols` hears of the symbols whose rings live would read
   * (its exchange and prefix, on this host) of live publishers: those alive
   * at the start together (`first`), then each new one.
   */
  async #run(
    signal: AbortSignal,
    onSymbols: (symbols: string[], first: boolean) => void,
  ): Promise<void> {
    const { registry: settings, dataSource } = this.#config;
    const exchange = dataSource.exchange;
    try {
      this.#registry = await openRegistry(dataSource.nats.connection, {
        registry: settings,
        log: this.#log,
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      this.#log.warn(
        `registry ${settings.bucket}: ${
          (error as Error).message
        }; no discovery, and /healthz cannot tell whether publishers are alive`,
      );
      return;
    }
    const host = hostName();
    if (host === "unknown" && LiveRegistry.discovers(this.#config)) {
      this.#log.warn(
        "registry: this host's name is unknown (no --allow-sys=hostname): --symbols '*' follows no ring, since none is known to be on this host",
      );
    }
    const added = new Set<string>();
    // The watch hands on an entry once it saw its heartbeat move, so the
    // publishers alive at the start come at the second read: up to then
    // their rings start at data_source.ipc.from, later ones at their first
    // trade. A read that fails does not count.
    let reads = 0;
    // The rings of this consumer's exchange and prefix on this host: an
    // entry of a NATS-only publisher, or of another host, has none here.
    const report = (entries: readonly SymbolEntry[]) => {
      reads++;
      if (!LiveRegistry.discovers(this.#config)) return;
      const symbols = entries.filter((entry) =>
        entry.exchange === exchange && !added.has(entry.symbol) &&
        entry.ring === ringOf(this.#config, entry.symbol) &&
        sameHost(entry.host, host)
      ).map((entry) => entry.symbol);
      if (symbols.length === 0) return;
      for (const symbol of symbols) added.add(symbol);
      this.#log.info(`registry lists ${exchange} ${symbols.join(",")}`);
      onSymbols(symbols, reads <= 2);
    };
    this.#watch = new PublisherWatch(this.#registry.bucket, {
      prefix: dataSource.nats.subjectPrefix,
      pollMs: settings.heartbeatIntervalMs,
      // A NATS consumer may read a stopped publisher's history; on the
      // ring no trade will come (its own check fails too).
      stoppedFails: dataSource.type !== "nats",
      onRead: report,
      onError: (error) =>
        this.#log.warn(
          `registry ${settings.bucket}: ${
            (error as Error).message
          }; publishers' state is unknown until it can be read again`,
        ),
    });
    await this.#watch.run(signal);
  }

  /**
   * `report` with a `publishers` check over `streams`: failing (so 503)
   * when any stream's publisher is dead with no standby, naming each.
   */
  health(
    report: HealthReport,
    streams: readonly StreamPlace[],
  ): HealthReport {
    const watch = this.#watch;
    const now = performance.now();
    const results = streams.map((stream) =>
      watch?.check(stream.exchange, stream.symbol, now)
    );
    const dead = results.filter((result) => result?.ok === false);
    const check: HealthCheck = {
      name: "publishers",
      ok: dead.length === 0,
      detail: watch === undefined
        ? "registry not connected yet"
        : dead.length > 0
        ? dead.map((result) => result!.detail).join("; ")
        : results.length === 0
        ? "no stream yet"
        : results.map((result) => result!.detail).join("; "),
    };
    return { ok: report.ok && check.ok, checks: [...report.checks, check] };
  }

  /**
   * `marketbus_publisher_alive`: per stream of `transport` (labelled as
   * liveFamilies labels it), 1 while its publisher is alive (or being taken
   * over by a standby, or not registered), 0 once it is dead with no standby.
   */
  families(
    streams: readonly StreamPlace[],
    transport: string,
  ): MetricFamily[] {
    const now = performance.now();
    return [gauge(
      {
        name: "marketbus_publisher_alive",
        help:
          "1 while the stream's publisher is alive in the symbol registry (or a standby takes over, or it is not registered), 0 when dead with no standby.",
      },
      streams.map((stream) => ({
        labels: {
          transport,
          exchange: stream.exchange,
          symbol: stream.symbol,
        },
        value:
          this.#watch?.check(stream.exchange, stream.symbol, now).ok === false
            ? 0
            : 1,
      })),
    )];
  }

  /**
   * Runs `work` (the consumption) with the registry read meanwhile
   * (`#run`) and no longer; a ring `feed` follows the
   * symbols discovered (`--symbols '*'`).
   */
  async during(
    signal: AbortSignal,
    feed: TradeFeed,
    work: () => Promise<void>,
  ): Promise<void> {
    const consumed = new AbortController();
    const watching = this.#run(
      AbortSignal.any([signal, consumed.signal]),
      (symbols, first) => {
        if (feed instanceof RingFeed) feed.addSymbols(symbols, first);
      },
    );
    try {
      await work();
    } finally {
      consumed.abort();
      await watching;
    }
  }

  /** Closes the registry's connection. */
  async close(): Promise<void> {
    await this.#registry?.[Symbol.asyncDispose]();
  }
}
