// Helpers of the `stream_per_exchange` tests: serve and live as real
// processes over the exchanges audx and audy, the sequence numbers live
// recorded per exchange.

import assert from "node:assert/strict";
import { join } from "node:path";
import { harnessPermissions } from "./_permissions.ts";
import {
  assertCleanExit,
  publishedTrades,
  ROLE_PERMISSIONS,
  type RoleConfig,
  type RoleExit,
  RoleProcess,
} from "./_ipc_roles.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** What these tests need. */
export const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];
/** The one symbol published. */
export const SYMBOL = "AUDA";
/** The exchanges, each with its own stream. */
export const EXCHANGES = ["audx", "audy"] as const;

/** Runs a role to its end; it must exit by itself with status 0. */
export async function run(
  role: "serve" | "live",
  config: RoleConfig,
  args: string[],
): Promise<RoleExit> {
  await using process = new RoleProcess(role, config, args);
  const exit = await process.finish();
  assertCleanExit(exit, `${role} ${args.join(" ")}`);
  return exit;
}

/** Each exchange of `counts` publishes its count of AUDA trades, at the same time. */
export async function publish(
  config: RoleConfig,
  counts: Record<string, number>,
): Promise<void> {
  const exchanges = Object.keys(counts);
  const exits = await Promise.all(
    exchanges.map((exchange) =>
      run("serve", config, [
        "--nats",
        "--no-ipc",
        "--exchange",
        exchange,
        "--symbols",
        SYMBOL,
        "--max-trades",
        String(counts[exchange]),
        "--rate",
        "2000",
      ])
    ),
  );
  exchanges.forEach((exchange, i) =>
    assert.equal(publishedTrades(exits[i].stdout), counts[exchange])
  );
}

/** A file name under data/ (the only place the live task may write). */
export async function dataFile(name: string): Promise<string> {
  await Deno.mkdir(join(PROJECT_ROOT, "data"), { recursive: true });
  return `data/stream_per_exchange_test_${crypto.randomUUID()}_${name}`;
}

/** The seqs a live recording (`--record`, NDJSON) holds, per exchange. */
export async function readSeqs(
  recording: string,
): Promise<Record<string, number[]>> {
  const text = await Deno.readTextFile(join(PROJECT_ROOT, recording));
  const seqs: Record<string, number[]> = { audx: [], audy: [] };
  for (const line of text.split("\n").filter((l) => l !== "")) {
    const { exchange, seq } = JSON.parse(line);
    seqs[exchange].push(seq);
  }
  return seqs;
}

/** The live arguments reading `exchange` (default every one) into `recording`. */
export function liveArgs(
  recording: string,
  args: string[],
  exchange = "*",
): string[] {
  return [
    "--nats",
    "--exchange",
    exchange,
    "--symbols",
    SYMBOL,
    "--summary-json",
    "--record",
    recording,
    ...args,
  ];
}

/** Runs live over `exchange` (default both) with `args`; returns the seqs it recorded per exchange. */
export async function liveSeqs(
  config: RoleConfig,
  args: string[],
  exchange = "*",
): Promise<{ seqs: Record<string, number[]>; exit: RoleExit }> {
  const recording = await dataFile("trades.ndjson");
  try {
    const exit = await run("live", config, liveArgs(recording, args, exchange));
    return { seqs: await readSeqs(recording), exit };
  } finally {
    await Deno.remove(join(PROJECT_ROOT, recording)).catch(() => {});
  }
}

/** The integers `from`..`to`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
