import assert from "node:assert/strict";
import { gatedTest } from "../../tests/_permissions.ts";
import { shutdownSignal } from "./shutdown.ts";

gatedTest({
  name:
    "shutdownSignal aborts on SIGTERM once, reporting it once, until disposed",
  permissions: [{ name: "run" }],
  fn: async () => {
    const seen: Deno.Signal[] = [];
    const shutdown = shutdownSignal({
      onSignal: (signal) => seen.push(signal),
    });
    try {
      const aborted = new Promise((resolve) =>
        shutdown.signal.addEventListener("abort", resolve, { once: true })
      );
      // Signal listeners do not keep the event loop alive on their own.
      const keepAlive = setTimeout(() => {}, 5000);
      Deno.kill(Deno.pid, "SIGTERM");
      Deno.kill(Deno.pid, "SIGTERM");
      await aborted;
      clearTimeout(keepAlive);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(shutdown.signal.aborted, true);
      assert.deepEqual(seen, ["SIGTERM"]);
    } finally {
      shutdown.dispose();
    }
  },
});

Deno.test("shutdownSignal follows the caller's signal, also one already aborted", () => {
  const caller = new AbortController();
  const shutdown = shutdownSignal({ signal: caller.signal });
  try {
    assert.equal(shutdown.signal.aborted, false);
    caller.abort(new Error("stop"));
    assert.equal(shutdown.signal.aborted, true);
  } finally {
    shutdown.dispose();
  }
  const early = shutdownSignal({ signal: AbortSignal.abort() });
  try {
    assert.equal(early.signal.aborted, true);
  } finally {
    early.dispose();
  }
});
