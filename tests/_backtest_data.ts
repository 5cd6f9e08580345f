/**
 * Test inputs of the backtest: a small multi-symbol recording (one NDJSON
 * file per symbol, as `live --record` writes them) and strategies that trade
 * through `context.broker`.
 */
import { join } from "node:path";
import { formatNdjsonTrade } from "../common/trade_file/mod.ts";
import { Side } from "../common/wire/trade.ts";

/** 2024-01-01T00:00:00Z in ns. */
export const START_NS = 1_704_067_200_000_000_000n;

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes `trades` trades per symbol over `seconds` seconds from
 * {@linkcode START_NS} into `dir/<symbol>.ndjson`, prices a random walk in
 * cents; returns the file paths.
 */
export async function writeRecording(
  dir: string,
  options: {
    symbols?: string[];
    trades?: number;
    seconds?: number;
    seed?: number;
    exchange?: string;
  } = {},
): Promise<string[]> {
  const {
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    trades = 600,
    seconds = 120,
    seed = 7,
    exchange = "binance",
  } = options;
  const next = random(seed);
  const paths: string[] = [];
  await Deno.mkdir(dir, { recursive: true });
  for (const [s, symbol] of symbols.entries()) {
    let cents = 10_000 * (s + 1);
    const lines: string[] = [];
    for (let i = 0; i < trades; i++) {
      cents += Math.round((next() - 0.5) * 20);
      const ns = START_NS +
        BigInt(Math.floor((i + next()) * seconds * 1e9 / trades));
      lines.push(formatNdjsonTrade({
        exchange,
        symbol,
        seq: i + 1,
        side: next() < 0.5 ? Side.Buy : Side.Sell,
        flags: 0,
        tsEvent: ns,
        tsRecv: ns + 1_000_000n,
        priceFixed: BigInt(cents) * 10_000_000n,
        price: cents / 100,
        size: Math.round(next() * 1000 + 1) / 1000,
        tradeId: BigInt(1_000_000 * (s + 1) + i),
      }));
    }
    const path = join(dir, `${symbol}.ndjson`);
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    paths.push(path);
  }
  return paths;
}

/**
 * A strategy that, on each 5s bar, buys 1 unit of its symbol when the close
 * rose and sells down to short 1 when it fell (market orders), and logs
 * nothing; `throwAt` makes `onBar` throw at that bar count, `busyMs` makes
 * `onTrade` spin that long (a slow strategy, to stop a run midway).
 */
export function flipStrategy(
  options: { throwAt?: number; busyMs?: number } = {},
): string {
  return `let bars = 0;
const last = new Map();
export default {
  onBar(bar, context) {
    if (bar.interval !== "5s") return;
    bars++;
    ${
    options.throwAt === undefined
      ? ""
      : `if (bars === ${options.throwAt}) throw new Error("boom at bar " + bars);`
  }
    const key = bar.exchange + " " + bar.symbol;
    const previous = last.get(key);
    last.set(key, bar.close);
    if (previous === undefined || bar.close === previous) return;
    const position = context.broker.position(bar.exchange, bar.symbol).quantity;
    const target = bar.close > previous ? 1 : -1;
    const quantity = target - position;
    if (quantity === 0) return;
    context.broker.submit({
      exchange: bar.exchange,
      symbol: bar.symbol,
      side: quantity > 0 ? "buy" : "sell",
      quantity: Math.abs(quantity),
    });
  },
  onTrade() {
    const until = performance.now() + ${options.busyMs ?? 0};
    while (performance.now() < until) { /* busy */ }
  },
};
`;
}

/**
 * On each 1s bar, flips its symbol to long or short 1 unit, or with
 * `byEquity` `floor(equity / 100) / 100` units (the equity marks the other
 * symbols at their last price, so the size depends on the order of trades
 * across symbols); every 7th bar of a symbol it leaves a limit buy at half
 * the close that never fills. `onStop` logs the open orders (symbol@price,
 * sorted) and the equity as one line (`at stop: …`).
 */
export function flipEveryBar(options: { byEquity?: boolean } = {}): string {
  return `const bars = new Map();
const last = new Map();
export default {
  onBar(bar, context) {
    if (bar.interval !== "1s") return;
    const { broker } = context;
    const key = bar.exchange + " " + bar.symbol;
    bars.set(key, (bars.get(key) ?? 0) + 1);
    const previous = last.get(key);
    last.set(key, bar.close);
    if (bars.get(key) % 7 === 0) {
      broker.submit({ exchange: bar.exchange, symbol: bar.symbol, side: "buy",
        quantity: 1, type: "limit", price: Math.round(bar.close * 50) / 100 });
    }
    if (previous === undefined || bar.close === previous) return;
    const size = ${
    options.byEquity ? "Math.floor(broker.equity / 100) / 100" : "1"
  };
    const target = bar.close > previous ? size : -size;
    const quantity = target - broker.position(bar.exchange, bar.symbol).quantity;
    if (Math.abs(quantity) < 1e-9) return;
    broker.submit({ exchange: bar.exchange, symbol: bar.symbol,
      side: quantity > 0 ? "buy" : "sell", quantity: Math.abs(quantity) });
  },
  onTrade() {},
  onStop(context) {
    const { broker } = context;
    const open = broker.openOrders().map((o) => o.symbol + "@" + o.price).sort().join(",");
    context.log.info("at stop: open orders " + open + "; equity " + broker.equity.toFixed(4));
  },
};
`;
}
