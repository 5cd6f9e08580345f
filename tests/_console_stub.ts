/**
 * Events for the console's HTTP and broadcaster tests that need no FFI (the
 * real {@linkcode ConsoleEvents} reads live's counters, whose clock is libc's):
 * a fixed snapshot, and an update per tick while `changed` is true. So those
 * tests run under a plain `deno test --allow-net`.
 *
 * @module
 */

import type { ConsoleEvents } from "../trading_core/console/mod.ts";

/** Stub events: `changed` says whether a tick has something new. */
export interface StubEvents {
  /** What the broadcaster and server take. */
  events: ConsoleEvents;
  /** Whether the next ticks have an update. */
  changed: boolean;
}

/** Events that need no FFI: a snapshot, then an update per tick while `changed`. */
export function stubEvents(): StubEvents {
  const stub: StubEvents = {
    changed: false,
    events: {
      snapshot: () => 'event: snapshot\ndata: {"stub":true}\n\n',
      tick: (watches: readonly unknown[]) =>
        watches.map(() =>
          stub.changed ? 'event: update\ndata: {"stub":true}\n\n' : undefined
        ),
      release: () => {},
    } as unknown as ConsoleEvents,
  };
  return stub;
}
