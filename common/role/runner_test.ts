import assert from "node:assert/strict";
import { testNeeding } from "../../tests/_permissions.ts";
import type { LogConfig, MetricsConfig } from "../config/mod.ts";
import {
  errorLine,
  type RoleContext,
  type RoleWork,
  runRoleWork,
} from "./runner.ts";

const LOG: LogConfig = { level: "info", format: "text", progressIntervalMs: 0 };
const NO_METRICS: MetricsConfig = {
  port: 0,
  host: "127.0.0.1",
  staleAfterMs: 1,
};

class ExpectedError extends Error {}

/** Runs `body` with console.log/error captured; returns its result and the lines. */
async function captured<T>(
  body: () => Promise<T>,
): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => lines.push(`out ${line}`);
  console.error = (line: string) => lines.push(`err ${line}`);
  try {
    return { result: await body(), lines };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** A RoleWork that records each step in `steps`, with `run` replaced by `run`. */
function work(
  steps: string[],
  run: (signal: AbortSignal) => Promise<void>,
  metrics: MetricsConfig = NO_METRICS,
): RoleWork {
  return {
    metrics: {
      config: metrics,
      section: "test.metrics",
      collect: () => [],
      flowing: () => 0,
      health: () => ({ ok: true, checks: [] }),
    },
    progress: () => [],
    expected: [errorLine([ExpectedError], { prefix: "test: " })],
    run: async (signal) => {
      steps.push("run");
      await run(signal);
    },
    drain: (end) => {
      steps.push(`drain signalled=${end.signalled}`);
      return Promise.resolve();
    },
    close: () => {
      steps.push("close");
      return Promise.resolve();
    },
    report: (end) => {
      steps.push(`report signalled=${end.signalled}`);
    },
    release: () => {
      steps.push("release");
      return Promise.resolve();
    },
  };
}

Deno.test("runRoleWork: open, run, drain, close, report in that order; exit status 0", async () => {
  const steps: string[] = [];
  const { result } = await captured(() =>
    runRoleWork("test", {
      log: LOG,
      open: () => Promise.resolve(work(steps, () => Promise.resolve())),
    })
  );
  assert.equal(result, 0);
  assert.deepEqual(steps, [
    "run",
    "drain signalled=false",
    "close",
    "report signalled=false",
  ]);
});

Deno.test("runRoleWork: a status from open is returned and nothing else runs", async () => {
  let opened = 0;
  const { result, lines } = await captured(() =>
    runRoleWork("test", {
      log: LOG,
      open: () => {
        opened++;
        return Promise.resolve(2);
      },
    })
  );
  assert.equal(result, 2);
  assert.equal(opened, 1);
  assert.deepEqual(lines, []);
});

Deno.test("runRoleWork: an expected error is one error line, exit status 1, and the clean-up and report still run", async () => {
  const steps: string[] = [];
  const { result, lines } = await captured(() =>
    runRoleWork("test", {
      log: LOG,
      open: () =>
        Promise.resolve(
          work(steps, () => Promise.reject(new ExpectedError("disk full"))),
        ),
    })
  );
  assert.equal(result, 1);
  assert.deepEqual(steps, [
    "run",
    "drain signalled=false",
    "close",
    "report signalled=false",
  ]);
  const errors = lines.filter((line) => line.includes("disk full"));
  assert.equal(errors.length, 1, lines.join("\n"));
  assert.match(errors[0], /test: disk full/);
});

Deno.test("runRoleWork: an unexpected error propagates after the clean-up, without the report", async () => {
  const steps: string[] = [];
  await captured(() =>
    assert.rejects(
      runRoleWork("test", {
        log: LOG,
        open: () =>
          Promise.resolve(
            work(steps, () => Promise.reject(new TypeError("a bug"))),
          ),
      }),
      TypeError,
    )
  );
  assert.deepEqual(steps, ["run", "drain signalled=false", "close"]);
});

Deno.test("runRoleWork: fail() aborts the run's signal, logs its message and makes the exit status 1", async () => {
  const steps: string[] = [];
  let context: RoleContext | undefined;
  const { result, lines } = await captured(() =>
    runRoleWork("test", {
      log: LOG,
      open: (given) => {
        context = given;
        return Promise.resolve(
          work(steps, (signal) => {
            setTimeout(() => context!.fail("strategy threw"), 1);
            return new Promise((resolve) =>
              signal.addEventListener("abort", () => resolve(), { once: true })
            );
          }),
        );
      },
    })
  );
  assert.equal(result, 1);
  assert.equal(
    lines.filter((line) => line.includes("strategy threw")).length,
    1,
  );
  assert.deepEqual(steps, [
    "run",
    "drain signalled=false",
    "close",
    "report signalled=false",
  ]);
});

Deno.test("runRoleWork: setFailed() keeps the run going and makes the exit status 1", async () => {
  const steps: string[] = [];
  let context: RoleContext | undefined;
  const { result } = await captured(() =>
    runRoleWork("test", {
      log: LOG,
      open: (given) => {
        context = given;
        return Promise.resolve(work(steps, () => {
          context!.setFailed();
          return Promise.resolve();
        }));
      },
    })
  );
  assert.equal(result, 1);
  assert.equal(steps.at(-1), "report signalled=false");
});

Deno.test("runRoleWork: the caller's signal stops the run and the clean-up sees it as signalled", async () => {
  const steps: string[] = [];
  const stop = new AbortController();
  const { result } = await captured(() =>
    runRoleWork("test", {
      log: LOG,
      signal: stop.signal,
      open: () =>
        Promise.resolve(work(steps, (signal) => {
          setTimeout(() => stop.abort(), 1);
          return new Promise((resolve) =>
            signal.addEventListener("abort", () => resolve(), { once: true })
          );
        })),
    })
  );
  assert.equal(result, 0);
  assert.deepEqual(steps, [
    "run",
    "drain signalled=true",
    "close",
    "report signalled=true",
  ]);
});

const netTest = testNeeding([{ name: "net", host: "127.0.0.1" }]);

netTest(
  "runRoleWork: a metrics port already taken is one error line, release() and exit status 1; nothing runs",
  async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const steps: string[] = [];
      const { port } = taken.addr as Deno.NetAddr;
      const { result, lines } = await captured(() =>
        runRoleWork("test", {
          log: LOG,
          open: () =>
            Promise.resolve(
              work(steps, () => Promise.resolve(), {
                ...NO_METRICS,
                port,
              }),
            ),
        })
      );
      assert.equal(result, 1);
      assert.deepEqual(steps, ["release"]);
      const errors = lines.filter((line) => line.includes(String(port)));
      assert.equal(errors.length, 1, lines.join("\n"));
    } finally {
      taken.close();
    }
  },
);
