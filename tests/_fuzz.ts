/**
 * Shared fuzzing helpers: a seeded PRNG, byte mutators and a time-bounded
 * loop, so every fuzz test (replay readers, Binance frames, wire decoder,
 * config loader) reproduces from a printed seed.
 *
 * ```ts
 * const seed = fuzzSeed("csv reader"); // prints it; FUZZ_SEED overrides
 * await fuzzFor(fuzzBudgetMs(), (random) => {
 *   const bytes = mutate(valid, random);
 *   parse(bytes); // assert what must hold
 * }, { seed });
 * ```
 *
 * Environment (read only when `--allow-env` grants it, otherwise ignored):
 * `FUZZ_SEED` (an unsigned 32-bit integer) replays a run, `FUZZ_MS` sets
 * the time budget per target.
 *
 * @module
 */

/** A deterministic pseudo-random source (sfc32); never use it for secrets. */
export interface Random {
  /** The seed it started from. */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n); n must be a positive integer. */
  int(n: number): number;
  /** An integer in [min, max], both inclusive. */
  range(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** n random bytes. */
  bytes(n: number): Uint8Array;
}

/** A generator seeded with `seed` (any number; truncated to 32 bits). */
export function seededRandom(seed: number): Random {
  const s = seed >>> 0;
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = s;
  function next32(): number {
    a >>>= 0, b >>>= 0, c >>>= 0, d >>>= 0;
    const t = (a + b | 0) + d | 0;
    d = d + 1 | 0;
    a = b ^ b >>> 9;
    b = c + (c << 3) | 0;
    c = c << 21 | c >>> 11;
    c = c + t | 0;
    return t >>> 0;
  }
  for (let i = 0; i < 12; i++) next32(); // mix the seed in
  const random: Random = {
    seed: s,
    next: () => next32() / 0x1_0000_0000,
    int(n) {
      if (!Number.isInteger(n) || n <= 0) {
        throw new RangeError(`Invalid n ${n}: expected a positive integer`);
      }
      return Math.floor(random.next() * n);
    },
    range: (min, max) => min + random.int(max - min + 1),
    chance: (p) => random.next() < p,
    pick(items) {
      if (items.length === 0) throw new RangeError("Cannot pick from []");
      return items[random.int(items.length)];
    },
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = next32() & 0xff;
      return out;
    },
  };
  return random;
}

/** The ways {@linkcode mutate} damages bytes. */
export type Mutation =
  | "flip bit"
  | "set byte"
  | "set digit"
  | "insert"
  | "delete"
  | "duplicate line"
  | "swap lines"
  | "truncate";

/** Every {@linkcode Mutation}. */
export const MUTATIONS: readonly Mutation[] = [
  "flip bit",
  "set byte",
  "set digit",
  "insert",
  "delete",
  "duplicate line",
  "swap lines",
  "truncate",
];

/** Options of {@linkcode mutate}. */
export interface MutateOptions {
  /** How many mutations to apply. @default a random 1..4 */
  count?: number;
  /** Which mutations to choose from. @default MUTATIONS */
  kinds?: readonly Mutation[];
  /** Receives a description of each mutation applied (e.g. `flip bit at 12`), for failure messages. */
  log?: string[];
}

/**
 * A damaged copy of `bytes` (never modified): bit flips, random or digit
 * bytes, inserted random bytes, deleted ranges, duplicated or swapped lines
 * (split on `\n`) and truncation, chosen by `random`.
 */
export function mutate(
  bytes: Uint8Array,
  random: Random,
  options: MutateOptions = {},
): Uint8Array {
  const kinds = options.kinds ?? MUTATIONS;
  const count = options.count ?? random.range(1, 4);
  let out: Uint8Array = bytes.slice();
  for (let i = 0; i < count; i++) {
    const kind = random.pick(kinds);
    const [next, note] = applyMutation(out, kind, random);
    out = next;
    options.log?.push(note);
  }
  return out;
}

