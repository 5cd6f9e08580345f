// live's progress with many streams, as real `serve` and `live` processes:
// above `trading_core.progress_summary_above` (from the file, or
// --progress-summary-above) one summary line per interval, at or below it a
// line per stream; a live whose strategy stalls while serve laps every ring
// gets a warning per stream that lost trades, at most 10 per interval plus
// one for the rest, each loss told once (their counts add up to the exit
// summary), off a terminal and on one (under script(1): the summary is
// redrawn in place, the warnings stay above it); through NATS the lag is
// the consumer's, never a stream's; with --catch-up it counts the streams
// caught up.

import assert from "node:assert/strict";
import { join } from "node:path";
import { gatedTest, natsTest } from "./_permissions.ts";
import {
  assertCleanExit,
  assertLiveExit,
  finishAfterDrain,
  output,
  ROLE_PERMISSIONS,
  roleArgs,
  type RoleConfig,
  roleConfig,
  RoleProcess,
  summaryOf,
  waitForStreams,
} from "./_ipc_roles.ts";
import { PROJECT_ROOT } from "./nats_server.ts";
import { withJsm } from "./_nats_feed.ts";

/** `count` symbols P0USDT, P1USDT, …. */
function symbols(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `P${i}USDT`);
}

/** The JSON log lines of `text` (other lines left out). */
function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"component"'))
    .map((line) => JSON.parse(line));
}

/** live's summary lines (they carry `streams`) in JSON `text`. */
function summaries(text: string): Record<string, unknown>[] {
  return jsonLines(text).filter((line) =>
    line.component === "trading_core" && typeof line.streams === "number"
  );
}

/** live's per-stream progress lines (they carry `latencyP50Ns`) in JSON `text`. */
function streamLines(text: string): Record<string, unknown>[] {
  return jsonLines(text).filter((line) =>
    line.component === "trading_core" && "latencyP50Ns" in line
  );
}

/** A summary line's text: streams (and those not live), loss, gaps, lag, slowest, trades and rates. */
const SUMMARY_TEXT =
  /^\d+\/12 streams( \(\d+ (waiting|closed)\))? \| lost 0 \| gaps 0 \| lag (binance P\d+USDT )?[\d,]+ trades \| slowest (-|binance P\d+USDT p99 \S+) \| trades [\d,]+( \+[\d,]+)? at \S+, avg \S+$/;

gatedTest({
  name:
    "live with 12 streams: trading_core.progress_summary_above = 12 in the file gives a line per stream; --progress-summary-above 11 the summary line",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: symbols(12) });
    await Deno.writeTextFile(
      config.path,
      "\n[trading_core]\nprogress_summary_above = 12\n",
      { append: true },
    );
    const common = ["--progress", "250ms", "--log-format", "json"];
    await using perStream = new RoleProcess("live", config, common);
    await using summary = new RoleProcess("live", config, [
      ...common,
      "--progress-summary-above",
      "11",
    ]);
    await perStream.waitFor(/waiting for ring/, 12);
    // Above the threshold: 3 lines, and one for the other 9 streams.
    await summary.waitFor(/"msg":"9 more streams wait for their ring since/);
    await using serve = new RoleProcess("serve", config, ["--rate", "1200"]);
    // Two summaries with trades in them, and each stream's line with trades.
    await summary.waitFor(/"msg":"12\/12 streams [^"]*\| trades [1-9]/, 2);
    await perStream.waitFor(/"msg":"binance P11USDT [1-9]/, 2);
    serve.kill("SIGINT");
    assertCleanExit(await serve.finish(), "serve");
    const [a, b] = [
      await finishAfterDrain(perStream, 12),
      await finishAfterDrain(summary, 12),
    ];
    assertCleanExit(a, "live (file: 12)");
    assertCleanExit(b, "live --progress-summary-above 11");

    assert.deepEqual(summaries(a.stdout), [], "no summary at 12 streams");
    const seen = new Set(streamLines(a.stdout).map((line) => line.symbol));
    assert.deepEqual([...seen].sort(), symbols(12).sort());

    assert.deepEqual(streamLines(b.stdout), [], "no line per stream above 11");
    const lines = summaries(b.stdout);
    assert.ok(lines.length >= 2, b.stdout);
    for (const line of lines) {
      assert.match(String(line.msg), SUMMARY_TEXT);
      assert.equal(line.level, "info");
      assert.equal(line.streams, 12);
    }
    assert.ok(lines.some((line) => line.activeStreams === 12), b.stdout);
  },
});

