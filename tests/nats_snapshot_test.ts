// The snapshot of `live --snapshot` read from a real nats-server: the last
// record of each subject's last message by one batch direct get, a stream
// that does not exist yet (no trade stored, no error), one that refuses
// direct gets (a SnapshotError naming the fix), and natsSnapshot's own
// connection.

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { parseConfig } from "../common/config/mod.ts";
import {
  latestTrades,
  MAX_DIRECT_SUBJECTS,
  natsSnapshot,
  SnapshotError,
} from "../common/nats/snapshot.ts";
import { encodeMessage } from "../common/wire/codec.ts";
import { RUN_EPOCH_HEADER } from "../common/wire/run_epoch.ts";
import { tradeFilters, tradeSubject } from "../common/wire/subjects.ts";
import type { TradeRecord } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import { captureLog } from "./_capture_log.ts";
import { gatedTest, natsTest } from "./_permissions.ts";
import { silentNats } from "./_silent_nats.ts";

const RUN = crypto.randomUUID().slice(0, 8);

function trades(first: number, count: number): TradeRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    side: 1 as const,
    flags: 0,
    seq: first + i,
    tsEvent: 1_700_000_000_000_000_000n + BigInt(first + i),
    tsRecv: 1_700_000_000_000_000_000n + BigInt(first + i),
    priceFixed: 1_000_000_000n,
    size: 1,
    tradeId: BigInt(1000 + first + i),
  }));
}

/** Runs `fn` with a JetStream manager on `url` and a fresh stream name and prefix; deletes the stream after. */
async function withStream(
  url: string,
  fn: (
    jsm: Awaited<ReturnType<typeof jetstreamManager>>,
    names: { stream: string; prefix: string },
    js: ReturnType<typeof jetstream>,
  ) => Promise<void>,
): Promise<void> {
  const suffix = crypto.randomUUID().slice(0, 8);
  const names = {
    stream: `SNAP_${RUN}_${suffix}`.toUpperCase(),
    prefix: `snap${RUN}${suffix}`,
  };
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    try {
      await fn(jsm, names, jetstream(nc));
    } finally {
      await jsm.streams.delete(names.stream).catch(() => {});
    }
  } finally {
    await nc.close();
  }
}

natsTest({
  name:
    "latestTrades: the last record of each subject's last message (a batch of 64 and single ones) and its run epoch (0 without the header), for named symbols and a wildcard; a subject with no message, or whose last one holds no valid records (warned), is left out",
  async fn(_t, url) {
    await withStream(url, async (jsm, { stream, prefix }, js) => {
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        allow_direct: true,
      });
      const subject = (symbol: string, exchange = "binance") =>
        tradeSubject(exchange, symbol, { prefix });
      await js.publish(subject("BTCUSDT"), encodeMessage(trades(1, 64)));
      await js.publish(subject("BTCUSDT"), encodeMessage(trades(65, 64)));
      // A run epoch (Marketbus-Epoch) the snapshot keeps; the others have none: 0.
      const epoch = headers();
      epoch.set(RUN_EPOCH_HEADER, "4000000000");
      await js.publish(subject("ETHUSDT"), encodeMessage(trades(1, 1)), {
        headers: epoch,
      });
      await js.publish(
        subject("BTCUSDT", "kraken"),
        encodeMessage(trades(7, 2)),
      );
      await js.publish(`${prefix}.binance.notes`, new Uint8Array(3));
      await js.publish(subject("SOLUSDT"), encodeMessage(trades(1, 1)));
      await js.publish(subject("SOLUSDT"), new Uint8Array(47)); // not records
      const { log, lines } = captureLog();
      const named = await latestTrades(jsm, stream, {
        filters: tradeFilters(["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], {
          exchange: "binance",
          prefix,
        }),
        prefix,
        log,
      });
      const view = new TradeView();
      const seen = (list: typeof named) =>
        list.map(({ origin, record, where, epoch }) => {
          assert.equal(record.byteLength, 48);
          view.wrap(record);
          return `${origin.exchange}/${origin.symbol} ${view.seq} ${view.tradeId} ${where} epoch ${epoch}`;
        }).sort();
      assert.deepEqual(seen(named), [
        `binance/BTCUSDT 128 1128 stream ${stream} sequence 2 epoch 0`,
        `binance/ETHUSDT 1 1001 stream ${stream} sequence 3 epoch 4000000000`,
      ]);
      const every = await latestTrades(jsm, stream, {
        filters: tradeFilters([], { prefix }),
        prefix,
        log,
      });
      assert.deepEqual(seen(every), [
        `binance/BTCUSDT 128 1128 stream ${stream} sequence 2 epoch 0`,
        `binance/ETHUSDT 1 1001 stream ${stream} sequence 3 epoch 4000000000`,
        `kraken/BTCUSDT 8 1008 stream ${stream} sequence 4 epoch 0`,
      ]);
      const invalid =
        `warn: binance SOLUSDT: snapshot: its last stored message (stream ${stream} sequence 7) does not hold valid trade records (Invalid trade message: 47 bytes received, expected a positive multiple of 48); no snapshot for it`;
      assert.deepEqual(lines, [invalid, invalid]);
    });
  },
});

