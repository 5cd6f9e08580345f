/**
 * serve in the symbol registry: claims its (exchange, symbol)s before it
 * publishes (refusing, exit 1, while another live serve owns one), or waits
 * as a hot standby (`--standby`) and takes over when the owner's heartbeat
 * expires; heartbeats while it publishes, stops when another process took
 * a symbol over, and marks its entries stopped on a clean exit.
 *
 * @module
 */

import { type Config, ConfigError } from "../common/config/mod.ts";
import {
  NatsAuthError,
  natsPermissionError,
} from "../common/nats/connection.ts";
import {
  describeOwner,
  hostName,
  leaseMarginMs,
  type LiveOwner,
  type OpenRegistry,
  openRegistry,
  RegistryUnreachableError,
  SymbolClaims,
  type TakeOver,
} from "../common/registry/mod.ts";
import { delay } from "../common/runtime/delay.ts";
import { formatDuration } from "../common/config/duration.ts";
import type { Logger } from "../common/runtime/log.ts";

/** serve's place in the registry. */
export interface Registration {
  /** Its claims. */
  claims: SymbolClaims;
  /** The bucket and the connection. */
  registry: OpenRegistry;
}

/** The symbols of `owners`, grouped by owner: `binance BTCUSDT,ETHUSDT … by host h pid 1 since …`. */
function ownedBy(owners: readonly LiveOwner[], exchange: string): string {
  const groups = new Map<string, string[]>();
  for (const { symbol, stored } of owners) {
    const owner = describeOwner(stored.entry);
    groups.set(owner, [...groups.get(owner) ?? [], symbol]);
  }
  return [...groups].map(([owner, symbols]) =>
    `${exchange} ${symbols.join(",")} by ${owner}`
  ).join("; ");
}

/** The live owners as one refusal line. */
function refusal(owners: readonly LiveOwner[], config: Config): string {
  return `already published: ${
    ownedBy(owners, config.dataManager.exchange)
  }; stop that serve first, or start this one with --standby to take over when its heartbeat expires (registry.ttl = ${
    formatDuration(config.registry.ttlMs)
  })`;
}

/** serve could not use the registry at start (a permission, a JetStream error): it publishes to NATS without it while {@linkcode registerLate} keeps trying. */
export interface Unavailable {
  /** Why, as the warning said. */
  unavailable: string;
}

/**
 * A registry that cannot be used (a missing permission, a JetStream error, a
 * timeout): serve publishes without it, saying what that means, but a hot
 * standby cannot stand by without it (exit 1).
 */
function unavailable(
  error: unknown,
  options: { config: Config; log: Logger },
): number | Unavailable {
  if (!(error instanceof Error)) throw error;
  const { config: { registry }, log } = options;
  const why = natsPermissionError(error)?.message ?? error.message;
  if (registry.standby) {
    log.error(
      `registry ${registry.bucket} unavailable (${why}): --standby waits on it`,
    );
    return 1;
  }
  log.warn(
    `registry ${registry.bucket} unavailable (${why}): publishing without it, so another serve of these symbols is not refused, and registering as soon as it can (registry.register = false skips the registry)`,
  );
  return { unavailable: why };
}

/** The longest wait between two registrations tried while serve publishes unguarded (the registry unavailable at start), ms. */
const UNGUARDED_RETRY_MAX_MS = 30_000;

/** serve could not reach the registry at start: NATS stays suspended while {@linkcode registerLate} keeps trying. */
export const UNREACHABLE = "unreachable";

/** This process's claims on its symbols in `registry`, none held yet. */
function newClaims(
  config: Config,
  registry: OpenRegistry,
  source: string,
): SymbolClaims {
  const { registry: settings, transport: { nats }, dataManager } = config;
  return new SymbolClaims(registry.bucket, {
    prefix: nats.jetstream.subjectPrefix,
    exchange: dataManager.exchange,
    symbols: dataManager.symbols,
    identity: {
      host: hostName(),
      pid: Deno.pid,
      source,
      startedAt: Date.now(),
    },
    ttlMs: settings.ttlMs,
  });
}

/**
 * Claims every symbol, or returns the live owners of those it cannot have
 * (empty once all are held). With `settle`, an owner's entry seen for the
 * first time is watched (every half heartbeat interval) until its heartbeat
 * moves (a live owner: returned) or it stays unchanged for a lease (a dead
 * one: claimed), since a first look cannot tell the two apart.
 */
