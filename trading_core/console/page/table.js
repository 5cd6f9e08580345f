// The live console's table of streams: one row per (exchange, symbol),
// cells updated in place when their value changes, sortable by any column,
// filtered by a substring, a click (or Enter) selects the row for the chart.
// Text from the server goes in with textContent and setAttribute only.

import { finite, formatField, INTEGER } from "./format.js";

/** The row fields after the stream index, in the events' order. */
const ROW_FIELDS = [
  "trades",
  "rate",
  "last",
  "lost",
  "gaps",
  "lag",
  "p50",
  "p99",
  "state",
  "caught_up",
];
const FIELDS = ["exchange", "symbol", ...ROW_FIELDS];
const NUMERIC = new Set(
  ROW_FIELDS.filter((f) => f !== "state" && f !== "caught_up"),
);
/** States that need no attention. */
const GOOD_STATES = new Set(["alive", "connected", "live", "attached"]);

/** Sets a row's cell when its value changed; true when it did. */
const setCell = (entry, field, value) => {
  const raw = value === null || value === undefined ? "" : value;
  if (entry.values[field] === raw) return false;
  entry.values[field] = raw;
  const td = entry.cells[field];
  td.textContent = formatField(field, raw);
  td.setAttribute("data-value", raw === "" ? "" : String(raw));
  if (field === "lost" || field === "gaps") {
    td.classList.toggle("bad", finite(raw) && raw > 0);
  }
  if (field === "state") {
    td.classList.toggle("warn", raw !== "" && !GOOD_STATES.has(raw));
  }
  if (field === "caught_up") td.classList.toggle("warn", raw === false);
  return true;
};

/** A new row of stream `index`: its cells, empty but for the names. */
const newRow = (index, exchange, symbol) => {
  const tr = document.createElement("tr");
  tr.setAttribute("data-exchange", exchange);
  tr.setAttribute("data-symbol", symbol);
  tr.setAttribute("data-index", String(index));
  tr.tabIndex = 0;
  const cells = {};
  for (const field of FIELDS) {
    const td = document.createElement("td");
    td.setAttribute("data-field", field);
    td.setAttribute("data-value", "");
    if (NUMERIC.has(field)) td.className = "num";
    cells[field] = td;
    tr.append(td);
  }
  const entry = { exchange, symbol, tr, cells, values: {} };
  setCell(entry, "exchange", exchange);
  setCell(entry, "symbol", symbol);
  // A long name is cut with an ellipsis (console.css): whole on hover.
  cells.exchange.setAttribute("title", exchange);
  cells.symbol.setAttribute("title", symbol);
  return entry;
};

/**
 * The table in `element` (`table#streams`); `options.onSelect({exchange,
 * symbol})` is called when the user picks a row, `options.onFiltered(shown,
 * all, filtering)` when the filter changed what shows.
 */
export class StreamTable {
  #element;
  #tbody;
  #options;
  /** By stream index: { exchange, symbol, tr, cells, values }. */
  #rows = new Map();
  #sort = { field: null, dir: 1 };
  #filter = "";
  #selected = null;

