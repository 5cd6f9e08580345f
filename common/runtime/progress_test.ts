import assert from "node:assert/strict";
import { delay } from "./delay.ts";
import { LIVENESS_MS, until } from "../../tests/_until.ts";
import { createLogger } from "./log.ts";
import { type ProgressLine, roleOutput, startProgress } from "./progress.ts";
import { StatusLine } from "./status_line.ts";

function lines(seconds: number) {
  assert.ok(seconds > 0);
  return [
    { text: "a 1", fields: { symbol: "A", trades: 1 } },
    { text: "b 2", fields: { symbol: "B", trades: 2 } },
  ];
}

Deno.test("off a terminal, progress is plain info lines with JSON fields", async () => {
  const out: string[] = [];
  const log = createLogger("data_manager", {
    format: "json",
    out: (line) => out.push(line),
  });
  const progress = startProgress(lines, { intervalMs: 20, log });
  await delay(70);
  progress.stop();
  assert.ok(out.length >= 2, out.join("\n"));
  const first = JSON.parse(out[0]);
  assert.equal(first.msg, "a 1");
  assert.equal(first.trades, 1);
  assert.equal(JSON.parse(out[1]).symbol, "B");
  const count = out.length;
  await delay(40);
  assert.equal(out.length, count, "stop() stops");
});

Deno.test("on a terminal, progress redraws the status block and logs nothing", async () => {
  const screen: string[] = [];
  const status = new StatusLine({
    writer: { write: (text) => screen.push(text) },
    columns: () => 80,
  });
  const out: string[] = [];
  const log = createLogger("trading_core", { out: (line) => out.push(line) });
  const progress = startProgress(lines, { intervalMs: 20, log, status });
  await delay(70);
  progress.stop();
  assert.deepEqual(out, []);
  assert.equal(screen[0], "a 1\nb 2");
  assert.ok(screen.length >= 3);
  assert.equal(
    screen.at(-1),
    "\x1b[2K\r\x1b[1A\x1b[2K\r",
    "stop erases the block",
  );
});

Deno.test("an interval of 0 reports nothing", async () => {
  const out: string[] = [];
  const log = createLogger("x", { out: (line) => out.push(line) });
  const progress = startProgress(lines, { intervalMs: 0, log });
  await delay(30);
  progress.stop();
  assert.deepEqual(out, []);
});

Deno.test("roleOutput keeps a status block only for text on a terminal", () => {
  const config = {
    level: "info",
    format: "text",
    progressIntervalMs: 5000,
  } as const;
  assert.ok(roleOutput("r", config, { terminal: true }).status);
  assert.equal(roleOutput("r", config, { terminal: false }).status, undefined);
  assert.equal(
    roleOutput("r", { ...config, format: "json" }, { terminal: true }).status,
    undefined,
  );
});

/** Two lines to redraw, and a loss to keep (only on the first call). */
function keeping(): (seconds: number) => ProgressLine[] {
  let calls = 0;
  return () => [
    { text: `summary ${++calls}` },
    { text: `detail ${calls}` },
    ...calls === 1
      ? [{ text: "X lost 3", fields: { lost: 3 }, keep: true }]
      : [],
  ];
}

/**
 * The lines of a terminal that got `writes`: text, "\n", and the two
 * controls a status block uses (erase the line, cursor up one line).
 */
function screenOf(writes: readonly string[]): string[] {
  const lines = [""];
  let row = 0;
  // deno-lint-ignore no-control-regex
  const controls = /\x1b\[2K\r|\x1b\[1A|\n|[^\x1b\n]+/g;
  for (const token of writes.join("").match(controls) ?? []) {
    if (token === "\x1b[2K\r") lines[row] = "";
    else if (token === "\x1b[1A") row = Math.max(0, row - 1);
    else if (token === "\n") lines[++row] ??= "";
    else lines[row] += token;
  }
  return lines;
}

Deno.test("on a terminal, a line to keep is a warning printed above the block, which later redraws leave on screen", async () => {
  const writes: string[] = [];
  const status = new StatusLine({
    writer: { write: (text) => writes.push(text) },
    columns: () => 200,
  });
  const out: string[] = [];
  const err: string[] = [];
  const log = createLogger("trading_core", {
    status,
    out: (line) => out.push(line),
    err: (line) => {
      err.push(line);
      writes.push(`${line}\n`); // stderr, on the same terminal
    },
  });
  const progress = startProgress(keeping(), { intervalMs: 20, log, status });
  await until(() => screenOf(writes).includes("summary 3"), "3 redraws", {
    timeoutMs: LIVENESS_MS,
  });
  const screen = screenOf(writes);
  progress.stop();
  assert.deepEqual(out, [], "the block is redrawn, never logged");
  assert.equal(err.length, 1, err.join("\n"));
  assert.match(err[0], /WARN {2}trading_core: X lost 3$/);
  assert.deepEqual(screen.slice(-3), [err[0], "summary 3", "detail 3"]);
  assert.deepEqual(
    screenOf(writes).filter((line) => line !== ""),
    [err[0]],
    "stop erases the block, the kept line stays",
  );
});

Deno.test("off a terminal, a line to keep is a warning with its fields; the others are info lines", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const log = createLogger("trading_core", {
    format: "json",
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  const progress = startProgress(keeping(), { intervalMs: 20, log });
  await until(() => out.length >= 2, "two progress lines", {
    timeoutMs: LIVENESS_MS,
  });
  progress.stop();
  assert.equal(JSON.parse(out[0]).msg, "summary 1");
  assert.equal(JSON.parse(out[0]).level, "info");
  assert.equal(err.length, 1);
  const kept = JSON.parse(err[0]);
  assert.equal(kept.level, "warn");
  assert.equal(kept.msg, "X lost 3");
  assert.equal(kept.lost, 3);
});

Deno.test("the lines are made for the terminal's width on a terminal, for no width off one", async () => {
  const widths: (number | undefined)[] = [];
  const record = (_seconds: number, context: { width?: number }) => {
    widths.push(context.width);
    return [{ text: "x" }];
  };
  let columns = 80;
  const status = new StatusLine({
    writer: { write: () => {} },
    columns: () => columns,
  });
  const log = createLogger("trading_core", { out: () => {} });
  const onTerminal = startProgress(record, { intervalMs: 10, log, status });
  await until(() => widths.length >= 1, "a redraw", { timeoutMs: LIVENESS_MS });
  columns = 132; // resized
  await until(() => widths.at(-1) === 132, "the new width", {
    timeoutMs: LIVENESS_MS,
  });
  onTerminal.stop();
  assert.equal(widths[0], 80);
  widths.length = 0;
  const logged = startProgress(record, { intervalMs: 10, log });
  await until(() => widths.length >= 1, "a line", { timeoutMs: LIVENESS_MS });
  logged.stop();
  assert.equal(widths[0], undefined);
});
