// The page's number formats agree with the terminal's: a latency reads the
// same on the console page as in live's log lines (common/runtime/format.ts).

import assert from "node:assert/strict";
import { formatNanos as logNanos } from "../../common/runtime/format.ts";
import { formatNanos as pageNanos } from "./page/format.js";

Deno.test("console page formatNanos: the same text as common/runtime/format.ts for every magnitude and rounding edge", () => {
  const values = [
    0,
    1,
    999,
    999.4,
    999.5,
    1_000,
    65_049,
    65_000,
    999_949,
    999_950,
    1_234_567,
    999_994_999,
    999_995_000,
    2.5e9,
    123.456e9,
  ];
  for (const ns of values) assert.equal(pageNanos(ns), logNanos(ns), `${ns}`);
  assert.equal(pageNanos(NaN), "—", "unknown");
});
