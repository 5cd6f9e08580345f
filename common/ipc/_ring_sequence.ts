/**
 * The writer's seqlock values and store ordering: the stable (even) `seq` of
 * each lap, and whether a slot's closing store may be a plain one
 * (docs/ipc_ring.md, "Writing one trade" and "Why it is correct").
 *
 * @module
 */

/** Laps after which the seqlock values repeat: they run 2, 4, …, 2^32 − 2 (as i32), skipping 0. */
const SEQUENCE_PERIOD = 2 ** 31 - 1;

/** The stable (even, non-zero) seqlock value of every slot written in lap `lap`. */
export function lapSequence(lap: number): number {
  return ((lap % SEQUENCE_PERIOD) + 1) * 2 | 0;
}

/** The stable seqlock value of the lap after the one written with `stable`. */
export function nextLapSequence(stable: number): number {
  const next = (stable + 2) | 0;
  return next === 0 ? 2 : next; // 0 means "never written"
}

/**
 * Does the CPU make plain stores visible to other cores in program order,
 * and keep a load behind an earlier locked store (x86-TSO)? Then the writer
 * stores a slot's even `seq` and loads `sleepers` with plain accesses: an
 * `Atomics` call costs ~10 ns in V8 (a builtin call, never inlined), two of
 * the four per `write`. What stays `Atomics`: the odd `seq` store (before
 * the record) and the write-position store (after it), which V8 does not
 * move plain accesses across and which, locked, orders the even `seq` before
 * the `sleepers` load (the no-lost-wake-up argument). Elsewhere every access
 * stays `Atomics`.
 */
export const STORES_IN_ORDER: boolean = Deno.build.arch === "x86_64";