function applyMutation(
  b: Uint8Array,
  kind: Mutation,
  random: Random,
): [Uint8Array, string] {
  const at = b.length === 0 ? 0 : random.int(b.length);
  switch (kind) {
    case "flip bit": {
      if (b.length === 0) return [b, "flip bit: empty"];
      const bit = random.int(8);
      b[at] ^= 1 << bit;
      return [b, `flip bit ${bit} at ${at}`];
    }
    case "set byte": {
      if (b.length === 0) return [b, "set byte: empty"];
      b[at] = random.int(256);
      return [b, `set byte at ${at} to ${b[at]}`];
    }
    case "set digit": {
      if (b.length === 0) return [b, "set digit: empty"];
      b[at] = 0x30 + random.int(10);
      return [b, `set digit at ${at} to ${String.fromCharCode(b[at])}`];
    }
    case "insert": {
      const extra = random.bytes(random.range(1, 16));
      return [
        concat(b.subarray(0, at), extra, b.subarray(at)),
        `insert ${extra.length} bytes at ${at}`,
      ];
    }
    case "delete": {
      const n = Math.min(b.length - at, random.range(1, 16));
      return [
        concat(b.subarray(0, at), b.subarray(at + n)),
        `delete ${n} bytes at ${at}`,
      ];
    }
    case "duplicate line": {
      const line = lineAround(b, at);
      return [
        concat(
          b.subarray(0, line.end),
          b.subarray(line.start, line.end),
          b.subarray(line.end),
        ),
        `duplicate line at ${line.start}`,
      ];
    }
    case "swap lines": {
      const first = lineAround(b, at);
      if (first.end >= b.length) return [b, "swap lines: last line"];
      const second = lineAround(b, first.end);
      return [
        concat(
          b.subarray(0, first.start),
          b.subarray(second.start, second.end),
          b.subarray(first.start, first.end),
          b.subarray(second.end),
        ),
        `swap lines at ${first.start} and ${second.start}`,
      ];
    }
    case "truncate":
      return [b.slice(0, at), `truncate at ${at}`];
  }
}

/** The line (with its `\n`) that contains byte `at`, as [start, end). */
function lineAround(b: Uint8Array, at: number): { start: number; end: number } {
  let start = at;
  while (start > 0 && b[start - 1] !== 0x0a) start--;
  const nl = b.indexOf(0x0a, at);
  return { start, end: nl < 0 ? b.length : nl + 1 };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** `bytes` gzip-compressed (CompressionStream). */
export async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function envValue(name: string): string | undefined {
  if (
    Deno.permissions.querySync({ name: "env", variable: name }).state !==
      "granted"
  ) {
    return undefined;
  }
  return Deno.env.get(name);
}

/**
 * The seed of a fuzz run: `FUZZ_SEED` when set (and `--allow-env` grants
 * it), otherwise a fresh random one. Prints it with `label` so a failing
 * run can be replayed with `FUZZ_SEED=<seed>`.
 */
export function fuzzSeed(label: string): number {
  const text = envValue("FUZZ_SEED");
  let seed: number;
  if (text !== undefined && text !== "") {
    seed = Number(text);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new RangeError(
        `Invalid FUZZ_SEED "${text}": expected an integer 0..4294967295`,
      );
    }
  } else {
    seed = crypto.getRandomValues(new Uint32Array(1))[0];
  }
  console.log(`fuzz ${label}: seed ${seed} (FUZZ_SEED=${seed} replays it)`);
  return seed;
}

/** The time budget per fuzz target in ms: `FUZZ_MS` when set, else `fallback`. @default 3000 */
export function fuzzBudgetMs(fallback = 3000): number {
  const text = envValue("FUZZ_MS");
  if (text === undefined || text === "") return fallback;
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(
      `Invalid FUZZ_MS "${text}": expected milliseconds >= 0`,
    );
  }
  return ms;
}

/** Options of {@linkcode fuzzFor}. */
export interface FuzzForOptions {
  /** The run's seed (see {@linkcode fuzzSeed}); iteration i uses `seededRandom(mix(seed, i))`. */
  seed: number;
  /** An async iteration that has not settled after this long fails the run as a hang. @default 5000 */
  iterationTimeoutMs?: number;
  /** Run at least this many iterations even when the budget is spent. @default 1 */
  minIterations?: number;
}

/**
 * Calls `fn` with a fresh deterministic {@linkcode Random} per iteration
 * until `ms` have passed; returns how many iterations ran. A throw or
 * rejection fails with the seed and iteration in the message; an async
 * iteration that does not settle within `iterationTimeoutMs` fails as a
 * hang (a synchronous infinite loop cannot be interrupted from inside: run
 * such targets in a subprocess).
 */
export async function fuzzFor(
  ms: number,
  fn: (random: Random, iteration: number) => void | Promise<void>,
  options: FuzzForOptions,
): Promise<number> {
  const timeout = options.iterationTimeoutMs ?? 5000;
  const min = options.minIterations ?? 1;
  const deadline = performance.now() + ms;
  let i = 0;
  for (; i < min || performance.now() < deadline; i++) {
    const random = seededRandom(mixSeed(options.seed, i));
    const where =
      `seed ${options.seed} iteration ${i} (FUZZ_SEED=${options.seed} replays it)`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const result = fn(random, i);
      if (result instanceof Promise) {
        await Promise.race([
          result,
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`hung for over ${timeout} ms`)),
              timeout,
            );
          }),
        ]);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`fuzz failure at ${where}: ${message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
  return i;
}

/** The per-iteration seed derived from a run seed (splitmix-style). */
export function mixSeed(seed: number, iteration: number): number {
  let z = (seed ^ Math.imul(iteration + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ z >>> 16, 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ z >>> 13, 0xc2b2ae35) >>> 0;
  return (z ^ z >>> 16) >>> 0;
}
