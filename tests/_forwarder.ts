// A TCP forwarder between a role and nats-server (registry tests): started
// late, it restores a NATS path that was down; with `latencyMs`, each chunk
// waits that long on its way (a slow link: few acks per second); frozen, it
// holds every chunk both ways without resetting anything (a partition) until
// thawed.

import { delay } from "../common/runtime/delay.ts";

/** A running forwarder. */
export interface Forwarder extends AsyncDisposable {
  /** Holds every chunk, both ways, until {@linkcode thaw} (connections stay open). */
  freeze(): void;
  /** Lets the held chunks and the next ones through. */
  thaw(): void;
}

/** Forwards loopback `port` to `target` until disposed, each chunk delayed by `latencyMs`. */
export function startForwarder(
  port: number,
  target: number,
  options: { latencyMs?: number } = {},
): Forwarder {
  const { latencyMs = 0 } = options;
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const pipes: Promise<unknown>[] = [];
  let frozen: PromiseWithResolvers<void> | undefined;
  const slow = () =>
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        if (latencyMs > 0) await delay(latencyMs);
        if (frozen !== undefined) await frozen.promise;
        controller.enqueue(chunk);
      },
    });
  const accepting = (async () => {
    for await (const client of listener) {
      const upstream = await Deno.connect({
        hostname: "127.0.0.1",
        port: target,
      });
      conns.add(client).add(upstream);
      const pipe = (from: Deno.Conn, to: Deno.Conn) =>
        from.readable.pipeThrough(slow()).pipeTo(to.writable).catch(() => {});
      pipes.push(pipe(client, upstream), pipe(upstream, client));
    }
  })().catch(() => {});
  return {
    freeze() {
      frozen ??= Promise.withResolvers();
    },
    thaw() {
      frozen?.resolve();
      frozen = undefined;
    },
    async [Symbol.asyncDispose]() {
      frozen?.resolve();
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed by its pipe already
        }
      }
      await accepting;
      await Promise.allSettled(pipes);
    },
  };
}
