/**
 * What the live console's browsers cost `live` (issue 19's goal: 20 open
 * pages under 5% of a core). One `serve` publishes synthetic trades at a
 * steady rate into the rings of `--symbols` symbols; one
 * `live --console-port 0 --metrics-port N` reads them. In interleaved
 * windows of `--seconds`, with: no client; `--clients` SSE clients reading
 * `/events` (a separate process, bench/_sse_clients.ts, so their CPU is not
 * live's), each charting another stream; one stalled client that connects and never reads. Per window:
 * live's CPU (utime + stime from /proc/PID/stat), the trades it received
 * per second and its end-to-end latency p99 over the window (from the
 * deltas of two `/metrics` scrapes, interpolated in the histogram's bucket
 * like Prometheus' histogram_quantile). Prints each window, then medians,
 * and the cost of the clients in % of a core (median of the per-round
 * differences against that round's no-client window).
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-ffi --allow-sys=loadavg --allow-net=127.0.0.1,localhost \
 *     bench/console_clients.ts [--seconds 10] [--rounds 5] [--rate 5000] [--symbols 30] [--clients 20]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay } from "../common/runtime/delay.ts";
import { fetchSamples, number } from "../tests/_prom_text.ts";
import {
  CLOCK_TICKS,
  cpuTicks,
  median,
  type RoleProcess,
  spread,
  startRole,
} from "./_process.ts";

const CLIENTS_SCRIPT = new URL("./_sse_clients.ts", import.meta.url).pathname;
/** After the clients are connected, before the window opens, ms. */
const SETTLE_MS = 1000;

/** A window's variant. */
type Variant = "none" | "clients" | "stalled";

/** What one window measured. */
interface Window {
  variant: Variant;
  /** live's CPU, share of one core. */
  cpu: number;
  /** Trades live received per second. */
  rate: number;
  /** End-to-end latency p99 over the window, seconds. */
  p99: number;
  /** What the client process reported. */
  clients: string;
}

/** The sums bench needs from live's `/metrics`. */
interface Scrape {
  received: number;
  /** Cumulative latency bucket counts by upper bound (seconds), summed over streams. */
  buckets: Map<number, number>;
}

/** Scrapes live's `/metrics`: received trades and latency buckets, summed over streams. */
async function scrape(port: number): Promise<Scrape> {
  let received = 0;
  const buckets = new Map<number, number>();
  for (const { name, labels, value } of await fetchSamples(port)) {
    if (name === "marketbus_trades_received_total") received += value;
    if (name === "marketbus_end_to_end_latency_seconds_bucket") {
      const bound = number(labels.le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    }
  }
  return { received, buckets };
}

/** The `q` quantile of the observations between two scrapes (linear within the bucket). */
function quantile(q: number, before: Scrape, after: Scrape): number {
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) =>
    after.buckets.get(b)! - (before.buckets.get(b) ?? 0)
  );
  const total = counts.at(-1) ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] < rank) continue;
    const lower = i === 0 ? 0 : bounds[i - 1];
    if (bounds[i] === Infinity) return lower;
    const below = i === 0 ? 0 : counts[i - 1];
    return lower +
      (bounds[i] - lower) * (rank - below) / Math.max(1, counts[i] - below);
  }
  return NaN;
}

/** The client process of a window, and the rest of its output. */
interface Clients {
  child: Deno.ChildProcess;
  /** Its stdout after `ready`, to its end. */
  rest: Promise<string>;
}

