// The live console's chart of the selected stream (uPlot and marketbus'
// candle plugin, the same as the backtest report's) and its trade tape.
// Bars merge by start time: a later one appends, the same start replaces
// (the open bar, then its closed version); tape entries by id.

import { clock, PRICE } from "./format.js";

const { uPlot, marketbusCharts } = globalThis;

/** Candles kept (the server's 240 closed bars and the open one). */
const CANDLES_KEPT = 241;
/** Trades on the tape. */
const TAPE_SIZE = 50;
const HEIGHT = 320;
const SIDES = ["?", "buy", "sell"];

/** One tape entry `[id, seq, ts, price, size, side]` as a list item. */
const tapeItem = ([, seq, ts, price, size, side]) => {
  const li = document.createElement("li");
  li.setAttribute("data-seq", String(seq));
  li.className = SIDES[side] ?? "?";
  for (
    const [name, text] of [
      ["time", clock(ts)],
      ["price", PRICE.format(price)],
      ["size", PRICE.format(size)],
      ["side", SIDES[side] ?? "?"],
    ]
  ) {
    const span = document.createElement("span");
    span.className = name;
    span.textContent = text;
    li.append(span);
  }
  return li;
};

/**
 * The chart in `elements.chart` with its `title`, `note` and `tape`;
 * {@link CandleChart.apply} takes the chart part of each event.
 */
export class CandleChart {
  #elements;
  #key = "";
  #bars = [];
  #plot = null;
  #tapeLast = 0;
  /** Why the chart is not what the page asked for (a refused selection), shown until the next choice; "" none. */
  notice = "";

  constructor(elements) {
    this.#elements = elements;
    new ResizeObserver(() => {
      this.#plot?.setSize({ width: this.#width(), height: HEIGHT });
    }).observe(elements.chart);
  }

  /** Forgets the bars and the tape (another stream or interval comes). */
  reset(key = "") {
    this.#plot?.destroy();
    this.#plot = null;
    this.#key = key;
    this.#bars = [];
    this.#tapeLast = 0;
    this.#elements.chart.setAttribute("data-bars", "0");
    this.#elements.tape.replaceChildren();
  }

  /** Applies a chart part; returns the stream it shows ({exchange, symbol}), or null. */
  apply(part) {
    const key = JSON.stringify([part.exchange, part.symbol, part.interval]);
    if (part.full || key !== this.#key) this.reset(key);
    const known = part.exchange !== null && part.symbol !== null;
    this.#elements.title.textContent = known
      ? `${part.exchange} ${part.symbol} · ${part.interval}`
      : "—";
    for (const bar of part.bars) this.#merge(bar, false);
    if (part.open) this.#merge(part.open, true);
    this.#addTape(part.tape);
    this.#draw(part.note);
    return known ? { exchange: part.exchange, symbol: part.symbol } : null;
  }

  /** Adds a bar by start time; the open one never replaces an older bar. */
  #merge(bar, open) {
    const bars = this.#bars;
    const last = bars[bars.length - 1];
    if (!last || bar[0] > last[0]) bars.push(bar);
    else if (bar[0] === last[0]) bars[bars.length - 1] = bar;
    else if (!open) {
      const at = bars.findIndex((b) => b[0] === bar[0]);
      if (at >= 0) bars[at] = bar;
    }
    if (bars.length > CANDLES_KEPT) bars.splice(0, bars.length - CANDLES_KEPT);
  }

  #width() {
    return Math.max(320, this.#elements.chart.clientWidth);
  }

  #draw(note) {
    const { chart, note: noteElement } = this.#elements;
    const bars = this.#bars;
    chart.setAttribute("data-bars", String(bars.length));
    const text = [
      this.notice,
      note ??
        (bars.length === 0
          ? "No trade of this stream yet: its first trade opens its first bar."
          : ""),
    ].filter((t) => t).join(" ");
    noteElement.textContent = text;
    noteElement.hidden = text === "";
    if (bars.length === 0) return;
    const data = [0, 1, 2, 3, 4].map((i) =>
      bars.map((b) => (i === 0 ? b[0] / 1000 : b[i]))
    );
    if (this.#plot) {
      this.#plot.setData(data);
      return;
    }
    this.#plot = new uPlot(
      {
        width: this.#width(),
        height: HEIGHT,
        tzDate: marketbusCharts.utcDate,
        scales: marketbusCharts.candleScales(),
        axes: [marketbusCharts.timeAxis(), marketbusCharts.valueAxis()],
        series: [{}, ...marketbusCharts.candleSeries()],
        plugins: [
          marketbusCharts.candlestickPlugin({
            // Built across lost trades (complete 0): grey and hollow.
            incomplete: (i) => this.#bars[i]?.[7] === 0,
          }),
        ],
      },
      data,
      chart,
    );
  }

  #addTape(entries) {
    const list = this.#elements.tape;
    for (const entry of entries) {
      if (entry[0] <= this.#tapeLast) continue;
      this.#tapeLast = entry[0];
      list.prepend(tapeItem(entry));
    }
    while (list.children.length > TAPE_SIZE) list.lastElementChild.remove();
  }
}

/** Fills `select` with `intervals` (when they changed) and selects `current`. */
export function fillIntervals(select, intervals, current) {
  const have = [...select.options].map((o) => o.value);
  if (have.join("\n") !== intervals.join("\n")) {
    select.replaceChildren(...intervals.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }));
  }
  select.value = current;
}
