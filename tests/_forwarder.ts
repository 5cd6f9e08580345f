// A TCP forwarder between a role and nats-server (registry tests): started
// late, it restores a NATS path that was down; with `latencyMs`, each chunk
// waits that long on its way (a slow link: few acks per second).

import { delay } from "../common/runtime/delay.ts";

/** Forwards loopback `port` to `target` until disposed, each chunk delayed by `latencyMs`. */
export function startForwarder(
  port: number,
  target: number,
  options: { latencyMs?: number } = {},
): AsyncDisposable {
  const { latencyMs = 0 } = options;
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const pipes: Promise<unknown>[] = [];
  const slow = () =>
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        await delay(latencyMs);
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
        (latencyMs > 0 ? from.readable.pipeThrough(slow()) : from.readable)
          .pipeTo(to.writable).catch(() => {});
      pipes.push(pipe(client, upstream), pipe(upstream, client));
    }
  })().catch(() => {});
  return {
    async [Symbol.asyncDispose]() {
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
