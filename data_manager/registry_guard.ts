/**
 * What serve's registration does while it publishes: the lease the
 * pipeline and the transports ask before writing, the heartbeats that keep
 * it, and, when the registry was unreachable at start, the registration
 * retried in the background (NATS suspended until it succeeds; refused, it
 * fences). Past the lease (heartbeats unconfirmed, e.g.
 * NATS down) NATS publishing is suspended while the rings go on; a claim
 * another serve took over fences the transports (NATS gives up what it
 * queued) and stops serve (exit 1), and so does a ring a standby on this
 * host retired, each with one line saying why.
 *
 * @module
 */

import type { Config } from "../common/config/mod.ts";
import { RingPublisher } from "../common/ipc/ring_publisher.ts";
import type { RoleContext } from "../common/role/mod.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";
import type { PublishCounters, PublishLease } from "./pipeline.ts";
import {
  keepRegistered,
  registerLate,
  type Registration,
} from "./registration.ts";
import type { RegistryStanding } from "./registry_health.ts";
import type { TradeSource } from "./source.ts";
import { whenAborted } from "../common/runtime/delay.ts";

/** The ring transport among `transports`, if any. */
function ringsOf(
  transports: readonly TradePublisher[],
): RingPublisher | undefined {
  return transports.find((transport) => transport instanceof RingPublisher);
}

/** Puts the rings' names and epochs into the registry entries. */
export function describeRings(
  registration: Registration | undefined,
  transports: readonly TradePublisher[],
): void {
  const rings = ringsOf(transports);
  if (!registration || !rings) return;
  registration.claims.describe({
    rings: rings.segments,
    epochs: rings.epochs,
  });
}

/** What the guard reads and updates: serve's standing, its source, counters and transports. */
export interface GuardedState extends RegistryStanding {
  /** The source (its kind goes into a late registration). */
  source: TradeSource;
  /** The pipeline's counters (the heartbeats' rates). */
  counters: PublishCounters;
  /** The transports. */
  transports: readonly TradePublisher[];
}

/** serve's registration while it publishes: see the module doc. */
export class RegistryGuard {
  /** Asked before each trade; undefined when serve does not register. */
  readonly lease: PublishLease | undefined;
  #config: Config;
  #state: GuardedState;
  #context: RoleContext;
  #stopping = new AbortController();
  #signal = this.#stopping.signal;
  #firstRound = Promise.withResolvers<void>();
  #heartbeats: Promise<void> | undefined;
  #late: Promise<void> | undefined;
  #stopped = false;
  #fenced = false;
  #transports: readonly TradePublisher[] = [];

  /**
   * A guard of `state` until {@linkcode stop} (after the transports' drain:
   * the lease lasts through the shutdown flush); a lost claim stops serve
   * through `context.fail`.
   */
  constructor(
    config: Config,
    state: GuardedState,
    options: { context: RoleContext },
  ) {
    this.#config = config;
    this.#state = state;
    this.#context = options.context;
    // The pipeline goes on past the lease (the rings with it) unless fenced
    // or a standby on this host retired a ring: then its owner writes it.
    this.lease = config.registry.register
      ? {
        holds: () =>
          this.#natsHolds() ||
          (!this.#fenced && !ringsOf(this.#transports)?.retired()),
        ended: () =>
          this.#fence(
            "a standby on this host took this serve's rings over (its registry lease had ended): stopping",
          ),
      }
      : undefined;
  }

  /**
   * Within the lease. Not yet registered (the registry unreachable at
   * start) there is none: NATS stays suspended (it queues) until the late
   * registration confirms the claims, so a refusal can still fence it.
   * The registry unavailable at start, NATS publishes unguarded until then.
   */
  #leaseHolds(): boolean {
    const { registration, unguarded } = this.#state;
    if (registration === undefined) return unguarded !== undefined;
    return performance.now() < registration.claims.leaseUntil;
  }

  /** May NATS publish: not fenced and within the lease (or unguarded)? */
  #natsHolds = (): boolean => !this.#fenced && this.#leaseHolds();

  /**
   * Guards `transports` (past the lease NATS is suspended; fenced, they
   * write nothing more, not even at close) and starts heartbeating, or
   * registering late.
   */
  watch(transports: readonly TradePublisher[]): void {
    this.#transports = transports;
    if (this.lease) {
      for (const transport of transports) transport.guard?.(this.#natsHolds);
    }
    const state = this.#state;
    if (state.registration) return this.#heartbeat(state.registration);
    this.#firstRound.resolve();
    if (!state.registering) return;
    this.#late = registerLate(this.#config, {
      log: this.#context.log,
      source: state.source.kind,
      signal: this.#signal,
      unguarded: state.unguarded !== undefined,
    }).then((result) => {
      if (typeof result === "string") return this.#fence(result);
      if (result === undefined) return;
      state.registration = result;
      state.registering = false;
      state.unguarded = undefined;
      describeRings(result, state.transports);
      this.#heartbeat(result);
    });
  }

  /** Resolves after the first heartbeat round (a slow start renews its lease before publishing), at once without one, or when `signal` aborts. */
  async renewed(signal: AbortSignal): Promise<void> {
    await Promise.race([
      this.#firstRound.promise,
      this.#heartbeats,
      whenAborted(signal),
    ]);
  }

  /**
   * Stops heartbeating (and registering late), resolving once both ended:
   * called once the transports closed, so that the lease does not end
   * half way through their shutdown flush.
   */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#late;
    await this.#heartbeats;
  }

  #heartbeat(registration: Registration): void {
    this.#heartbeats = keepRegistered(registration, {
      config: this.#config,
      log: this.#context.log,
      signal: this.#signal,
      perSymbol: this.#state.counters.perSymbol,
      onLost: (message) => this.#fence(message),
      onFirstRound: this.#firstRound.resolve,
    });
  }

  /** Another serve owns the symbols now: nothing held goes out, and serve stops. */
  #fence(message: string): void {
    this.#fenced = true;
    for (const transport of this.#transports) transport.fence?.();
    this.#stop(message);
  }

  #stop(message: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#context.fail(message);
  }
}
