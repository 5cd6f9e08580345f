/**
 * The candle and fill drawing of `_plugins.js`, run in Deno against a fake
 * uPlot (linear scales, a recording canvas context): where each rectangle
 * and triangle goes and in which colour, for known OHLC and fills. A chart
 * that draws, but draws wrong (highs and lows swapped, up and down colours
 * inverted, a buy drawn as a sell or above its price), fails here.
 */
import assert from "node:assert/strict";
import pluginScript from "./_plugins.js" with { type: "text" };

interface Charts {
  COLOURS: {
    up: string;
    down: string;
    buy: string;
    sell: string;
    incomplete: string;
  };
  candlestickPlugin(
    o: { markers: unknown; incomplete?: (i: number) => boolean },
  ): {
    hooks: { draw: ((u: unknown) => void)[] };
  };
  candleScales(o: { markers: unknown }): {
    x: { range: (u: unknown, min: number, max: number) => [number, number] };
    y: { range: (u: unknown) => [number, number] };
  };
  valueAxis(): { values: (u: unknown, splits: number[]) => string[] };
  timeAxis(): { values: (u: unknown, splits: number[]) => string[] };
  formatNumber(v: unknown): string;
}

function loadCharts(): Charts {
  const scope: Record<string, unknown> = {
    uPlot: { tzDate: (d: Date) => d },
    devicePixelRatio: 1,
  };
  new Function("globalThis", pluginScript)(scope);
  return scope.marketbusCharts as Charts;
}

