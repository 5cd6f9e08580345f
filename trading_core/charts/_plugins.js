// Browser code (a classic script, loaded after uPlot): what uPlot lacks for
// market data, shared by the backtest report and the live console. Defines
// one global, `marketbusCharts`; reads nothing but the data given to it and
// writes only to the chart's canvas (no HTML from data).
"use strict";
// A block: in strict code its functions and constants stay private to it.
{
  const UP = "#26a69a";
  const DOWN = "#ef5350";
  const BUY = "#1565c0";
  const SELL = "#ff6f00";
  /** A candle built across lost trades: grey and hollow. */
  const INCOMPLETE = "#9e9e9e";
  /** Numbers in `en-US` whatever the viewer's locale, like the report's tables. */
  const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 8 });
  const finite = (v) => typeof v === "number" && Number.isFinite(v);
  /** `v` in `en-US`, `—` when missing or not finite. */
  const formatNumber = (v) => finite(v) ? NUMBER.format(v) : "—";

  /** Formats a uPlot time (seconds) as UTC, so the page reads the same anywhere. */
  const utcDate = (seconds) => {
    return globalThis.uPlot.tzDate(new Date(seconds * 1e3), "Etc/UTC");
  };

  const pad = (n) => {
    return String(n).padStart(2, "0");
  };

  /**
   * uPlot axis options for a time x axis in UTC, 24-hour: `HH:MM` ticks
   * (`HH:MM:SS` when the view spans 15 minutes or less: second bars), with
   * the date (`MM-DD`) on the first tick and at each midnight; only dates
   * when the view spans more than two days.
   */
  const timeAxis = () => {
    return {
      values: (u, splits) => {
        const span = u.scales.x.max - u.scales.x.min;
        return splits.map((s, i) => {
          const d = new Date(s * 1e3);
          const day = `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
          // Past a year the labels carry it, or they would repeat.
          const date = span > 300 * 86400
            ? `${d.getUTCFullYear()}-${day}`
            : day;
          if (span > 2 * 86400) return date;
          const minutes = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
          const time = span > 900
            ? minutes
            : `${minutes}:${pad(d.getUTCSeconds())}`;
          const midnight = d.getUTCHours() === 0 && d.getUTCMinutes() === 0 &&
            (span > 900 || d.getUTCSeconds() === 0);
          return i === 0 || midnight ? `${time}\n${date}` : time;
        });
      },
    };
  };

  /** uPlot axis options for a value y axis (`en-US` ticks) wide enough for its longest label. */
  const valueAxis = () => {
    return {
      values: (_u, splits) => splits.map(formatNumber),
      size: (_u, values) => {
        if (!values) return 50;
        const longest = Math.max(...values.map((v) => String(v).length));
        return Math.max(50, longest * 8 + 18);
      },
    };
  };

  /**
   * uPlot series options for candles: data columns 1..4 are open, high, low,
   * close; they draw nothing themselves (the plugin does) but keep the y
   * scale spanning the lows and highs and show in the legend.
   */
  const candleSeries = () => {
    return ["open", "high", "low", "close"].map((label) => ({
      label,
      value: (_u, v) => formatNumber(v),
      paths: () => null,
      points: { show: false },
    }));
  };

  /** uPlot series options for a line of `label` (legend values in `en-US`). */
  const lineSeries = (label, style = {}) => {
    return { label, width: 2, value: (_u, v) => formatNumber(v), ...style };
  };

  /** The usual distance between two x values (their median step), 1 when fewer than two. */
  const step = (xs) => {
    const steps = [];
    for (let i = 1; i < xs.length; i++) steps.push(xs[i] - xs[i - 1]);
    steps.sort((a, b) => a - b);
    return steps.length === 0 ? 1 : Math.max(steps[steps.length >> 1], 1e-9);
  };

  /**
   * uPlot scales for a candle chart: x (time) over the candles and markers,
   * padded by half a candle each side so the first and last show whole; y over every finite low,
   * high and marker price, padded by 5 %, so a fill outside its candle's range
   * (slippage, a limit order) still shows. `markers` as in
   * {@link candlestickPlugin}.
   */
  const candleScales = (options = {}) => {
    const markers = options.markers ?? [];
    const list = () => typeof markers === "function" ? markers() : markers;
    return {
      x: {
        time: true,
        range: (u, min, max) => {
          const half = step(u.data[0]) / 2;
          let [lo, hi] = [min - half, max + half];
          for (const m of list()) {
            if (!finite(m.time)) continue;
            lo = Math.min(lo, m.time - half);
            hi = Math.max(hi, m.time + half);
          }
          return [lo, hi];
        },
      },
      y: {
        range: (u) => {
          let lo = Infinity, hi = -Infinity;
          const take = (v) => {
            if (!finite(v)) return;
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          };
          for (const v of u.data[3]) take(v);
          for (const v of u.data[2]) take(v);
          for (const m of list()) take(m.price);
          if (lo > hi) return [0, 1];
          const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.01 || 1;
          return [lo - pad, hi + pad];
        },
      },
    };
  };

  /** The visible index range of the x data, inclusive. */
  const visibleRange = (u) => {
    const xs = u.data[0];
    const idxs = u.series[0].idxs;
    if (idxs) return [idxs[0], idxs[1]];
    return [0, xs.length - 1];
  };

  const drawCandles = (u, incomplete) => {
    const [xs, opens, highs, lows, closes] = u.data;
    const [first, last] = visibleRange(u);
    if (!(last >= first)) return;
    const ctx = u.ctx;
    const ratio = globalThis.devicePixelRatio || 1;
    const slot = u.bbox.width / Math.max(1, last - first + 1);
    const body = Math.max(ratio, Math.min(14 * ratio, slot * 0.7));
    const wick = Math.max(1, Math.round(ratio));
    for (let i = first; i <= last; i++) {
      // A candle with a missing or non-finite figure is not drawn at all.
      if (![opens[i], highs[i], lows[i], closes[i]].every(finite)) continue;
      const x = u.valToPos(xs[i], "x", true);
      const top = u.valToPos(highs[i], "y", true);
      const bottom = u.valToPos(lows[i], "y", true);
      const open = u.valToPos(opens[i], "y", true);
      const close = u.valToPos(closes[i], "y", true);
      const hollow = incomplete(i);
      ctx.fillStyle = hollow ? INCOMPLETE : closes[i] >= opens[i] ? UP : DOWN;
      ctx.fillRect(
        Math.round(x - wick / 2),
        Math.round(top),
        wick,
        Math.max(wick, Math.round(bottom - top)),
      );
      // A flat candle (open = close) is still a visible bar, 2 wicks high.
      const height = Math.max(2 * wick, Math.round(Math.abs(close - open)));
      const box = [
        Math.round(x - body / 2),
        Math.round((open + close) / 2 - height / 2),
        Math.round(body),
        height,
      ];
      if (hollow) {
        ctx.strokeStyle = INCOMPLETE;
        ctx.lineWidth = wick;
        ctx.strokeRect(...box);
      } else ctx.fillRect(...box);
    }
  };

  const drawMarkers = (u, markers) => {
    const ctx = u.ctx;
    const ratio = globalThis.devicePixelRatio || 1;
    const size = 6 * ratio;
    const { min, max } = u.scales.x;
    for (const m of markers) {
      if (!finite(m.time) || !finite(m.price)) continue;
      if (m.time < min || m.time > max) continue;
      const x = u.valToPos(m.time, "x", true);
      const y = u.valToPos(m.price, "y", true);
      const buy = m.side === "buy";
      // A buy points up from below its price, a sell down from above it.
      const tip = buy ? y + ratio : y - ratio;
      const base = buy ? tip + size * 1.6 : tip - size * 1.6;
      ctx.beginPath();
      ctx.moveTo(x, tip);
      ctx.lineTo(x - size, base);
      ctx.lineTo(x + size, base);
      ctx.closePath();
      ctx.fillStyle = buy ? BUY : SELL;
      ctx.fill();
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = ratio;
      ctx.stroke();
    }
  };

  /**
   * A uPlot plugin drawing the candles of {@link candleSeries} and, on top,
   * fill markers: `markers` is an array of `{ time (s), price, side }` or a
   * function returning one (read at every redraw, for live updates).
   * `incomplete(i)`, when given, says which candles (by data index) were
   * built across lost trades: those are drawn grey and hollow.
   */
  const candlestickPlugin = (options = {}) => {
    const markers = options.markers ?? [];
    const incomplete = options.incomplete ?? (() => false);
    return {
      hooks: {
        draw: [(u) => {
          const { left, top, width, height } = u.bbox;
          u.ctx.save();
          u.ctx.beginPath();
          u.ctx.rect(left, top, width, height);
          u.ctx.clip();
          drawCandles(u, incomplete);
          drawMarkers(u, typeof markers === "function" ? markers() : markers);
          u.ctx.restore();
        }],
      },
    };
  };

  globalThis.marketbusCharts = Object.freeze({
    COLOURS: Object.freeze({
      up: UP,
      down: DOWN,
      buy: BUY,
      sell: SELL,
      incomplete: INCOMPLETE,
    }),
    candleScales,
    candleSeries,
    candlestickPlugin,
    formatNumber,
    lineSeries,
    timeAxis,
    utcDate,
    valueAxis,
  });
}