async function claimAll(
  claims: SymbolClaims,
  options: { config: Config; settle: boolean; signal?: AbortSignal },
): Promise<LiveOwner[]> {
  const { signal } = options;
  const { heartbeatIntervalMs, ttlMs } = options.config.registry;
  const until = performance.now() + ttlMs + leaseMarginMs(ttlMs) +
    heartbeatIntervalMs;
  for (let attempt = 0; !signal?.aborted; attempt++) {
    await claims.claimFree();
    if (claims.complete) return [];
    const owners = await claims.liveOwners();
    const settled = !options.settle || performance.now() > until ||
      owners.some((owner) => owner.proven);
    if (owners.length > 0 && settled) return owners;
    // No owner: the process it lost a key to gave it back meanwhile.
    if (owners.length === 0 && attempt >= 2) return owners;
    await delay(owners.length > 0 ? heartbeatIntervalMs / 2 : 0, signal);
  }
  return []; // stopping: the caller releases what it claimed
}

/** The line saying serve registered its symbols. */
function registeredText(config: Config, late: string): string {
  const { dataManager, registry } = config;
  return `registered ${dataManager.exchange} ${
    dataManager.symbols.join(",")
  } in registry ${registry.bucket}${late}`;
}

/**
 * Opens the registry over `transport.nats`'s connection and claims every
 * symbol; undefined when serve does not register (`registry.register`);
 * {@linkcode Unavailable} when the registry cannot be used (a warning says
 * so: serve publishes without it while {@linkcode registerLate} keeps trying);
 * {@linkcode UNREACHABLE} when no NATS server answered within
 * `connect_timeout` (a warning says so, and {@linkcode registerLate} keeps
 * trying); the exit status after one line when it must not publish (1:
 * owned by a live serve without `--standby`, credentials refused,
 * unreadable files). With `--standby` and owned symbols, returns with the
 * claims incomplete: {@linkcode awaitTakeover} waits for them.
 */
export async function openRegistration(
  config: Config,
  options: {
    log: Logger;
    source: string;
    /** A shutdown signal (SIGINT) while claiming: what was claimed is released, exit status 0. */
    signal: AbortSignal;
  },
): Promise<
  Registration | typeof UNREACHABLE | Unavailable | number | undefined
