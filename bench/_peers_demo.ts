/**
 * The demo part of bench/peers.ts (issue 16, goal 6): `deno task demo`'s
 * shape, measured with the real entrypoints. config/development.toml (the
 * demo's config, its ring prefix replaced by one of this run's), a `live`
 * started first and waiting for the rings, then `serve --rate 5000` (the
 * demo's default rate, synthetic source, 3 symbols) for a fixed number of
 * trades; live is stopped (SIGINT) 200 ms after serve's exit, as the demo
 * stops it, and prints its summary. Per round:
 * live's p50 latency (ts_recv → callback) and its CPU, utime + stime from
 * /proc/PID/stat over a window from 1 s after serve started to serve's exit,
 * as a share of one core.
 *
 * Ours is the default wait strategy (what the config says, `backoff`); the
 * "peer" column is the same run with `live --wait spin`, what spinning buys
 * and costs. Goals: p50 ≤ 30 µs and CPU ≤ 25 % of a core, on ours.
 *
 * @module
 */

import { delay } from "../common/runtime/delay.ts";
import { formatRate } from "../common/runtime/format.ts";
import {
  CLOCK_TICKS,
  cpuTicks,
  lastJson,
  type RoleProcess,
  startRole,
} from "./_process.ts";
import { formatNs, interleave, roundsAndLoad, track } from "./_peers_shared.ts";
import type { PeerRow, PeersRun } from "./peers.ts";

/** `deno task demo`'s default rate, trades/s. */
const RATE = 5_000;
/** CPU is measured from this long after serve started (live has warmed up). */
const WARM_UP_MS = 1_000;
/** The demo's config, whose ring prefix the run replaces. */
const DEMO_CONFIG = decodeURIComponent(
  new URL("../config/development.toml", import.meta.url).pathname,
);

/** One round of one side: live's latency and CPU share. */
interface DemoRound {
  p50: number;
  p99: number;
  cpuPercent: number;
  received: number;
  lost: number;
  /** Trades serve published. */
  trades: number;
}

/** The demo's config with shm_path_prefix set to `prefix`, written to a new temp dir; returns its path. */
async function writeConfig(run: PeersRun, prefix: string): Promise<string> {
  const text = await Deno.readTextFile(DEMO_CONFIG);
  const pattern = /^shm_path_prefix\s*=.*$/gm;
  if ((text.match(pattern) ?? []).length !== 2) {
    throw new Error(
      `${DEMO_CONFIG}: expected 2 shm_path_prefix lines (transport.ipc, data_source.ipc) to replace`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "marketbus_peers_demo_" });
  run.tempDirs.push(dir);
  run.shmPrefixes.push(prefix);
  const config = `${dir}/demo.toml`;
  await Deno.writeTextFile(
    config,
    text.replace(pattern, `shm_path_prefix = "${prefix}"`),
  );
  return config;
}

/** Starts a role whose child Ctrl-C kills. */
function role(
  run: PeersRun,
  main: "data_manager/main.ts" | "trading_core/main.ts",
  args: string[],
): RoleProcess & { forget: () => void } {
  const started = startRole(main, args);
  return { ...started, forget: track(run, started.child) };
}

/** One round: live (with `liveArgs`) waiting, serve at {@linkcode RATE} for `trades`. */
async function demoRound(
  run: PeersRun,
  config: string,
  trades: number,
  liveArgs: string[],
): Promise<DemoRound> {
  const common = ["--config", config, "--progress", "2s"];
  const live = role(run, "trading_core/main.ts", [
    ...common,
    "--summary-json",
    ...liveArgs,
  ]);
  try {
    await live.until("waiting for ring");
    const serve = role(run, "data_manager/main.ts", [
      ...common,
      "--rate",
      String(RATE),
      "--max-trades",
      String(trades),
    ]);
    let window: { ticks: number; at: number } | Error | undefined;
    const timer = setTimeout(() => {
      try {
        window = { ticks: cpuTicks(live.child.pid), at: performance.now() };
      } catch (error) {
        window = error as Error;
      }
    }, WARM_UP_MS);
    const serveOutput = await serve.done;
    clearTimeout(timer);
    serve.forget();
    if (!(await serve.child.status).success) {
      throw new Error(`serve failed:\n${serveOutput}`);
    }
    const ticks = cpuTicks(live.child.pid);
    const at = performance.now();
    if (window instanceof Error) throw window;
    if (!window) throw new Error(`serve ran less than ${WARM_UP_MS} ms`);
    await delay(200); // live drains the rings, as `deno task demo` lets it
    live.child.kill("SIGINT");
    const summary = lastJson<{
      received: number;
      lost: number;
      latencyNs: { p50: number; p99: number };
    }>(await live.done);
    return {
      p50: summary.latencyNs.p50,
      p99: summary.latencyNs.p99,
      cpuPercent: ((ticks - window.ticks) / CLOCK_TICKS * 1e5) /
        (at - window.at),
      received: summary.received,
      lost: summary.lost,
      trades,
    };
  } finally {
    try {
      live.child.kill("SIGINT");
    } catch {
      // already stopped
    }
    await live.child.status;
    live.forget();
  }
}

/** "p50 …, p99 …, CPU …%". */
function describe(r: DemoRound): string {
  return `p50 ${formatNs(r.p50)}, p99 ${formatNs(r.p99)}, CPU ${
    r.cpuPercent.toFixed(1)
  }%${r.lost ? ` (lost ${r.lost})` : ""}${
    r.received < r.trades ? ` (received ${r.received} of ${r.trades})` : ""
  }`;
}

/** The demo rows: live's p50 and CPU, default wait vs `--wait spin`. */
export async function demoRows(run: PeersRun): Promise<PeerRow[]> {
  const seconds = run.quick ? 3 : 10;
  const trades = RATE * seconds;
  const config = await writeConfig(run, `/mbpeersdemo${Deno.pid}_`);
  const what = `\`deno task demo\` shape: serve synthetic ${
    formatRate(RATE)
  }, 3 symbols → live default wait, ${seconds} s/round`;
  const peer = "same, `live --wait spin`";
  const p50: PeerRow = {
    scenario: `${what}: live p50`,
    unit: "ns",
    ours: [],
    peer,
    theirs: [],
    lowerIsBetter: true,
    limit: 30_000,
    format: formatNs,
  };
  const cpu: PeerRow = {
    scenario: `${what}: live CPU (1 s after start to serve's exit)`,
    unit: "% of a core",
    ours: [],
    peer,
    theirs: [],
    lowerIsBetter: true,
    limit: 25,
    format: (v) => `${v.toFixed(1)}%`,
  };
  console.log(`\ndemo: ${what} vs --wait spin; ${roundsAndLoad(run)}`);
  for (let i = 0; i < run.rounds; i++) {
    const shown = await interleave(i, [
      async () => {
        const r = await demoRound(run, config, trades, []);
        p50.ours.push(r.p50);
        cpu.ours.push(r.cpuPercent);
        return `default ${describe(r)}`;
      },
      async () => {
        const r = await demoRound(run, config, trades, ["--wait", "spin"]);
        p50.theirs!.push(r.p50);
        cpu.theirs!.push(r.cpuPercent);
        return `spin ${describe(r)}`;
      },
    ]);
    console.log(`  round ${i + 1}, demo: ${shown.join("; ")}`);
  }
  return [p50, cpu];
}
