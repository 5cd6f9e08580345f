/**
 * Cost of writing synthetic trades, the start of the serve path:
 * `deno bench data_manager/synthetic/generator_bench.ts`.
 *
 * @module
 */

import { TRADE_RECORD_SIZE } from "../../common/wire/trade.ts";
import { SyntheticGenerator } from "./generator.ts";

const BATCH = 1024;
const source = new SyntheticGenerator(
  ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"],
  { seed: 7 },
);
const view = new DataView(new ArrayBuffer(BATCH * TRADE_RECORD_SIZE));
const seconds = 1_764_000_000;
let sink = 0;

// The clock changes every 16th record, as the synthetic source reads it.
Deno.bench(`next: ${BATCH} records into a reused buffer`, () => {
  for (let i = 0; i < BATCH; i++) {
    sink += source.next(view, i * TRADE_RECORD_SIZE, seconds, (i >> 4) * 977);
  }
});

Deno.bench("due(performance.now()): the pacing check, once per chunk", () => {
  sink += source.due(performance.now());
});

globalThis.addEventListener("unload", () => {
  if (Number.isNaN(sink)) console.log(sink);
});
