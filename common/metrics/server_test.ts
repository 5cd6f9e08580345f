// Tests of the metrics endpoint over real HTTP on a free port: /metrics read
// back by promcheck, /healthz flipping with the health callback, 404/405,
// failing collectors, binding errors, close and abort.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  PROMCHECK_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import { checkExposition } from "../../tests/promcheck.ts";
import { EXPOSITION_CONTENT_TYPE } from "./exposition.ts";
import { counter, gauge, MetricsRegistry } from "./registry.ts";
import {
  type HealthReport,
  MetricsServerError,
  serveMetrics,
} from "./server.ts";

/** Tests that run promcheck or a child deno: skipped, saying why, without those permissions. */
const test = {
  promcheck: testNeeding(PROMCHECK_PERMISSIONS),
  subprocess: testNeeding([{ name: "run" }]),
};

function registryCounting(): {
  registry: MetricsRegistry;
  scrapes: () => number;
} {
  const registry = new MetricsRegistry();
  let scrapes = 0;
  registry.register(() => [
    counter({ name: "bus_scrapes_total", help: "Scrapes." }, ++scrapes),
    gauge({ name: "bus_up", help: "Up." }, [{
      labels: { role: "live" },
      value: 1,
    }]),
  ]);
  return { registry, scrapes: () => scrapes };
}

async function get(
  port: number,
  path: string,
  init?: RequestInit,
): Promise<
  { status: number; type: string | null; body: string; allow: string | null }
> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    allow: response.headers.get("allow"),
    body: await response.text(),
  };
}

/** Whether something can listen on 127.0.0.1:`port` right now. */
function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

test.promcheck("GET /metrics serves parsable text 0.0.4, collected per scrape", async () => {
  const { registry, scrapes } = registryCounting();
  let listened: Deno.NetAddr | undefined;
  await using server = serveMetrics(registry, {
    port: 0,
    onListen: (addr) => listened = addr,
  });
  assert.ok(server.port > 0);
  assert.equal(server.hostname, "127.0.0.1");
  assert.deepEqual({ ...listened }, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: server.port,
  });
  const first = await get(server.port, "/metrics");
  assert.equal(first.status, 200);
  assert.equal(first.type, EXPOSITION_CONTENT_TYPE);
  assert.equal(
    EXPOSITION_CONTENT_TYPE,
    "text/plain; version=0.0.4; charset=utf-8",
  );
  const parsed = await checkExposition(first.body);
  assert.deepEqual(parsed.lint, []);
  assert.deepEqual(parsed.families.bus_scrapes_total.metrics, [
    { labels: {}, value: 1 },
  ]);
  assert.deepEqual(parsed.families.bus_up.metrics, [
    { labels: { role: "live" }, value: 1 },
  ]);
  const second = await checkExposition(
    (await get(server.port, "/metrics?x=1")).body,
  );
  assert.deepEqual(second.families.bus_scrapes_total.metrics, [
    { labels: {}, value: 2 },
  ]);
  const head = await get(server.port, "/metrics", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.body, "");
  assert.equal(scrapes(), 3);
});

Deno.test("GET /healthz is 200 when healthy, 503 when not, following the callback", async () => {
  let report: HealthReport = {
    ok: true,
    checks: [{ name: "ring", ok: true, detail: "attached" }],
  };
  await using server = serveMetrics(new MetricsRegistry(), {
    port: 0,
    health: () => report,
  });
  const healthy = await get(server.port, "/healthz");
  assert.equal(healthy.status, 200);
  assert.equal(healthy.type, "application/json");
  assert.deepEqual(JSON.parse(healthy.body), {
    status: "ok",
    checks: [{ name: "ring", ok: true, detail: "attached" }],
  });
  report = {
    ok: false,
    checks: [
      { name: "ring", ok: true, detail: "attached" },
      { name: "nats", ok: false, detail: "disconnected" },
    ],
  };
  const sick = await get(server.port, "/healthz");
  assert.equal(sick.status, 503);
  assert.deepEqual(JSON.parse(sick.body), {
    status: "unavailable",
    checks: report.checks,
  });
  report = { ok: true, checks: [] };
  assert.equal((await get(server.port, "/healthz")).status, 200);
});

