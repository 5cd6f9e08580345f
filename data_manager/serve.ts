/**
 * `deno task serve`: publishes the configured source's trades into the
 * configured transports, prints progress, and shuts down cleanly on
 * SIGINT/SIGTERM.
 *
 * @module
 */

import type { Config } from "../common/config/mod.ts";
import { delay } from "../common/runtime/delay.ts";
import { shutdownSignal } from "../common/runtime/shutdown.ts";
import { formatCount, formatRate } from "../common/runtime/format.ts";
import { RingTruncatedError } from "../common/ipc/mod.ts";
import {
  errorLine,
  type RoleContext,
  type RoleWork,
  type RunEnd,
  runRoleWork,
} from "../common/role/mod.ts";
import { serveFamilies, serveHealth, type ServeState } from "./metrics.ts";
import { type PublishCounters, publishTrades } from "./pipeline.ts";
import {
  TradeFileReadError,
  TradeFileRowError,
} from "../common/trade_file/mod.ts";
import { NothingReplayedError } from "./replay/source.ts";
import { describeSource, openSource } from "./source_setup.ts";
import {
  closeAll,
  openTransports,
  pacingTransports,
} from "./transport_setup.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";
import {
  closeRegistration,
  openRegistration,
  UNREACHABLE,
} from "./registration.ts";
import { describeRings, RegistryGuard } from "./registry_guard.ts";
import {
  registryFamilies,
  registryHealth,
  type RegistryScope,
  type RegistryStanding,
  standbyHealth,
} from "./registry_health.ts";
import { publishAsStandby } from "./standby.ts";

const ROLE = "data_manager";
/** How long rings stay after a source ended by itself, ms. */
const RING_LINGER_MS = 100;
/** Why NATS drops when the ring is among the transports, and what to do. */
const RING_DROPS =
  "; with the ring among the transports NATS never slows the source down: raise queue_max_trades, or publish to NATS alone (--no-ipc), where the source waits for room";

/** What serve runs: the metrics' state and the transports that pace the source. */
interface Serving extends ServeState, RegistryScope {
  /** The transports (none yet while a hot standby waits). */
  transports: TradePublisher[];
  /** The transports whose room holds the source (see {@linkcode pacingTransports}). */
  pacing: readonly TradePublisher[];
  /** The lease and heartbeats, once publishing started: stopped after the drain. */
  guard?: RegistryGuard;
}

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** Stops publishing when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

/** A progress line's text: trades and rate, then each transport's own fragment. */
function statsLine(
  counters: PublishCounters,
  transports: readonly TradePublisher[],
  rate: number,
): string {
  const parts = transports.map((transport) => transport.summary());
  if (parts.length === 0) parts.push("standing by"); // a hot standby
  return `${formatCount(counters.trades)} trades (${formatRate(rate)}) | ${
    parts.join(" | ")
  }`;
}

/** The figures of a progress line, as JSON log fields. */
function progressFields(
  counters: PublishCounters,
  transports: readonly TradePublisher[],
  rate: number,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    trades: counters.trades,
    rate: Math.round(rate),
  };
  for (const transport of transports) {
    fields[transport.name] = transport.stats();
  }
  return fields;
}

/** Runs the publisher with a validated config; returns the exit status. */
export function serve(
  config: Config,
  options: ServeOptions = {},
): Promise<number> {
  return runRoleWork(ROLE, {
    log: config.log,
    signal: options.signal,
    open: (context) => openServe(config, context),
  });
}

/**
 * Claims the symbols in the registry (when serve registers), then opens the
 * transports, unless it waits as a hot standby (none yet), or the exit
 * status after one line. Claiming may wait a lease for an owner's
 * heartbeat before the role's own signal listener exists: a SIGINT/SIGTERM
 * meanwhile stops serve (exit 0), what it claimed released.
 */
