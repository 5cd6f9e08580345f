// `live --catch-up` with `stream_per_exchange = true` in both roles: the
// history is read from the exchange's own stream ({stream}_{EXCHANGE}, an
// ExchangeStreamsFeed), the snapshot from it too; every trade once, in
// order, then the ring (see tests/_catch_up_run.ts).

import { gatedTest, OWN_SERVER_REASON } from "./_permissions.ts";
import { catchUpRun, PERMISSIONS } from "./_catch_up_run.ts";

gatedTest({
  name:
    "live --catch-up 1m --snapshot with stream_per_exchange: the snapshot and the history from the exchange's stream, every trade of serve --nats once, in order, then the ring",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await catchUpRun(15_000, 2000, {
      since: ["--catch-up", "1m", "--snapshot"],
      streamPerExchange: true,
    });
  },
});

gatedTest({
  name:
    "live --catch-up durable with stream_per_exchange: the durable {NAME}_{EXCHANGE}'s history, the stored cut from the exchange's stream, then the ring, every trade once",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await catchUpRun(15_000, 2000, {
      since: [
        "--catch-up",
        "durable",
        "--durable",
        "catchup",
        "--deliver",
        "all",
      ],
      streamPerExchange: true,
    });
  },
});
