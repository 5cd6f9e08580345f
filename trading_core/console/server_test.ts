// The console's HTTP side: the page, its assets (the same uPlot and plugin
// files the backtest report inlines) and /events, GET and HEAD only, the
// security headers on every response, the query of /events checked (hostile
// names refused or carried as data), a port in use as one line. Stub events
// (no FFI): these run under a plain --allow-net.

import assert from "node:assert/strict";
import { stubEvents } from "../../tests/_console_stub.ts";
import { CHART_SCRIPTS, CHART_STYLES } from "../charts/mod.ts";
import { Broadcaster } from "./broadcaster.ts";
import { delay } from "../../common/runtime/delay.ts";
import {
  allowedHosts,
  chartRequest,
  CONTENT_SECURITY_POLICY,
  HttpListenError,
  respond,
  serveConsole,
} from "./server.ts";

const INTERVALS = ["1s", "1m"];

function setup() {
  const { events } = stubEvents();
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
    ["callback=x", /^Invalid query parameter "callback"/],
    ["interval=1s&interval=1m", /interval is given more than once/],
    ["exchange=&symbol=A", /^Invalid exchange "": expected 1 to 128/],
    ["exchange=a%0Ab&symbol=A", /no control characters/],
    ["exchange=%C2%85&symbol=x", /no control characters/], // U+0085 NEL, a C1 control
    ["exchange=a&symbol=%C2%9F", /no control characters/],
    [`exchange=${"x".repeat(129)}&symbol=A`, /expected 1 to 128 characters/],
  ];
  for (const [query, expected] of refused) {
    const why = chartRequest(new URLSearchParams(query), INTERVALS);
    assert.equal(typeof why, "string", query);
    assert.match(why as string, expected, query);
    assert.ok(!(why as string).includes("\n"), "one line");
  }
  assert.deepEqual(
    chartRequest(new URLSearchParams("interval=5m"), INTERVALS),
    {
      exchange: undefined,
      symbol: undefined,
      k: 0,
      note: 'Interval "5m" is not charted by this live (1s, 1m): showing 1s',
    },
    "a bookmark from a live with other intervals still opens, saying why",
  );
  const long = "x".repeat(200);
  const longQuery = new URLSearchParams({ exchange: long, symbol: "A" });
  assert.equal(typeof chartRequest(longQuery, INTERVALS), "string");
  assert.deepEqual(
    chartRequest(longQuery, INTERVALS, {
      known: (e, s) => e === long && s === "A",
    }),
    { exchange: long, symbol: "A", k: 0 },
    "a name the table lists is accepted whatever its length",
  );
});

Deno.test("console server: a Host that is not this console's is a 421 (DNS rebinding), a cross-site /events a 403, before any client is made", async () => {
  const broadcaster = {} as Broadcaster; // never reached: refused first
  const hosts = allowedHosts("127.0.0.1", 8090)!;
  assert.deepEqual([...hosts], [
    "127.0.0.1:8090",
    "localhost:8090",
    "[::1]:8090",
  ]);
  assert.equal(allowedHosts("0.0.0.0", 8090), undefined);
  assert.ok(allowedHosts("::1", 1)!.has("[::1]:1"));
  const get = (url: string, headers: Record<string, string> = {}) =>
    respond(new Request(url, { headers }), {
      broadcaster,
      intervals: INTERVALS,
      hosts,
    });
  for (
    const [url, host] of [
      ["http://127.0.0.1:8090/events", "attacker.example:8090"],
      ["http://127.0.0.1:8090/", "attacker.example"],
      ["http://evil.example/events", "127.0.0.1:8090"],
      ["http://127.0.0.1:8091/events", "127.0.0.1:8091"],
    ]
  ) {
    const refused = get(url, { host });
    assert.equal(refused.status, 421, `${url} Host ${host}`);
    const body = await refused.text();
    assert.match(
      body,
      /^Misdirected request: host "[^"]+" is not this console's/,
    );
    assert.equal(body.split("\n").length, 2, "one line");
    assertSecure(refused, "421");
  }
  const crossSite = get("http://localhost:8090/events", {
    host: "localhost:8090",
    "sec-fetch-site": "cross-site",
  });
  assert.equal(crossSite.status, 403);
  assert.equal(
    await crossSite.text(),
    "Forbidden: /events is not served to other sites\n",
  );
  const page = get("http://localhost:8090/", {
    host: "localhost:8090",
    "sec-fetch-site": "cross-site",
  });
  assert.equal(page.status, 200, "the page itself may be linked to");
  await page.body?.cancel();
});

Deno.test(
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

Deno.test(
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
      const bad = get("/events?interval=<script>&x=1");
      assert.equal(bad.status, 400);
      assert.equal(
        bad.headers.get("content-type"),
        "text/plain; charset=utf-8",
      );
      assert.equal(
        await bad.text(),
        'Invalid query parameter "x": expected exchange, symbol and interval\n',
      );
      assert.equal(broadcaster.clients, 0);
    } finally {
      broadcaster.close();
    }
  },
);

Deno.test(
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

Deno.test(
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

Deno.test(
  "console server: past max_clients open pages, /events is a 503 with Retry-After and one line; a page that leaves makes room",
  async () => {
    const { events } = stubEvents();
    const broadcaster = new Broadcaster(events, {
      updatesPerSecond: 4,
      maxClients: 3,
    });
    const server = serveConsole(broadcaster, {
      port: 0,
      hostname: "127.0.0.1",
      intervals: INTERVALS,
    });
    const url = `http://127.0.0.1:${server.port}/events`;
    const open: ReadableStreamDefaultReader<Uint8Array>[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const response = await fetch(url);
        assert.equal(response.status, 200, `client ${i + 1}`);
        open.push(response.body!.getReader());
        await open[i].read();
      }
      const refused = await fetch(url);
      assert.equal(refused.status, 503, "client N+1");
      assert.equal(refused.headers.get("retry-after"), "5");
      assert.equal(
        await refused.text(),
        "Too many console pages open (trading_core.console.max_clients): try again later\n",
      );
      assert.equal(broadcaster.clients, 3);
      await open.shift()!.cancel();
      for (let i = 0; i < 50 && broadcaster.clients > 2; i++) await delay(10);
      const again = await fetch(url);
      assert.equal(again.status, 200, "room again");
      open.push(again.body!.getReader());
    } finally {
      for (const reader of open) await reader.cancel();
      await server.close();
    }
  },
);

Deno.test("console server: an error in the handler (a bug) is a 500 with its message on one line, no stack trace", async () => {
  const broadcaster = {
    full: false,
    connect() {
      throw new Error("events broke\n    at somewhere (x.ts:1:1)");
    },
    close() {},
  } as unknown as Broadcaster;
  const server = serveConsole(broadcaster, {
    port: 0,
    hostname: "127.0.0.1",
    intervals: INTERVALS,
  });
  try {
    const response = await fetch(`http://127.0.0.1:${server.port}/events`);
    assert.equal(response.status, 500);
    assert.equal(await response.text(), "events broke\n");
    assertSecure(response, "500");
  } finally {
    await server.close();
  }
});
