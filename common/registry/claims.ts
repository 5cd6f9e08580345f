/**
 * A publisher's claims on its (exchange, symbol)s in the registry: taken
 * when free (no entry, a stopped one, an expired heartbeat, or a dead
 * process of this host), refused while another owner is alive, kept by a
 * compare-and-set heartbeat, and lost (fenced) when another process took a
 * key over, which the next heartbeat finds out.
 *
 * @module
 */

import { processAlive } from "../os/libc.ts";
import { type RegistryBucket, RevisionConflictError } from "./_bucket.ts";
import { sameHost } from "./host.ts";
import {
  entryKey,
  type EntryPlace,
  type EntryState,
  standbyKey,
  type StoredEntry,
  type SymbolEntry,
} from "./entry.ts";

/** Who publishes: the fields of an entry that stay the same for a run. */
export interface PublisherIdentity {
  /** Host name. */
  host: string;
  /** Process id. */
  pid: number;
  /** Source kind. */
  source: string;
  /** When the run started, ms since the Unix epoch. */
  startedAt: number;
}

/** Options of {@linkcode SymbolClaims}. */
export interface SymbolClaimsOptions {
  /** Subject prefix of the trades (`transport.nats.jetstream.subject_prefix`). */
  prefix: string;
  /** The exchange. */
  exchange: string;
  /** The symbols to claim. */
  symbols: readonly string[];
  /** This process. */
  identity: PublisherIdentity;
  /** How long after a heartbeat an entry expires, ms (`registry.ttl`). */
  ttlMs: number;
}

/** What a heartbeat says per symbol index besides the identity. */
export interface ClaimDetails {
  /** Segment name per symbol; undefined without the ring. */
  rings?: readonly (string | undefined)[];
  /** The run's epoch per symbol (the ring's); undefined when none is known. */
  epochs?: readonly (number | undefined)[];
  /** Trades per second per symbol. */
  rates?: readonly number[];
}

/** A symbol another live process owns. */
export interface LiveOwner {
  /** The symbol. */
  symbol: string;
  /** The owner's entry. */
  stored: StoredEntry;
  /** Its heartbeat was seen to move: the owner is surely alive (not a stale entry waiting to expire). */
  proven: boolean;
}

/** A claim lost at a heartbeat: to another owner, or its entry vanished while the lease had ended. */
export interface LostClaim {
  /** The symbol. */
  symbol: string;
  /** The new owner's entry; undefined when the key has none (purged, aged out, the bucket recreated). */
  stored: StoredEntry | undefined;
}

/** A claim taken over from a previous owner. */
export interface TakeOver {
  /** The symbol. */
  symbol: string;
  /** The previous owner's entry, undefined when the key was free. */
  previous: StoredEntry | undefined;
  /** Why it was free: no entry, the owner stopped, its heartbeat expired, or its process (on this host) is gone. */
  reason: "free" | "stopped" | "expired" | "gone";
  /** How long its revision had not changed, as this process saw it, ms. */
  quietMs: number;
}

/**
 * The safety margin of the lease, ms: an owner fences itself (stops
 * publishing) once `ttl - margin` passed on its own monotonic clock since
 * it sent its last confirmed heartbeat, and a standby takes a key over only
 * once `ttl + margin` passed since the server stored the last heartbeat, so
 * the old owner has stopped before the new one starts (see docs/nats.md,
 * "Fencing").
 */
export function leaseMarginMs(ttlMs: number): number {
  return ttlMs / 5;
}

/** Is the owner of `stored` gone although its heartbeat is fresh: a process of this host that no longer exists? */
function deadOnThisHost(stored: StoredEntry, host: string): boolean {
  const { entry } = stored;
  // A host name not known (no --allow-sys) could be any host.
  if (!sameHost(host, entry.host)) return false;
  if (entry.pid === Deno.pid) return false;
  try {
    return !processAlive(entry.pid);
  } catch {
    return false; // no libc (no --allow-ffi): trust the heartbeat
  }
}

/**
 * How far past `ttl + margin` the server's store time of a heartbeat must
 * be, on this host's wall clock, for a first look to judge the key expired
 * at once (an entry left by a serve that died long ago), ms: only a clock
 * more than this far ahead of the server's could misjudge a live owner.
 */
