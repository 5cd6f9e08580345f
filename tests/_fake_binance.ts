/**
 * A local stand-in for Binance's combined-stream WebSocket endpoint, for
 * tests: serves `/stream?streams=a@trade/b@trade` on 127.0.0.1 (port 0) and
 * sends each socket the frames of the streams it subscribed to. Tests can
 * drop every connection, send garbage and skip trade ids.
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

  /** Resolves once `count` connections have been accepted in total and every current one is open. */
  async waitForAccepted(count: number): Promise<void> {
    while (
      this.#accepted < count || this.open === 0 ||
      this.open !== this.#subscribers.size
    ) {
      await new Promise<void>((wake) => this.#waiters.add(wake));
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
      for (const { socket, streams } of this.#subscribers) {
        if (socket.readyState !== WebSocket.OPEN) continue;
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
    const subscriber = { socket, streams };
    this.#subscribers.add(subscriber);
    socket.onopen = () => {
      this.#accepted++;
      this.#wake();
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
