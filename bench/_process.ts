/**
 * What the bench scripts that run `serve` and `live` as processes share:
 * spawning a role, watching its output, and medians.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
/** The permissions the role tasks grant, plus reading a temp config and writing temp files. */
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-net=127.0.0.1,localhost",
];

/** Kernel clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS = 100;

/**
 * utime + stime of process `pid`, in clock ticks (every thread). Deno needs
 * `--allow-all` to read /proc/PID itself, so `cat` reads it.
 */
export function cpuTicks(pid: number): number {
  const output = new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const stat = new TextDecoder().decode(output.stdout);
  if (!output.success || !stat.includes(")")) {
    throw new Error(`cannot read /proc/${pid}/stat: exit ${output.code}`);
  }
  // After "(comm)": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Median of `values` (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** `"median (min – max)"` of `values`, each formatted by `format`. */
export function spread(
  values: readonly number[],
  format: (value: number) => string,
): string {
  return `${format(median(values))} (${format(Math.min(...values))} – ${
    format(Math.max(...values))
  })`;
}

/** A role process whose stdout is collected as it arrives. */
export interface RoleProcess {
  /** The process. */
  child: Deno.ChildProcess;
  /** Resolves once `text` has appeared on stdout; rejects if stdout closes first. */
  until(text: string): Promise<void>;
  /** Everything written to stdout, once it closed. */
  done: Promise<string>;
  /** Everything written to stdout so far. */
  seen(): string;
}

/**
 * Starts `data_manager/main.ts` or `trading_core/main.ts` of this checkout
 * (or of the checkout at `root`) with the tasks' permissions; stderr goes
 * to ours.
 */
export function startRole(
  main: "data_manager/main.ts" | "trading_core/main.ts",
  args: string[],
  root: string = ROOT,
): RoleProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, main, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let seen = "";
  const waiting: {
    text: string;
    resolve: () => void;
    reject: (error: Error) => void;
  }[] = [];
  const done = (async () => {
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      seen += chunk;
      for (const waiter of waiting.splice(0)) {
        if (seen.includes(waiter.text)) waiter.resolve();
        else waiting.push(waiter);
      }
    }
    for (const waiter of waiting.splice(0)) {
      waiter.reject(
        new Error(`${main} exited before printing "${waiter.text}":\n${seen}`),
      );
    }
    return seen;
  })();
  return {
    child,
    done,
    seen: () => seen,
    until(text: string): Promise<void> {
      if (seen.includes(text)) return Promise.resolve();
      return new Promise((resolve, reject) =>
        waiting.push({ text, resolve, reject })
      );
    },
  };
}

/** The last line of `output` parsed as JSON (`live --summary-json`). */
export function lastJson<T>(output: string): T {
  return JSON.parse(output.trim().split("\n").at(-1)!) as T;
}

/** serve's own rate from its final line, trades/s. */
export function serveRate(output: string): number {
  const match = output.match(/stopped after .*?\(([\d.]+)(M|k)?\/s\)/);
  if (!match) throw new Error(`no final line from serve:\n${output}`);
  const scale = match[2] === "M" ? 1e6 : match[2] === "k" ? 1e3 : 1;
  return Number(match[1]) * scale;
}

/** One round of `serve` → spinning ring `live`: both rates and what live got. */
export interface RingRound {
  /** serve's own rate (flush included), trades/s. */
  serveRate: number;
  /** live's rate from its first to its last trade, trades/s. */
  liveRate: number;
  /** Trades live received. */
  received: number;
  /** Trades live lost. */
  lost: number;
  /** From starting serve to live's exit (every trade delivered, files flushed), ms. */
  wallMs: number;
}

/**
 * Starts a spinning `live --max-trades trades` on the ring of `config`, waits
 * (plus `options.live`) until it waits for the rings, then runs
 * `serve --max-trades trades` with `options.serve` and returns both sides'
 * figures. Both roles come from this checkout, or from `options.root` (a
 * baseline to compare with).
 */
export async function ringRound(
  config: string,
  trades: number,
  options: { serve?: string[]; live?: string[]; root?: string } = {},
): Promise<RingRound> {
  const live = startRole("trading_core/main.ts", [
    "--config",
    config,
    "--max-trades",
    String(trades),
    "--summary-json",
    "--wait",
    "spin",
    ...options.live ?? [],
  ], options.root);
  await live.until("waiting for ring");
  const started = performance.now();
  const serve = startRole("data_manager/main.ts", [
    "--config",
    config,
    "--max-trades",
    String(trades),
    ...options.serve ?? [],
  ], options.root);
  const serveOutput = await serve.done;
  if (!(await serve.child.status).success) {
    live.child.kill("SIGINT");
    await live.child.status;
    throw new Error(`serve failed:\n${serveOutput}`);
  }
  const timer = setTimeout(() => live.child.kill("SIGINT"), 10_000); // lost trades: stop waiting
  const summary = lastJson<
    { ratePerSecond: number; received: number; lost: number }
  >(await live.done);
  await live.child.status;
  const wallMs = performance.now() - started;
  clearTimeout(timer);
  return {
    wallMs,
    serveRate: serveRate(serveOutput),
    liveRate: summary.ratePerSecond,
    received: summary.received,
    lost: summary.lost,
  };
}
