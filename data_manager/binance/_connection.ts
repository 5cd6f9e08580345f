/**
 * One combined-stream connection of a {@linkcode BinanceTradeStream}: opens
 * its socket once per call, hands every frame to the stream, and watches it
 * for silence (a handshake that never completes, a socket that stays open
 * while nothing comes through, a steadily trading symbol that goes quiet).
 *
 * @module
 */

import type { Logger } from "../../common/runtime/log.ts";
import {
  checkSilence,
  type ConnectionSilence,
  type SymbolActivity,
  WINDOW_SLOTS,
} from "./_silence_watch.ts";

/** Why a connection was opened again: closed by the server or the network, silent for the timeout (not even answering a probe), or an active symbol stalled while the connection answered. */
export type ReconnectCause = "dropped" | "silent" | "stalled";

/** What a connection tells its stream. */
export interface ConnectionEvents {
  /** A socket opened; `cause` is why the one before it ended (undefined for the first). */
  opened(cause: ReconnectCause | undefined): void;
  /** A frame arrived at `now` (`performance.now()`). */
  frame(data: unknown, now: number): void;
  /** A socket that had opened was closed or given up. */
  closed(symbolIndexes: readonly number[]): void;
  /** A probe was sent. */
  probed(): void;
}

/** Options of {@linkcode FeedConnection}. */
export interface FeedConnectionOptions {
  /** The connection's number, for log lines. */
  number: number;
  /** The full combined-stream URL. */
  url: string;
  /** Indexes of the symbols it carries. */
  symbolIndexes: readonly number[];
  /** Every symbol of the stream, by index (for log lines). */
  symbols: readonly string[];
  /** The stream's per-symbol activity; undefined when the watchdog is off. */
  activity: SymbolActivity | undefined;
  /** Silence timeout, ms; 0 = off. */
  silenceTimeoutMs: number;
  /** Where it logs. */
  log: Logger;
  /** Where it reports. */
  events: ConnectionEvents;
}

/** What one socket's life came to. */
export interface SocketOutcome {
  /** Frames it received. */
  frames: number;
  /** Why it failed, when it never opened. */
  failure?: string;
}

/** One connection, opened again by its stream after each end. */
export class FeedConnection {
  /** The connection's number. */
  readonly number: number;
  /** The full combined-stream URL. */
  readonly url: string;
  /** Indexes of the symbols it carries. */
  readonly symbolIndexes: readonly number[];
  readonly #options: FeedConnectionOptions;
  readonly #silence: ConnectionSilence = { lastFrameAt: 0, probed: false };
  /** Why the last socket ended, once one opened (counted when the next opens). */
  #cause: ReconnectCause | undefined;
  #probeId = 0;

  /** A connection; nothing opens until {@linkcode connectOnce}. */
  constructor(options: FeedConnectionOptions) {
    this.number = options.number;
    this.url = options.url;
    this.symbolIndexes = options.symbolIndexes;
    this.#options = options;
  }

