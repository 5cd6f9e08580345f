// Fuzzing the trade file readers (issue 13): random bytes and mutations of
// valid CSV and NDJSON files, plain and gzipped, for a bounded time per
// target (FUZZ_MS, default 3 s; FUZZ_SEED replays a run, see tests/_fuzz.ts).
// What must hold:
// - the only errors are the documented one-line ones (TradeFileRowError
//   under on_error "stop", TradeFileReadError), nothing else escapes;
// - no read hangs (each iteration is bounded);
// - a gzipped file yields only rows of the unmutated input: a corrupt
//   stream fails before its first row;
// - a plain file yields only rows of the unmutated input, or rows whose line
//   was itself mutated into another valid, plausible row (a flipped digit
//   that neither the grammar nor the plausibility checks can see).

import assert from "node:assert/strict";
import {
  fuzzBudgetMs,
  fuzzFor,
  fuzzSeed,
  gzipBytes,
  mutate,
  type Random,
  seededRandom,
} from "../../tests/_fuzz.ts";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import {
  formatNdjsonTrade,
  readTradeFile,
  type ReadTradeFileOptions,
  type ReplayRow,
  TradeFileReadError,
  TradeFileRowError,
} from "./mod.ts";
import { Side } from "../wire/trade.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);
const ROWS = 200;

/** A valid, plausible Binance CSV of `ROWS` rows. */
function validCsv(random: Random): string {
  const lines = ["id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"];
  let cents = 4_206_650;
  let ms = 1_704_067_200_000;
  for (let i = 0; i < ROWS; i++) {
    cents += random.range(-5, 5);
    ms += random.range(0, 40);
    const price = (cents / 100).toFixed(8);
    const qty = (random.range(1, 99_999_999) / 1e8).toFixed(8);
    lines.push(
      `${3355546431 + i},${price},${qty},${
        (Number(price) * Number(qty)).toFixed(8)
      },${ms},${random.chance(0.5) ? "True" : "False"},True`,
    );
  }
  return lines.join("\n") + "\n";
}

/** A valid, plausible NDJSON export of `ROWS` rows of two symbols. */
function validNdjson(random: Random): string {
  const lines: string[] = [];
  const cents = { BTCUSDT: 4_206_650, ETHUSDT: 235_210 };
  let ns = 1_704_067_200_000_000_000n;
  for (let i = 0; i < ROWS; i++) {
    const symbol = random.chance(0.5) ? "BTCUSDT" : "ETHUSDT";
    cents[symbol] += random.range(-5, 5);
    ns += BigInt(random.range(0, 40_000_000));
    lines.push(formatNdjsonTrade({
      exchange: "binance",
      symbol,
      seq: i + 1,
      side: random.pick([Side.Buy, Side.Sell, Side.Unknown]),
      flags: 0,
      tsEvent: ns,
      tsRecv: ns + 1_000_000n,
      priceFixed: BigInt(cents[symbol]) * 10_000_000n,
      price: cents[symbol] / 100,
      size: random.range(1, 99_999) / 1e5,
      tradeId: BigInt(1_000_000 + i),
    }));
  }
  return lines.join("\n") + "\n";
}

/** A row as a comparable string, without its line number. */
function key(row: ReplayRow): string {
  return [
    row.exchange,
    row.symbol,
    row.seq,
    row.side,
    row.flags,
    row.tsEvent,
    row.tsRecv,
    row.priceFixed,
    row.size,
    row.tradeId,
  ].join("|");
}

interface Target {
  name: string;
  /** File name (its extension tells gzip). */
  file: string;
  valid: (random: Random) => string;
  gzip: boolean;
  options: ReadTradeFileOptions;
}

const TARGETS: Target[] = [
  {
    name: "CSV",
    file: "BTCUSDT-trades-2024-01-01.csv",
    valid: validCsv,
    gzip: false,
    options: {},
  },
  {
    name: "CSV gzip",
    file: "BTCUSDT-trades-2024-01-01.csv.gz",
    valid: validCsv,
    gzip: true,
    options: {},
  },
  {
    name: "NDJSON",
    file: "capture.ndjson",
    valid: validNdjson,
    gzip: false,
    options: { exchange: "binance" },
  },
  {
    name: "NDJSON gzip",
    file: "capture.ndjson.gz",
    valid: validNdjson,
    gzip: true,
    options: { exchange: "binance" },
  },
];

async function readAll(
  path: string,
  options: ReadTradeFileOptions,
): Promise<{ rows: ReplayRow[]; error?: unknown }> {
  const rows: ReplayRow[] = [];
  try {
    for await (const row of readTradeFile(path, options)) rows.push(row);
    return { rows };
  } catch (error) {
    return { rows, error };
  }
}

/** Fails unless `error` is one of the documented one-line errors for `onError`. */
function assertDocumentedError(error: unknown, onError: string): void {
  if (error === undefined) return;
  const allowed = error instanceof TradeFileReadError ||
    (onError === "stop" && error instanceof TradeFileRowError);
  assert.ok(allowed, `undocumented error: ${(error as Error)?.stack ?? error}`);
  assert.ok(!(error as Error).message.includes("\n"), "a multi-line message");
}

for (const target of TARGETS) {
  test(`fuzz: the ${target.name} reader survives mutated and random bytes and yields only input rows`, async () => {
    const seed = fuzzSeed(`replay reader ${target.name}`);
    const dir = await Deno.makeTempDir({ prefix: "marketbus_fuzz_" });
    try {
      const path = `${dir}/${target.file}`;
      const text = target.valid(seededRandom(seed));
      const plain = new TextEncoder().encode(text);
      const valid = target.gzip ? await gzipBytes(plain) : plain;
      const originalLines = new Set(text.split("\n"));
      await Deno.writeFile(path, valid);
      const original = await readAll(path, {
        ...target.options,
        plausibility: true,
      });
      assert.equal(original.error, undefined, String(original.error));
      assert.equal(original.rows.length, ROWS);
      const originals = new Set(original.rows.map(key));
      let undetected = 0;
      const iterations = await fuzzFor(fuzzBudgetMs(), async (random) => {
        const log: string[] = [];
        const bytes = random.chance(0.1)
          ? random.bytes(random.int(4096))
          : mutate(valid, random, { log });
        await Deno.writeFile(path, bytes);
        const onError = random.pick(["skip", "stop"] as const);
        const { rows, error } = await readAll(path, {
          ...target.options,
          onError,
          plausibility: true,
        });
        const what = `${onError}, ${log.join("; ") || "random bytes"}`;
        assertDocumentedError(error, onError);
        if (target.gzip) {
          for (const row of rows) {
            assert.ok(originals.has(key(row)), `${what}: not an input row`);
          }
          return;
        }
        const mutatedLines = new TextDecoder().decode(bytes).split("\n");
        for (const row of rows) {
          if (originals.has(key(row))) continue;
          const line = (mutatedLines[row.line - 1] ?? "").replace(/\r$/, "");
          assert.ok(
            !originalLines.has(line),
            `${what}: line ${row.line} is an input line but was read as another trade`,
          );
          undetected++;
        }
      }, { seed });
      console.log(
        `fuzz ${target.name}: ${iterations} iterations, ${undetected} mutated rows no check could tell`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
