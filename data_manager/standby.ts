/**
 * A hot standby's run: its source runs from the start into a
 * {@linkcode StandbySink}; once the owner's heartbeat expires (or it stops)
 * and every symbol is claimed, it opens the transports, reads from the
 * stream where the owner's trades end, and publishes from there: the same
 * per-symbol seq run, no trade twice, and a counted gap for exactly the
 * trades neither the owner published nor the buffer still held.
 *
 * @module
 */

import type { Config } from "../common/config/mod.ts";
import { retireFenced, segmentName } from "../common/ipc/mod.ts";
import { hostName, sameHost, type TakeOver } from "../common/registry/mod.ts";
import { lastTrades } from "../common/nats/last_trades.ts";
import type { Logger } from "../common/runtime/log.ts";
import { formatCount } from "../common/runtime/format.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";
import {
  Pipeline,
  type PublishCounters,
  type PublishLease,
} from "./pipeline.ts";
import { awaitTakeover, type Registration } from "./registration.ts";
import type { TradeSource } from "./source.ts";
import { type ResumeAfter, StandbySink } from "./standby_sink.ts";

/** Options of {@linkcode publishAsStandby}. */
export interface StandbyOptions {
  /** Stops standing by or publishing when aborted. */
  signal: AbortSignal;
  /** The claims, incomplete. */
  registration: Registration;
  /** Where the takeover is logged. */
  log: Logger;
  /** The pipeline's counters, updated live. */
  counters: PublishCounters;
  /** Publish only while it holds (the registry lease). */
  lease?: PublishLease;
  /** Opens the transports at the takeover (filling the caller's lists), or returns the exit status. */
  openTransports(): Promise<
    { transports: TradePublisher[]; pacing: TradePublisher[] } | number
  >;
}

/**
 * Where each symbol resumes: after the last trade the stream holds (the
 * owner's, when serve publishes to NATS), with that seq; without NATS (or
 * no trade of the symbol in the stream) at the next new trade, from seq 1.
 */
async function resumePoints(
  config: Config,
  registration: Registration,
): Promise<{ after: ResumeAfter[]; lastSeqs: number[] }> {
  const { dataManager, transport: { nats } } = config;
  if (!nats.enabled) {
    return {
      after: dataManager.symbols.map(() => undefined),
      lastSeqs: dataManager.symbols.map(() => 0),
    };
  }
  const last = await lastTrades(registration.registry.nc, dataManager.symbols, {
    streamName: nats.jetstream.streamName,
    subjectPrefix: nats.jetstream.subjectPrefix,
    exchange: dataManager.exchange,
    window: nats.publish.maxInFlight,
  });
  return {
    after: last.map((trade) => trade?.tradeId),
    lastSeqs: last.map((trade) => trade?.seq ?? 0),
  };
}

/**
 * Runs `source` as a hot standby, then takes over: see the module doc.
 * Returns the exit status when the transports could not open.
 */
export async function publishAsStandby(
  config: Config,
  source: TradeSource,
  options: StandbyOptions,
): Promise<number | undefined> {
  const { signal, registration, log } = options;
  const sink = new StandbySink(
    source.symbols,
    config.registry.standbyBuffer,
  );
  const stop = new AbortController();
  const running = source.run(sink, {
    signal: AbortSignal.any([signal, stop.signal]),
  });
  let status: number | undefined;
  try {
    const taken = await awaitTakeover(registration, { config, log, signal });
    if (taken) {
      status = await takeOver(config, sink, { ...options, stop, taken });
    }
  } finally {
    // Standing by ended without publishing: the source stops too.
    if (status !== undefined || signal.aborted) stop.abort();
  }
  await running;
  return status;
}

/** Opens the transports and hands the sink a pipeline resuming after the owner. */
async function takeOver(
  config: Config,
  sink: StandbySink,
  options: StandbyOptions & { stop: AbortController; taken: TakeOver[] },
): Promise<number | undefined> {
  const { signal, registration, log, counters, stop } = options;
  let resume: Awaited<ReturnType<typeof resumePoints>>;
  try {
    resume = await resumePoints(config, registration);
  } catch (error) {
    log.error(
      `cannot read where the previous owner's trades end in stream ${config.transport.nats.jetstream.streamName}: ${
        (error as Error).message
      }`,
    );
    return 1;
  }
  const { after, lastSeqs } = resume;
  retireFencedRings(config, options.taken, log);
  const opened = await options.openTransports();
  if (typeof opened === "number") return opened;
  const pipeline = new Pipeline(config.dataManager.symbols, opened.transports, {
    counters,
    pacing: opened.pacing,
    limit: config.dataManager.maxTrades,
    signal,
    lastSeqs,
    lease: options.lease,
  });
  pipeline.limitReached.addEventListener("abort", () => stop.abort());
  sink.takeOver(pipeline, after);
  logResume(log, { config, sink, after, lastSeqs });
}

/**
 * Retires the rings of this host that the previous owners publish into
 * (alive but fenced: their lease ended before the takeover), so that this
 * serve can create its own under the same names.
 */
function retireFencedRings(
  config: Config,
  taken: readonly TakeOver[],
  log: Logger,
): void {
  const { dataManager, transport: { ipc } } = config;
  if (!ipc.enabled) return;
  const host = hostName();
  for (const { symbol, previous } of taken) {
    const entry = previous?.entry;
    const name = segmentName(ipc.shmPathPrefix, dataManager.exchange, symbol);
    // An unknown host name (no --allow-sys=hostname) may be another host.
    if (entry?.state !== "publishing" || !sameHost(host, entry.host)) continue;
    if (entry.ring !== name) continue;
    const retired = retireFenced(name, entry.pid);
    if (retired) log.warn(`retired ring ${name}: ${retired.reason}`);
  }
}

function logResume(
  log: Logger,
  options: {
    config: Config;
    sink: StandbySink;
    after: readonly ResumeAfter[];
    lastSeqs: readonly number[];
  },
): void {
  const { config, sink: { counts }, after, lastSeqs } = options;
  config.dataManager.symbols.forEach((symbol, i) => {
    const name = `${config.dataManager.exchange} ${symbol}`;
    if (after[i] === undefined) {
      log.info(
        `${name}: publishing from the next trade (nothing to resume after)`,
      );
      return;
    }
    log.info(
      `${name}: resuming after trade ${after[i]} (seq ${lastSeqs[i]}): ${
        formatCount(counts.replayed[i])
      } buffered trades published, ${
        formatCount(counts.skipped[i])
      } already published skipped, ${formatCount(counts.lost[i])} lost (gap)`,
      {
        symbol,
        replayed: counts.replayed[i],
        skipped: counts.skipped[i],
        lost: counts.lost[i],
      },
    );
  });
}
