/**
 * The Chrome DevTools Protocol over Deno's WebSocket, for tests/_browser.ts:
 * numbered commands answered by id (each bounded by {@linkcode TIMEOUT_MS}),
 * events to listeners, with the session id of flattened targets.
 *
 * @module
 */

/** How long the browser may take to start, a page to load, a command to answer, ms. */
export const TIMEOUT_MS = 30_000;

/** A command's parameters or result, an event's parameters. */
export type Params = Record<string, unknown>;
/** Receives an event's parameters and the session it came from. */
export type Listener = (params: Params, sessionId: string | undefined) => void;

/** A CDP connection: numbered commands answered by id, events to listeners. */
export class Connection {
  #socket: WebSocket;
  #next = 1;
  #pending = new Map<
    number,
    { resolve: (v: Params) => void; reject: (e: Error) => void }
  >();
  #listeners = new Map<string, Set<Listener>>();
  #closed: Error | undefined;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => this.#receive(String(event.data));
    socket.onclose = () => this.#fail(new Error("DevTools connection closed"));
  }

  /** Connects to the DevTools WebSocket at `url`. */
  static open(url: string): Promise<Connection> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(new Connection(socket));
      socket.onerror = () =>
        reject(new Error(`Cannot connect to DevTools at ${url}`));
    });
  }

  /** Sends a command (to the target of `sessionId`, if given) and resolves with its result; rejects with its error. */
  send(
    method: string,
    params: Params = {},
    sessionId?: string,
  ): Promise<Params> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<Params>();
    const timer = setTimeout(
      () => reject(new Error(`${method}: no answer in ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
    this.#pending.set(id, {
      resolve: (v) => (clearTimeout(timer), resolve(v)),
      reject: (e) => (clearTimeout(timer), reject(e)),
    });
    this.#socket.send(JSON.stringify({ id, method, params, sessionId }));
    return promise;
  }

  /** Calls `listener` for every `method` event, until the returned function is called. */
  on(method: string, listener: Listener): () => void {
    const set = this.#listeners.get(method) ?? new Set();
    this.#listeners.set(method, set.add(listener));
    return () => set.delete(listener);
  }

  /** Closes the socket and waits (up to 5 s) until it is closed. */
  async close(): Promise<void> {
    this.#fail(new Error("DevTools connection closed"));
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => {
      this.#socket.addEventListener("close", () => resolve());
    });
    this.#socket.close();
    await within(closed, 5_000);
  }

  #receive(text: string): void {
    const message = JSON.parse(text);
    if (typeof message.id === "number") {
      const waiter = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.error) {
        waiter?.reject(new Error(`CDP: ${JSON.stringify(message.error)}`));
      } else waiter?.resolve(message.result ?? {});
      return;
    }
    for (const listener of this.#listeners.get(message.method) ?? []) {
      listener(message.params ?? {}, message.sessionId);
    }
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    for (const waiter of this.#pending.values()) waiter.reject(error);
    this.#pending.clear();
  }
}

/** `true` if `promise` settles (resolves or rejects) within `ms`, `false` otherwise. */
export function within(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  const settled = promise.then(() => true, () => true);
  return withTimeout(settled, "settling", ms).catch(() => false);
}

/** `promise`, or a rejection naming `what` after `ms` (the timer is always cleared). */
export async function withTimeout<T>(
  promise: Promise<T>,
  what: string,
  ms: number = TIMEOUT_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no ${what} within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
