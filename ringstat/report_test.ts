import assert from "node:assert/strict";
import { ReaderState } from "../common/ipc/layout.ts";
import type { ReaderStatus, RingSnapshot } from "../common/ipc/ring_status.ts";
import {
  formatAge,
  formatJson,
  formatText,
  type RingsReport,
} from "./report.ts";

const RING: RingSnapshot = {
  kind: "ring",
  name: "/marketbus_binance_BTCUSDT",
  layout: 2,
  pid: 4242,
  producerAlive: true,
  state: "open",
  epoch: 0x3f2a91c0,
  capacity: 65536,
  writePosition: 1_204_331,
  heartbeat: 7,
  heartbeatIntervalMs: 100,
  tethered: 1,
  evictions: 0,
  stalledMs: 0,
  readers: [],
  takenAtMs: 5000,
};

function reader(fields: Partial<ReaderStatus>): ReaderStatus {
  return {
    index: 0,
    id: 0x9c01e2ab | 0,
    idHex: "9c01e2ab",
    state: ReaderState.Tethered,
    policy: "tethered",
    pid: 4300,
    position: 1_204_301,
    lag: 30,
    lagPercent: 30 / 65536 * 100,
    heartbeatMs: 0,
    heartbeatAgeMs: 40,
    tetherTimeoutMs: 3000,
    evictions: 0,
    evictedAt: 0,
    evictionCause: 0,
    lagAtEviction: 0,
    registeredAtMs: 0,
    alive: true,
    lastEviction: null,
    ...fields,
  };
}

const READERS = [
  reader({}),
  reader({
    index: 1,
    id: 0x17aa0b3c,
    idHex: "17aa0b3c",
    state: ReaderState.Evicted,
    policy: "evicted",
    pid: 4301,
    position: 1_120_004,
    lag: 84_327,
    lagPercent: 84_327 / 65536 * 100,
    heartbeatAgeMs: 2100,
    evictions: 1,
    evictionCause: 1,
    lastEviction: "timeout",
    alive: false,
  }),
];

const REPORT: RingsReport = {
  prefixes: ["/marketbus_"],
  intervalMs: 1000,
  rings: [
    {
      status: { ...RING, readers: READERS },
      activity: {
        elapsedMs: 1000,
        ratePerSecond: 18_210.4,
        heartbeatMoved: true,
      },
    },
    {
      status: {
        ...RING,
        name: "/marketbus_binance_ETHUSDT",
        layout: 1,
        tethered: 0,
        producerAlive: false,
      },
    },
    {
      status: {
        kind: "unreadable",
        name: "/marketbus_notes",
        layout: null,
        problem: "not a marketbus ring (magic 0x6c6c6568)",
      },
    },
  ],
};

Deno.test("rings table: ring line, aligned reader table, layout 1, foreign files", () => {
  assert.equal(
    formatText(REPORT),
    [
      "/marketbus_binance_BTCUSDT  producer 4242 alive  open  epoch 3f2a91c0  cap 65,536  written 1,204,331  18,210/s  tethered 1",
      "  reader    pid   policy    position   lag              heartbeat             evictions",
      "  9c01e2ab  4300  tethered  1,204,301  30 (0.0%)        40 ms ago             0",
      "  17aa0b3c  4301  evicted   1,120,004  84,327 (128.7%)  2.1 s ago (pid gone)  1 (timeout)",
      "/marketbus_binance_ETHUSDT  producer 4242 dead  open  epoch 3f2a91c0  cap 65,536  written 1,204,331",
      "  layout 1 (older marketbus): no reader table",
      "/marketbus_notes  not a marketbus ring (magic 0x6c6c6568)",
    ].join("\n"),
  );
});

Deno.test("rings table: a silent producer, no readers, the gate's totals, no rings", () => {
  const text = formatText({
    prefixes: ["/a_", "/b_"],
    intervalMs: 1000,
    rings: [{
      status: { ...RING, tethered: 0, evictions: 3, stalledMs: 1500 },
      activity: { elapsedMs: 1000, ratePerSecond: 0, heartbeatMoved: false },
    }],
  });
  assert.match(text, /producer 4242 silent {2}open/);
  assert.match(
    text,
    /0\/s {2}evictions 3 {2}stalled 1\.5 s\n {2}no registered readers$/,
  );
  assert.equal(
    formatText({ prefixes: ["/a_", "/b_"], intervalMs: null, rings: [] }),
    "no rings under /a_ or /b_",
  );
});

Deno.test("rings JSON: one document, rate and heartbeat null without a second look", () => {
  const document = JSON.parse(formatJson(REPORT));
  assert.deepEqual(document.prefixes, ["/marketbus_"]);
  const [btc, eth, notes] = document.rings;
  assert.equal(btc.ratePerSecond, 18_210.4);
  assert.equal(btc.heartbeatMoved, true);
  assert.equal(btc.takenAtMs, undefined);
  assert.deepEqual(btc.readers.map((r: ReaderStatus) => r.policy), [
    "tethered",
    "evicted",
  ]);
  assert.equal(eth.ratePerSecond, null);
  assert.equal(notes.problem, "not a marketbus ring (magic 0x6c6c6568)");
  assert.equal(formatJson(REPORT, { compact: true }).includes("\n"), false);
});

Deno.test("formatAge: ms, s, min, h", () => {
  assert.deepEqual(
    [0, 40, 999, 1000, 2100, 59_900, 60_000, 3_599_000, 7_200_000].map(
      formatAge,
    ),
    [
      "0 ms",
      "40 ms",
      "999 ms",
      "1.0 s",
      "2.1 s",
      "59.9 s",
      "1 min",
      "60 min",
      "2.0 h",
    ],
  );
});
