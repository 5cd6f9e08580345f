// The console's HTTP side: the page, its assets (the same uPlot and plugin
// files the backtest report inlines) and /events, GET and HEAD only, the
// security headers on every response, the query of /events checked (hostile
// names refused or carried as data), a port in use as one line. TradeStats
// (behind the events) reads the wall clock through libc, hence ffiTest.

import assert from "node:assert/strict";
import { ffiTest } from "../../tests/_permissions.ts";
import { consoleEvents } from "../../tests/_console_trades.ts";
import { CHART_SCRIPTS, CHART_STYLES } from "../charts/mod.ts";
import { Broadcaster } from "./broadcaster.ts";
import {
  chartRequest,
  CONTENT_SECURITY_POLICY,
  HttpListenError,
  respond,
  serveConsole,
} from "./server.ts";

const INTERVALS = ["1s", "1m"];

function setup() {
  const { events } = consoleEvents();
  const broadcaster = new Broadcaster(events, { updatesPerSecond: 4 });
  const get = (path: string, init: RequestInit = {}) =>
    respond(new Request(`http://127.0.0.1${path}`, init), {
      broadcaster,
      intervals: INTERVALS,
    });
  return { broadcaster, get };
}

function assertSecure(response: Response, what: string): void {
  const h = response.headers;
  assert.equal(h.get("content-security-policy"), CONTENT_SECURITY_POLICY, what);
  assert.equal(h.get("x-content-type-options"), "nosniff", what);
  assert.equal(h.get("referrer-policy"), "no-referrer", what);
}

Deno.test("chartRequest: exchange and symbol together or neither, a configured interval, nothing else", () => {
  assert.deepEqual(chartRequest(new URLSearchParams(""), INTERVALS), {
    exchange: undefined,
    symbol: undefined,
    k: 0,
  });
  assert.deepEqual(
    chartRequest(
      new URLSearchParams("exchange=binance&symbol=BTCUSDT&interval=1m"),
      INTERVALS,
    ),
    { exchange: "binance", symbol: "BTCUSDT", k: 1 },
  );
  const hostile = "<img src=x onerror=alert(1)>";
  assert.deepEqual(
    chartRequest(
      new URLSearchParams({ exchange: hostile, symbol: hostile }),
      INTERVALS,
    ),
    { exchange: hostile, symbol: hostile, k: 0 },
    "a strange name is data, matched against the streams as is",
  );
  const refused: [string, RegExp][] = [
    ["symbol=BTCUSDT", /exchange and symbol together/],
    ["interval=7m", /^Invalid interval "7m": expected one of 1s, 1m$/],
    ["callback=x", /^Invalid query parameter "callback"/],
    ["interval=1s&interval=1m", /interval is given more than once/],
    ["exchange=&symbol=A", /^Invalid exchange "": expected 1 to 128/],
    ["exchange=a%0Ab&symbol=A", /no control characters/],
    [`exchange=${"x".repeat(129)}&symbol=A`, /expected 1 to 128 characters/],
  ];
  for (const [query, expected] of refused) {
    const why = chartRequest(new URLSearchParams(query), INTERVALS);
    assert.equal(typeof why, "string", query);
    assert.match(why as string, expected, query);
    assert.ok(!(why as string).includes("\n"), "one line");
  }
});

