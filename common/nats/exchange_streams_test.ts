// Which streams a consumer of every exchange takes for per-exchange streams.

import assert from "node:assert/strict";
import { exchangeOf } from "./_exchange_streams.ts";

Deno.test("exchangeOf: only {base}_{EXCHANGE} capturing {prefix}.{exchange}.>", () => {
  const options = { base: "MD", prefix: "p.q" };
  assert.equal(exchangeOf("MD_AUDX", ["p.q.audx.>"], options), "audx");
  assert.equal(exchangeOf("MD_AUDX", ["p.q.audy.>"], options), undefined);
  assert.equal(exchangeOf("MD", ["p.q.>"], options), undefined);
  assert.equal(exchangeOf("MD_A_B", ["p.q.a.b.>"], options), undefined);
  assert.equal(exchangeOf("MDX_AUDX", ["p.q.audx.>"], options), undefined);
  assert.equal(
    exchangeOf("MD_AUDX", ["p.q.audx.>", "x.>"], options),
    undefined,
  );
});