async function openPublishing(
  config: Config,
  log: RoleContext["log"],
  source: string,
): Promise<RegistryStanding & { transports: TradePublisher[] } | number> {
  const stopping = shutdownSignal({
    onSignal: (signal) => log.info(`${signal}: stopping before publishing`),
  });
  const { signal } = stopping;
  try {
    // Before any ring or stream exists: a symbol another serve publishes is
    // refused, or (--standby) waited for.
    const opening = await openRegistration(config, { log, source, signal });
    if (typeof opening === "number") return opening;
    let registration;
    let unguarded;
    if (typeof opening === "object" && "unavailable" in opening) {
      unguarded = opening.unavailable;
    } else if (opening !== UNREACHABLE) registration = opening;
    const registering = opening === UNREACHABLE || unguarded !== undefined;
    if (registration && !registration.claims.complete) {
      return { registration, registering, unguarded, transports: [] };
    }
    const opened = signal.aborted ? 0 : await openTransports(config, log);
    if (typeof opened === "number" || signal.aborted) {
      if (typeof opened !== "number") await closeAll(opened);
      if (registration) await closeRegistration(registration, log);
      return typeof opened === "number" ? opened : 0;
    }
    describeRings(registration, opened);
    return { registration, registering, unguarded, transports: opened };
  } finally {
    stopping.dispose();
  }
}

/** Opens the source and the transports; the work publishes the one into the others. */
async function openServe(
  config: Config,
  context: RoleContext,
): Promise<RoleWork | number> {
  const { log } = context;
  const { dataManager } = config;
  // Before any ring or stream exists: a source that cannot start leaves none.
  const source = await openSource(config, log);
  if (typeof source === "number") return source;
  const publishing = await openPublishing(config, log, source.kind);
  if (typeof publishing === "number") return publishing;
  const { registration, registering, unguarded, transports } = publishing;
  log.info(
    `${
      transports.length === 0 ? "standing by to publish" : "publishing"
    } ${source.kind} ${dataManager.exchange} ${
      dataManager.symbols.join(",")
    } (${describeSource(config)}${
      dataManager.maxTrades
        ? `, ${formatCount(dataManager.maxTrades)} trades`
        : ""
    })`,
  );
  const counters: PublishCounters = {
    trades: 0,
    perSymbol: new Array(dataManager.symbols.length).fill(0),
  };
  const state: Serving = {
    exchange: dataManager.exchange,
    symbols: dataManager.symbols,
    source,
    counters,
    transports,
    pacing: pacingTransports(transports),
    registration,
    registering,
    unguarded,
  };
  const { metrics } = dataManager;
  let lastTrades = 0;
  return {
    metrics: {
      config: metrics,
      section: "data_manager.metrics",
      collect: () => [...serveFamilies(state), ...registryFamilies(state)],
      flowing: () => counters.trades,
      health: (flow) =>
        state.registration && !state.registration.claims.complete
          ? standbyHealth(state.registration, dataManager.symbols.length)
          : registryHealth(
            serveHealth(state, { flow, staleAfterMs: metrics.staleAfterMs }),
            state,
          ),
    },
    progress(seconds) {
      const rate = (counters.trades - lastTrades) / seconds;
      lastTrades = counters.trades;
      return [{
        text: `${statsLine(counters, transports, rate)} | ${source.summary()}`,
        fields: progressFields(counters, transports, rate),
      }];
    },
    run: (signal) => publish(config, state, { signal, context }),
    expected: [
      // A ring another process truncated: writing on would be SIGBUS.
      errorLine([RingTruncatedError]),
      // A replay that cannot go on: a bad row with on_error = "stop", a file
      // that cannot be read to its end, or one that published nothing.
      errorLine(
        [TradeFileRowError, TradeFileReadError, NothingReplayedError],
        { prefix: `${source.kind}: ` },
      ),
    ],
    drain: (end) => drain(config, state, { end, context }),
    async release() {
      await closeAll(transports);
      if (state.registration) await closeRegistration(state.registration, log);
    },
  };
}