natsTest({
  name:
    "latestTrades: a stream that does not exist yet holds no trade (logged, no error); one without direct gets is a SnapshotError that names the fix",
  async fn(_t, url) {
    await withStream(url, async (jsm, { stream, prefix }) => {
      const { log, lines } = captureLog();
      const filters = tradeFilters(["BTCUSDT"], {
        exchange: "binance",
        prefix,
      });
      assert.deepEqual(
        await latestTrades(jsm, stream, { filters, prefix, log }),
        [],
      );
      assert.deepEqual(lines, [
        `warn: snapshot: stream ${stream} (data_source.nats.stream_name) does not exist: no trade stored, no snapshot; check the name if serve publishes to NATS`,
      ]);
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        allow_direct: false,
      });
      await assert.rejects(
        latestTrades(jsm, stream, { filters, prefix, log }),
        (error: Error) => {
          assert.ok(error instanceof SnapshotError, String(error));
          assert.match(
            error.message,
            new RegExp(
              `^Cannot read the snapshot \\(data_source.snapshot, --snapshot\\) from stream ${stream}: .*; stream ${stream} does not allow direct gets \\(allow_direct false; serve creates its stream with allow_direct true\\): \`nats stream edit ${stream} --allow-direct\`, or run live without --snapshot$`,
            ),
          );
          assert.doesNotMatch(error.message, /\n/);
          return true;
        },
      );
      // Read for --catch-up durable: named so, with that flag's way out.
      await assert.rejects(
        latestTrades(jsm, stream, {
          filters,
          prefix,
          log,
          purpose: "catch_up",
        }),
        (error: Error) => {
          assert.match(
            error.message,
            new RegExp(
              `^Cannot read the latest stored trades \\(where --catch-up durable's earlier runs ended\\) from stream ${stream}: .*\`nats stream edit ${stream} --allow-direct\`, or catch up from a time instead \\(--catch-up SINCE\\)$`,
            ),
          );
          return true;
        },
      );
    });
  },
});

natsTest({
  name:
    "natsSnapshot: connects with the consumer's connection settings, reads the subscription's subjects and closes its connection",
  async fn(_t, url) {
    await withStream(url, async (jsm, { stream, prefix }, js) => {
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        allow_direct: true,
      });
      await js.publish(
        tradeSubject("binance", "SOLUSDT", { prefix }),
        encodeMessage(trades(41, 2)),
      );
      const { connection } = parseConfig(
        `[data_source.nats.connection]\nservers = [${JSON.stringify(url)}]\n`,
      ).dataSource.nats;
      const { log } = captureLog();
      const load = natsSnapshot({
        connection,
        streamName: stream,
        subjectPrefix: prefix,
        exchange: "binance",
        log,
      });
      const found = await load(["SOLUSDT", "BTCUSDT"], undefined);
      assert.equal(found.length, 1);
      const view = new TradeView();
      view.wrap(found[0].record);
      assert.equal(view.seq, 42);
      assert.deepEqual(found[0].origin, {
        exchange: "binance",
        symbol: "SOLUSDT",
      });
    });
  },
});