/** Every stream waiting for its ring, folded or not. */
const WAITING = { line: /waiting for ring/, folded: "wait for their ring" };

/** Ring slots: at 1,000 trades/s per symbol, lapped in a quarter second. */
const CAPACITY = 256;
const STREAMS = 24;
const RATE = STREAMS * 1000;
/** Times the strategy stalls the read loop. */
const STALLS = 2;

/**
 * A strategy that stalls the read loop for 0.8 s, {@linkcode STALLS} times,
 * 1.2 s apart: serve laps every ring each time. It says when it is done.
 */
const STALLING_STRATEGY = `
let last = Date.now();
let stalls = 0;
export default {
  onTrade(_trade, context) {
    if (stalls === ${STALLS} || Date.now() - last < 1200) return;
    const until = Date.now() + 800;
    while (Date.now() < until) {} // every ring laps the reader meanwhile
    stalls++;
    last = Date.now();
    context.log.info(stalls === ${STALLS} ? "stalls done" : "stalled");
  },
  onBar() {},
};
`;

/** A config of {@linkcode STREAMS} symbols on small rings, and the stalling strategy in its directory. */
async function stallSetup(): Promise<{ config: RoleConfig; strategy: string }> {
  const config = await roleConfig({
    symbols: symbols(STREAMS),
    capacity: CAPACITY,
  });
  const strategy = join(config.dir, "stalling_strategy.ts");
  await Deno.writeTextFile(strategy, STALLING_STRATEGY);
  return { config, strategy };
}

/** A warning that a stream lost trades or gapped, or the line for the rest. */
interface Kept {
  ms: number;
  symbol?: string;
  more?: number;
  lostInterval: number;
  gapsInterval: number;
}

/** The lines to keep in JSON `text`, grouped by the progress line they came with (logged within 100 ms). */
function keptGroups(text: string): Kept[][] {
  const kept = jsonLines(text)
    .filter((line) =>
      line.component === "trading_core" && "lostInterval" in line
    )
    .map((line) => ({
      ms: Date.parse(String(line.time)),
      symbol: line.symbol as string | undefined,
      more: line.moreStreams as number | undefined,
      lostInterval: line.lostInterval as number,
      gapsInterval: line.gapsInterval as number,
      level: line.level,
    }));
  assert.ok(kept.every((line) => line.level === "warn"));
  const groups: Kept[][] = [];
  for (const line of kept) {
    const group = groups.at(-1);
    if (group && line.ms - group[0].ms < 100) group.push(line);
    else groups.push([line]);
  }
  return groups;
}