const STALE_AFTER_MS = 60_000;

/** When this process first read a key's current revision (`performance.now()`), and whether it read another revision before. */
interface Seen {
  /** The revision. */
  revision: number;
  /** When it was first read. */
  at: number;
  /** The key had another revision at an earlier read: its owner heartbeats. */
  moved: boolean;
}

/** Claims of one publisher on its symbols: see the module doc. */
export class SymbolClaims {
  #bucket: RegistryBucket;
  #options: SymbolClaimsOptions;
  /** Per symbol index: the revision of this process's entry, 0 = not held. */
  #revisions: number[];
  /** Per symbol index: when (monotonic clock) the last put that the server confirmed was sent. */
  #confirmedAt: number[];
  /** {@linkcode leaseUntil} cached; undefined once a revision or confirmation changed. */
  #lease: number | undefined;
  #details: ClaimDetails = {};
  /** It wrote standby entries (which {@linkcode withdrawStandby} withdraws). */
  #announced = false;
  /** Per key read: see {@linkcode Seen}. */
  #seen = new Map<string, Seen>();

  /** Claims on `options.symbols` in `bucket`; none held yet. */
  constructor(bucket: RegistryBucket, options: SymbolClaimsOptions) {
    this.#bucket = bucket;
    this.#options = options;
    this.#revisions = new Array(options.symbols.length).fill(0);
    this.#confirmedAt = new Array(options.symbols.length).fill(0);
  }

  /**
   * Until when (`performance.now()`) this process may publish: `ttl -
   * margin` after it sent the oldest of its held claims' last confirmed
   * heartbeats ({@linkcode leaseMarginMs}); -Infinity when it holds none.
   * Past it a standby may be about to take over: the owner must stop.
   */
  get leaseUntil(): number {
    return this.#lease ??= this.#computeLease();
  }

  /** {@linkcode leaseUntil} from the held claims' confirmations. */
  #computeLease(): number {
    const { ttlMs } = this.#options;
    let until = Infinity;
    for (const [i, revision] of this.#revisions.entries()) {
      if (revision > 0) until = Math.min(until, this.#confirmedAt[i]);
    }
    return until === Infinity
      ? -Infinity
      : until + ttlMs - leaseMarginMs(ttlMs);
  }

  /** Every symbol held. */
  get complete(): boolean {
    return this.#revisions.every((revision) => revision > 0);
  }

  /** The symbols held now. */
  get held(): string[] {
    return this.#options.symbols.filter((_, i) => this.#revisions[i] > 0);
  }