  /**
   * Opens the socket once; resolves once it closes (or is given up) with the
   * frames it received, and why it failed if it never opened.
   */
  connectOnce(signal: AbortSignal): Promise<SocketOutcome> {
    const { log, events, silenceTimeoutMs: timeoutMs } = this.#options;
    const name = `connection ${this.number}`;
    return new Promise((resolve) => {
      let frames = 0;
      let socket: WebSocket;
      try {
        socket = new WebSocket(this.url);
      } catch (error) {
        resolve({ frames: 0, failure: (error as Error).message });
        return;
      }
      let open = false;
      let ended = false;
      let failure = "closed before opening";
      const abort = () => socket.close(1000, "stopping");
      signal.addEventListener("abort", abort, { once: true });
      // The handshake gets the silence timeout too: a peer that accepts the
      // TCP connection and never answers must not hold the feed forever.
      let timer = timeoutMs === 0 ? undefined : setTimeout(() => {
        failure = `no handshake within ${timeoutMs} ms`;
        socket.close();
        end();
      }, timeoutMs);
      // Once: on close, or at once when the watchdog gives the socket up
      // (a dead peer may never complete the closing handshake).
      const end = () => {
        if (ended) return;
        ended = true;
        // Either timer: the handshake's timeout or the open socket's watchdog.
        clearTimeout(timer);
        signal.removeEventListener("abort", abort);
        if (open) events.closed(this.symbolIndexes);
        resolve(open ? { frames } : { frames, failure });
      };
      socket.onopen = () => {
        open = true;
        clearTimeout(timer);
        events.opened(this.#cause);
        this.#cause = "dropped";
        this.#silence.lastFrameAt = performance.now();
        this.#silence.probed = false;
        log.info(`${name} open (${this.symbolIndexes.length} streams)`);
        timer = this.#watch(socket, end);
      };
      socket.onmessage = (event: MessageEvent) => {
        // Frames still in flight on a socket given up on are not delivered:
        // trade ids tell what the next socket misses.
        if (ended) return;
        frames++;
        const now = performance.now();
        this.#silence.lastFrameAt = now;
        this.#silence.probed = false;
        events.frame(event.data, now);
      };
      socket.onerror = (event: Event) => {
        const message = (event as ErrorEvent).message ?? "error";
        if (!open) failure = message;
        log.debug(`${name}: ${message}`);
      };
      socket.onclose = (event: CloseEvent) => {
        if (open && !ended && !signal.aborted) {
          log.warn(
            `${name} dropped (code ${event.code}${
              event.reason ? `, ${JSON.stringify(event.reason)}` : ""
            })`,
          );
        }
        end();
      };
    });
  }

  /**
   * Starts the silence watchdog of an open socket (none when it is off):
   * probes it when quiet, closes it and calls `end` when it is silent or an
   * active symbol on it stalled.
   */
  #watch(
    socket: WebSocket,
    end: () => void,
  ): ReturnType<typeof setInterval> | undefined {
    const { activity, silenceTimeoutMs: timeoutMs, log, symbols } =
      this.#options;
    if (activity === undefined) return undefined;
    const name = `connection ${this.number}`;
    const limit = `(silence timeout ${timeoutMs} ms)`;
    const check = () => {
      const action = checkSilence(this.#silence, {
        now: performance.now(),
        timeoutMs,
        symbolIndexes: this.symbolIndexes,
        activity,
      });
      if (action.kind === "none") return;
      if (action.kind === "probe") {
        this.#silence.probed = true;
        this.#probe(socket);
        return;
      }
      const silent = Math.round(action.silentMs);
      if (action.kind === "silent") {
        log.warn(
          `${name} silent: no frame for ${silent} ms, not even the reply to a probe ${limit}; reconnecting`,
        );
      } else {
        const index = action.symbolIndex;
        log.warn(
          `${name}: ${symbols[index]} traded in ${
            activity.slotsTraded(index)
          } of the last ${WINDOW_SLOTS} ${
            timeoutMs / WINDOW_SLOTS
          } ms slots, then nothing for ${silent} ms while the connection answered ${limit}; reconnecting`,
        );
      }
      this.#cause = action.kind;
      try {
        socket.close(4000, `silent for ${silent} ms`);
      } catch {
        // Already closing.
      }
      end();
    };
    return setInterval(check, Math.max(1, timeoutMs / WINDOW_SLOTS));
  }

  /** Sends a request whose reply shows the connection alive (a `{"result", "id"}` frame, ignored). */
  #probe(socket: WebSocket): void {
    try {
      socket.send(
        JSON.stringify({ method: "LIST_SUBSCRIPTIONS", id: ++this.#probeId }),
      );
      this.#options.events.probed();
    } catch (error) {
      this.#options.log.debug(
        `connection ${this.number}: probe not sent: ${
          (error as Error).message
        }`,
      );
    }
  }
}