natsTest({
  name:
    "latestTrades: more named subjects than one direct get answers are read in groups of at most 1024; a wildcard over more is a SnapshotError that says so (the server's 413)",
  async fn(_t, url) {
    await withStream(url, async (jsm, { stream, prefix }, js) => {
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        allow_direct: true,
      });
      const symbols = Array.from(
        { length: MAX_DIRECT_SUBJECTS + 76 },
        (_, i) => `S${i}USDT`,
      );
      await Promise.all(symbols.map((symbol, i) =>
        js.publish(
          tradeSubject("binance", symbol, { prefix }),
          encodeMessage(trades(i + 1, 1)),
        )
      ));
      const { log, lines } = captureLog();
      const filters = tradeFilters(symbols, { exchange: "binance", prefix });
      const found = await latestTrades(jsm, stream, { filters, prefix, log });
      assert.equal(found.length, symbols.length);
      const view = new TradeView();
      for (const { origin, record } of found) {
        view.wrap(record);
        assert.equal(`S${view.seq - 1}USDT`, origin.symbol);
      }
      assert.deepEqual(lines, []);
      const wildcard = tradeFilters([], { prefix });
      await assert.rejects(
        latestTrades(jsm, stream, { filters: wildcard, prefix, log }),
        (error: Error) => {
          assert.ok(error instanceof SnapshotError, String(error));
          assert.equal(
            error.message,
            `Cannot read the snapshot (data_source.snapshot, --snapshot) from stream ${stream}: ${
              wildcard[0]
            } matches more than 1024 subjects, the most one direct get answers (the server said 413 "too many results"): name the exchange (data_source.exchange) or the symbols (data_source.symbols, --symbols), or run live without --snapshot`,
          );
          return true;
        },
      );
    });
  },
});

gatedTest({
  name:
    "natsSnapshot against a server that never answers: the abort ends the direct get at once (the connection closed), with nothing read and no second request",
  permissions: [{ name: "net", host: "127.0.0.1" }],
  async fn() {
    await using server = silentNats();
    const { connection } = parseConfig(
      `[data_source.nats.connection]\nservers = [${
        JSON.stringify(server.url)
      }]\n`,
    ).dataSource.nats;
    const { log } = captureLog();
    const load = natsSnapshot({
      connection,
      streamName: "SILENT",
      subjectPrefix: "market",
      exchange: "binance",
      log,
    });
    const abort = new AbortController();
    const loading = load(["BTCUSDT"], abort.signal);
    const asked = "$JS.API.DIRECT.GET.SILENT";
    const until = Date.now() + 5000;
    while (!server.published.includes(asked) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(server.published.includes(asked), server.published.join(" "));
    const aborted = performance.now();
    abort.abort();
    assert.deepEqual(await loading, []);
    const took = performance.now() - aborted;
    assert.ok(took < 1000, `${took} ms after the abort`);
    assert.deepEqual(
      server.published.filter((subject) => subject.startsWith("$JS.API")),
      [asked],
    );
  },
});

gatedTest({
  name:
    "natsSnapshot when the direct get times out (e.g. no permission): a SnapshotError naming the permission, without a second request for the stream's state",
  permissions: [{ name: "net", host: "127.0.0.1" }],
  async fn() {
    await using server = silentNats();
    const { connection } = parseConfig(
      `[data_source.nats.connection]\nservers = [${
        JSON.stringify(server.url)
      }]\n`,
    ).dataSource.nats;
    const { log } = captureLog();
    const load = natsSnapshot({
      connection,
      streamName: "SILENT",
      subjectPrefix: "market",
      exchange: "binance",
      log,
    });
    await assert.rejects(
      load(["BTCUSDT"], undefined),
      (error: Error) => {
        assert.ok(error instanceof SnapshotError, String(error));
        assert.match(
          error.message,
          /: timeout; check that the server is 2\.11 or newer and that this user may publish to \$JS\.API\.DIRECT\.GET\.SILENT$/,
        );
        return true;
      },
    );
    assert.deepEqual(
      server.published.filter((subject) => subject.startsWith("$JS.API")),
      ["$JS.API.DIRECT.GET.SILENT"],
    );
  },
});