interface Rect {
  colour: string;
  hollow?: boolean;
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Triangle {
  colour: string;
  points: [number, number][];
}

/** A fake uPlot: x 0..10 → px 0..1000, y 0..100 → px 500..0 (canvas px, up is smaller). */
function fakePlot(data: (number | null)[][]) {
  const rects: Rect[] = [];
  const triangles: Triangle[] = [];
  let path: [number, number][] = [];
  const ctx = {
    fillStyle: "",
    strokeStyle: "",
    lineWidth: 1,
    save() {},
    restore() {},
    clip() {},
    rect() {},
    stroke() {},
    closePath() {},
    beginPath() {
      path = [];
    },
    moveTo(x: number, y: number) {
      path.push([x, y]);
    },
    lineTo(x: number, y: number) {
      path.push([x, y]);
    },
    fill() {
      triangles.push({ colour: ctx.fillStyle, points: path });
    },
    fillRect(x: number, y: number, w: number, h: number) {
      rects.push({ colour: ctx.fillStyle, x, y, w, h });
    },
    strokeRect(x: number, y: number, w: number, h: number) {
      rects.push({ colour: ctx.strokeStyle, x, y, w, h, hollow: true });
    },
  };
  const u = {
    data,
    ctx,
    series: [{}],
    bbox: { left: 0, top: 0, width: 1000, height: 500 },
    scales: { x: { min: 0, max: 10 }, y: { min: 0, max: 100 } },
    valToPos: (v: number, scale: string) =>
      scale === "x" ? v * 100 : 500 - v * 5,
  };
  return { u, rects, triangles };
}

const yPx = (v: number) => 500 - v * 5;

Deno.test("candles: body from open to close, wick from high to low, up/down colour by close ≥ open", () => {
  const charts = loadCharts();
  // x, open, high, low, close: an up candle, a down candle, a flat one, one with a NaN high
  const data = [
    [1, 2, 3, 4],
    [40, 60, 50, 50],
    [70, 65, 55, 55],
    [30, 35, 45, 45],
    [60, 42, 50, 50],
  ];
  data[2][3] = NaN; // the high of the 4th candle
  const { u, rects } = fakePlot(data);
  charts.candlestickPlugin({ markers: [] }).hooks.draw[0](u);
  // two rects (wick, body) per drawn candle; the NaN one is skipped
  assert.equal(rects.length, 6, JSON.stringify(rects));
  const [upWick, upBody, downWick, downBody, flatWick, flatBody] = rects;
  const { up, down } = charts.COLOURS;
  assert.equal(upWick.colour, up);
  assert.equal(upBody.colour, up);
  assert.equal(downWick.colour, down);
  assert.equal(downBody.colour, down);
  assert.equal(flatBody.colour, up, "a flat candle counts as up");
  // the wick spans high (top, smaller y) to low
  assert.deepEqual([upWick.y, upWick.y + upWick.h], [yPx(70), yPx(30)]);
  assert.deepEqual([downWick.y, downWick.y + downWick.h], [yPx(65), yPx(35)]);
  // the body spans open..close
  assert.deepEqual([upBody.y, upBody.y + upBody.h], [yPx(60), yPx(40)]);
  assert.deepEqual([downBody.y, downBody.y + downBody.h], [yPx(60), yPx(42)]);
  // centred on the candle's x, the wick inside the body
  for (
    const [wick, body, x] of [[upWick, upBody, 100], [
      downWick,
      downBody,
      200,
    ]] as const
  ) {
    assert.ok(Math.abs(wick.x + wick.w / 2 - x) <= 1, JSON.stringify(wick));
    assert.ok(Math.abs(body.x + body.w / 2 - x) <= 1, JSON.stringify(body));
    assert.ok(body.w > wick.w);
  }
  // a flat candle is still a visible bar, at its price, with its wick
  assert.deepEqual([flatWick.y, flatWick.y + flatWick.h], [yPx(55), yPx(45)]);
  assert.ok(flatBody.h >= 2, JSON.stringify(flatBody));
  assert.ok(flatBody.y <= yPx(50) && flatBody.y + flatBody.h >= yPx(50));
  assert.ok(Math.abs(flatBody.x + flatBody.w / 2 - 300) <= 1);
});

Deno.test("fills: a buy is the buy colour with its tip just under its price, a sell the sell colour above it", () => {
  const charts = loadCharts();
  const { u, triangles } = fakePlot([[1], [40], [70], [30], [60]]);
  const markers = [
    { time: 1, price: 50, side: "buy" },
    { time: 2, price: 80, side: "sell" },
    { time: 3, price: NaN, side: "buy" },
    { time: 20, price: 50, side: "buy" }, // off the x scale
  ];
  charts.candlestickPlugin({ markers: () => markers }).hooks.draw[0](u);
  assert.equal(triangles.length, 2, JSON.stringify(triangles));
  const [buy, sell] = triangles;
  assert.equal(buy.colour, charts.COLOURS.buy);
  assert.equal(sell.colour, charts.COLOURS.sell);
  const [buyTip, ...buyBase] = buy.points;
  assert.equal(buyTip[0], 100);
  assert.ok(buyTip[1] >= yPx(50) && buyTip[1] <= yPx(50) + 2, `${buyTip}`);
  for (const [, y] of buyBase) {
    assert.ok(y > buyTip[1] + 5, "a buy points up from below");
  }
  const [sellTip, ...sellBase] = sell.points;
  assert.equal(sellTip[0], 200);
  assert.ok(sellTip[1] <= yPx(80) && sellTip[1] >= yPx(80) - 2, `${sellTip}`);
  for (const [, y] of sellBase) {
    assert.ok(y < sellTip[1] - 5, "a sell points down from above");
  }
});

Deno.test("candle scales: x padded by half a candle, y spans lows, highs and fills outside them", () => {
  const charts = loadCharts();
  const markers = [{ time: 60, price: 200, side: "sell" }];
  const scales = charts.candleScales({ markers });
  const u = {
    data: [[0, 60, 120], [1, 2, 3], [110, 120, 130], [90, NaN, 95], [2, 3, 4]],
  };
  assert.deepEqual(scales.x.range(u, 0, 120), [-30, 150]);
  markers.push({ time: 150, price: 100, side: "buy" }); // after the last candle
  assert.deepEqual(scales.x.range(u, 0, 120), [-30, 180]);
  const [lo, hi] = scales.y.range(u);
  assert.ok(lo < 90 && hi > 200, `${lo}..${hi}`);
  assert.ok(lo > 80 && hi < 215, `${lo}..${hi}`);
});

Deno.test("numbers: en-US whatever the locale, — for NaN and Infinity", () => {
  const charts = loadCharts();
  const axis = charts.valueAxis();
  assert.deepEqual(axis.values(undefined, [100100.5, -2, NaN, Infinity]), [
    "100,100.5",
    "-2",
    "—",
    "—",
  ]);
  assert.equal(charts.formatNumber(null), "—");
});

Deno.test("timeAxis: HH:MM ticks, with seconds when the view spans 15 minutes or less (second bars), the date first and at midnight", () => {
  const { timeAxis } = loadCharts();
  const axis = timeAxis();
  const view = (min: number, max: number) => ({ scales: { x: { min, max } } });
  const t0 = Date.UTC(2026, 0, 2, 23, 59, 30) / 1000;
  assert.deepEqual(
    axis.values(view(t0, t0 + 120), [t0, t0 + 30, t0 + 60]),
    ["23:59:30\n01-02", "00:00:00\n01-03", "00:00:30"],
  );
  assert.deepEqual(
    axis.values(view(t0, t0 + 3600), [t0 + 30, t0 + 630]),
    ["00:00\n01-03", "00:10"],
  );
});

Deno.test("candles: one built across lost trades (incomplete) is grey and hollow, the others as usual", () => {
  const charts = loadCharts();
  const data = [[1, 2], [40, 40], [70, 70], [30, 30], [60, 60]];
  const { u, rects } = fakePlot(data);
  charts.candlestickPlugin({ markers: [], incomplete: (i) => i === 1 })
    .hooks.draw[0](u);
  assert.equal(rects.length, 4, JSON.stringify(rects));
  const [goodWick, goodBody, lostWick, lostBody] = rects;
  const { up, incomplete } = charts.COLOURS;
  assert.equal(goodWick.colour, up);
  assert.equal(goodBody.colour, up);
  assert.equal(goodBody.hollow, undefined, "a complete candle is filled");
  assert.equal(lostWick.colour, incomplete);
  assert.equal(lostBody.colour, incomplete);
  assert.equal(lostBody.hollow, true, "an incomplete candle is hollow");
  assert.deepEqual([lostBody.y, lostBody.y + lostBody.h], [yPx(60), yPx(40)]);
});
