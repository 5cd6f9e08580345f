/**
 * A generated multi-symbol trade recording, deterministic for a seed: the
 * input of the merge and backtest benchmarks. Three symbols (BTCUSDT,
 * ETHUSDT, SOLUSDT) trade interleaved in time with random-walk prices in
 * cents, as one NDJSON recording (what `live --record` writes) or as one
 * Binance `trades` CSV per symbol (what Binance publishes: prices with 8
 * decimals, times in ms, or in µs as since 2025).
 *
 * @module
 */

import { CSV_HEADER } from "../common/trade_file/mod.ts";

/** The symbols of a generated recording and their starting prices in cents. */
export const RECORDING_SYMBOLS: readonly { symbol: string; cents: number }[] = [
  { symbol: "BTCUSDT", cents: 4_228_358 },
  { symbol: "ETHUSDT", cents: 235_210 },
  { symbol: "SOLUSDT", cents: 10_123 },
];

/** Options of {@linkcode writeRecording}. */
export interface RecordingOptions {
  /** Trades in all, across the symbols. */
  trades: number;
  /** `"ndjson"`: one `recording.ndjson`; `"csv"`: one `<SYMBOL>-trades-2024-01-01.csv` per symbol. */
  format: "ndjson" | "csv";
  /** Seed of the generator. @default 1 */
  seed?: number;
  /** Unit of a CSV's times: Binance's ms (before 2025) or µs (since). @default "ms" */
  csvTime?: "ms" | "us";
}

/** The start of the recording: 2024-01-01T00:00:00Z, ms. */
const START_MS = 1_704_067_200_000;

/** `cents` as a price string with 2 decimals (a CSV's gets 6 zeros more: Binance writes 8). */
function priceText(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

/**
 * Writes a recording of `options.trades` trades into `dir` and returns the
 * files written.
 */
export async function writeRecording(
  dir: string,
  options: RecordingOptions,
): Promise<string[]> {
  const { trades, format } = options;
  let state = (options.seed ?? 1) >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const symbols = RECORDING_SYMBOLS.map(({ symbol, cents }) => ({
    symbol,
    cents,
    seq: 0,
    id: 1_000_000_000,
  }));
  const paths = format === "ndjson"
    ? [`${dir}/recording.ndjson`]
    : symbols.map(({ symbol }) => `${dir}/${symbol}-trades-2024-01-01.csv`);
  const files = await Promise.all(
    paths.map((path) =>
      Deno.open(path, { write: true, create: true, truncate: true })
    ),
  );
  const parts: string[][] = files.map(() =>
    format === "csv" ? [CSV_HEADER] : []
  );
  const encoder = new TextEncoder();
  const flush = async (final: boolean): Promise<void> => {
    for (let f = 0; f < files.length; f++) {
      if (parts[f].length === 0) continue;
      const text = parts[f].join("\n") + "\n";
      parts[f] = [];
      let bytes = encoder.encode(text);
      while (bytes.length > 0) {
        bytes = bytes.subarray(await files[f].write(bytes));
      }
    }
    if (final) { for (const file of files) file.close(); }
  };
  let us = 0; // µs since the start
  for (let i = 0; i < trades; i++) {
    const r = next();
    us += r & 1023; // ~0.5 ms apart on average
    const s = symbols[(r >>> 10) % 3];
    // A step of ±1..4 cents on a quarter of the trades, as often up as
    // down (a drift would leave a trend strategy nothing to do).
    const step = (r >>> 14) & 7;
    if (((r >>> 12) & 3) === 0) s.cents += step < 4 ? step - 4 : step - 3;
    if (s.cents < 100) s.cents = 100;
    s.seq++;
    s.id++;
    const qty = `0.${String(1 + ((r >>> 17) % 99_999)).padStart(5, "0")}`;
    const maker = (r & 0x8000_0000) !== 0;
    const price = priceText(s.cents);
    if (format === "csv") {
      const time = options.csvTime === "us"
        ? START_MS * 1000 + us
        : START_MS + Math.floor(us / 1000);
      const quote = (s.cents * Number(qty) / 100).toFixed(8);
      parts[(r >>> 10) % 3].push(
        `${s.id},${price}000000,${qty},${quote},${time},${
          maker ? "True" : "False"
        },True`,
      );
    } else {
      const ns = BigInt(START_MS * 1000 + us) * 1000n;
      parts[0].push(
        `{"exchange":"binance","symbol":"${s.symbol}","seq":${s.seq},"tsEvent":"${ns}","tsRecv":"${
          ns + 1_500_000n
        }","price":"${price}","size":"${qty}","side":"${
          maker ? "sell" : "buy"
        }","flags":0,"tradeId":"${s.id}"}`,
      );
    }
    if ((i & 0xffff) === 0xffff) await flush(false);
  }
  await flush(true);
  return paths;
}
