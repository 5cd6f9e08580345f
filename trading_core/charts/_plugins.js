// Browser code (a classic script, loaded after uPlot): what uPlot lacks for
// market data, shared by the backtest report and the live console. Defines
// one global, `marketbusCharts`; reads nothing but the data given to it and
// writes only to the chart's canvas (no HTML from data).
"use strict";
// A block: in strict code its functions and constants stay private to it.
{
  const UP = "#26a69a";
  const DOWN = "#ef5350";

  /** Formats a uPlot time (seconds) as UTC, so the page reads the same anywhere. */
  const utcDate = (seconds) => {
    return globalThis.uPlot.tzDate(new Date(seconds * 1e3), "Etc/UTC");
  };

  const pad = (n) => {
    return String(n).padStart(2, "0");
  };

  /**
   * uPlot axis options for a time x axis in UTC, 24-hour: `HH:MM` ticks,
   * with the date (`MM-DD`) on the first tick and at each midnight; only
   * dates when the view spans more than two days.
   */
  const timeAxis = () => {
    return {
      values: (u, splits) => {
        const span = u.scales.x.max - u.scales.x.min;
        return splits.map((s, i) => {
          const d = new Date(s * 1e3);
          const date = `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
          if (span > 2 * 86400) return date;
          const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
          const midnight = d.getUTCHours() === 0 && d.getUTCMinutes() === 0;
          return i === 0 || midnight ? `${time}\n${date}` : time;
        });
      },
    };
  };

  /** uPlot axis options for a value y axis wide enough for its longest label. */
  const valueAxis = () => {
    return {
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
      paths: () => null,
      points: { show: false },
    }));
  };

  /** The visible index range of the x data, inclusive. */
  const visibleRange = (u) => {
    const xs = u.data[0];
    const idxs = u.series[0].idxs;
    if (idxs) return [idxs[0], idxs[1]];
    return [0, xs.length - 1];
  };

  const drawCandles = (u) => {
    const [xs, opens, highs, lows, closes] = u.data;
    const [first, last] = visibleRange(u);
    if (!(last >= first)) return;
    const ctx = u.ctx;
    const ratio = globalThis.devicePixelRatio || 1;
    const slot = u.bbox.width / Math.max(1, last - first + 1);
    const body = Math.max(ratio, Math.min(14 * ratio, slot * 0.7));
    const wick = Math.max(1, Math.round(ratio));
    for (let i = first; i <= last; i++) {
      if (opens[i] == null || closes[i] == null) continue;
      const x = u.valToPos(xs[i], "x", true);
      const top = u.valToPos(highs[i], "y", true);
      const bottom = u.valToPos(lows[i], "y", true);
      const open = u.valToPos(opens[i], "y", true);
      const close = u.valToPos(closes[i], "y", true);
      ctx.fillStyle = closes[i] >= opens[i] ? UP : DOWN;
      ctx.fillRect(Math.round(x - wick / 2), top, wick, bottom - top);
      ctx.fillRect(
        Math.round(x - body / 2),
        Math.min(open, close),
        Math.round(body),
        Math.max(wick, Math.abs(close - open)),
      );
    }
  };

  const drawMarkers = (u, markers) => {
    const ctx = u.ctx;
    const ratio = globalThis.devicePixelRatio || 1;
    const size = 6 * ratio;
    const { min, max } = u.scales.x;
    for (const m of markers) {
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
      ctx.fillStyle = buy ? "#1565c0" : "#ff6f00";
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
   */
  const candlestickPlugin = (options = {}) => {
    const markers = options.markers ?? [];
    return {
      hooks: {
        draw: [(u) => {
          const { left, top, width, height } = u.bbox;
          u.ctx.save();
          u.ctx.beginPath();
          u.ctx.rect(left, top, width, height);
          u.ctx.clip();
          drawCandles(u);
          drawMarkers(u, typeof markers === "function" ? markers() : markers);
          u.ctx.restore();
        }],
      },
    };
  };

  globalThis.marketbusCharts = Object.freeze({
    candleSeries,
    candlestickPlugin,
    timeAxis,
    utcDate,
    valueAxis,
  });
}
