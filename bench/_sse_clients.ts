/**
 * The browsers of bench/console_clients.ts, in a process of their own (its
 * CPU is not live's): `--clients N` connections to the console's `/events`,
 * each read as a browser's EventSource would (every byte, events counted),
 * client i charting stream i of `--charts exchange/SYMBOL,…` (in turn; the
 * default chart when none is given),
 * or with `--stall` connections that send the request and never read a
 * byte (a stalled browser tab). Prints `ready` once every reading client
 * has its first event (stalled ones: once connected and the request is
 * sent), then, when stdin closes, one JSON line: events and bytes read per
 * client, and for stalled clients whether live had ended their stream
 * (docs/console.md: past 1 MiB unsent; after what the socket held).
 *
 *   deno run --allow-net=127.0.0.1 bench/_sse_clients.ts --url http://127.0.0.1:PORT/ --clients 20 [--charts binance/BTCUSDT,…] [--stall]
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What one reading client got. */
interface Reading {
  events: number;
  bytes: number;
}

/**
 * Reads `/events` like an EventSource into `result` (events and bytes so
 * far), calling `first` at the first event; runs until live ends the stream
 * or the process exits.
 */
async function reader(
  url: URL,
  result: Reading,
  first: () => void,
): Promise<void> {
  const response = await fetch(url);
  if (!response.ok || !response.body) {
    throw new Error(`GET /events: ${response.status}`);
  }
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of response.body) {
    result.bytes += chunk.byteLength;
    pending += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      if (/^event:|\ndata:|^data:/m.test(pending.slice(0, end))) {
        if (result.events++ === 0) first();
      }
      pending = pending.slice(end + 2);
    }
  }
}

/** A client that sends the request and never reads; returns its connection. */
async function stalled(url: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(
    new TextEncoder().encode(
      `GET /events HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n\r\n`,
    ),
  );
  return conn;
}

/**
 * After the run: reads what the stalled socket holds, for up to 2 s; `true`
 * when live had ended its stream (the chunked body's last chunk, or EOF).
 */
async function wasEnded(conn: Deno.TcpConn): Promise<boolean> {
  const buffer = new Uint8Array(1 << 16);
  const deadline = Date.now() + 2000;
  let tail = "";
  try {
    while (Date.now() < deadline) {
      const timer = new Promise<"slow">((resolve) =>
        setTimeout(() => resolve("slow"), Math.max(1, deadline - Date.now()))
      );
      const n = await Promise.race([conn.read(buffer), timer]);
      if (n === null) return true;
      if (n === "slow") break;
      tail = (tail + new TextDecoder().decode(buffer.subarray(0, n))).slice(
        -16,
      );
      if (tail.endsWith("\r\n0\r\n\r\n")) return true;
    }
    return false;
  } catch {
    return true; // reset by live
  } finally {
    conn.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      clients: { type: "string", default: "20" },
      stall: { type: "boolean", default: false },
      charts: { type: "string", default: "" },
    },
  });
  const count = Number(values.clients);
  if (!values.url || !(Number.isInteger(count) && count > 0)) {
    console.error(
      "usage: _sse_clients.ts --url http://127.0.0.1:PORT/ --clients N [--stall]",
    );
    Deno.exit(2);
  }
  const stdinClosed = (async () => {
    for await (const _ of Deno.stdin.readable) { /* until EOF */ }
  })();
  if (values.stall) {
    const conns = await Promise.all(
      Array.from({ length: count }, () => stalled(values.url!)),
    );
    console.log("ready");
    await stdinClosed;
    const ended = await Promise.all(conns.map(wasEnded));
    console.log(JSON.stringify({ stalled: count, ended }));
  } else {
    let waiting = count;
    const { promise: allFirst, resolve } = Promise.withResolvers<void>();
    const charts = values.charts.split(",").filter((c) => c !== "");
    const urlOf = (i: number) => {
      const url = new URL("events", values.url);
      if (charts.length === 0) return url;
      const [exchange, symbol] = charts[i % charts.length].split("/");
      url.searchParams.set("exchange", exchange);
      url.searchParams.set("symbol", symbol);
      return url;
    };
    const results: Reading[] = Array.from(
      { length: count },
      () => ({ events: 0, bytes: 0 }),
    );
    // A reader that fails (live refused or ended a stream) fails the run.
    const readings = results.map((result, i) =>
      reader(urlOf(i), result, () => --waiting || resolve())
    );
    await Promise.race([allFirst, Promise.all(readings)]);
    console.log("ready");
    await Promise.race([stdinClosed, Promise.all(readings)]);
    console.log(JSON.stringify({
      clients: count,
      events: results.map((r) => r.events),
      bytes: results.map((r) => r.bytes),
    }));
    // Aborting a fetch mid-body did not always end its read here: just go.
    Deno.exit(0);
  }
}
