/**
 * The full path through `serve` and `live` (synthetic source, seq and clock
 * stamping, ring, validation, per-trade stats and latency), measured with the
 * real entrypoints: a spinning `live --summary-json` waits for the rings, then
 * `serve --rate 0 --max-trades N` publishes as fast as it can.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env bench/full_path.ts [--quick]
 *
 * Prints, per round and as medians: serve's publish rate, live's delivery
 * rate (first to last trade) and losses. Compare with ring.ts's
 * producer → busy consumer figure (the bare ring).
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname;
const PERMISSIONS = ["--allow-read", "--allow-env", "--allow-ffi"];

interface Round {
  serveRate: number;
  liveRate: number;
  received: number;
  lost: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function round(config: string, trades: number): Promise<Round> {
  const run = (main: string, args: string[], stderr: "piped" | "inherit") =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, main, "--config", config, ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr,
    });
  const live = run("trading_core/main.ts", [
    "--max-trades",
    String(trades),
    "--summary-json",
    "--wait",
    "spin",
  ], "inherit").spawn();
  const output = watch(live.stdout);
  await output.until("waiting for ring");
  const serve = await run("data_manager/main.ts", [
    "--max-trades",
    String(trades),
    "--rate",
    "0",
  ], "piped").output();
  const serveText = new TextDecoder().decode(serve.stdout);
  const stopped = serveText.match(/stopped after .*?\(([\d.]+)(M|k)\/s\)/);
  if (!serve.success || !stopped) {
    throw new Error(`serve failed:\n${serveText}${decode(serve.stderr)}`);
  }
  const serveRate = Number(stopped[1]) * (stopped[2] === "M" ? 1e6 : 1e3);
  const timer = setTimeout(() => live.kill("SIGINT"), 10_000); // lost trades: stop waiting
  const text = await output.done;
  await live.status;
  clearTimeout(timer);
  const line = text.trim().split("\n").at(-1)!;
  const summary = JSON.parse(line);
  return {
    serveRate,
    liveRate: summary.ratePerSecond,
    received: summary.received,
    lost: summary.lost,
  };
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Collects a child's output; `until(text)` resolves once it has appeared. */
function watch(stream: ReadableStream<Uint8Array>) {
  let seen = "";
  const waiting: { text: string; resolve: () => void }[] = [];
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      seen += chunk;
      for (const waiter of waiting.splice(0)) {
        if (seen.includes(waiter.text)) waiter.resolve();
        else waiting.push(waiter);
      }
    }
    return seen;
  })();
  return {
    done,
    until(text: string): Promise<void> {
      if (seen.includes(text)) return Promise.resolve();
      return new Promise((resolve) => waiting.push({ text, resolve }));
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean" } },
  });
  const trades = values.quick ? 1_000_000 : 5_000_000;
  const rounds = values.quick ? 3 : 5;
  const dir = await Deno.makeTempDir({ prefix: "marketbus_full_path_" });
  const prefix = `/mbfull${Deno.pid}_`;
  const config = `${dir}/full_path.toml`;
  await Deno.writeTextFile(
    config,
    `[data_manager]
symbols = ["BTCUSDT"]
[transport.ipc]
shm_path_prefix = "${prefix}"
capacity = ${1 << 23}
[data_source]
symbols = ["BTCUSDT"]
[data_source.ipc]
shm_path_prefix = "${prefix}"
[log]
progress_interval = "0"
`,
  );
  console.log(
    `full path: serve --rate 0 → live --wait spin, 1 symbol, ${
      trades.toLocaleString("en-US")
    } trades, ring of ${
      (1 << 23).toLocaleString("en-US")
    } slots, ${rounds} rounds`,
  );
  const results: Round[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const result = await round(config, trades);
      results.push(result);
      console.log(
        `  round ${i + 1}: serve ${
          (result.serveRate / 1e6).toFixed(2)
        } M/s, live ${(result.liveRate / 1e6).toFixed(2)} M/s, path ${
          (Math.min(result.serveRate, result.liveRate) / 1e6).toFixed(2)
        } M/s, received ${result.received}, lost ${result.lost}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const live = results.map((r) => r.liveRate / 1e6);
  const serve = results.map((r) => r.serveRate / 1e6);
  const path = results.map((r) => Math.min(r.serveRate, r.liveRate) / 1e6);
  console.log(
    `median: serve ${median(serve).toFixed(2)} M/s (min ${
      Math.min(...serve).toFixed(2)
    }, max ${Math.max(...serve).toFixed(2)}), live ${
      median(live).toFixed(2)
    } M/s (min ${Math.min(...live).toFixed(2)}, max ${
      Math.max(...live).toFixed(2)
    }), path ${median(path).toFixed(2)} M/s (min ${
      Math.min(...path).toFixed(2)
    }, max ${Math.max(...path).toFixed(2)}), lost ${
      results.reduce((t, r) => t + r.lost, 0)
    }`,
  );
}
