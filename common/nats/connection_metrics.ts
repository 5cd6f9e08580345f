/**
 * The metric families of one NATS connection, which the publisher and the
 * feed both report.
 *
 * @module
 */

import { counter, gauge } from "../metrics/registry.ts";
import type { MetricFamily } from "../metrics/exposition.ts";
import type { NatsConnectionCounters } from "./connection.ts";

/** `marketbus_nats_connected`, `…_disconnects_total`, `…_reconnects_total` of one connection. */
export function natsConnectionFamilies(
  counters: Readonly<NatsConnectionCounters>,
): MetricFamily[] {
  return [
    gauge({
      name: "marketbus_nats_connected",
      help:
        "1 while the NATS connection is up, 0 while it is down or reconnecting.",
    }, counters.connected ? 1 : 0),
    counter({
      name: "marketbus_nats_disconnects_total",
      help: "Times the NATS connection was lost.",
    }, counters.disconnects),
    counter({
      name: "marketbus_nats_reconnects_total",
      help: "Times the NATS connection was re-established.",
    }, counters.reconnects),
  ];
}
