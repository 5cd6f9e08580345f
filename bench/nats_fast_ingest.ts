/**
 * JetStream fast-ingest batch publishing (nats-server ≥ 2.14, `allow_batched`)
 * against our current publisher path, interleaved on fresh streams of one
 * nats-server (file storage, R1):
 *
 * - `ack 1` / `ack 64`: NatsPublisher (a PubAck per message, 256 in flight),
 *   1 and 64 trades per message, through bench/nats_publish.ts's `round`;
 * - `fast 1` / `fast 64`: bench/_fast_ingest.ts, 48 B (one trade) and
 *   3,072 B (64 trades) per message, a `Nats-Msg-Id` on every message (fast
 *   ingest keeps the stream's dedup) set through nats.js's `headers()` or
 *   passed bare (encoded by bench/_fast_ingest_header.ts), three subjects,
 *   one flow ack per up to 500 messages, 2 outstanding; and the same through
 *   nats.js 3.4.0's own `startFastIngest` (`@nats-io/jetstream/internal`);
 * - `go …` (when natscli is found): `nats bench js pub async --dedup` and
 *   `nats bench js pub fast --dedup` at 48 B and 3,072 B, CPU by /usr/bin/time.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-sys=loadavg --allow-net=127.0.0.1,localhost bench/nats_fast_ingest.ts [--rounds 3] [--quick] [--no-go] [--only <text in the shape names>]
 *
 * Every round checks that the stream holds exactly the messages published
 * (fast ingest: the closing PubAck's count and the stream's message count),
 * then deletes it. Prints each round, then per shape the median (min – max)
 * of msgs/s and trades/s, the publisher's CPU per message (user + system
 * of the publishing process; for the Deno shapes, this whole process) and
 * nats-server's (from /proc/<pid>/stat, 10 ms ticks).
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { startFastIngest } from "@nats-io/jetstream/internal";
import { headers, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { FastIngest } from "./_fast_ingest.ts";
import { formatRate } from "../common/runtime/format.ts";
import { encodeTrade, RecordOffset } from "../common/wire/codec.ts";
import { natsMessageId } from "../common/wire/message_id.ts";
import { Side, TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { startNatsServer } from "../tests/nats_server.ts";
import { benchRate, findOrInstallNatscli } from "./_natscli.ts";
import { median } from "./_process.ts";
import { round as ackRound } from "./nats_publish.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];

/** What one round of one shape measured. */
interface Result {
  messages: number;
  trades: number;
  seconds: number;
  /** Publisher CPU, user + system, in microseconds. */
  cpuMicros: number;
  /** nats-server CPU over the round (stream setup and check included), in microseconds. */
  serverMicros?: number;
}

/** One row of the comparison. */
interface Shape {
  name: string;
  run(url: string, index: number): Promise<Result>;
}

function cpuMicros(since: { user: number; system: number }): number {
  const used = cpuUsage(since);
  return used.user + used.system;
}

/** NatsPublisher, `tradesPerMessage` trades per message, through bench/nats_publish.ts. */
function ackShape(tradesPerMessage: number, trades: number): Shape {
  return {
    name: `ack ${tradesPerMessage} (NatsPublisher)`,
    async run(url, index) {
      const before = cpuUsage();
      const round = await ackRound(
        url,
        { batchMaxTrades: tradesPerMessage, trades, rate: 0 },
        1000 + index,
      );
      return {
        messages: round.messages,
        trades,
        seconds: trades / round.rate,
        cpuMicros: cpuMicros(before),
      };
    },
  };
}

/** A 48-byte trade record, its seq and trade id to be set per trade. */
function tradeRecord(): Uint8Array {
  const record = new Uint8Array(TRADE_RECORD_SIZE);
  encodeTrade({
    side: Side.Buy,
    flags: 0,
    seq: 0,
    tsEvent: 1_764_000_000_000_000_000n,
    tsRecv: 1_764_000_000_000_000_000n,
    priceFixed: 67_123_450_000_000n,
    size: 0.5,
    tradeId: 0n,
  }, record);
  return record;
}

async function withStream<T>(
  url: string,
  stream: string,
  subjects: string,
  fn: (nc: NatsConnection) => Promise<T>,
  check: (messages: number, result: T) => void,
): Promise<T> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.add({
      name: stream,
      subjects: [subjects],
      storage: "file",
      num_replicas: 1,
      allow_batched: true,
    });
    const result = await fn(nc);
    check((await jsm.streams.info(stream)).state.messages, result);
    return result;
  } finally {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  }
}

/** Fast-ingest publishers compared: ours with nats.js headers or a bare id, and nats.js's own. */
const VARIANTS = {
  hdrs: "FastIngest, MsgHdrs",
  bare: "FastIngest, bare Msg-Id",
  natsjs: "nats.js startFastIngest",
} as const;
type Variant = keyof typeof VARIANTS;