gatedTest({
  name:
    "a lapped live with 24 streams, off a terminal: each stream that lost trades is a warning, at most 10 per interval and one line for the rest, each loss told once (the counts add up to the exit summary)",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    const { config, strategy } = await stallSetup();
    await using _config = config;
    await using live = new RoleProcess("live", config, [
      "--strategy",
      strategy,
      "--progress",
      "300ms",
      "--log-format",
      "json",
      "--summary-json",
    ]);
    await waitForStreams(live, STREAMS, WAITING);
    await using serve = new RoleProcess("serve", config, [
      "--rate",
      String(RATE),
    ]);
    await live.waitFor(/"msg":"stalls done"/);
    // Three more progress lines: every loss of the stalls reported.
    const now = (await live.waitFor(/"msg":"\d+\/24 streams/)).length;
    await live.waitFor(/"msg":"\d+\/24 streams/, now + 3);
    serve.kill("SIGINT");
    assertCleanExit(await serve.finish(), "serve");
    const exit = await finishAfterDrain(live, STREAMS);
    assertLiveExit(exit, "live");
    const summary = summaryOf(exit);
    assert.ok(summary.lost > 0, `not lapped: ${JSON.stringify(summary)}`);

    const groups = keptGroups(exit.stderr);
    const all = groups.flat();
    assert.equal(
      all.reduce((sum, line) => sum + line.lostInterval, 0),
      summary.lost,
      "each loss told once",
    );
    assert.equal(
      all.reduce((sum, line) => sum + line.gapsInterval, 0),
      summary.gaps,
      "each gap told once",
    );
    for (const group of groups) {
      const listed = group.filter((line) => line.symbol !== undefined);
      const more = group.filter((line) => line.more !== undefined);
      assert.ok(listed.length <= 10, JSON.stringify(group));
      assert.ok(more.length <= 1, JSON.stringify(group));
      if (more.length === 1) assert.equal(listed.length, 10);
      // The worst first.
      const sizes = listed.map((line) => line.lostInterval + line.gapsInterval);
      assert.deepEqual(sizes, [...sizes].sort((x, y) => y - x));
    }
    // 24 lapped streams over at most two intervals per stall: one interval
    // had more than 10.
    assert.ok(
      all.some((line) => (line.more ?? 0) > 0),
      `never more than 10 in one interval:\n${exit.stderr}`,
    );
  },
});

const SCRIPT = "/usr/bin/script";

function scriptMissing(): string | undefined {
  try {
    Deno.statSync(SCRIPT);
    return undefined;
  } catch (error) {
    // Without --allow-read the permission gate says what is missing.
    if (!(error instanceof Deno.errors.NotFound)) return undefined;
    return `${SCRIPT} (util-linux) is not installed: no pseudo-terminal to run live in`;
  }
}

/** `text` quoted for sh. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

const noScript = scriptMissing();
gatedTest({
  name:
    "a lapped live with 24 streams on a terminal (under script): the summary is redrawn, never logged; each stream's loss is a warning that stays above it" +
    (noScript ? ` [skipped: ${noScript}]` : ""),
  ignore: noScript !== undefined,
  permissions: ROLE_PERMISSIONS,
  async fn() {
    const { config, strategy } = await stallSetup();
    await using _config = config;
    await using serve = new RoleProcess("serve", config, [
      "--rate",
      String(RATE),
    ]);
    await serve.waitFor(/publishing synthetic/);
    const take = [
      "--strategy",
      strategy,
      "--progress",
      "300ms",
      "--max-trades",
      "120000", // the stalls, and ~2 s more
    ];
    const command = "stty cols 80 rows 50; " +
      [Deno.execPath(), ...roleArgs("live", config), ...take]
        .map(shellQuote).join(" ");
    const tty = await new Deno.Command(SCRIPT, {
      args: ["-qec", command, "/dev/null"],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1", NATS_URL: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    serve.kill("SIGINT");
    assertCleanExit(await serve.finish(), "serve");
    const text = new TextDecoder().decode(tty.stdout) +
      new TextDecoder().decode(tty.stderr);
    const quoted = JSON.stringify(text);
    assert.equal(tty.code, 1, `lost trades: exit 1 expected:\n${quoted}`);
    assert.match(text, /stalls done/, quoted);
    // The block, drawn for the 80 columns (over two or three lines): streams
    // and the losses, lag and slowest, never wider.
    // Split at line ends and at the block's erase and cursor-up sequences.
    const block = text.split(new RegExp(String.raw`\r?\n|\r|\x1b\[2K|\x1b\[1A`))
      .filter((part) => /^(\d+\/24 streams|lag |slowest |trades )/.test(part));
    assert.ok(block.length > 0, quoted);
    assert.ok(block.every((part) => part.length <= 80), quoted);
    assert.ok(
      block.some((part) =>
        /^\d+\/24 streams \| lost [1-9][\d,]* \+[1-9]/.test(part)
      ),
      quoted,
    );
    for (const field of [/(^|\| )lag [^|]* trades/, /(^|\| )slowest /]) {
      assert.ok(block.some((part) => field.test(part)), quoted);
    }
    // Never logged as a line on a terminal.
    assert.doesNotMatch(text, /INFO {2}trading_core: \d+\/24 streams/, quoted);
    // Each lapped stream's warning, logged (it scrolls up, the block stays
    // below): up to 10 with a line for the rest.
    assert.match(
      text,
      /WARN {2}trading_core: binance P\d+USDT: \+[\d,]+ lost, \+\d+ gaps? in the last [\d.]+s \([\d,]+ lost \([\d,]+ overwritten\), \d+ gaps? in all\) \[alive\]\r?\n/,
      quoted,
    );
    assert.match(
      text,
      /WARN {2}trading_core: …and \d+ more streams with losses or gaps in the last [\d.]+s: \+[\d,]+ lost/,
      quoted,
    );
  },
});

natsTest({
  name:
    "live --nats with 10 streams above --progress-summary-above 4: the summary's lag is the durable consumer's (messages), naming no stream",
  permissions: ROLE_PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    await using config = await roleConfig({
      symbols: symbols(10),
      nats: { url },
    });
    const durable = `progress-${crypto.randomUUID().slice(0, 8)}`;
    // Its stream goes with it (a server of NATS_URL keeps nothing).
    await using _stream = {
      async [Symbol.asyncDispose]() {
        await withJsm(url, (jsm) => jsm.streams.delete(config.nats!.stream))
          .catch(() => {}); // never created, or the server went with the test
      },
    };
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--durable",
      durable,
      "--deliver",
      "all",
      "--progress",
      "250ms",
      "--progress-summary-above",
      "4",
      "--log-format",
      "json",
    ]);
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "2000",
    ]);
    await live.waitFor(/"msg":"10\/10 streams [^"]*\| trades [1-9]/, 2);
    serve.kill("SIGINT");
    assertCleanExit(await serve.finish(), "serve");
    live.kill("SIGINT");
    const exit = await live.finish();
    assertCleanExit(exit, "live --nats");
    const lines = summaries(exit.stdout);
    assert.ok(lines.length >= 2, output(exit));
    assert.ok(lines.some((line) => typeof line.consumerPending === "number"));
    assert.deepEqual(streamLines(exit.stdout), []);
    for (const line of lines) {
      assert.match(
        String(line.msg),
        new RegExp(`\\| lag consumer ${durable} ([\\d,]+|\\?) msgs \\|`),
      );
      assert.doesNotMatch(String(line.msg), /lag [^|]*P\d/);
      assert.deepEqual(
        [line.lagTrades, line.lagStream, line.consumer, line.consumerKind],
        [null, null, durable, "durable"],
      );
      // Not known (?, null) only while the consumer is not connected.
      assert.equal(
        line.consumerPending === null,
        /streams \(10 (waiting|connecting)/.test(String(line.msg)),
        String(line.msg),
      );
    }
  },
});

natsTest({
  name:
    "live --catch-up with its streams above --progress-summary-above 0: the summary counts the streams caught up",
  permissions: ROLE_PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    await using config = await roleConfig({ nats: { url } });
    await using _stream = {
      async [Symbol.asyncDispose]() {
        await withJsm(url, (jsm) => jsm.streams.delete(config.nats!.stream))
          .catch(() => {}); // never created, or the server went with the test
      },
    };
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--rate",
      "300",
    ]);
    await serve.waitFor(/publishing to stream/);
    await using live = new RoleProcess("live", config, [
      "--catch-up",
      "1m",
      "--progress",
      "200ms",
      "--progress-summary-above",
      "0",
      "--log-format",
      "json",
    ]);
    await live.waitFor(/caught up in/, 3);
    await live.waitFor(/"msg":"3\/3 streams \(3 caught up\) \|/);
    serve.kill("SIGINT");
    assertCleanExit(await serve.finish(), "serve");
    const exit = await finishAfterDrain(live, 3);
    assertCleanExit(exit, "live --catch-up");
    const lines = summaries(exit.stdout);
    assert.ok(lines.every((line) => typeof line.caughtUp === "number"));
    assert.equal(lines.at(-1)!.caughtUp, 3, output(exit));
  },
});