/** Publishes the source into the transports until it ends or `signal` aborts. */
async function publish(
  config: Config,
  state: Serving,
  options: { signal: AbortSignal; context: RoleContext },
): Promise<void> {
  const { registration } = state;
  const { context } = options;
  // The heartbeats go on past the run, through the transports' drain.
  const guard = state.guard = new RegistryGuard(config, state, { context });
  const { lease } = guard;
  const watch = (transports: readonly TradePublisher[]) => {
    // A transport that cannot go on (NATS: credentials refused, stream
    // settings the server will not take) has logged why, and stops the
    // whole publisher: exit 1.
    for (const transport of transports) {
      transport.failed?.().then(() => context.fail());
    }
    guard.watch(transports);
  };
  if (registration && !registration.claims.complete) {
    const status = await publishAsStandby(config, state.source, {
      signal: options.signal,
      registration,
      log: context.log,
      counters: state.counters,
      lease,
      openTransports: async () => {
        const opened = await openTransports(config, context.log);
        if (typeof opened === "number") return opened;
        state.transports.push(...opened);
        state.pacing = pacingTransports(opened);
        describeRings(registration, opened);
        watch(opened);
        await guard.renewed(options.signal);
        return { transports: opened, pacing: [...state.pacing] };
      },
    });
    if (status !== undefined) context.fail();
    return;
  }
  watch(state.transports);
  await guard.renewed(options.signal);
  await publishTrades(state.source, state.transports, {
    signal: options.signal,
    counters: state.counters,
    limit: config.dataManager.maxTrades,
    pacing: state.pacing,
    lease,
  });
}

/**
 * Lets consumers drain the rings, closes the transports, says what they gave
 * up on (exit 1) and logs the final line, while the endpoint still serves.
 */
async function drain(
  config: Config,
  state: Serving,
  options: { end: RunEnd; context: RoleContext },
): Promise<void> {
  const { counters, transports, source } = state;
  const { end, context: { log } } = options;
  // A source that ended by itself (a short file, --max-trades) may finish
  // within milliseconds: keep the rings a moment so that consumers waiting
  // for them (they look every few ms) can attach and drain them.
  const lingerStart = performance.now();
  if (!end.signalled && config.transport.ipc.enabled) {
    await delay(RING_LINGER_MS);
  }
  let idle = performance.now() - lingerStart;
  for (const transport of transports) {
    const closing = performance.now();
    await transport.close({ signalled: end.signalled });
    // Unmapping a ring is teardown, not publishing (~120 ms for 512 MiB);
    // NATS's close is its flush, which delivering includes.
    if (transport.closeIsTeardown) idle += performance.now() - closing;
  }
  // Only now: a lease ending half way through the flush would cut it.
  await state.guard?.stop();
  // Any trade a transport gave up on (NATS: dropped, handed over after
  // close, rejected, not acknowledged) makes the run fail, each way on one
  // line saying how many and why; the advice on the queue goes with
  // queue-full drops of a transport that does not pace the source (NATS
  // beside the rings) only. The rings' own losses (trades dropped at close
  // while a tethered reader held one) count the same way.
  for (const transport of transports) {
    const advice = state.pacing.includes(transport) ? "" : RING_DROPS;
    for (const loss of transport.losses?.() ?? []) {
      log.error(loss.kind === "dropped" ? `${loss.text}${advice}` : loss.text);
      options.context.setFailed();
    }
  }
  // Flushed: a standby may take the symbols over at once.
  if (state.registration) await closeRegistration(state.registration, log);
  // Publishing and flushing time: the linger is a courtesy to consumers.
  const seconds = (performance.now() - end.startedAt - idle) / 1000;
  const rate = counters.trades / seconds;
  log.info(
    `stopped after ${seconds.toFixed(1)}s: ${
      statsLine(counters, transports, rate)
    } | ${source.summary()}`,
    { seconds, ...progressFields(counters, transports, rate) },
  );
}
