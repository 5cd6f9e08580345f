/**
 * `deno task demo`: runs a data_manager and a trading_core together on the
 * shared-memory ring with trading_core's live web console on, prints the
 * console's URL, shows their progress until Ctrl-C (or `--duration`), then
 * stops both cleanly (publisher first, so the consumer's summary covers
 * every trade).
 *
 * Usage: deno task demo [--duration 10s] [--rate 5000] [--wait backoff]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay, whenAborted } from "../common/runtime/delay.ts";
import { parseDuration } from "../common/config/duration.ts";
import { shutdownSignal } from "../common/runtime/shutdown.ts";

const USAGE =
  `Usage: deno task demo [--duration 10s] [--rate 5000] [--wait backoff]

Starts trading_core (deno task live) with its live web console and
data_manager (deno task serve) on the shared-memory ring, prints the console's
URL (console: http://127.0.0.1:PORT/, on loopback, a free port), shows their
progress until Ctrl-C, then stops both with SIGINT.
--duration stops them after that long instead (e.g. 10s; 0 = until Ctrl-C, the
default). --rate is serve's trades/s over the three symbols (default 5000).
--wait is live's wait strategy: backoff (the default: near-zero CPU when idle,
spins only through the expected arrivals of a regular feed), spin (one core
busy, lowest latency) or yield; docs/ipc_ring.md compares them.`;

/** live's line saying where its console listens (docs/console.md). */
const CONSOLE_LINE = /console on (http:\/\/[^ ]+\/)/;

const PROJECT_ROOT = new URL("..", import.meta.url);

/** Prints each line of `stream` after `prefix`, and hands it to `onLine`. */
async function relay(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  onLine: (line: string) => void,
) {
  let pending = "";
  const print = (line: string) => {
    console.log(`${prefix} ${line}`);
    onLine(line);
  };
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) print(line);
  }
  if (pending) print(pending);
}

function start(
  task: string,
  args: string[],
  prefix: string,
  onLine: (line: string) => void = () => {},
) {
  const child = new Deno.Command("deno", {
    args: ["task", "-q", task, ...args],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    relay(child.stdout, prefix, onLine),
    relay(child.stderr, prefix, onLine),
  ]);
  return { child, output };
}

async function stop(
  running: ReturnType<typeof start>,
  name: string,
): Promise<number> {
  try {
    running.child.kill("SIGINT");
  } catch {
    // already exited
  }
  const { code } = await running.child.status;
  await running.output;
  if (code !== 0) console.error(`demo: ${name} exited with status ${code}`);
  return code;
}

/** Runs the demo; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let durationMs: number;
  let rate: string;
  let wait: string;
  try {
    const { values } = parseArgs({
      args,
      options: {
        duration: { type: "string", default: "0" },
        rate: { type: "string", default: "5000" },
        wait: { type: "string", default: "backoff" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    durationMs = parseDuration(values.duration);
    rate = values.rate;
    wait = values.wait;
  } catch (error) {
    console.error(`demo: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const shutdown = shutdownSignal();
  console.log(
    `demo: trading_core and data_manager on the shared-memory ring ${
      durationMs > 0
        ? `for ${durationMs / 1000}s (Ctrl-C stops earlier)`
        : "until Ctrl-C"
    }`,
  );
  const consumer = start(
    "live",
    ["--progress", "2s", "--wait", wait, "--console-port", "0"],
    "[live] ",
    (line) => {
      const found = CONSOLE_LINE.exec(line);
      if (found) {
        console.log(
          `\nconsole: ${
            found[1]
          }   <- open it in a browser (live's web console)\n`,
        );
      }
    },
  );
  await delay(500, shutdown.signal); // let it start waiting for the rings
  const producer = start(
    "serve",
    ["--rate", rate, "--progress", "2s"],
    "[serve]",
  );
  const exited = Promise.race([
    producer.child.status.then(() => "data_manager"),
    consumer.child.status.then(() => "trading_core"),
  ]);
  await Promise.race([
    durationMs > 0
      ? delay(durationMs, shutdown.signal)
      : whenAborted(shutdown.signal),
    exited,
  ]);
  shutdown.dispose();
  const serveStatus = await stop(producer, "data_manager");
  await delay(200); // the consumer drains the rings
  const liveStatus = await stop(consumer, "trading_core");
  const ok = serveStatus === 0 && liveStatus === 0;
  console.log(ok ? "demo: done" : "demo: failed");
  return ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
