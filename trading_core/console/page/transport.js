// The live console's transport view: the NATS consumer's backlog, and for
// the rings each ring's producer and its registered readers (this live and
// any other) with their lag. Rebuilt when it changes (about once a second
// at most); text goes in with textContent only.

import { INTEGER, RATE } from "./format.js";

const cell = (tag, text, className) => {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
};

const natsView = (nats) => {
  const dl = document.createElement("dl");
  dl.className = "nats";
  dl.setAttribute("data-consumer", "nats");
  if (nats.history_done) {
    // A catch-up's consumer, closed on purpose once every stream caught up:
    // its last figures are stale, and not an outage.
    dl.append(cell("dt", "history"));
    const dd = cell("dd", "done (consumer closed)");
    dd.setAttribute("data-field", "history");
    dd.setAttribute("data-value", "done");
    dl.append(dd);
    return dl;
  }
  for (
    const [label, field, text] of [
      ["connected", "connected", nats.connected ? "yes" : "no"],
      ["pending", "pending", INTEGER.format(nats.pending)],
      ["ack pending", "ack_pending", INTEGER.format(nats.ack_pending)],
    ]
  ) {
    dl.append(cell("dt", label));
    const dd = cell(
      "dd",
      text,
      field === "connected" && !nats.connected ? "bad" : "",
    );
    dd.setAttribute("data-field", field);
    dd.setAttribute("data-value", String(nats[field]));
    dl.append(dd);
  }
  return dl;
};

const readerCells = (tr, reader) => {
  tr.setAttribute("data-reader", reader.id);
  tr.setAttribute("data-lag", String(reader.lag));
  tr.append(cell("td", reader.id, "mono"));
  tr.append(cell("td", String(reader.pid), "num"));
  tr.append(cell("td", reader.policy));
  const lag = cell("td", INTEGER.format(reader.lag), "num");
  lag.setAttribute("data-field", "lag");
  lag.setAttribute("data-value", String(reader.lag));
  tr.append(lag);
  tr.append(cell("td", RATE.format(reader.lag_percent), "num"));
  const who = [reader.self ? "this live" : "", reader.alive ? "" : "dead"]
    .filter((w) => w).join(", ");
  tr.append(cell("td", who, reader.alive ? "quiet" : "bad"));
};

const ringsView = (rings) => {
  const table = document.createElement("table");
  table.className = "readers";
  const head = document.createElement("tr");
  for (
    const title of [
      "ring",
      "producer",
      "reader",
      "pid",
      "policy",
      "lag",
      "lag %",
      "",
    ]
  ) {
    head.append(cell("th", title));
  }
  table.createTHead().append(head);
  const body = table.createTBody();
  for (const ring of rings) {
    const producer = ring.problem ??
      `${ring.state}, pid ${ring.producer}${
        ring.producer_alive ? "" : " (gone)"
      }`;
    for (const reader of ring.readers.length > 0 ? ring.readers : [null]) {
      const tr = document.createElement("tr");
      tr.setAttribute("data-ring", ring.name);
      tr.append(cell("td", `${ring.exchange} ${ring.symbol}`));
      tr.append(cell("td", producer, ring.problem ? "warn" : ""));
      if (reader) readerCells(tr, reader);
      else tr.append(cell("td", "no reader registered", "quiet"));
      body.append(tr);
    }
  }
  return table;
};

/** The view in `elements` (`name`, `detail`, `body`); `render` takes each transport part. */
export function createTransport(elements) {
  let shown = "";
  return {
    render(view) {
      const json = JSON.stringify(view);
      if (json === shown) return;
      shown = json;
      elements.name.textContent = view.feed;
      elements.detail.textContent = view.detail;
      const parts = [];
      if (view.nats) parts.push(natsView(view.nats));
      if (view.rings) parts.push(ringsView(view.rings));
      elements.body.replaceChildren(...parts);
    },
  };
}