  constructor(element, options) {
    this.#element = element;
    this.#tbody = element.tBodies[0];
    this.#options = options;
    for (const th of element.querySelectorAll("th[data-sort]")) {
      th.tabIndex = 0;
      th.addEventListener("click", () => this.#sortBy(th));
      th.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          this.#sortBy(th);
        }
      });
    }
    this.#tbody.addEventListener("click", (e) => this.#pick(e.target));
    this.#tbody.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        if (this.#pick(e.target)) e.preventDefault();
      }
    });
  }

  /** Streams shown. */
  get size() {
    return this.#rows.size;
  }

  /** Applies the table part of an event (whole: a snapshot). */
  apply(table, whole) {
    if (whole && !this.#sameStreams(table.streams)) {
      this.#tbody.replaceChildren();
      this.#rows = new Map();
    }
    for (const [index, exchange, symbol] of table.streams) {
      if (this.#rows.has(index)) continue;
      const entry = newRow(index, exchange, symbol);
      this.#rows.set(index, entry);
      this.#tbody.append(entry.tr);
    }
    let moved = false;
    for (const row of table.rows) {
      const entry = this.#rows.get(row[0]);
      if (!entry) continue;
      ROW_FIELDS.forEach((field, i) => {
        const changed = setCell(entry, field, row[i + 1]);
        if (changed && field === this.#sort.field) moved = true;
      });
    }
    const added = table.streams.length > 0;
    if (moved || added) this.#applySort();
    if (added) {
      this.#applyFilter();
      this.#markSelected();
    }
  }

  /** Marks `next` ({exchange, symbol} or null) as the charted row. */
  select(next) {
    this.#selected = next;
    this.#markSelected();
  }

  /** Shows only the rows whose "exchange symbol" contains `text` (any case). */
  filter(text) {
    this.#filter = text.trim().toLowerCase();
    this.#applyFilter();
  }

  #sameStreams(streams) {
    if (streams.length !== this.#rows.size) return false;
    return streams.every(([index, exchange, symbol]) => {
      const row = this.#rows.get(index);
      return row && row.exchange === exchange && row.symbol === symbol;
    });
  }

  #sortBy(th) {
    const sort = this.#sort;
    const field = th.getAttribute("data-sort");
    sort.dir = sort.field === field ? -sort.dir : 1;
    sort.field = field;
    for (const other of this.#element.querySelectorAll("th[data-sort]")) {
      other.removeAttribute("aria-sort");
    }
    th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
    this.#applySort();
  }

  #compare(a, b) {
    const { field, dir } = this.#sort;
    const x = a.values[field];
    const y = b.values[field];
    // Unknown values sort last whatever the direction.
    if (x === "" || y === "") return (x === "") - (y === "");
    if (typeof x === "number" && typeof y === "number") return (x - y) * dir;
    return String(x).localeCompare(String(y)) * dir;
  }

  /** Orders the rows by the sort field, moving nodes only when the order changed. */
  #applySort() {
    const entries = [...this.#rows.values()];
    if (this.#sort.field !== null) {
      entries.sort((a, b) =>
        this.#compare(a, b) ||
        a.exchange.localeCompare(b.exchange) ||
        a.symbol.localeCompare(b.symbol)
      );
    }
    const current = this.#tbody.rows;
    const same = entries.length === current.length &&
      entries.every((entry, i) => current[i] === entry.tr);
    if (!same) this.#tbody.append(...entries.map((entry) => entry.tr));
  }

  #applyFilter() {
    const filter = this.#filter;
    let shown = 0;
    for (const entry of this.#rows.values()) {
      const hit = filter === "" ||
        `${entry.exchange} ${entry.symbol}`.toLowerCase().includes(filter);
      entry.tr.hidden = !hit;
      if (hit) shown++;
    }
    this.#options.onFiltered(shown, this.#rows.size, filter !== "");
  }

  #markSelected() {
    const selected = this.#selected;
    for (const entry of this.#rows.values()) {
      const on = selected !== null && entry.exchange === selected.exchange &&
        entry.symbol === selected.symbol;
      entry.tr.classList.toggle("selected", on);
      entry.tr.setAttribute("aria-selected", on ? "true" : "false");
    }
  }

  /** Selects the row holding `target`; false when there is none. */
  #pick(target) {
    const tr = target.closest("tr");
    if (!tr || tr.parentElement !== this.#tbody) return false;
    const exchange = tr.getAttribute("data-exchange");
    const symbol = tr.getAttribute("data-symbol");
    const selected = this.#selected;
    const same = selected && selected.exchange === exchange &&
      selected.symbol === symbol;
    if (!same) this.#options.onSelect({ exchange, symbol });
    return true;
  }
}

/** Writes the totals into `element`'s `[data-field]` children. */
export function setTotals(element, totals) {
  for (const field of ["trades", "rate", "lost", "gaps"]) {
    const el = element.querySelector(`[data-field="${field}"]`);
    const v = totals[field];
    el.textContent = formatField(field, v);
    el.setAttribute(
      "data-value",
      v === null || v === undefined ? "" : String(v),
    );
    if (field === "lost" || field === "gaps") {
      el.classList.toggle("bad", finite(v) && v > 0);
    }
  }
}

/** `n` as a count. */
export const count = (n) => INTEGER.format(n);
