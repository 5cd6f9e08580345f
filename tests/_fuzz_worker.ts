/**
 * Runs a synchronous fuzz target in a worker, so that a test can stop a
 * target that never returns (a hang) and say at which iteration it stopped.
 * The worker module calls {@linkcode serveFuzzTarget}; the test calls
 * {@linkcode fuzzInWorker}. Iteration `i` of seed `s` is the same case in
 * the worker and in a replay (`seededRandom(mixSeed(s, i))`, see
 * tests/_fuzz.ts).
 *
 * ```ts
 * // _my_fuzz.ts (the worker module)
 * serveFuzzTarget((random, count) => {
 *   const input = random.bytes(random.int(200));
 *   count(parse(input).kind);
 * });
 * // my_fuzz_test.ts
 * const { counts } = await fuzzInWorker(new URL("./_my_fuzz.ts", import.meta.url), {
 *   label: "my parser",
 * });
 * ```
 *
 * A target made from data of the test's (files it read, say) is served with
 * {@linkcode serveFuzzTargetOf} and given that data as
 * {@linkcode FuzzInWorkerOptions.data}.
 *
 * Loading the worker's module needs --allow-read.
 *
 * @module
 */

import { fuzzBudgetMs, fuzzFor, fuzzSeed, type Random } from "./_fuzz.ts";

/** What the test sends the worker. */
interface FuzzRequest {
  seed: number;
  ms: number;
  data: unknown;
}

/** Every message the worker posts. */
type FuzzMessage =
  | { type: "ready" }
  | { type: "iteration"; i: number }
  | { type: "done"; iterations: number; counts: Record<string, number> }
  | { type: "failure"; i: number; message: string };

/** The worker's side of the messages (typed here without the worker lib). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<FuzzRequest>) => void) | null;
  postMessage(message: FuzzMessage): void;
}

/** One iteration of a target: throws when a property does not hold; `count` tallies outcomes for the report. */
export type FuzzTarget = (
  random: Random,
  count: (outcome: string) => void,
) => void;

/**
 * In a worker module: runs `target` for the budget the test sends,
 * announcing each iteration before it starts, and posts the tallies or the
 * first failure.
 */
export function serveFuzzTarget(target: FuzzTarget): void {
  serveFuzzTargetOf(() => target);
}

/**
 * {@linkcode serveFuzzTarget} for a target that `make` builds, once per run,
 * from the test's {@linkcode FuzzInWorkerOptions.data}.
 */
export function serveFuzzTargetOf<T>(make: (data: T) => FuzzTarget): void {
  const scope = globalThis as unknown as WorkerScope;
  scope.postMessage({ type: "ready" });
  scope.onmessage = async (event) => {
    const { seed, ms, data } = event.data;
    const counts: Record<string, number> = {};
    const count = (outcome: string) => {
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    };
    let current = 0;
    try {
      const target = make(data as T);
      const iterations = await fuzzFor(ms, (random, i) => {
        current = i;
        scope.postMessage({ type: "iteration", i });
        target(random, count);
      }, { seed });
      scope.postMessage({ type: "done", iterations, counts });
    } catch (error) {
      scope.postMessage({
        type: "failure",
        i: current,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  };
}

/** Options of {@linkcode fuzzInWorker}. */
export interface FuzzInWorkerOptions {
  /** Names the run in the printed seed and in failures. */
  label: string;
  /** Time budget, ms. @default fuzzBudgetMs() (FUZZ_MS, else 3000) */
  ms?: number;
  /** One iteration running this long is a hang. @default 5000 */
  hangMs?: number;
  /** Given to the target's maker ({@linkcode serveFuzzTargetOf}); structured-cloned. */
  data?: unknown;
  /** Describes the input of iteration `i` of `seed`, for the report of a failure or hang. */
  describe?: (seed: number, i: number) => string;
}

/** How long loading (and type-checking) the worker's module may take. */
const LOAD_MS = 120_000;

/** What a finished run did. */
export interface FuzzRun {
  /** Iterations run. */
  iterations: number;
  /** The target's tallies. */
  counts: Record<string, number>;
}

/**
 * Runs the fuzz target of worker module `module` for the time budget with a
 * fresh seed (`FUZZ_SEED` replays one); resolves with its tallies.
 *
 * @throws {Error} naming the seed and iteration when a property failed, the
 * worker died, or an iteration hung for `hangMs`.
 */
export async function fuzzInWorker(
  module: URL,
  options: FuzzInWorkerOptions,
): Promise<FuzzRun> {
  const { label, ms = fuzzBudgetMs(), hangMs = 5000, data, describe } = options;
  const seed = fuzzSeed(label);
  const replay = `FUZZ_SEED=${seed} replays it`;
  const input = (i: number) =>
    describe === undefined || i < 0 ? "" : `\n  input: ${describe(seed, i)}`;
  const worker = new Worker(module, { type: "module" });
  const outcome = await new Promise<
    | Exclude<FuzzMessage, { type: "iteration" | "ready" }>
    | { type: "hang"; i: number }
    | { type: "no load" }
  >((resolve) => {
    // The hang clock starts once the module has loaded (a type check of
    // its imports may take a while on a busy machine).
    let loaded = false;
    let last = { i: -1, at: performance.now() };
    const watch = setInterval(() => {
      const silent = performance.now() - last.at;
      if (!loaded && silent > LOAD_MS) finish({ type: "no load" });
      else if (loaded && silent > hangMs) {
        finish({ type: "hang", i: last.i });
      }
    }, Math.min(250, hangMs / 4));
    function finish(result: Parameters<typeof resolve>[0]) {
      clearInterval(watch);
      worker.terminate();
      resolve(result);
    }
    worker.onmessage = (event: MessageEvent<FuzzMessage>) => {
      const message = event.data;
      if (message.type === "ready") {
        loaded = true;
        last = { i: -1, at: performance.now() };
      } else if (message.type === "iteration") {
        last = { i: message.i, at: performance.now() };
      } else finish(message);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      finish({ type: "failure", i: last.i, message: event.message });
    };
    worker.postMessage({ seed, ms, data } satisfies FuzzRequest);
  });
  switch (outcome.type) {
    case "done":
      return { iterations: outcome.iterations, counts: outcome.counts };
    case "no load":
      throw new Error(
        `fuzz ${label}: the worker's module ${module.href} did not load within ${LOAD_MS} ms`,
      );
    case "hang":
      throw new Error(
        `fuzz ${label}: iteration ${outcome.i} of seed ${seed} ran for over ${hangMs} ms (${replay})${
          input(outcome.i)
        }`,
      );
    case "failure":
      throw new Error(
        `fuzz ${label}: iteration ${outcome.i} of seed ${seed} failed (${replay}): ${outcome.message}${
          input(outcome.i)
        }`,
      );
  }
}
