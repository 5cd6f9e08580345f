// `deno task demo`: serve and live together on the shared-memory ring for a
// few seconds, then a clean stop, publisher first.
//
// The demo runs both tasks on config/development.toml and takes no config of
// its own, so it cannot get a unique segment prefix: it uses the developer's
// rings (/marketbus_binance_*). When those exist (a `deno task serve` is
// running, or one crashed) the test is skipped, with the reason in its name,
// rather than fail or disturb them.

import assert from "node:assert/strict";
import { gatedTest, SHM_PERMISSIONS } from "./_permissions.ts";
import { parseCount, segmentsWithPrefix } from "./_ipc_roles.ts";
import { runInProject } from "./_run.ts";

const DEMO_PREFIX = "/marketbus_binance_";

const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...SHM_PERMISSIONS,
  { name: "run" },
  { name: "read" },
];

function developerRings(): string[] {
  const granted = SHM_PERMISSIONS.every((p) =>
    Deno.permissions.querySync(p).state === "granted"
  );
  return granted ? segmentsWithPrefix(DEMO_PREFIX) : [];
}

const busy = developerRings();

gatedTest({
  name:
    "deno task demo --duration 3s: both roles report progress, every trade arrives" +
    (busy.length > 0
      ? ` [skipped: ${
        busy.join(", ")
      } exist under /dev/shm: is a deno task serve running?]`
      : ""),
  ignore: busy.length > 0,
  permissions: PERMISSIONS,
  async fn() {
    const { code, stdout, stderr } = await runInProject(Deno.execPath(), [
      "task",
      "--quiet",
      "demo",
      "--duration",
      "3s",
    ]);
    const output = `${stdout}${stderr}`;
    assert.equal(code, 0, output);
    assert.match(stdout, /^demo: done$/m);
    // Progress lines, not just the final ones.
    assert.match(
      stdout,
      /^\[serve\] \S+Z INFO {2}data_manager: [\d,]+ trades \(/m,
      output,
    );
    assert.match(
      stdout,
      /^\[live\] +\S+Z INFO {2}trading_core: [a-z0-9_-]+ [A-Z0-9]+ [\d,]+ \(.*\) last .* lost [\d,]+ gaps \d+ /m,
      output,
    );
    const served = stdout.match(
      /^\[serve\] \S+Z INFO {2}data_manager: stopped after [\d.]+s: ([\d,]+) trades/m,
    );
    assert.ok(served, output);
    const liveLines = stdout.split("\n").filter((l) => l.startsWith("[live]"));
    const final = liveLines.at(-1) ?? "";
    const received = final.match(
      /trading_core: stopped after [\d.]+s: received ([\d,]+), lost 0, /,
    );
    assert.ok(received, `live's final line: ${final}\n${output}`);
    // The demo stops the publisher first and lets the consumer drain, and the
    // consumer was waiting for the rings before they existed: it saw them all.
    assert.equal(parseCount(received[1]), parseCount(served[1]), output);
    assert.deepEqual(segmentsWithPrefix(DEMO_PREFIX), [], "rings left behind");
  },
});
