import assert from "node:assert/strict";
import { formatSeconds, progressText } from "./_progress.ts";

Deno.test("progressText: share of the input, trades, rate and the time left from the share read so far", () => {
  assert.equal(
    progressText({
      bytesRead: 256 * 1024,
      totalBytes: 1024 * 1024,
      trades: 2_000_000,
      seconds: 1,
    }),
    "25.0% of 1.0 MiB, 2,000,000 trades (2.00M/s), ETA 3s",
  );
  assert.equal(
    progressText({ bytesRead: 0, totalBytes: 2048, trades: 0, seconds: 0 }),
    "0.0% of 2.0 KiB, 0 trades (0/s)",
  );
  assert.equal(
    progressText({ bytesRead: 10, totalBytes: 10, trades: 5, seconds: 1 }),
    "100.0% of 10 B, 5 trades (5/s)",
  );
});

Deno.test("formatSeconds: s, m+s, h+m", () => {
  assert.deepEqual(
    [formatSeconds(45), formatSeconds(725), formatSeconds(7380)],
    [
      "45s",
      "12m05s",
      "2h03m",
    ],
  );
});
