// Capture and replay: `live --record` as a real process next to a real
// `serve` on the shared-memory ring, with the task's own permissions plus
// write access to the one file it records. The file must hold every trade
// live received, and read back (readTradeFile, what `serve --source replay`
// uses) into exactly the records the synthetic source published.

import assert from "node:assert/strict";
import { join } from "node:path";
import { priceToNumber } from "../common/wire/fixed_point.ts";
import { TradeFlags } from "../common/wire/trade.ts";
import {
  readTradeFile,
  type ReplayRow,
} from "../common/trade_file/trade_file.ts";
import { gatedTest } from "./_permissions.ts";
import { PROJECT_ROOT } from "./nats_server.ts";
import {
  assertCleanExit,
  assertComplete,
  LIVENESS_MS,
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  roleArgs,
  type RoleConfig,
  roleConfig,
  type RoleExit,
  RoleProcess,
  streamOf,
  summaryOf,
} from "./_ipc_roles.ts";
import { regenerate } from "./_regenerate.ts";

/**
 * `live` as the task runs it plus `--allow-write=<writable>` (RoleProcess
 * runs exactly the task's permissions, which cannot write), and extra flags.
 */
class RecordingLive implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  #output = "";
  readonly exited: Promise<RoleExit>;

  constructor(config: RoleConfig, writable: string, args: string[]) {
    const [run, ...rest] = roleArgs("live", config);
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [run, `--allow-write=${writable}`, ...rest, ...args],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1", NATS_URL: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>) => {
      let text = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        this.#output += chunk;
      }
      return text;
    };
    const stdout = read(this.#child.stdout);
    const stderr = read(this.#child.stderr);
    this.exited = this.#child.status.then(async (status) => ({
      code: status.code,
      signal: status.signal,
      stdout: await stdout,
      stderr: await stderr,
      exitedAt: performance.now(),
      timedOut: false,
    }));
  }

  /** Resolves once the output matched `pattern` `count` times. */
  async waitFor(pattern: RegExp, count: number): Promise<void> {
    const global = new RegExp(pattern.source, "g");
    const deadline = performance.now() + LIVENESS_MS;
    let done = false;
    this.exited.then(() => done = true);
    while ([...this.#output.matchAll(global)].length < count) {
      if (done || performance.now() > deadline) {
        throw new Error(
          `live ${
            done ? "exited" : "timed out"
          } before ${pattern} ×${count}:\n${this.#output}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Its exit, stopping it (SIGINT, then SIGKILL) after `timeoutMs`. */
  async finish(timeoutMs = LIVENESS_MS): Promise<RoleExit> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    try {
      const first = await Promise.race([this.exited, late]);
      if (first !== "late") return first;
    } finally {
      clearTimeout(timer);
    }
    this.#kill("SIGINT");
    const killer = setTimeout(() => this.#kill("SIGKILL"), 5000);
    try {
      return { ...await this.exited, timedOut: true };
    } finally {
      clearTimeout(killer);
    }
  }

  /** Sends `signal`, if it still runs. */
  kill(signal: Deno.Signal): void {
    this.#kill(signal);
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#kill("SIGKILL");
    await this.exited;
  }
}

gatedTest({
  name:
    "live --record: serve → 20,000 trades recorded as NDJSON that reads back identical to the published source, seq from 1 per symbol",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    const seed = 777;
    const firstTradeId = 5_000_000_000; // beyond 2^32
    await using config = await roleConfig({
      capacity: 1 << 16,
      synthetic: { seed, firstTradeId },
    });
    const total = 20_000;
    const path = join(config.dir, "rec.ndjson");
    await using live = new RecordingLive(config, path, [
      "--record",
      path,
      "--max-trades",
      String(total),
      "--summary-json",
    ]);
    await live.waitFor(/waiting for ring/, config.symbols.length);
    await using serve = new RoleProcess("serve", config, [
      "--max-trades",
      String(total),
      // Paced (about 1 s): at --rate 0, 20,000 trades are published, and the
      // rings closed and unlinked, within the consumer's 5 ms attach retry.
      "--rate",
      "20000",
    ]);
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    assert.equal(publishedTrades(served.stdout), total);
    const exit = await live.finish();
    assertCleanExit(exit, "live");
    assert.match(exit.stdout, /recorded 20,000 trades to /);
    const summary = summaryOf(exit);
    assertComplete(summary, config.symbols, total);

    const text = await Deno.readTextFile(path);
    assert.equal(text.split("\n").length - 1, total, "lines in the file");
    const rows: ReplayRow[] = [];
    for await (const row of readTradeFile(path, { format: "ndjson" })) {
      rows.push(row);
    }
    assert.equal(rows.length, total);
    const want = regenerate(config.symbols, seed, firstTradeId, total);
    const next = new Map(config.symbols.map((s) => [s, 0]));
    for (const row of rows) {
      assert.equal(row.exchange, "binance");
      const i = next.get(row.symbol);
      assert.ok(i !== undefined, `unexpected symbol ${row.symbol}`);
      next.set(row.symbol, i + 1);
      const w = want.get(row.symbol)![i];
      if (
        row.seq !== i + 1 || row.side !== w.side || row.flags !== w.flags ||
        row.priceFixed !== w.priceFixed || row.size !== w.size ||
        row.tradeId !== w.tradeId || row.tsEvent <= 0n || row.tsRecv <= 0n
      ) {
        const show = (v: unknown) =>
          JSON.stringify(v, (_, x) => typeof x === "bigint" ? `${x}` : x);
        assert.fail(
          `line ${row.line}: ${row.symbol} trade ${i}: recorded ${
            show(row)
          }, published ${show(w)}`,
        );
      }
    }
    for (const symbol of config.symbols) {
      const figures = streamOf(summary, symbol);
      assert.equal(next.get(symbol), figures.received, symbol);
      assert.equal(next.get(symbol), want.get(symbol)!.length, symbol);
      const last = rows.findLast((row) => row.symbol === symbol)!;
      assert.equal(last.seq, figures.lastSeq, symbol);
      assert.equal(priceToNumber(last.priceFixed), figures.lastPrice, symbol);
    }
  },
});

gatedTest({
  name:
    "live --record without write permission: exits 1 naming the --allow-write it needs",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    const path = join(config.dir, "denied.ndjson");
    // The task's own permissions: no --allow-write at all.
    await using live = new RoleProcess("live", config, ["--record", path]);
    const exit = await live.finish();
    assert.equal(exit.code, 1, output(exit));
    assert.ok(
      output(exit).includes(
        `--record needs write permission for ${path}: run with --allow-write=${path}`,
      ),
      output(exit),
    );
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  },
});

gatedTest({
  name:
    "live --record, stopped by SIGINT mid-stream: the file holds every trade it received, complete lines",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    const path = join(config.dir, "sigint.ndjson");
    await using serve = new RoleProcess("serve", config, ["--rate", "5000"]);
    await serve.waitFor(/publishing synthetic/);
    await using live = new RecordingLive(config, path, [
      "--record",
      path,
      "--summary-json",
    ]);
    await live.waitFor(/attached to/, config.symbols.length);
    await new Promise((resolve) => setTimeout(resolve, 500));
    live.kill("SIGINT");
    const exit = await live.finish();
    assertCleanExit(exit, "live");
    const summary = summaryOf(exit);
    assert.ok(summary.received > 0, output(exit));
    const text = await Deno.readTextFile(path);
    assert.ok(text.endsWith("\n"), "last line cut short");
    let count = 0;
    for await (const _ of readTradeFile(path, { format: "ndjson" })) count++;
    assert.equal(count, summary.received, output(exit));
  },
});

gatedTest({
  name:
    "record → replay → record: a recording replayed through serve --source replay records again to identical trades (flagged replayed)",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({
      capacity: 1 << 16,
      synthetic: { seed: 4242, firstTradeId: 7_000_000_000 },
    });
    const total = 10_000;
    const record = async (path: string, serveArgs: string[]) => {
      await using live = new RecordingLive(config, path, [
        "--record",
        path,
        "--max-trades",
        String(total),
        "--summary-json",
      ]);
      await live.waitFor(/waiting for ring/, config.symbols.length);
      await using serve = new RoleProcess("serve", config, [
        "--max-trades",
        String(total),
        ...serveArgs,
      ]);
      assertCleanExit(await serve.finish(), "serve");
      const exit = await live.finish();
      assertCleanExit(exit, "live");
      assertComplete(summaryOf(exit), config.symbols, total);
      const rows: ReplayRow[] = [];
      for await (const row of readTradeFile(path, { format: "ndjson" })) {
        rows.push(row);
      }
      return rows;
    };
    const first = await record(join(config.dir, "first.ndjson"), [
      "--rate",
      "20000",
    ]);
    const second = await record(join(config.dir, "second.ndjson"), [
      "--source",
      "replay",
      "--file",
      join(config.dir, "first.ndjson"),
      "--speed",
      "0",
    ]);
    // The order across symbols is the consumer's read order (ring by ring),
    // so compare each symbol's trades in order.
    assert.equal(second.length, first.length);
    const bySymbol = (rows: ReplayRow[]) =>
      Map.groupBy(rows, (row) => row.symbol);
    const firstBy = bySymbol(first);
    const secondBy = bySymbol(second);
    for (const symbol of config.symbols) {
      const a = firstBy.get(symbol) ?? [];
      const b = secondBy.get(symbol) ?? [];
      assert.equal(b.length, a.length, symbol);
      for (let i = 0; i < a.length; i++) {
        const same = a[i].seq === b[i].seq && a[i].side === b[i].side &&
          a[i].priceFixed === b[i].priceFixed && a[i].size === b[i].size &&
          a[i].tradeId === b[i].tradeId && a[i].tsEvent === b[i].tsEvent &&
          b[i].flags === (a[i].flags | TradeFlags.Replayed);
        if (!same) {
          const show = (v: unknown) =>
            JSON.stringify(v, (_, x) => typeof x === "bigint" ? `${x}` : x);
          assert.fail(
            `${symbol} trade ${i}: first ${show(a[i])}, replayed ${show(b[i])}`,
          );
        }
      }
    }
  },
});
