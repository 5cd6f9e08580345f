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
import {
  entryKey,
  type EntryPlace,
  type EntryState,
  entryStatus,
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
}

/** A claim taken over from a previous owner. */
export interface TakeOver {
  /** The symbol. */
  symbol: string;
  /** The previous owner's entry, undefined when the key was free. */
  previous: StoredEntry | undefined;
  /** Why it was free: no entry, the owner stopped, its heartbeat expired, or its process (on this host) is gone. */
  reason: "free" | "stopped" | "expired" | "gone";
}

/** Is the owner of `stored` gone although its heartbeat is fresh: a process of this host that no longer exists? */
function deadOnThisHost(stored: StoredEntry, host: string): boolean {
  const { entry } = stored;
  if (entry.host !== host || entry.pid === Deno.pid) return false;
  try {
    return !processAlive(entry.pid);
  } catch {
    return false; // no libc (no --allow-ffi): trust the heartbeat
  }
}

/** Why the key of `stored` could be taken at `now`. */
function freeReason(
  stored: StoredEntry | undefined,
  now: number,
): TakeOver["reason"] {
  if (stored === undefined) return "free";
  const status = entryStatus(stored, now);
  return status === "alive" ? "gone" : status;
}

/** Claims of one publisher on its symbols: see the module doc. */
export class SymbolClaims {
  #bucket: RegistryBucket;
  #options: SymbolClaimsOptions;
  /** Per symbol index: the revision of this process's entry, 0 = not held. */
  #revisions: number[];
  #details: ClaimDetails = {};
  /** It wrote standby entries (which {@linkcode withdrawStandby} withdraws). */
  #announced = false;

  /** Claims on `options.symbols` in `bucket`; none held yet. */
  constructor(bucket: RegistryBucket, options: SymbolClaimsOptions) {
    this.#bucket = bucket;
    this.#options = options;
    this.#revisions = new Array(options.symbols.length).fill(0);
  }

  /** Every symbol held. */
  get complete(): boolean {
    return this.#revisions.every((revision) => revision > 0);
  }

  /** The symbols held now. */
  get held(): string[] {
    return this.#options.symbols.filter((_, i) => this.#revisions[i] > 0);
  }

  /** The live owners of the symbols not held, as the registry says now. */
  async liveOwners(now = Date.now()): Promise<LiveOwner[]> {
    const owners: LiveOwner[] = [];
    for (const [i, symbol] of this.#options.symbols.entries()) {
      if (this.#revisions[i] > 0) continue;
      const stored = await this.#bucket.get(this.#key(symbol));
      if (stored !== undefined && this.#alive(stored, now)) {
        owners.push({ symbol, stored });
      }
    }
    return owners;
  }

  /**
   * Takes every symbol not held whose key is free; returns those taken
   * (with the entry each replaced). A key another process wrote between the
   * look and the write stays not held.
   */
  async claimFree(now = Date.now()): Promise<TakeOver[]> {
    const taken: TakeOver[] = [];
    for (const [i, symbol] of this.#options.symbols.entries()) {
      if (this.#revisions[i] > 0) continue;
      const key = this.#key(symbol);
      const stored = await this.#bucket.get(key);
      if (stored !== undefined && this.#alive(stored, now)) continue;
      try {
        this.#revisions[i] = await this.#bucket.put(
          key,
          this.#entry(i, "publishing", now),
          { revision: stored?.revision ?? 0 },
        );
        taken.push({
          symbol,
          previous: stored,
          reason: freeReason(stored, now),
        });
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
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
   */
  async heartbeat(now = Date.now()): Promise<LiveOwner[]> {
    const lost: (LiveOwner | undefined)[] = [];
    await Promise.all(this.#options.symbols.map(async (symbol, i) => {
      if (this.#revisions[i] === 0) return;
      try {
        this.#revisions[i] = await this.#bucket.put(
          this.#key(symbol),
          this.#entry(i, "publishing", now),
          { revision: this.#revisions[i] },
        );
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
        this.#revisions[i] = 0;
        const stored = await this.#bucket.get(this.#key(symbol));
        if (stored !== undefined) lost[i] = { symbol, stored };
      }
    }));
    return lost.filter((owner) => owner !== undefined);
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

  #alive(stored: StoredEntry, now: number): boolean {
    return entryStatus(stored, now) === "alive" &&
      !deadOnThisHost(stored, this.#options.identity.host);
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
