/**
 * A NATS server that connects clients and answers their pings, but never
 * answers a request: what `live --snapshot` meets when the server drops its
 * direct get (no permission, a server stopped mid-way). It records the
 * subjects clients publish to.
 *
 * @module
 */

/** A running silent server. */
export interface SilentNats extends AsyncDisposable {
  /** `nats://127.0.0.1:PORT`. */
  url: string;
  /** The subjects published to (`PUB`/`HPUB`), in order. */
  published: string[];
}

const INFO = {
  server_id: "SILENT",
  server_name: "silent",
  version: "2.14.9",
  proto: 1,
  headers: true,
  max_payload: 1_048_576,
  jetstream: true,
};

/** Starts a silent server on a random loopback port. */
export function silentNats(): SilentNats {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const published: string[] = [];
  const conns = new Set<Deno.Conn>();
  const encoder = new TextEncoder();
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    try {
      await conn.write(encoder.encode(`INFO ${JSON.stringify(INFO)}\r\n`));
      const decoder = new TextDecoder();
      let pending = "";
      const buffer = new Uint8Array(65536);
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) return;
        pending += decoder.decode(buffer.subarray(0, n));
        const lines = pending.split("\r\n");
        pending = lines.pop()!;
        for (const line of lines) {
          if (line.startsWith("PING")) {
            await conn.write(encoder.encode("PONG\r\n"));
          } else if (line.startsWith("PUB ") || line.startsWith("HPUB ")) {
            published.push(line.split(" ")[1]);
          }
        }
      }
    } catch {
      // closed
    } finally {
      conns.delete(conn);
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) serve(conn);
    } catch {
      // listener closed
    }
  })();
  return {
    url: `nats://127.0.0.1:${port}`,
    published,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
    },
  };
}