  /**
   * The live owners of the symbols not held, as the registry says now and
   * judged at `now` (`performance.now()`): see {@linkcode claimFree}.
   */
  async liveOwners(now = performance.now()): Promise<LiveOwner[]> {
    const owners: LiveOwner[] = [];
    for (const [i, symbol] of this.#options.symbols.entries()) {
      if (this.#revisions[i] > 0) continue;
      const key = this.#key(symbol);
      const stored = await this.#bucket.get(key);
      if (
        stored !== undefined && this.#alive(key, stored, now) &&
        !this.#ours(stored)
      ) {
        owners.push({ symbol, stored, proven: this.#seen.get(key)!.moved });
      }
    }
    return owners;
  }

  /**
   * Takes every symbol not held, all or none: each key must be free (or
   * hold this very process's entry, whose put timed out although the server
   * stored it). Keys are taken in sorted order, and the first one another
   * process wrote between the look and the write gives back those taken, so
   * two processes starting together never each hold a part. Returns those
   * taken (with the entry each replaced).
   *
   * A key is free when it has no entry, its owner stopped or its process
   * (on this host) is gone, or its revision has not changed for `ttl +
   * margin` as this process saw it at `now` (`performance.now()`), on its
   * own monotonic clock: no clock is compared with another, so a first
   * look at a key judges it alive, and it is taken a lease later.
   */
  async claimFree(now = performance.now()): Promise<TakeOver[]> {
    const wanted = this.#options.symbols.map((symbol, i) => ({ symbol, i }))
      .filter(({ i }) => this.#revisions[i] === 0)
      .sort((a, b) => a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);
    const found: (StoredEntry | undefined)[] = [];
    for (const { symbol, i } of wanted) {
      const key = this.#key(symbol);
      const stored = await this.#bucket.get(key);
      if (
        stored !== undefined && this.#alive(key, stored, now) &&
        !this.#ours(stored)
      ) {
        return [];
      }
      found[i] = stored;
    }
    const taken: TakeOver[] = [];
    for (const { symbol, i } of wanted) {
      const stored = found[i];
      const sentAt = performance.now();
      try {
        this.#revisions[i] = await this.#bucket.put(
          this.#key(symbol),
          this.#entry(i, "publishing", Date.now()),
          { revision: stored?.revision ?? 0 },
        );
        this.#confirmedAt[i] = sentAt;
        this.#lease = undefined;
      } catch (error) {
        // Another process took it first (or the write failed): give back
        // what was taken, all or none.
        await this.release();
        if (error instanceof RevisionConflictError) return [];
        throw error;
      }
      if (stored === undefined || !this.#ours(stored)) {
        taken.push(this.#takeOver(symbol, stored, now));
      }
    }
    return taken;
  }

  /** Sets what the next heartbeats say (rings, epoch, rates). */
  describe(details: ClaimDetails): void {
    this.#details = { ...this.#details, ...details };
  }

  /**
   * Re-puts every held entry with a fresh heartbeat. Returns the symbols
   * another process took over since (their claims are dropped, and their
   * new owner's entry returned): this process must stop publishing them.
   * A put that timed out although the server stored it leaves the key at a
   * revision of this process's own: that one is adopted, not taken for a
   * loss. A claim whose fate cannot be read now (a failed get) stays held
   * unconfirmed: its lease ({@linkcode leaseUntil}) runs down meanwhile.
   * A key with no entry (purged, aged out, the bucket recreated) is
   * created again while the lease holds (nobody could have published
   * meanwhile; a create that conflicts settles it), but past the lease it
   * is lost: a standby may have published meanwhile, its entry gone too.
   */
  async heartbeat(now = Date.now()): Promise<LostClaim[]> {
    const lost: (LostClaim | undefined)[] = [];
    const leaseHeld = performance.now() < this.leaseUntil;
    await Promise.all(this.#options.symbols.map(async (symbol, i) => {
      if (this.#revisions[i] === 0) return;
      const key = this.#key(symbol);
      try {
        await this.#renew(i, this.#revisions[i], now);
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
        const stored = await this.#bucket.get(key);
        if (stored === undefined ? leaseHeld : this.#ours(stored)) {
          // Our own late write, or a purged key within the lease: renew it
          // from there (a conflict again is settled by the next heartbeat).
          await this.#renew(i, stored?.revision ?? 0, now);
          return;
        }
        this.#revisions[i] = 0;
        this.#lease = undefined;
        lost[i] = { symbol, stored };
      }
    }));
    return lost.filter((owner) => owner !== undefined);
  }

  /** Puts symbol `i`'s entry at `revision`: the claim and its lease are renewed. */
  async #renew(i: number, revision: number, now: number): Promise<void> {
    const sentAt = performance.now();
    this.#revisions[i] = await this.#bucket.put(
      this.#key(this.#options.symbols[i]),
      this.#entry(i, "publishing", now),
      { revision },
    );
    this.#confirmedAt[i] = sentAt;
    this.#lease = undefined;
  }

  /**
   * Says this process waits as the hot standby of the symbols it does not
   * hold (one `standby` entry per symbol, which consumers' health reads).
   */
  async announceStandby(now = Date.now()): Promise<void> {
    this.#announced = true;
    for (const [i, symbol] of this.#options.symbols.entries()) {
      if (this.#revisions[i] > 0) continue;
      const key = standbyKey(this.#place(symbol));
      const stored = await this.#bucket.get(key);
      try {
        await this.#bucket.put(
          key,
          this.#entry(i, "standby", now),
          { revision: stored?.revision ?? 0 },
        );
      } catch (error) {
        // Another standby announced itself at the same moment: either will do.
        if (!(error instanceof RevisionConflictError)) throw error;
      }
    }
  }

  /** Withdraws this process's standby entries (it took over, or stops): consumers no longer count on it. */
  async withdrawStandby(now = Date.now()): Promise<void> {
    if (!this.#announced) return;
    this.#announced = false;
    await Promise.all(this.#options.symbols.map(async (symbol, i) => {
      const key = standbyKey(this.#place(symbol));
      const stored = await this.#bucket.get(key);
      if (stored?.entry.pid !== this.#options.identity.pid) return;
      if (stored.entry.state !== "standby") return;
      try {
        await this.#bucket.put(
          key,
          this.#entry(i, "stopped", now),
          { revision: stored.revision },
        );
      } catch (error) {
        // Another standby announced itself meanwhile: its entry stays.
        if (!(error instanceof RevisionConflictError)) throw error;
      }
    }));
  }

  /** Marks every held entry stopped (a clean exit): others may take them at once. */
  async release(now = Date.now()): Promise<void> {
    await Promise.all(this.#options.symbols.map(async (symbol, i) => {
      const revision = this.#revisions[i];
      if (revision === 0) return;
      this.#revisions[i] = 0;
      this.#lease = undefined;
      try {
        await this.#bucket.put(
          this.#key(symbol),
          this.#entry(i, "stopped", now),
          { revision },
        );
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
      }
    }));
  }

  #place(symbol: string): EntryPlace {
    return {
      prefix: this.#options.prefix,
      exchange: this.#options.exchange,
      symbol,
    };
  }

  #key(symbol: string): string {
    return entryKey(this.#place(symbol));
  }

  /**
   * May its owner still be publishing at `now`: not stopped, its process
   * not gone, and its revision changed within `ttl + margin` as this
   * process saw it (every look records the revision it read)?
   */
  #alive(key: string, stored: StoredEntry, now: number): boolean {
    const seen = this.#seen.get(key);
    if (seen?.revision !== stored.revision) {
      this.#seen.set(key, {
        revision: stored.revision,
        at: now,
        moved: seen !== undefined,
      });
    }
    if (stored.entry.state === "stopped") return false;
    if (deadOnThisHost(stored, this.#options.identity.host)) return false;
    const { ttlMs } = stored.entry;
    return this.#quietMs(key, stored, now) < ttlMs + leaseMarginMs(ttlMs);
  }

  /**
   * How long the key's revision has not changed as this process saw it at
   * `now`, or, for an entry stored more than {@linkcode STALE_AFTER_MS}
   * past its lease by the wall clock, that age.
   */
  #quietMs(key: string, stored: StoredEntry, now: number): number {
    const seen = now - this.#seen.get(key)!.at;
    const { ttlMs } = stored.entry;
    const age = Date.now() - stored.storedAt;
    return age >= ttlMs + leaseMarginMs(ttlMs) + STALE_AFTER_MS
      ? Math.max(seen, age)
      : seen;
  }

  /** The takeover of `symbol` from `stored` at `now`, and why it was free. */
  #takeOver(
    symbol: string,
    stored: StoredEntry | undefined,
    now: number,
  ): TakeOver {
    if (stored === undefined) {
      return { symbol, previous: undefined, reason: "free", quietMs: 0 };
    }
    const quietMs = this.#quietMs(this.#key(symbol), stored, now);
    const { ttlMs } = stored.entry;
    const reason = stored.entry.state === "stopped"
      ? "stopped"
      : quietMs >= ttlMs + leaseMarginMs(ttlMs)
      ? "expired"
      : "gone";
    return { symbol, previous: stored, reason, quietMs };
  }

  /** Is `stored` this very process's publishing entry (same host, pid and start)? */
  #ours(stored: StoredEntry): boolean {
    const { entry } = stored;
    const { host, pid, startedAt } = this.#options.identity;
    return entry.state === "publishing" && entry.host === host &&
      entry.pid === pid && entry.startedAt === startedAt;
  }

  #entry(index: number, state: EntryState, now: number): SymbolEntry {
    const { prefix, exchange, symbols, identity, ttlMs } = this.#options;
    const { rings, epochs, rates } = this.#details;
    return {
      prefix,
      exchange,
      symbol: symbols[index],
      ring: rings?.[index],
      epoch: epochs?.[index],
      source: identity.source,
      startedAt: identity.startedAt,
      host: identity.host,
      pid: identity.pid,
      rate: Math.round(rates?.[index] ?? 0),
      heartbeatAt: now,
      ttlMs,
      state,
    };
  }
}
