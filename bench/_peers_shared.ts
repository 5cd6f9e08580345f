/**
 * What the parts of bench/peers.ts share: interleaving the two sides of a
 * round, the load line, ns formatting, and the clean-up of what a part
 * started (child processes, shared-memory segments, temp dirs) at its end
 * and on Ctrl-C.
 *
 * @module
 */

import { unlinkSegment } from "../common/ipc/mod.ts";
import type { PeersRun } from "./peers.ts";

/** One side of an interleaved round: runs and describes its figure. */
export type Side = () => Promise<string>;

/** The 1-, 5- and 15-minute load averages, e.g. `"0.31, 0.95, 1.25"`. */
export function loadavg(): string {
  return Deno.loadavg().map((v) => v.toFixed(2)).join(", ");
}

/** `"N rounds (quick); load …"`, the end of each part's header line. */
export function roundsAndLoad(run: PeersRun): string {
  return `${run.rounds} rounds${
    run.quick ? " (quick)" : ""
  }; load ${loadavg()}`;
}

/** Runs the sides one after the other, ours first on odd rounds (`round` even), the peer first otherwise. */
export async function interleave(
  round: number,
  sides: Side[],
): Promise<string[]> {
  const ordered = round % 2 === 1 ? [...sides].reverse() : sides;
  const shown = [];
  for (const side of ordered) shown.push(await side());
  return shown;
}

/** "480 ns", "2.00 µs", "12.3 µs", "1.25 ms". */
export function formatNs(ns: number): string {
  if (ns < 1_000) return `${Math.round(ns)} ns`;
  if (ns < 10_000) return `${(ns / 1e3).toFixed(2)} µs`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

/** Removes (and forgets) the named shared-memory segments. */
export function removeSegments(segments: string[]): void {
  for (const name of segments.splice(0)) {
    try {
      unlinkSegment(name);
    } catch {
      // already removed by the producer
    }
  }
}

/** Removes the segments in /dev/shm whose names start with one of `prefixes` (e.g. `"/mbpeers123_"`). */
export function removeSegmentsByPrefix(prefixes: readonly string[]): void {
  let names: string[];
  try {
    names = [...Deno.readDirSync("/dev/shm")].map((e) => `/${e.name}`);
  } catch {
    return; // no /dev/shm: nothing of ours there
  }
  removeSegments(
    names.filter((name) => prefixes.some((p) => name.startsWith(p))),
  );
}

/** Adds `child` to what Ctrl-C kills; returns a function that forgets it. */
export function track(run: PeersRun, child: Deno.ChildProcess): () => void {
  run.children.add(child);
  return () => run.children.delete(child);
}

/**
 * Kills the tracked children and their own children (SIGTERM: a
 * bench/nats_path.ts child leaves its nats-server running when it dies
 * alone), removes the tracked segments and temp dirs.
 */
export function cleanUp(run: PeersRun): void {
  for (const child of run.children) {
    try {
      new Deno.Command("pkill", {
        args: ["-TERM", "-P", String(child.pid)],
        stdout: "null",
        stderr: "null",
      }).outputSync();
    } catch {
      // no pkill: the grandchildren outlive the run
    }
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
  }
  run.children.clear();
  removeSegments(run.segments);
  removeSegmentsByPrefix(run.shmPrefixes);
  for (const dir of run.tempDirs.splice(0)) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already removed
    }
  }
}
