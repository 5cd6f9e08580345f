/**
 * Runs `deno task backtest`'s own command (its permission flags as
 * deno.json has them) in a temp workspace holding data/rec/ and
 * strategies/: shared by the backtest end-to-end tests.
 *
 * @module
 */
import { join } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import type { BacktestSummary } from "../trading_core/backtest/result.ts";
import { flipStrategy, writeRecording } from "./_backtest_data.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** The task's `deno run` flags and script (made absolute). */
export function taskCommand(): { flags: string[]; script: string } {
  const tokens = denoJson.tasks.backtest.command.split(/\s+/);
  const script = tokens.findIndex((t, i) => i > 1 && !t.startsWith("-"));
  return {
    flags: tokens.slice(2, script),
    script: join(PROJECT_ROOT, tokens[script]),
  };
}

/** A temp dir with data/rec/<symbol>.ndjson and strategies/{flip,throws}.ts. */
export async function workspace(): Promise<AsyncDisposable & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_backtest_" });
  await Deno.mkdir(join(dir, "data", "rec"), { recursive: true });
  await Deno.mkdir(join(dir, "strategies"));
  await writeRecording(join(dir, "data", "rec"));
  await Deno.writeTextFile(join(dir, "strategies", "flip.ts"), flipStrategy());
  await Deno.writeTextFile(
    join(dir, "strategies", "throws.ts"),
    flipStrategy({ throwAt: 7 }),
  );
  await Deno.writeTextFile(
    join(dir, "strategies", "slow.ts"),
    flipStrategy({ busyMs: 0.2 }),
  );
  return {
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** What a run printed, and its exit status. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the task's command in `cwd` with `args`. */
export async function backtest(cwd: string, args: string[]): Promise<Run> {
  const { flags, script } = taskCommand();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, script, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** The summary.json of results dir `dir`. */
export async function summaryOf(dir: string): Promise<BacktestSummary> {
  return JSON.parse(await Deno.readTextFile(join(dir, "summary.json")));
}