/**
 * nats.js 3.4.0's own fast ingest (`startFastIngest`, exported only from
 * `@nats-io/jetstream/internal`): a promise per `add`, headers per message.
 */
async function natsJsFastIngest(
  nc: NatsConnection,
  subjects: string[],
  messages: number,
  message: (i: number) => { payload: Uint8Array; h: MsgHdrs | string },
): Promise<void> {
  const first = message(0);
  const batch = await startFastIngest(nc, subjects[0], first.payload, {
    ackInterval: 500,
    allowGaps: false,
    inboxPrefix: "_INBOX",
    maxOutstandingAcks: 2,
    headers: first.h as MsgHdrs,
  });
  for (let i = 1; i < messages; i++) {
    const { payload, h } = message(i);
    await batch.add(subjects[i % 3], payload, { headers: h as MsgHdrs });
  }
  const ack = await batch.end();
  if (ack.count !== messages) {
    throw new Error(`PubAck count ${ack.count}, published ${messages}`);
  }
}

/**
 * Fast ingest, `tradesPerMessage` trades per message (a fresh payload per
 * message, as a publisher copying trades out of the ring makes), each with
 * its `Nats-Msg-Id`, over three subjects.
 */
function fastShape(
  tradesPerMessage: number,
  trades: number,
  variant: Variant,
): Shape {
  const bareId = variant === "bare";
  return {
    name: `fast ${tradesPerMessage} (${VARIANTS[variant]})`,
    run(url, index) {
      const stream = `FI_${tradesPerMessage}_${index}`;
      const prefix = `fi${tradesPerMessage}r${index}`;
      const subjects = SYMBOLS.map((symbol) => `${prefix}.${symbol}`);
      const origins = SYMBOLS.map((symbol) => ({
        exchange: "binance",
        symbol,
      }));
      const messages = Math.ceil(trades / tradesPerMessage);
      const template = new Uint8Array(TRADE_RECORD_SIZE * tradesPerMessage);
      const record = tradeRecord();
      for (let t = 0; t < tradesPerMessage; t++) {
        template.set(record, t * TRADE_RECORD_SIZE);
      }
      const message = (i: number) => {
        const payload = template.slice();
        const view = new DataView(payload.buffer);
        const first = i * tradesPerMessage + 1;
        for (let t = 0; t < tradesPerMessage; t++) {
          const at = t * TRADE_RECORD_SIZE;
          view.setUint32(at + RecordOffset.Seq, first + t, true);
          view.setUint32(at + RecordOffset.TradeId, first + t, true);
        }
        const id = natsMessageId(origins[i % 3], BigInt(first), {
          count: tradesPerMessage,
          firstSeq: first,
        });
        if (bareId) return { payload, h: id };
        const h = headers();
        h.set("Nats-Msg-Id", id);
        return { payload, h };
      };
      return withStream(url, stream, `${prefix}.>`, async (nc) => {
        const before = cpuUsage();
        const started = performance.now();
        if (variant === "natsjs") {
          await natsJsFastIngest(nc, subjects, messages, message);
          const seconds = (performance.now() - started) / 1000;
          return { messages, trades, seconds, cpuMicros: cpuMicros(before) };
        }
        const first = message(0);
        const batch = await FastIngest.start(
          nc,
          subjects[0],
          first.payload,
          first.h,
          { stream },
        );
        for (let i = 1; i < messages; i++) {
          const { payload, h } = message(i);
          if (!batch.publish(subjects[i % 3], payload, h)) await batch.room();
        }
        const ack = await batch.end();
        const seconds = (performance.now() - started) / 1000;
        if (ack.count !== messages) {
          throw new Error(`PubAck count ${ack.count}, published ${messages}`);
        }
        return { messages, trades, seconds, cpuMicros: cpuMicros(before) };
      }, (stored) => {
        if (stored !== messages) {
          throw new Error(`${stream} holds ${stored} of ${messages} messages`);
        }
      });
    },
  };
}

