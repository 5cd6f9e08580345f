// serve --source replay against hostile files, as real processes with the
// task's permissions (issue 13, items 2 and 10): a corrupt gzip fails in one
// line before any ring exists, a FIFO is read once (no seek), and a FIFO
// that never delivers does not keep serve from stopping on the first SIGINT
// or SIGTERM, leaving no ring behind. Binance's .zip files (issue 18) replay
// directly, and a corrupt one fails in one line.

import assert from "node:assert/strict";
import { join } from "node:path";
import { delay } from "../common/runtime/delay.ts";
import { zipSync } from "fflate";
import { gzipBytes, seededRandom } from "./_fuzz.ts";
import { gatedTest } from "./_permissions.ts";
import {
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";

/** How long serve may take to stop after a signal, ms (a bound, not a benchmark). */
const STOP_MS = 5_000;

/** `count` rows of a plausible BTCUSDT trades CSV with a header. */
function csv(count: number, seed = 1): string {
  const random = seededRandom(seed);
  const lines = ["id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"];
  let cents = 4_206_650;
  for (let i = 0; i < count; i++) {
    cents += random.range(-3, 3);
    const price = (cents / 100).toFixed(8);
    const qty = (random.range(1, 99_999_999) / 1e8).toFixed(8);
    lines.push(
      `${3355546431 + i},${price},${qty},${
        (Number(price) * Number(qty)).toFixed(8)
      },${1704067200000 + i * 3},${random.chance(0.5) ? "True" : "False"},True`,
    );
  }
  return lines.join("\n") + "\n";
}

function serveReplay(
  config: RoleConfig,
  file: string,
  args: string[] = [],
): RoleProcess {
  return new RoleProcess("serve", config, [
    "--source",
    "replay",
    "--file",
    file,
    "--symbols",
    "BTCUSDT",
    ...args,
  ]);
}

/** Asserts one ERROR line matching `pattern`, and no stack trace. */
function assertOneLineError(text: string, pattern: RegExp): void {
  const errors = text.split("\n").filter((line) => line.includes("ERROR"));
  assert.equal(errors.length, 1, text);
  assert.match(errors[0], pattern);
  assert.doesNotMatch(text, /^\s+at /m, "a stack trace");
}

gatedTest({
  name:
    "replay hardening: a gzip with 10 bytes flipped mid-file fails in one line naming the line reached, before any ring, under skip and stop",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const file = join(config.dir, "BTCUSDT-trades-2024-01-01.csv.gz");
    const gzipped = await gzipBytes(new TextEncoder().encode(csv(20_000)));
    const random = seededRandom(2);
    const middle = gzipped.length >> 1;
    for (let k = 0; k < 10; k++) {
      gzipped[middle + random.int(2000)] ^= 1 << random.int(8);
    }
    await Deno.writeFile(file, gzipped);
    for (const onError of ["skip", "stop"]) {
      await using serve = serveReplay(config, file, ["--on-error", onError]);
      const exit = await serve.finish();
      const text = output(exit);
      assert.equal(exit.code, 1, text);
      assertOneLineError(
        text,
        /replay: Cannot read trade file ".*\.csv\.gz" after line \d+: corrupt/,
      );
      assert.doesNotMatch(text, /publishing|IPC rings/, "started publishing");
      assert.deepEqual(config.existing(), []);
    }
  },
});

