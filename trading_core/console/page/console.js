// The live console's page script (an ES module, after uPlot and
// marketbus_charts.js): one EventSource on /events (schema in
// docs/console.md) whose events update the table, the chart and tape, the
// transport view and the connection state in place. Everything from the
// server is data: it reaches the page only through textContent,
// setAttribute and the chart's canvas, never as HTML. The selection lives
// in the URL's fragment, so a reload keeps it.

import { CandleChart, fillIntervals } from "./chart.js";
import { count, setTotals, StreamTable } from "./table.js";
import { createTransport } from "./transport.js";

const $ = (id) => document.getElementById(id);

/** What the chart shows: { exchange, symbol }, or null for the first stream. */
let selected = null;
let interval = null;
let source = null;

const setState = (state, text) => {
  document.body.setAttribute("data-state", state);
  $("connection").textContent = text;
};

const table = new StreamTable($("streams"), {
  onSelect: (next) => select(next),
  onFiltered: (shown, all, filtering) => {
    $("shown").textContent = filtering
      ? `${count(shown)} of ${count(all)} shown`
      : "";
  },
});
const chart = new CandleChart({
  chart: $("chart"),
  title: $("chart-title"),
  note: $("chart-note"),
  tape: $("tape"),
});
const transport = createTransport({
  name: $("transport-name"),
  detail: $("transport-detail"),
  body: $("transport"),
});

/** The query of the selection, for /events and the fragment. */
const query = () => {
  const q = new URLSearchParams();
  if (selected) {
    q.set("exchange", selected.exchange);
    q.set("symbol", selected.symbol);
  }
  if (interval) q.set("interval", interval);
  return q.toString();
};

const applyTable = (part, whole) => {
  table.apply(part, whole);
  if (part.totals) setTotals($("totals"), part.totals);
  $("stream-count").textContent = count(table.size);
  $("stream-count").setAttribute("data-value", String(table.size));
  $("empty").hidden = table.size > 0;
};

const applyChart = (part) => {
  const shown = chart.apply(part);
  // The server chose the first stream: follow it without reconnecting.
  if (shown) selected = shown;
  table.select(selected);
};

const onSnapshot = (data) => {
  const { intervals } = data.meta;
  if (!intervals.includes(interval)) interval = intervals[0];
  fillIntervals($("interval"), intervals, interval);
  $("bars-source").textContent = data.meta.bars === "live"
    ? "bars: live's own"
    : "bars: the console's";
  applyTable(data.table, true);
  if (data.transport) transport.render(data.transport);
  applyChart(data.chart);
};

const onUpdate = (data) => {
  if (data.table) applyTable(data.table, false);
  if (data.transport) transport.render(data.transport);
  if (data.chart) applyChart(data.chart);
};

const connect = () => {
  source?.close();
  const q = query();
  const es = new EventSource(q === "" ? "/events" : `/events?${q}`);
  source = es;
  es.addEventListener("snapshot", (e) => {
    if (es !== source) return;
    onSnapshot(JSON.parse(e.data));
    setState("live", "live");
  });
  es.addEventListener("update", (e) => {
    if (es === source) onUpdate(JSON.parse(e.data));
  });
  es.addEventListener("error", () => {
    // EventSource reconnects by itself, after the server's retry: delay.
    if (es === source) setState("disconnected", "disconnected: reconnecting…");
  });
};

/** Charts `next` ({exchange, symbol}, or null) at the interval chosen: a new event stream. */
const select = (next) => {
  selected = next;
  history.replaceState(null, "", `#${query()}`);
  chart.reset();
  table.select(selected);
  connect();
};

$("interval").addEventListener("change", (e) => {
  interval = e.target.value;
  select(selected);
});
$("filter").addEventListener("input", (e) => table.filter(e.target.value));

const fragment = new URLSearchParams(location.hash.slice(1));
const exchange = fragment.get("exchange");
const symbol = fragment.get("symbol");
if (exchange && symbol) selected = { exchange, symbol };
interval = fragment.get("interval");
connect();