/** Go natscli `nats bench js pub <kind> --dedup`, CPU from /usr/bin/time. */
function goShape(
  nats: string,
  kind: "async" | "fast",
  size: number,
  messages: number,
): Shape {
  return {
    name: `go ${kind} ${size} B --dedup`,
    async run(url, index) {
      const stream = `GO_${kind}_${size}_${index}`;
      const args = [
        "-f",
        "cpu %U %S",
        nats,
        "-s",
        url,
        "bench",
        "js",
        "pub",
        kind,
        `go${kind}${size}r${index}`,
        ...(kind === "async"
          ? ["--batch", "256"]
          : ["--batch", "500", "--max-outstanding-acks", "2"]),
        "--size",
        String(size),
        "--msgs",
        String(messages),
        "--create",
        "--storage",
        "file",
        "--replicas",
        "1",
        "--stream",
        stream,
        "--dedup",
        "--no-progress",
      ];
      const out = await new Deno.Command("/usr/bin/time", {
        args,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) +
        new TextDecoder().decode(out.stderr);
      if (!out.success) throw new Error(`nats bench failed:\n${text}`);
      const rate = benchRate(text);
      const cpu = text.match(/cpu ([\d.]+) ([\d.]+)/);
      if (!cpu) throw new Error(`no /usr/bin/time line in:\n${text}`);
      const nc = await connect({ servers: url, noAsyncTraces: true });
      try {
        const jsm = await jetstreamManager(nc);
        const stored = (await jsm.streams.info(stream)).state.messages;
        await jsm.streams.delete(stream);
        if (stored !== messages) {
          throw new Error(`${stream} holds ${stored} of ${messages} messages`);
        }
      } finally {
        await nc.close();
      }
      return {
        messages,
        trades: messages * Math.max(1, Math.round(size / TRADE_RECORD_SIZE)),
        seconds: messages / rate,
        cpuMicros: (Number(cpu[1]) + Number(cpu[2])) * 1e6,
      };
    },
  };
}

function range(values: number[], format: (v: number) => string): string {
  return `${format(median(values))} (${format(Math.min(...values))} – ${
    format(Math.max(...values))
  })`;
}

/**
 * CPU (user + system) nats-server `pid` used so far, in microseconds, from
 * /proc (Linux; NaN elsewhere). Read with `cat`: Deno wants --allow-all to
 * read /proc itself.
 */
async function serverCpuMicros(pid: number): Promise<number> {
  try {
    const out = await new Deno.Command("cat", {
      args: [`/proc/${pid}/stat`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const stat = new TextDecoder().decode(out.stdout);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime (fields 14 and 15 of stat) in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

/** The 1/5/15-minute load averages (needs `--allow-sys=loadavg`). */
function loadAverage(): string {
  try {
    return Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
  } catch {
    return "unknown (grant --allow-sys=loadavg)";
  }
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "3" },
      quick: { type: "boolean", default: false },
      "no-go": { type: "boolean", default: false },
      only: { type: "string" },
    },
  });
  const rounds = Number(args.values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(
      `Invalid --rounds ${
        JSON.stringify(args.values.rounds)
      }: expected an integer ≥ 1`,
    );
  }
  const scale = args.values.quick ? 0.1 : 1;
  const single = 300_000 * scale;
  const batched = 5_000_000 * scale;
  const shapes: Shape[] = [
    ackShape(1, single),
    fastShape(1, single, "hdrs"),
    fastShape(1, single, "bare"),
    fastShape(1, single, "natsjs"),
    ackShape(64, batched),
    fastShape(64, batched, "hdrs"),
    fastShape(64, batched, "bare"),
    fastShape(64, batched, "natsjs"),
  ];
  const natscli = args.values["no-go"]
    ? undefined
    : await findOrInstallNatscli();
  if (natscli) {
    shapes.push(
      goShape(natscli.path, "async", 48, single),
      goShape(natscli.path, "fast", 48, single),
      goShape(natscli.path, "async", 3072, Math.ceil(batched / 64)),
      goShape(natscli.path, "fast", 3072, Math.ceil(batched / 64)),
    );
  }
  const only = args.values.only;
  if (only !== undefined) {
    shapes.splice(
      0,
      shapes.length,
      ...shapes.filter((shape) => shape.name.includes(only)),
    );
  }
  await using server = await startNatsServer();
  console.log(
    `nats-server ${server.url} (file, R1); ${rounds} interleaved rounds; load ${loadAverage()}${
      natscli ? `; natscli ${natscli.version}` : ""
    }`,
  );
  const results = new Map<string, Result[]>(shapes.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const shape of shapes) {
      const serverBefore = await serverCpuMicros(server.pid);
      const result = await shape.run(server.url, r);
      result.serverMicros = await serverCpuMicros(server.pid) - serverBefore;
      results.get(shape.name)!.push(result);
      console.log(
        `  round ${r + 1} ${shape.name}: msgs ${
          formatRate(result.messages / result.seconds)
        }, trades ${formatRate(result.trades / result.seconds)}, ${
          (result.cpuMicros / result.messages).toFixed(2)
        } µs CPU/msg, server ${
          (result.serverMicros! / result.messages).toFixed(2)
        } µs/msg, ${result.messages} msgs stored`,
      );
    }
  }
  console.log(`load after: ${loadAverage()}`);
  console.log(
    "| shape | msgs median (min – max) | trades median | publisher CPU µs/msg median (min – max) | nats-server CPU µs/msg | stored = published |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const [name, list] of results) {
    console.log(
      `| ${name} | ${
        range(list.map((r) => r.messages / r.seconds), formatRate)
      } | ${formatRate(median(list.map((r) => r.trades / r.seconds)))} | ${
        range(list.map((r) => r.cpuMicros / r.messages), (v) => v.toFixed(2))
      } | ${
        median(list.map((r) => r.serverMicros! / r.messages)).toFixed(2)
      } | yes, every round |`,
    );
  }
}
