import assert from "node:assert/strict";
import { createLogger, formatLogLine } from "./log.ts";
import { StatusLine } from "./status_line.ts";

const TIME = new Date("2026-11-26T23:19:09.123Z");

function capture(options: Parameters<typeof createLogger>[1] & object = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const log = createLogger("data_manager", {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    now: () => TIME,
    ...options,
  });
  return { log, out, err };
}

Deno.test("text lines carry the time, level and component", () => {
  const { log, out, err } = capture({ level: "debug" });
  log.debug("details");
  log.info("started", { trades: 5 });
  log.warn("slow");
  log.error("failed");
  assert.deepEqual(out, [
    "2026-11-26T23:19:09.123Z DEBUG data_manager: details",
    "2026-11-26T23:19:09.123Z INFO  data_manager: started",
  ]);
  assert.deepEqual(err, [
    "2026-11-26T23:19:09.123Z WARN  data_manager: slow",
    "2026-11-26T23:19:09.123Z ERROR data_manager: failed",
  ]);
});

Deno.test("json lines are one object each, with the fields", () => {
  const { log, out, err } = capture({ format: "json" });
  log.info('quoted "text"\nand a newline', { trades: 5, id: 2n ** 64n });
  log.warn("slow");
  assert.equal(out.length, 1);
  assert.deepEqual(JSON.parse(out[0]), {
    time: "2026-11-26T23:19:09.123Z",
    level: "info",
    component: "data_manager",
    msg: 'quoted "text"\nand a newline',
    trades: 5,
    id: "18446744073709551616",
  });
  assert.ok(!out[0].includes("\n"), "one line per event");
  assert.equal(JSON.parse(err[0]).level, "warn");
});

Deno.test("lines below the level are dropped", () => {
  const { log, out, err } = capture({ level: "warn" });
  log.debug("a");
  log.info("b");
  log.warn("c");
  assert.deepEqual(out, []);
  assert.equal(err.length, 1);
  assert.equal(capture({ level: "error" }).log.warn("x"), undefined);
});

Deno.test("a level string is accepted as the options", () => {
  const lines: string[] = [];
  const original = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    createLogger("c", "info").info("hello");
    createLogger("c", "warn").info("dropped");
  } finally {
    console.log = original;
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}c: hello$/);
});

Deno.test("log lines print above a terminal status block", () => {
  let screen = "";
  const status = new StatusLine({
    writer: { write: (text) => screen += text },
    columns: () => 80,
  });
  const { log, out } = capture({
    status,
    out: (line) => screen += `${line}\n`,
  });
  status.show(["BTCUSDT 10 trades", "ETHUSDT 5 trades"]);
  log.info("hello");
  assert.deepEqual(out, []);
  // Erase both status lines, print the log line, draw the block again.
  assert.equal(
    screen,
    "BTCUSDT 10 trades\nETHUSDT 5 trades" +
      "\x1b[2K\r\x1b[1A\x1b[2K\r" +
      "2026-11-26T23:19:09.123Z INFO  data_manager: hello\n" +
      "BTCUSDT 10 trades\nETHUSDT 5 trades",
  );
});

Deno.test("formatLogLine is the format of both", () => {
  const event = {
    time: TIME,
    level: "error" as const,
    component: "trading_core",
    message: "m",
  };
  assert.equal(
    formatLogLine("text", event),
    "2026-11-26T23:19:09.123Z ERROR trading_core: m",
  );
  assert.equal(
    formatLogLine("json", event),
    '{"time":"2026-11-26T23:19:09.123Z","level":"error","component":"trading_core","msg":"m"}',
  );
});