gatedTest({
  name:
    "replay of a Binance .zip: every row of its CSV is published, streamed without a temp file; a corrupt one fails in one line before any ring",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const file = join(config.dir, "BTCUSDT-trades-2024-01-01.zip");
    const zip = zipSync({
      "BTCUSDT-trades-2024-01-01.csv": new TextEncoder().encode(csv(20_000)),
    });
    await Deno.writeFile(file, zip);
    {
      await using serve = serveReplay(config, file, ["--speed", "0"]);
      const exit = await serve.finish();
      const text = output(exit);
      assert.equal(exit.code, 0, text);
      assert.equal(publishedTrades(text), 20_000, text);
    }
    // Mid-file damage to the deflate data: one line naming the file.
    const random = seededRandom(3);
    const middle = zip.length >> 1;
    for (let k = 0; k < 10; k++) zip[middle + random.int(2000)] ^= 0xff;
    await Deno.writeFile(file, zip);
    await using serve = serveReplay(config, file, ["--speed", "0"]);
    const exit = await serve.finish();
    const text = output(exit);
    assert.equal(exit.code, 1, text);
    assertOneLineError(
      text,
      /replay: Cannot read trade file ".*\.zip" after line \d+: a corrupt zip archive/,
    );
    // Verified before anything is published, as a gzip is.
    assert.doesNotMatch(text, /publishing|IPC rings/, "started publishing");
    assert.deepEqual(config.existing(), []);
  },
});

/** Makes a FIFO in the config's directory. */
async function fifo(config: RoleConfig, name: string): Promise<string> {
  const path = join(config.dir, name);
  const made = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(made.success, new TextDecoder().decode(made.stderr));
  return path;
}

gatedTest({
  name:
    "replay hardening: a FIFO without a writer, or whose writer sends nothing, stops serve on the first SIGINT or SIGTERM, rings removed",
  permissions: [...ROLE_PERMISSIONS, { name: "run", command: "mkfifo" }],
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const path = await fifo(config, "BTCUSDT-trades-2024-01-01.csv");
    for (const writer of [false, true]) {
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        const what = `${writer ? "a silent writer" : "no writer"}, ${signal}`;
        // A writer that opens the FIFO and sends nothing (non-blocking
        // open: the read end may not be open yet, so open it read-write).
        const held = writer
          ? await Deno.open(path, { read: true, write: true })
          : undefined;
        try {
          await using serve = serveReplay(config, path);
          await serve.waitFor(/publishing replay/);
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert.deepEqual(config.existing(), config.rings, what);
          const sent = serve.kill(signal);
          const exit = await serve.finish(STOP_MS);
          assert.ok(
            !exit.timedOut,
            `${what}: still running after ${STOP_MS} ms`,
          );
          assert.ok(exit.exitedAt - sent < STOP_MS, what);
          assert.equal(exit.code, 0, `${what}: ${output(exit)}`);
          assert.match(output(exit), /stopped after/, what);
          assert.deepEqual(config.existing(), [], `${what}: rings left`);
        } finally {
          held?.close();
        }
      }
    }
  },
});

gatedTest({
  name:
    "replay hardening: a FIFO with a writer is read once, plain or gzipped (no seek), every row published",
  permissions: [...ROLE_PERMISSIONS, { name: "run", command: "mkfifo" }],
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const text = new TextEncoder().encode(csv(2000));
    for (const gzip of [false, true]) {
      const path = await fifo(config, `fifo-${gzip}`);
      await using serve = serveReplay(config, path);
      const writing = (async () => {
        const file = await Deno.open(path, { write: true });
        const writer = file.writable.getWriter();
        await writer.write(gzip ? await gzipBytes(text) : text);
        await writer.close();
      })().catch((error) => error);
      const exit = await serve.finish();
      const all = output(exit);
      // A serve that never opened the FIFO leaves the writer blocked in
      // open(): drain the FIFO ourselves so the test fails instead of hanging.
      const pending = Symbol("pending");
      if (
        await Promise.race([writing, delay(5_000).then(() => pending)]) ===
          pending
      ) {
        await Deno.readFile(path);
        await writing;
        assert.fail(`serve never read the FIFO:\n${all}`);
      }
      assert.equal(await writing, undefined, all);
      assert.equal(exit.code, 0, all);
      assert.equal(publishedTrades(all), 2000, all);
      assert.match(all, /times are in milliseconds/);
    }
  },
});
