/**
 * A local stand-in for Binance's combined-stream WebSocket endpoint, for
 * tests: serves `/stream?streams=a@trade/b@trade` on 127.0.0.1 (port 0) and
 * sends each socket the frames of the streams it subscribed to. Tests can
 * drop every connection, send garbage, skip trade ids and make the open
 * connections go silent. It answers requests (`{"method": ..., "id": n}`,
 * such as the client's `LIST_SUBSCRIPTIONS` probe) as Binance does.
 *
 * @module
 */

const FIXTURES = new URL("./fixtures/binance/", import.meta.url);

/** The non-empty lines of a file under `tests/fixtures/binance/`. */
export async function loadBinanceFixture(name: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(name, FIXTURES));
  return text.split("\n").filter((line) => line !== "");
}

/** Options of {@linkcode FakeBinance.send}. */
export interface FakeSendOptions {
  /** Trade ids (`data.t`) whose frames are not sent. */
  skipIds?: Iterable<number>;
  /** Send to every open socket, whatever streams it subscribed to (default false). */
  everyone?: boolean;
}

interface Subscriber {
  socket: WebSocket;
  streams: Set<string>;
  /** Set by {@linkcode FakeBinance.silence}: nothing is sent, requests go unanswered. */
  silent: boolean;
}

/** Options of {@linkcode tradeFrame}. */
export interface TradeFrameOptions {
  /** Trade time, ms (`T`; the event time `E` is 1 ms later). @default 1764196900000 + id % 1000 */
  time?: number;
  /** Quantity as Binance writes it (`q`). @default "0.50000000" */
  quantity?: string;
  /** Whether the buyer was the maker (`m`). @default false */
  buyerMaker?: boolean;
}

/** A Binance combined-stream trade frame of `symbol` (trade time derived from `id`). */
export function tradeFrame(
  symbol: string,
  id: number,
  price: string,
  options: TradeFrameOptions = {},
): string {
  const time = options.time ?? 1764196900000 + id % 1000;
  return JSON.stringify({
    stream: `${symbol.toLowerCase()}@trade`,
    data: {
      e: "trade",
      E: time + 1,
      s: symbol,
      t: id,
      p: price,
      q: options.quantity ?? "0.50000000",
      T: time,
      m: options.buyerMaker ?? false,
      M: true,
    },
  });
}

/** The stream a frame belongs to, or undefined when it does not parse as one. */
function streamOf(frame: string): { stream?: string; id?: number } {
  try {
    const parsed = JSON.parse(frame);
    return { stream: parsed?.stream, id: parsed?.data?.t };
  } catch {
    return {};
  }
}

/** A fake Binance combined-stream server on a free local port. */
export class FakeBinance {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #subscribers = new Set<Subscriber>();
  readonly #waiters = new Set<() => void>();
  /** Upgrade requests still to answer with 503 (a server that refuses connections). */
  refuse = 0;
  /** The path and query of every WebSocket request, in order. */
  readonly requests: string[] = [];
  /** Every text message a client sent (requests such as probes), in order. */
  readonly received: string[] = [];
  #accepted = 0;

  private constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request),
    );
  }

  /** Starts a server on 127.0.0.1 and a free port. */
  static start(): FakeBinance {
    return new FakeBinance();
  }

  /** The base URL to give a client, e.g. `ws://127.0.0.1:43123`. */
  get endpoint(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}`;
  }

  /** WebSocket connections accepted so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Connections currently open. */
  get open(): number {
    let open = 0;
    for (const { socket } of this.#subscribers) {
      if (socket.readyState === WebSocket.OPEN) open++;
    }
    return open;
  }

  /**
   * Resolves once `count` connections have been accepted in total and every
   * current one is open; rejects after `timeoutMs` (a hang, not a speed check).
   */
  async waitForAccepted(
    count: number,
    { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
  ): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (
      this.#accepted < count || this.open === 0 ||
      this.open !== this.#subscribers.size
    ) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${count} accepted connections (${this.#accepted} accepted, ${this.open} open)`,
        );
      }
      await new Promise<void>((wake) => {
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
        function done() {
          clearTimeout(timer);
          wake();
        }
      });
    }
  }

  /**
   * Sends each frame to the open sockets subscribed to its `stream`; a frame
   * without a parsable stream (garbage) goes to every open socket. Returns
   * how many frames were sent.
   */
  send(frames: readonly string[], options: FakeSendOptions = {}): number {
    const skip = new Set(options.skipIds ?? []);
    let sent = 0;
    for (const frame of frames) {
      const { stream, id } = streamOf(frame);
      if (id !== undefined && skip.has(id)) continue;
      for (const { socket, streams, silent } of this.#subscribers) {
        if (silent || socket.readyState !== WebSocket.OPEN) continue;
        if (
          !options.everyone && typeof stream === "string" &&
          !streams.has(stream)
        ) continue;
        socket.send(frame);
      }
      sent++;
    }
    return sent;
  }

  /**
   * Makes every connection open now go silent while its socket stays open:
   * it gets no more frames and its requests go unanswered (WebSocket pings
   * are still answered by the runtime). Connections opened later are served
   * as usual.
   */
  silence(): void {
    for (const subscriber of this.#subscribers) subscriber.silent = true;
  }

  /** Closes every open connection from the server side, as Binance does every 24 h. */
  drop(code = 1001, reason = "going away"): void {
    for (const { socket } of this.#subscribers) {
      if (socket.readyState === WebSocket.OPEN) socket.close(code, reason);
    }
  }

  /** Closes every connection and stops the server. */
  async close(): Promise<void> {
    this.drop();
    await this.#server.shutdown();
  }

  #handle(request: Request): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 400 });
    }
    const url = new URL(request.url);
    if (url.pathname !== "/stream") {
      return new Response(`unknown path ${url.pathname}`, { status: 404 });
    }
    this.requests.push(url.pathname + url.search);
    if (this.refuse > 0) {
      this.refuse--;
      return new Response("refused", { status: 503 });
    }
    const streams = new Set(
      (url.searchParams.get("streams") ?? "").split("/").filter((s) => s),
    );
    const { socket, response } = Deno.upgradeWebSocket(request);
    const subscriber: Subscriber = { socket, streams, silent: false };
    this.#subscribers.add(subscriber);
    socket.onopen = () => {
      this.#accepted++;
      this.#wake();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      this.received.push(event.data);
      if (!subscriber.silent) socket.send(reply(event.data, streams));
    };
    socket.onclose = () => {
      this.#subscribers.delete(subscriber);
      this.#wake();
    };
    return response;
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }
}

/** Binance's reply to a request: the subscriptions for `LIST_SUBSCRIPTIONS`, `null` for the rest, an error for what is not a request. */
function reply(text: string, streams: ReadonlySet<string>): string {
  let request: { method?: unknown; id?: unknown };
  try {
    request = JSON.parse(text);
  } catch {
    return JSON.stringify({ code: 3, msg: "Invalid JSON" });
  }
  if (typeof request?.method !== "string") {
    return JSON.stringify({ code: 2, msg: "Invalid request: missing method" });
  }
  const result = request.method === "LIST_SUBSCRIPTIONS" ? [...streams] : null;
  return JSON.stringify({ result, id: request.id ?? null });
}
