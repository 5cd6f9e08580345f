import assert from "node:assert/strict";
import { StatusLine } from "./status_line.ts";

function terminal(columns = 40) {
  const writes: string[] = [];
  const status = new StatusLine({
    writer: { write: (text) => writes.push(text) },
    columns: () => columns,
  });
  return { status, writes };
}

Deno.test("show redraws the block in place", () => {
  const { status, writes } = terminal();
  status.show(["a 1", "b 2"]);
  status.show(["a 3", "b 4"]);
  assert.deepEqual(writes, [
    "a 1\nb 2",
    "\x1b[2K\r\x1b[1A\x1b[2K\ra 3\nb 4",
  ]);
});

Deno.test("lines wider than the terminal are cut", () => {
  const { status, writes } = terminal(10);
  status.show(["0123456789abcdef"]);
  assert.deepEqual(writes, ["012345678…"]);
});

Deno.test("clear erases the block once", () => {
  const { status, writes } = terminal();
  status.clear();
  status.show(["x"]);
  status.clear();
  status.clear();
  assert.deepEqual(writes, ["x", "\x1b[2K\r"]);
});

Deno.test("print without a block just writes", () => {
  const { status, writes } = terminal();
  const printed: string[] = [];
  status.print("line", (line) => printed.push(line));
  assert.deepEqual(printed, ["line"]);
  assert.deepEqual(writes, []);
});