/** Starts the client process for `variant`; resolves once it said `ready`. */
async function startClients(
  variant: Variant,
  url: string,
  options: { clients: number; charts: string[] },
): Promise<Clients | undefined> {
  if (variant === "none") return undefined;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      CLIENTS_SCRIPT,
      "--url",
      url,
      "--clients",
      variant === "stalled" ? "1" : String(options.clients),
      ...variant === "stalled"
        ? ["--stall"]
        : ["--charts", options.charts.join(",")],
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the clients exited before ready: ${seen}`);
    seen += value;
  }
  const rest = (async () => {
    let text = seen.slice(seen.indexOf("ready\n") + 6);
    while (true) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += value;
    }
  })();
  return { child, rest };
}

/** Closes the clients' stdin: they report and exit (killed after 10 s); returns their report line. */
async function stopClients(clients: Clients | undefined): Promise<string> {
  if (clients === undefined) return "";
  await clients.child.stdin.close();
  const timer = setTimeout(() => clients.child.kill("SIGKILL"), 10_000);
  const [text, status] = await Promise.all([
    clients.rest,
    clients.child.status,
  ]);
  clearTimeout(timer);
  return status.success ? text.trim() : `clients exited ${status.code}`;
}

/** One window of `variant` on the running live. */
async function measure(
  variant: Variant,
  live: { pid: number; url: string; metricsPort: number },
  options: { seconds: number; clients: number; charts: string[] },
): Promise<Window> {
  const child = await startClients(variant, live.url, options);
  try {
    await delay(SETTLE_MS);
    const before = await scrape(live.metricsPort);
    const ticks = cpuTicks(live.pid);
    const t0 = performance.now();
    await delay(options.seconds * 1000);
    const after = await scrape(live.metricsPort);
    const cpu = (cpuTicks(live.pid) - ticks) / CLOCK_TICKS /
      ((performance.now() - t0) / 1000);
    return {
      variant,
      cpu,
      rate: (after.received - before.received) / options.seconds,
      p99: quantile(0.99, before, after),
      clients: await stopClients(child),
    };
  } catch (error) {
    child?.child.kill("SIGKILL");
    throw error;
  }
}

/** The bench's symbols. */
function symbolsOf(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `SYM${i}USDT`);
}

/** Writes the config of both roles: `symbols` synthetic symbols on the ring, no progress lines. */
async function writeConfig(dir: string, symbols: number): Promise<string> {
  const prefix = `/mbcc${Deno.pid}_`;
  const list = JSON.stringify(symbolsOf(symbols));
  const path = `${dir}/console_clients.toml`;
  await Deno.writeTextFile(
    path,
    `[data_manager]
symbols = ${list}
[transport.ipc]
shm_path_prefix = "${prefix}"
[data_source]
symbols = ${list}
[data_source.ipc]
shm_path_prefix = "${prefix}"
[log]
progress_interval = "0"
`,
  );
  return path;
}

/** A free loopback port (listened on, then closed). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Stops a role with SIGINT (SIGKILL after 10 s) and waits for it. */
async function stop(role: RoleProcess | undefined): Promise<void> {
  if (role === undefined) return;
  try {
    role.child.kill("SIGINT");
  } catch {
    // exited
  }
  const timer = setTimeout(() => role.child.kill("SIGKILL"), 10_000);
  await role.child.status;
  clearTimeout(timer);
  await role.done.catch(() => {});
}

const percent = (share: number) => `${(share * 100).toFixed(2)} %`;
const micros = (seconds: number) => `${(seconds * 1e6).toFixed(0)} µs`;
const rate = (perSecond: number) => `${perSecond.toFixed(0)}/s`;

/** The markdown table of the windows, and the clients' cost. */
function report(windows: Window[], clients: number): void {
  const of = (variant: Variant) => windows.filter((w) => w.variant === variant);
  console.log(
    `\n| variant | live CPU | trades received | latency p99 |\n|---|---|---|---|`,
  );
  const names: Record<Variant, string> = {
    none: "no client",
    clients: `${clients} SSE clients`,
    stalled: "1 stalled client",
  };
  for (const variant of ["none", "clients", "stalled"] as const) {
    const list = of(variant);
    console.log(
      `| ${names[variant]} | ${spread(list.map((w) => w.cpu), percent)} | ${
        spread(list.map((w) => w.rate), rate)
      } | ${spread(list.map((w) => w.p99), micros)} |`,
    );
  }
  const base = of("none");
  const cost = of("clients").map((w, i) => w.cpu - base[i].cpu);
  const stalledCost = of("stalled").map((w, i) => w.cpu - base[i].cpu);
  console.log(
    `\n${clients} clients cost live ${
      spread(cost, percent)
    } of a core (median (min – max) of the per-round differences; goal < 5 %)`,
  );
  console.log(
    `a stalled client: ${spread(stalledCost, percent)} of a core; received ${
      rate(median(of("stalled").map((w) => w.rate)))
    } vs ${rate(median(base.map((w) => w.rate)))}, p99 ${
      micros(median(of("stalled").map((w) => w.p99)))
    } vs ${micros(median(base.map((w) => w.p99)))}`,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "10" },
      rounds: { type: "string", default: "5" },
      rate: { type: "string", default: "5000" },
      symbols: { type: "string", default: "30" },
      clients: { type: "string", default: "20" },
    },
  });
  const [seconds, rounds, tradeRate, symbols, clients] = [
    values.seconds,
    values.rounds,
    values.rate,
    values.symbols,
    values.clients,
  ].map(Number);
  if (
    !(seconds > 0) || ![rounds, symbols, clients].every((n) =>
      Number.isInteger(n) && n > 0
    ) || !(tradeRate > 0)
  ) {
    console.error(
      "usage: console_clients.ts [--seconds 10] [--rounds 5] [--rate 5000] [--symbols 30] [--clients 20] (all > 0)",
    );
    Deno.exit(2);
  }
  const dir = await Deno.makeTempDir({ prefix: "marketbus_console_clients_" });
  let live: RoleProcess | undefined;
  let serve: RoleProcess | undefined;
  try {
    const config = await writeConfig(dir, symbols);
    const metricsPort = freePort();
    live = startRole("trading_core/main.ts", [
      "--config",
      config,
      "--console-port",
      "0",
      "--metrics-port",
      String(metricsPort),
    ]);
    await live.until("console on ");
    await live.until("waiting for ring");
    const url = /console on (http:\/\/[^ ]+\/)/.exec(live.seen())?.[1];
    if (url === undefined) throw new Error(`no console line:\n${live.seen()}`);
    serve = startRole("data_manager/main.ts", [
      "--config",
      config,
      "--rate",
      String(tradeRate),
    ]);
    await delay(2000);
    console.log(
      `live console clients: serve --rate ${tradeRate} over ${symbols} symbols (ring) → live; ${rounds} interleaved rounds of ${seconds} s windows; load average ${
        Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
      }`,
    );
    const windows: Window[] = [];
    const target = { pid: live.child.pid, url, metricsPort };
    // Each page charts its own stream, as 20 people watching would.
    const charts = symbolsOf(symbols).map((s) => `binance/${s}`);
    const order: Variant[] = ["none", "clients", "stalled"];
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no variant always follows another.
      for (let k = 0; k < order.length; k++) {
        const variant = order[(r + k) % order.length];
        const w = await measure(variant, target, { seconds, clients, charts });
        windows.push(w);
        console.log(
          `  round ${r + 1} ${variant}: live CPU ${percent(w.cpu)} received ${
            rate(w.rate)
          } p99 ${micros(w.p99)} ${w.clients}`,
        );
      }
    }
    report(windows, clients);
    console.log(
      `(load average now ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")})`,
    );
  } finally {
    await stop(live); // first: no "producer closed" lines
    await stop(serve);
    await Deno.remove(dir, { recursive: true });
  }
}