> {
  const { registry: settings, transport: { nats }, dataManager } = config;
  if (!settings.register) return undefined;
  const { log } = options;
  let registry: OpenRegistry;
  try {
    // NATS down at start: serve publishes (the ring now, NATS once it is
    // back) without the registry rather than wait, and registers later.
    registry = await openRegistry(nats, {
      registry: settings,
      log,
      create: true,
      replicas: nats.jetstream.replicas,
      connectWithinMs: nats.connectTimeoutMs,
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal.aborted) return 0;
    if (error instanceof ConfigError || error instanceof NatsAuthError) {
      log.error(error.message);
      return 1;
    }
    if (error instanceof RegistryUnreachableError && !settings.standby) {
      log.warn(
        `registry ${settings.bucket} unreachable (${error.message}): the rings go on, NATS publishing is suspended (trades queue) until registered; registering as soon as it can be reached`,
      );
      return UNREACHABLE;
    }
    return unavailable(error, { config, log });
  }
  const claims = newClaims(config, registry, options.source);
  let owners: LiveOwner[] = [];
  try {
    owners = await claimAll(claims, {
      config,
      settle: !settings.standby,
      signal: options.signal,
    });
  } catch (error) {
    if (!options.signal.aborted) {
      await registry[Symbol.asyncDispose]();
      return unavailable(error, { config, log });
    }
  }
  if (options.signal.aborted) {
    // Never left "publishing": a claim just written is marked stopped.
    await closeRegistration({ claims, registry }, log);
    return 0;
  }
  if (owners.length > 0 && !settings.standby) {
    await registry[Symbol.asyncDispose]();
    log.error(refusal(owners, config));
    return 1;
  }
  if (owners.length > 0) {
    log.info(
      `standing by: published ${
        ownedBy(owners, dataManager.exchange)
      }; taking over when its heartbeat expires (registry.ttl = ${
        formatDuration(settings.ttlMs)
      })`,
    );
  } else {
    log.info(registeredText(config, ""));
  }
  return { claims, registry };
}

/**
 * serve's registration after the registry was unreachable at its start:
 * connects as long as it takes (until `signal` aborts: undefined), then
 * claims every symbol. Returns the registration, or the refusal line when
 * a live serve owns a symbol meanwhile (this one must fence what it
 * queued and stop). Other failures are retried every heartbeat
 * interval, the first one logged (`unguarded`: the warning at start said it,
 * and the wait doubles up to {@linkcode UNGUARDED_RETRY_MAX_MS}).
 */
export async function registerLate(
  config: Config,
  options: {
    log: Logger;
    source: string;
    signal: AbortSignal;
    /** serve publishes to NATS meanwhile (the registry was unavailable at start, not unreachable). */
    unguarded: boolean;
  },
): Promise<Registration | string | undefined> {
  const { registry: settings, transport: { nats } } = config;
  const { log, signal, unguarded } = options;
  let failing = unguarded;
  let wait = settings.heartbeatIntervalMs;
  while (!signal.aborted) {
    let registry: OpenRegistry | undefined;
    try {
      registry = await openRegistry(nats, {
        registry: settings,
        log,
        create: true,
        replicas: nats.jetstream.replicas,
        signal,
      });
      const claims = newClaims(config, registry, options.source);
      const owners = await claimAll(claims, { config, settle: true, signal });
      if (signal.aborted) {
        await closeRegistration({ claims, registry }, log);
        break;
      }
      if (owners.length === 0) {
        log.info(
          registeredText(
            config,
            ` (late: ${unguarded ? "unavailable" : "unreachable"} at start)`,
          ),
        );
        return { claims, registry };
      }
      await registry[Symbol.asyncDispose]();
      return `${refusal(owners, config)} (${
        unguarded
          ? "this serve published to NATS unregistered meanwhile, the registry unavailable at start: both published these symbols"
          : "NATS publishing was suspended while the registry was unreachable: what it queued is given up on"
      })`;
    } catch (error) {
      await registry?.[Symbol.asyncDispose]();
      if (signal.aborted) break;
      if (!failing) log.warn(`registry: ${(error as Error).message}`);
      failing = true;
    }
    await delay(wait, signal);
    // A registry refused (a permission) is asked less and less often.
    if (unguarded) wait = Math.min(wait * 2, UNGUARDED_RETRY_MAX_MS);
  }
  return undefined;
}

/** The takeover of `taken` as log text. */
function takeoverText(taken: TakeOver, exchange: string): string {
  const { previous, reason } = taken;
  if (previous === undefined || reason === "free") {
    return `took over ${exchange} ${taken.symbol}`;
  }
  const why = {
    stopped: "it stopped",
    gone: "its process is gone",
    expired: `its heartbeat unchanged for ${
      (taken.quietMs / 1000).toFixed(1)
    } s`,
  }[reason];
  return `took over ${exchange} ${taken.symbol} from ${
    describeOwner(previous.entry)
  } (${why})`;
}

/**
 * A hot standby's wait: announces itself, claims each symbol once it is
 * free (all of them at once), logs each takeover. Resolves with the
 * takeovers once every symbol is held, undefined when `signal` aborts first.
 */
export async function awaitTakeover(
  registration: Registration,
  options: { config: Config; log: Logger; signal: AbortSignal },
): Promise<TakeOver[] | undefined> {
  const { claims } = registration;
  const { config, log, signal } = options;
  const { heartbeatIntervalMs } = config.registry;
  let failing = false;
  const taken: TakeOver[] = [];
  while (!signal.aborted && !claims.complete) {
    try {
      await claims.announceStandby();
      await claims.heartbeat();
      for (const each of await claims.claimFree()) {
        log.warn(takeoverText(each, config.dataManager.exchange));
        taken.push(each);
      }
      failing = false;
    } catch (error) {
      if (!failing) log.warn(`registry: ${(error as Error).message}`);
      failing = true;
    }
    if (!claims.complete) await delay(heartbeatIntervalMs, signal);
  }
  try {
    await claims.withdrawStandby();
  } catch {
    // It expires after registry.ttl anyway.
  }
  return claims.complete ? taken : undefined;
}

/** Options of {@linkcode keepRegistered}. */
export interface KeepRegisteredOptions {
  /** The validated config. */
  config: Config;
  /** Where failed heartbeats are logged. */
  log: Logger;
  /** Stops heartbeating when aborted. */
  signal: AbortSignal;
  /** Trades published per symbol, read for the rates. */
  perSymbol: readonly number[];
  /** Another process took a symbol over: this one must stop publishing; called once with a line saying why. */
  onLost: (message: string) => void;
  /** Called after the first round (confirmed or not): a serve that took long to open its transports renews its lease before it publishes. */
  onFirstRound?: () => void;
}

/** The line saying the lease ran out: NATS publishing is suspended. */
function suspendedText(config: Config): string {
  const { ttlMs } = config.registry;
  return `registry heartbeats unconfirmed for ${
    formatDuration(ttlMs - leaseMarginMs(ttlMs))
  } (registry.ttl less its margin): a standby may take these symbols over, so NATS publishing is suspended (trades queue, up to publish.queue_max_trades; the rings go on) until the registry confirms this serve still owns them`;
}

/**
 * Heartbeats at once, then every `registry.heartbeat_interval` until
 * `signal` aborts, with each symbol's rate; calls `onLost` with a line
 * naming the new owner when another process took a symbol over. When the
 * lease ran out (no heartbeat confirmed for `ttl - margin`) it says NATS
 * publishing is suspended and heartbeats on: a heartbeat confirmed again
 * (the entries still this process's, nobody else wrote them) renews the
 * lease and publishing resumes. A failed heartbeat (NATS down) is logged
 * once until one succeeds.
 */
export async function keepRegistered(
  registration: Registration,
  options: KeepRegisteredOptions,
): Promise<void> {
  const { claims } = registration;
  const { config, log, signal, perSymbol } = options;
  const { heartbeatIntervalMs } = config.registry;
  let failing = false;
  let suspendedAt: number | undefined;
  let last = [...perSymbol];
  let lastAt = performance.now();
  while (!signal.aborted) {
    const now = performance.now();
    const seconds = Math.max(now - lastAt, 1) / 1000;
    claims.describe({
      rates: perSymbol.map((trades, i) => (trades - last[i]) / seconds),
    });
    last = [...perSymbol];
    lastAt = now;
    try {
      const lost = await untilAborted(claims.heartbeat(), signal);
      if (lost === undefined) break; // stopping: not held by a slow request
      failing = false;
      if (lost.length > 0) {
        options.onLost(
          lost.map(({ symbol, stored }) =>
            stored === undefined
              ? `${config.dataManager.exchange} ${symbol}'s registry entry vanished while this serve's lease had ended (purged, aged out or the bucket recreated): a standby may have published meanwhile`
              : `${config.dataManager.exchange} ${symbol} was taken over by ${
                describeOwner(stored.entry)
              } (this serve's heartbeat had expired)`
          ).join("; ") + ": stopping",
        );
        return;
      }
    } catch (error) {
      if (!failing) {
        log.warn(`registry heartbeat failed: ${(error as Error).message}`);
      }
      failing = true;
    }
    options.onFirstRound?.();
    const left = claims.leaseUntil - performance.now();
    if (left <= 0 && suspendedAt === undefined) {
      suspendedAt = performance.now();
      log.error(suspendedText(config));
    } else if (left > 0 && suspendedAt !== undefined) {
      log.info(
        `registry: this serve's claims confirmed again after ${
          ((performance.now() - suspendedAt) / 1000).toFixed(1)
        } s suspended (nobody took them over): NATS publishing resumes with what it queued`,
      );
      suspendedAt = undefined;
    }
    await delay(
      left > 0 ? Math.min(heartbeatIntervalMs, left) : heartbeatIntervalMs,
      signal,
    );
  }
}

/** `promise`'s value, or undefined as soon as `signal` aborts. */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const aborted = () => resolve(undefined);
    signal.addEventListener("abort", aborted, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", aborted)
    );
  });
}

/** Marks the held entries and its standby entries stopped (best effort) and closes the registry's connection. */
export async function closeRegistration(
  registration: Registration,
  log: Logger,
): Promise<void> {
  try {
    await registration.claims.release();
    await registration.claims.withdrawStandby();
  } catch (error) {
    log.warn(
      `registry: could not mark the entries stopped (${
        (error as Error).message
      }); they expire after registry.ttl`,
    );
  }
  await registration.registry[Symbol.asyncDispose]();
}
