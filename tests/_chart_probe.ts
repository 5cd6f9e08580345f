/**
 * Checks where a candle chart drew, in a real browser: for a uPlot made with
 * `marketbusCharts` (trading_core/charts/), it reads the canvas pixels at the
 * positions its own scales give (`valToPos`) for known candles and fills,
 * and asserts the colours there: the body in the up colour when close ≥ open
 * and the down colour otherwise, the wick reaching the high and the low and
 * nothing of the candle beyond them, a buy marker in the buy colour just
 * under its price and a sell in the sell colour just above. A chart drawn
 * upside down, with swapped colours or misplaced markers fails.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "./_browser.ts";

/** The colours of trading_core/charts/_plugins.js (`marketbusCharts.COLOURS`). */
export const CHART_COLOURS = {
  up: "#26a69a",
  down: "#ef5350",
  buy: "#1565c0",
  sell: "#ff6f00",
} as const;

type Rgba = [number, number, number, number];

interface CandleProbe {
  i: number;
  up: boolean;
  body: Rgba;
  wickTop: Rgba;
  wickBottom: Rgba;
  aboveHigh: Rgba;
  belowLow: Rgba;
}

interface MarkerProbe {
  side: string;
  inside: Rgba;
}

/**
 * Asserts the geometry of the candle chart `plot` (a page expression giving
 * its uPlot) with fill `markers` (a page expression giving
 * `{ time, price, side }[]`): at least `minCandles` candles and every marker
 * checked. Returns how many candles and markers were checked.
 */
export async function assertCandleChart(
  page: Page,
  plot: string,
  markers: string,
  minCandles = 5,
): Promise<{ candles: number; markers: number }> {
  const probe = await page.evaluate<
    { candles: CandleProbe[]; markers: MarkerProbe[] }
  >(`(() => {
    const u = ${plot};
    const markers = ${markers};
    const ctx = u.ctx;
    const at = (x, y) => [...ctx.getImageData(Math.floor(x), Math.floor(y), 1, 1).data];
    const [xs, o, h, l, c] = u.data;
    const y = (v) => u.valToPos(v, "y", true);
    const markerXs = markers.map((m) => u.valToPos(m.time, "x", true));
    const candles = [];
    for (let i = 0; i < xs.length; i++) {
      const x = u.valToPos(xs[i], "x", true);
      // a marker (12 px wide per CSS px) may cover it
      if (markerXs.some((mx) => Math.abs(mx - x) < 10 * (devicePixelRatio || 1))) continue;
      // the wick's column, as _plugins.js places it (1 device px wide per CSS px)
      const w = Math.max(1, Math.round(devicePixelRatio || 1));
      const wx = Math.round(x - w / 2) + w / 2;
      const [top, bottom] = [y(h[i]), y(l[i])];
      const [bodyTop, bodyBottom] = [y(Math.max(o[i], c[i])), y(Math.min(o[i], c[i]))];
      // wicks at least 4 px long each side, the body at least 4 px high
      if (bodyTop - top < 4 || bottom - bodyBottom < 4 || bodyBottom - bodyTop < 4) continue;
      if (x < u.bbox.left + 10 || x > u.bbox.left + u.bbox.width - 10) continue;
      candles.push({
        i, up: c[i] >= o[i],
        body: at(wx, (bodyTop + bodyBottom) / 2),
        wickTop: at(wx, top + 1.5), wickBottom: at(wx, bottom - 1.5),
        aboveHigh: at(wx, top - 3), belowLow: at(wx, bottom + 3),
      });
    }
    const probes = markers.filter((m) => m.time >= u.scales.x.min && m.time <= u.scales.x.max)
      .map((m) => {
        const x = u.valToPos(m.time, "x", true);
        const py = y(m.price);
        return { side: m.side, inside: at(x, m.side === "buy" ? py + 6 : py - 6) };
      });
    return { candles, markers: probes };
  })()`);
  const near = (px: Rgba, hex: string) =>
    px[3] > 200 &&
    [1, 3, 5].every((k, j) =>
      Math.abs(px[j] - parseInt(hex.slice(k, k + 2), 16)) < 24
    );
  const candleColour = (px: Rgba) =>
    near(px, CHART_COLOURS.up) || near(px, CHART_COLOURS.down);
  assert.ok(
    probe.candles.length >= minCandles,
    `only ${probe.candles.length} candles to check`,
  );
  for (const p of probe.candles) {
    const colour = p.up ? CHART_COLOURS.up : CHART_COLOURS.down;
    const seen = JSON.stringify(p);
    assert.ok(
      near(p.body, colour),
      `candle ${p.i} body not ${colour}: ${seen}`,
    );
    assert.ok(
      near(p.wickTop, colour),
      `candle ${p.i} wick short of its high: ${seen}`,
    );
    assert.ok(
      near(p.wickBottom, colour),
      `candle ${p.i} wick short of its low: ${seen}`,
    );
    assert.ok(
      !candleColour(p.aboveHigh),
      `candle ${p.i} drawn above its high: ${seen}`,
    );
    assert.ok(
      !candleColour(p.belowLow),
      `candle ${p.i} drawn below its low: ${seen}`,
    );
  }
  assert.ok(probe.markers.length > 0, "no fill marker to check");
  for (const m of probe.markers) {
    const colour = m.side === "buy" ? CHART_COLOURS.buy : CHART_COLOURS.sell;
    assert.ok(
      near(m.inside, colour),
      `${m.side} marker not at its price: ${JSON.stringify(m)}`,
    );
  }
  return { candles: probe.candles.length, markers: probe.markers.length };
}
