// The transport view's NATS part: the consumer's backlog and connection from
// the feed's own metric families, and a catch-up's consumer closed once every
// stream caught up marked as done (not an outage).

import assert from "node:assert/strict";
import type { TradeFeed } from "../../common/transport/feed.ts";
import { TransportWatch } from "./transport.ts";

function catchUpFeed(): TradeFeed {
  return {
    name: "catch_up",
    status: () => ({ connected: false, idle: false, detail: "caught up" }),
    metrics: () => [
      {
        name: "marketbus_nats_consumer_pending_messages",
        type: "gauge",
        samples: [{ value: 5192 }],
      },
      {
        name: "marketbus_nats_connected",
        type: "gauge",
        samples: [{ value: 0 }],
      },
    ],
  } as unknown as TradeFeed;
}

Deno.test("TransportWatch: a catch-up's consumer closed after every stream caught up is history_done; before, its figures as they are", () => {
  let done = false;
  const watch = new TransportWatch(catchUpFeed(), () => [], {
    nats: true,
    historyDone: () => done,
  });
  assert.deepEqual(watch.refresh().nats, {
    pending: 5192,
    ack_pending: 0,
    connected: false,
    history_done: false,
  });
  done = true;
  assert.equal(watch.refresh().nats?.history_done, true);
  const plain = new TransportWatch(catchUpFeed(), () => [], { nats: true });
  assert.equal(plain.refresh().nats?.history_done, false, "no catch-up");
});
