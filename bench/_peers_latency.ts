/**
 * The NATS latency part of bench/peers.ts (issue 16, goal 3): serve → live
 * strategy-callback latency over NATS JetStream at 10k trades/s against Go's
 * PublishAsync → Consume callback at the same rate (bench/go/latency through
 * bench/_go_latency.ts), interleaved round by round.
 *
 * Ours is a latency round of bench/nats_path.ts (`serve --nats --no-ipc
 * --rate 10000` → one durable `live --nats`, deliver new; live's one-way
 * latency from ts_recv to its callback), run as a process since nats_path.ts
 * exports no round: `nats_path.ts --latency-only --rounds 1 [--quick]` (its
 * own nats-server; 50,000 trades, 20,000 with `--quick`), one per round.
 * The Go peer publishes as many messages at the same rate on this part's
 * nats-server, on a fresh stream (file storage, R1), with a Msg-Id on every
 * message as serve sets. nats_path.ts prints p50 and p99 only, so the rows
 * are p50 (≤ 1.0× Go) and p99 (≤ 2 ms); Go's p99.9 and max are printed.
 *
 * @module
 */

import { formatRate } from "../common/runtime/format.ts";
import { startNatsServer } from "../tests/nats_server.ts";
import { buildGoLatency, goLatencyRound } from "./_go_latency.ts";
import { formatNs, interleave, roundsAndLoad, track } from "./_peers_shared.ts";
import type { PeerRow, PeersRun } from "./peers.ts";

/** Trades/s on both sides. */
const RATE = 10_000;

const NATS_PATH = decodeURIComponent(
  new URL("./nats_path.ts", import.meta.url).pathname,
);

/** One latency round of ours: nats_path.ts prints p50 and p99 only. */
interface OursLatency {
  received: number;
  gaps: number;
  p50: number;
  p99: number;
}

/** `"331.8µs"`, `"24.38ms"`, `"812ns"`, `"1.20s"` (formatNanos) → ns. */
function parseNanos(text: string): number {
  const match = text.match(/^([\d.]+)(ns|µs|ms|s)$/);
  if (!match) throw new Error(`not a formatNanos duration: "${text}"`);
  const scale = { ns: 1, "µs": 1e3, ms: 1e6, s: 1e9 }[match[2]]!;
  return Number(match[1]) * scale;
}

/** The `latency round N: received …, gaps …, p50 …, p99 …` lines of nats_path.ts. */
function parseLatencyRounds(output: string): OursLatency[] {
  return [
    ...output.matchAll(
      /latency round \d+: received (\d+), gaps (\d+), p50 ([^,\s]+), p99 ([^,\s]+)/g,
    ),
  ].map((m) => ({
    received: Number(m[1]),
    gaps: Number(m[2]),
    p50: parseNanos(m[3]),
    p99: parseNanos(m[4]),
  }));
}

/**
 * One `nats_path.ts --latency-only --rounds 1` as a process (`--quick`:
 * 20,000 trades instead of 50,000): its latency round. Its temp dirs
 * (config, nats-server's store) go into one of the run's, which Ctrl-C
 * removes too.
 */
async function oursRound(run: PeersRun): Promise<OursLatency> {
  const tmp = await Deno.makeTempDir({ prefix: "marketbus_peers_latency_" });
  run.tempDirs.push(tmp);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env",
      "--allow-net=127.0.0.1,localhost",
      NATS_PATH,
      "--latency-only",
      "--rounds",
      "1",
      ...(run.quick ? ["--quick"] : []),
    ],
    env: { TMPDIR: tmp },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const forget = track(run, child);
  try {
    const output = await child.output();
    const text = new TextDecoder().decode(output.stdout);
    if (!output.success) {
      throw new Error(
        `bench/nats_path.ts --latency-only: exit ${output.code}:\n${text}${
          new TextDecoder().decode(output.stderr)
        }`,
      );
    }
    const [round] = parseLatencyRounds(text);
    if (!round) {
      throw new Error(
        `no latency round in bench/nats_path.ts's output:\n${text}`,
      );
    }
    return round;
  } finally {
    forget();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    const at = run.tempDirs.indexOf(tmp);
    if (at >= 0) run.tempDirs.splice(at, 1);
  }
}

/** "p50 …, p99 …[, p99.9 …, max …]" of one round, with its losses. */
function describe(
  l: { p50: number; p99: number; p999?: number; max?: number },
  loss: string,
): string {
  return `p50 ${formatNs(l.p50)}, p99 ${formatNs(l.p99)}${
    l.p999 === undefined ? "" : `, p99.9 ${formatNs(l.p999)}`
  }${l.max === undefined ? "" : `, max ${formatNs(l.max)}`}${
    loss ? ` (${loss})` : ""
  }`;
}

/** The part's rows: p50 (ratio goal) and p99 (absolute goal). */
function latencyRows(hasGo: boolean, trades: number): [PeerRow, PeerRow] {
  const row = (what: string, goal: Partial<PeerRow>): PeerRow => ({
    scenario: `NATS ${what}, serve → live callback, ${
      formatRate(RATE)
    } offered, ${trades.toLocaleString("en-US")} trades/round`,
    unit: "ns",
    ours: [],
    peer: "Go PublishAsync → Consume",
    theirs: hasGo ? [] : undefined,
    lowerIsBetter: true,
    format: formatNs,
    ...goal,
  });
  return [row("latency p50", { goal: 1 }), row("latency p99", { limit: 2e6 })];
}

/** The NATS latency rows: ours (bench/nats_path.ts) vs the Go peer, interleaved. */
export async function natsLatencyRows(run: PeersRun): Promise<PeerRow[]> {
  const binary = await buildGoLatency();
  const trades = run.quick ? 20_000 : 50_000; // as bench/nats_path.ts
  const server = await startNatsServer();
  run.server = server;
  const [p50, p99] = latencyRows(Boolean(binary), trades);
  console.log(
    `\nNATS latency at ${
      formatRate(RATE)
    }: ours bench/nats_path.ts --latency-only as a process (its own nats-server) vs ${
      binary ? `Go ${binary} on ${server.url}` : "no Go peer"
    } (file storage, R1, fresh stream per round); ${roundsAndLoad(run)}`,
  );
  try {
    for (let i = 0; i < run.rounds; i++) {
      const shown = await interleave(i, [
        async () => {
          const r = await oursRound(run);
          p50.ours.push(r.p50);
          p99.ours.push(r.p99);
          return `marketbus ${
            describe(
              r,
              r.received < trades || r.gaps
                ? `received ${r.received} of ${trades}, gaps ${r.gaps}`
                : "",
            )
          }`;
        },
        async () => {
          if (!binary) return "Go skipped";
          const r = await goLatencyRound(binary, {
            url: server.url,
            stream: `PEERS_GO_LAT_${i}`,
            msgs: trades,
            rate: RATE,
            signal: run.signal,
          });
          p50.theirs!.push(r.p50);
          p99.theirs!.push(r.p99);
          return `Go ${
            describe(
              r,
              r.received < r.sent ? `received ${r.received} of ${r.sent}` : "",
            )
          }`;
        },
      ]);
      console.log(`  round ${i + 1}, NATS latency: ${shown.join("; ")}`);
    }
  } finally {
    await server.stop();
    run.server = undefined;
  }
  return [p50, p99];
}
