// The schedule of the search for rings that are not attached, with a fake
// /dev/shm watch and a fake clock: absent names wait for the watch, names
// that can change without an event back off exponentially, and without a
// watch everything backs off up to MAX_RETRY_MS.

import assert from "node:assert/strict";
import {
  FIRST_RETRY_MS,
  MAX_RETRY_MS,
  type NameWatch,
  RingSearch,
  WATCHED_RETRY_MS,
} from "./_ring_search.ts";

/** A watch whose next report the test sets. */
class FakeWatch implements NameWatch {
  active = true;
  next: Set<string> | undefined = new Set();
  changed(): ReadonlySet<string> | undefined {
    const changed = this.next;
    this.next = new Set();
    return changed;
  }
  close(): Promise<void> {
    this.active = false;
    return Promise.resolve();
  }
  wait(): Promise<void> {
    return Promise.resolve();
  }
  cancel(): void {}
}

const named = (name: string) => ({ name });

/** How many times `search` hands out `item` when asked every ms for `ms`. */
function looksIn(
  search: RingSearch<{ name: string }>,
  item: { name: string },
  from: number,
  ms: number,
  kind: "absent" | "pending",
): number {
  let looks = 0;
  for (let now = from; now < from + ms; now++) {
    for (const due of search.due(now)) {
      assert.equal(due, item);
      looks++;
      search.missed(due, kind, now);
    }
  }
  return looks;
}

Deno.test("an absent name is looked at when the watch names it, else rarely", () => {
  const watch = new FakeWatch();
  const search = new RingSearch<{ name: string }>(watch);
  const ring = named("/p_bench_S1");
  search.missed(ring, "absent", 0);
  // Backs off from FIRST_RETRY_MS to WATCHED_RETRY_MS: a dozen looks in 10 s.
  const looks = looksIn(search, ring, 1, 10_000, "absent");
  assert.ok(looks >= 5 && looks <= 15, `${looks} looks in 10 s`);
  // Another name changed: not due. Its name changed: due at once.
  watch.next = new Set(["/p_bench_S2"]);
  assert.deepEqual(search.due(10_001), []);
  watch.next = new Set(["/p_bench_S1"]);
  assert.deepEqual(search.due(10_002), [ring]);
  // Events lost: everything is due.
  search.missed(ring, "absent", 10_002);
  watch.next = undefined;
  assert.deepEqual(search.due(10_003), [ring]);
  search.found(ring);
  assert.equal(search.size, 0);
  assert.deepEqual(search.due(20_000), []);
});

Deno.test("a pending name (being created, refused) backs off from FIRST_RETRY_MS to MAX_RETRY_MS", () => {
  for (const watch of [new FakeWatch(), undefined]) {
    const search = new RingSearch<{ name: string }>(watch);
    const ring = named("/p_bench_S1");
    search.missed(ring, "pending", 0);
    const due: number[] = [];
    for (let now = 1; now <= 3000; now++) {
      if (search.due(now).length > 0) {
        due.push(now);
        search.missed(ring, "pending", now);
      }
    }
    // Each look is up to an eighth of its delay early (names missed
    // together stay due together); the clock here moves in whole ms.
    const near = (gap: number, delay: number) =>
      gap >= delay * 7 / 8 && gap <= delay * 7 / 8 + 1;
    assert.ok(near(due[0], FIRST_RETRY_MS), `first look at ${due[0]} ms`);
    const gaps = due.slice(1).map((at, i) => at - due[i]);
    assert.ok(
      [10, 20, 40].every((delay, i) => near(gaps[i], delay)),
      `gaps ${gaps.slice(0, 3)}`,
    );
    assert.ok(near(gaps.at(-1)!, MAX_RETRY_MS), `last gap ${gaps.at(-1)}`);
    assert.ok(gaps.every((gap) => gap <= MAX_RETRY_MS));
  }
});

Deno.test("without a watch, or once it ended, an absent name is looked at at least every MAX_RETRY_MS", () => {
  const watch = new FakeWatch();
  for (const end of [false, true]) {
    const search = new RingSearch<{ name: string }>(end ? watch : undefined);
    if (end) watch.close();
    const ring = named("/p_bench_S1");
    search.missed(ring, "absent", 0);
    let last = 0;
    let looks = 0;
    for (let now = 1; now <= 5000; now++) {
      if (search.due(now).length === 0) continue;
      assert.ok(now - last <= MAX_RETRY_MS, `looked after ${now - last} ms`);
      last = now;
      looks++;
      search.missed(ring, "absent", now);
    }
    assert.ok(looks >= 5000 / MAX_RETRY_MS, `${looks} looks`);
    assert.ok(WATCHED_RETRY_MS > MAX_RETRY_MS);
  }
});

Deno.test("a new kind of miss starts again from FIRST_RETRY_MS", () => {
  const search = new RingSearch<{ name: string }>(undefined);
  const ring = named("/p_bench_S1");
  search.missed(ring, "absent", 0);
  for (const now of [5, 15, 35]) {
    assert.deepEqual(search.due(now), [ring]);
    search.missed(ring, "absent", now);
  }
  search.missed(ring, "pending", 36);
  assert.deepEqual(search.due(36 + FIRST_RETRY_MS - 1), []);
  assert.deepEqual(search.due(36 + FIRST_RETRY_MS), [ring]);
});

Deno.test("a name the watch reports starts its back-off again from FIRST_RETRY_MS (a refused segment replaced by a ring being created)", () => {
  const watch = new FakeWatch();
  const search = new RingSearch<{ name: string }>(watch);
  const ring = named("/p_bench_S1");
  search.missed(ring, "pending", 0);
  // Backed off to MAX_RETRY_MS (a refused segment that stays).
  looksIn(search, ring, 1, 3000, "pending");
  // Replaced: the watch names it, the look finds the new one being created.
  watch.next = new Set([ring.name]);
  assert.deepEqual(search.due(3000), [ring]);
  search.missed(ring, "pending", 3000);
  assert.deepEqual(search.due(3000 + FIRST_RETRY_MS - 1), []);
  assert.deepEqual(search.due(3000 + FIRST_RETRY_MS), [ring]);
});
