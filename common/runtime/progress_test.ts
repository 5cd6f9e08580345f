import assert from "node:assert/strict";
import { delay } from "./delay.ts";
import { createLogger } from "./log.ts";
import { roleOutput, startProgress } from "./progress.ts";
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
