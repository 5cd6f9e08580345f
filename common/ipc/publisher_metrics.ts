/**
 * The ring publisher's own metric families (the readers registered on each
 * ring, their lag, evictions, the time tethered readers held the producer,
 * its backlog), which it reports through `TradePublisher.metrics`. Built
 * from a scan of each ring's reader registry at scrape time, never per write.
 *
 * @module
 */

import type { Labels, MetricFamily, Sample } from "../metrics/exposition.ts";
import { counter, gauge } from "../metrics/registry.ts";
import type { TetherStats } from "./_ring_backlog.ts";
import type { ReaderEntry } from "./_registry.ts";
import { EvictionCause, ReaderState } from "./layout.ts";
import { evictionCauseName, readerIdHex, readerPolicy } from "./ring_status.ts";

/** What {@linkcode ringPublisherFamilies} reads of one ring. */
export interface RingReadings {
  /** Slots of the ring. */
  capacity: number;
  /** Its registered readers, scanned now. */
  readers: readonly ReaderEntry[];
  /** Its writer's tethered-reader figures. */
  stats: TetherStats;
}

/** The states of a registered reader, in the order of their samples. */
const REGISTERED: readonly ReaderState[] = [
  ReaderState.Lossy,
  ReaderState.Tethered,
  ReaderState.Evicted,
];

/** The `policy` label of a reader: lossy, tethered, or evicted (lossy until it tethers again). */
function policyOf(state: ReaderState): string {
  return readerPolicy(state) ?? "unknown";
}

/**
 * The families of the rings, `rings[i]` labelled `symbols[i]` (`exchange`,
 * `symbol`).
 */
export function ringPublisherFamilies(
  rings: readonly RingReadings[],
  symbols: readonly Labels[],
): MetricFamily[] {
  const perRing = (value: (ring: RingReadings) => number): Sample[] =>
    rings.map((ring, i) => ({ labels: symbols[i], value: value(ring) }));
  const perReader = (value: (ring: RingReadings, r: ReaderEntry) => number) =>
    rings.flatMap((ring, i) =>
      ring.readers.map((reader): Sample => ({
        labels: {
          ...symbols[i],
          reader: readerIdHex(reader.id),
          pid: String(reader.pid),
          policy: policyOf(reader.state),
        },
        value: value(ring, reader),
      }))
    );
  return [
    gauge(
      {
        name: "marketbus_ring_readers",
        help:
          "Readers registered on the ring, by policy (evicted: a tethered reader the producer evicted, lossy until it tethers again).",
      },
      rings.flatMap((ring, i) =>
        REGISTERED.map((state) => ({
          labels: { ...symbols[i], policy: policyOf(state) },
          value: ring.readers.filter((r) => r.state === state).length,
        }))
      ),
    ),
    gauge({
      name: "marketbus_ring_reader_lag_trades",
      help:
        "Trades written to the ring that a registered reader has not read yet.",
    }, perReader((_, reader) => reader.lag)),
    gauge({
      name: "marketbus_ring_reader_lag_ratio",
      help:
        "A registered reader's lag as a fraction of the ring's capacity: a lossy reader at 1 loses trades, a tethered one holds the producer.",
    }, perReader((ring, reader) => reader.lag / ring.capacity)),
    counter(
      {
        name: "marketbus_ring_evictions_total",
        help:
          "Tethered readers the producer evicted (made lossy), by cause: held it past their tether timeout, process gone, or the producer's backlog full.",
      },
      rings.flatMap((ring, i) => {
        const { timeout, dead, backlogFull } = ring.stats.evictions;
        return ([
          [EvictionCause.Timeout, timeout],
          [EvictionCause.Dead, dead],
          [EvictionCause.BacklogFull, backlogFull],
        ] as const).map(([cause, value]) => ({
          labels: { ...symbols[i], cause: evictionCauseName(cause) },
          value,
        }));
      }),
    ),
    counter({
      name: "marketbus_ring_tether_stall_seconds_total",
      help:
        "Time the producer waited for tethered readers before writing into the ring, seconds.",
    }, perRing((ring) => ring.stats.stalledMs / 1000)),
    gauge({
      name: "marketbus_ring_backlog_trades",
      help:
        "Trades the producer holds in order while a tethered reader holds the ring, not yet written to it.",
    }, perRing((ring) => ring.stats.backlog)),
  ];
}