ffiTest(
  "console server: the page, its assets with ETags, /events as SSE; every response carries the security headers",
  async () => {
    const { broadcaster, get } = setup();
    try {
      const page = get("/");
      assert.equal(page.status, 200);
      assert.equal(
        page.headers.get("content-type"),
        "text/html; charset=utf-8",
      );
      assert.equal(page.headers.get("cache-control"), "no-store");
      assertSecure(page, "/");
      const html = await page.text();
      assert.match(html, /<body data-state="connecting">/);
      assert.doesNotMatch(
        html,
        /<script>|<style>| style=| on\w+=/i,
        "no inline code",
      );
      for (const asset of [...CHART_SCRIPTS, ...CHART_STYLES]) {
        assert.ok(html.includes(`/assets/${asset.name}`), asset.name);
        const served = get(`/assets/${asset.name}`);
        assert.equal(served.status, 200);
        assert.equal(
          await served.text(),
          asset.text,
          "the backtest report's own file",
        );
        const etag = served.headers.get("etag")!;
        assert.equal(etag, `"${asset.sha256}"`);
        const again = get(`/assets/${asset.name}`, {
          headers: { "if-none-match": etag },
        });
        assert.equal(again.status, 304);
        assertSecure(again, asset.name);
      }
      for (
        const name of [
          "console.js",
          "table.js",
          "chart.js",
          "transport.js",
          "format.js",
        ]
      ) {
        const script = get(`/assets/${name}`);
        assert.equal(script.status, 200, name);
        assert.match(script.headers.get("content-type")!, /^text\/javascript/);
        assert.doesNotMatch(
          await script.text(),
          /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/,
        );
      }
      const events = get("/events?interval=1m");
      assert.equal(events.status, 200);
      assert.equal(
        events.headers.get("content-type"),
        "text/event-stream; charset=utf-8",
      );
      assert.equal(events.headers.get("cache-control"), "no-store");
      assertSecure(events, "/events");
      const reader = events.body!.getReader();
      const { value } = await reader.read();
      assert.match(
        new TextDecoder().decode(value),
        /^retry: \d+\nevent: snapshot\n/,
      );
      await reader.cancel();
      assert.equal(broadcaster.clients, 0);
    } finally {
      broadcaster.close();
    }
  },
);

ffiTest(
  "console server: HEAD is answered without a body or a client; other methods 405; unknown paths 404; bad queries 400",
  async () => {
    const { broadcaster, get } = setup();
    try {
      const head = get("/events", { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.body, null);
      assert.equal(broadcaster.clients, 0);
      const post = get("/events", { method: "POST", body: "x" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
      assertSecure(post, "405");
      for (
        const path of [
          "/metrics",
          "/assets/",
          "/assets/../deno.json",
          "/index.html",
        ]
      ) {
        const missing = get(path);
        assert.equal(missing.status, 404, path);
        assertSecure(missing, path);
        await missing.body?.cancel();
      }
      const bad = get("/events?interval=<script>");
      assert.equal(bad.status, 400);
      assert.equal(
        bad.headers.get("content-type"),
        "text/plain; charset=utf-8",
      );
      assert.equal(
        await bad.text(),
        'Invalid interval "<script>": expected one of 1s, 1m\n',
      );
      assert.equal(broadcaster.clients, 0);
    } finally {
      broadcaster.close();
    }
  },
);

ffiTest(
  "console server: a port in use is one HttpListenError line naming the address and the flag",
  () => {
    const { broadcaster } = setup();
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    assert.throws(
      () =>
        serveConsole(broadcaster, {
          port,
          hostname: "127.0.0.1",
          intervals: INTERVALS,
        }),
      (error: unknown) => {
        assert.ok(error instanceof HttpListenError);
        assert.equal(
          error.message,
          `Cannot serve the console on 127.0.0.1:${port}: address already in use; pick another --console-port (trading_core.console.port)`,
        );
        return true;
      },
    );
  },
);

ffiTest(
  "console server: listening, close() ends an open event stream and returns at once",
  async () => {
    const { broadcaster } = setup();
    const server = serveConsole(broadcaster, {
      port: 0,
      hostname: "127.0.0.1",
      intervals: INTERVALS,
    });
    const response = await fetch(`http://127.0.0.1:${server.port}/events`);
    const reader = response.body!.getReader();
    await reader.read();
    const started = performance.now();
    await server.close();
    assert.ok(performance.now() - started < 400, "not held by the open stream");
    for (;;) if ((await reader.read()).done) break;
  },
);