Deno.test("/healthz is healthy with no checks by default", async () => {
  await using server = serveMetrics(new MetricsRegistry(), { port: 0 });
  const response = await get(server.port, "/healthz");
  assert.equal(response.status, 200);
  assert.deepEqual(JSON.parse(response.body), { status: "ok", checks: [] });
});

Deno.test("/ lists the paths; unknown paths are 404, other methods 405", async () => {
  await using server = serveMetrics(new MetricsRegistry(), { port: 0 });
  const index = await get(server.port, "/");
  assert.equal(index.status, 200);
  assert.match(index.body, /^\/metrics /m);
  assert.match(index.body, /^\/healthz /m);
  const missing = await get(server.port, "/metricz");
  assert.equal(missing.status, 404);
  assert.equal(missing.body, "Not found: try /metrics or /healthz\n");
  for (const method of ["POST", "PUT", "DELETE"]) {
    const refused = await get(server.port, "/metrics", { method });
    assert.equal(refused.status, 405, method);
    assert.equal(refused.allow, "GET, HEAD");
    assert.equal(
      refused.body,
      `Method ${method} not allowed: expected GET or HEAD\n`,
    );
  }
});

Deno.test("a throwing collector or health callback answers 500 with its message", async () => {
  const registry = new MetricsRegistry();
  registry.register(() => {
    throw new Error("exchange stats unavailable");
  });
  await using server = serveMetrics(registry, {
    port: 0,
    health: () => {
      throw new Error("health broke");
    },
  });
  const metrics = await get(server.port, "/metrics");
  assert.equal(metrics.status, 500);
  assert.equal(metrics.body, "exchange stats unavailable\n");
  const health = await get(server.port, "/healthz");
  assert.equal(health.status, 500);
  assert.equal(health.body, "health broke\n");
});

Deno.test("a port in use is a MetricsServerError naming the address", () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  assert.throws(
    () => serveMetrics(new MetricsRegistry(), { port }),
    (error: unknown) => {
      assert.ok(error instanceof MetricsServerError);
      assert.equal(error.name, "MetricsServerError");
      assert.equal(
        error.message,
        `Cannot serve metrics on 127.0.0.1:${port}: address already in use; pick another --metrics-port`,
      );
      assert.ok(error.cause instanceof Deno.errors.AddrInUse);
      return true;
    },
  );
});

test.subprocess("in a process: a port not allowed is a MetricsServerError saying which flag; nothing is printed; close lets the process exit", async () => {
  const module = new URL("./mod.ts", import.meta.url).href;
  const script = `
import { MetricsRegistry, serveMetrics } from "${module}";
try {
  serveMetrics(new MetricsRegistry(), { port: 9 });
} catch (error) {
  console.log(error.name + ": " + error.message);
}
const server = serveMetrics(new MetricsRegistry(), { port: 0 });
await server.close();
console.log("closed");`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-net=127.0.0.1:0", "-"],
    cwd: fileURLToPath(new URL(".", import.meta.url)),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const output = await child.output();
  const decoder = new TextDecoder();
  assert.equal(output.code, 0, decoder.decode(output.stderr));
  assert.equal(
    decoder.decode(output.stdout),
    "MetricsServerError: Cannot serve metrics on 127.0.0.1:9: needs --allow-net=127.0.0.1:9\nclosed\n",
  );
  assert.equal(decoder.decode(output.stderr), "");
});

Deno.test("close() resolves, settles finished and frees the port", async () => {
  const { registry } = registryCounting();
  const server = serveMetrics(registry, { port: 0 });
  assert.equal((await get(server.port, "/metrics")).status, 200);
  assert.equal(portIsFree(server.port), false);
  await server.close();
  await server.finished;
  assert.equal(portIsFree(server.port), true);
  await server.close(); // a second close is harmless
});

Deno.test("aborting the signal closes the server", async () => {
  const controller = new AbortController();
  const server = serveMetrics(new MetricsRegistry(), {
    port: 0,
    signal: controller.signal,
  });
  assert.equal((await get(server.port, "/healthz")).status, 200);
  controller.abort();
  await server.finished;
  assert.equal(portIsFree(server.port), true);
  await server.close(); // closing after the abort is harmless
});
