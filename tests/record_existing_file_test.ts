// `live --record` and `--bars-out` onto a file that exists: refused (exit 2,
// one line naming the file, the file untouched) unless `--overwrite` or
// `--append`; `--append` needs to read the file too, and adds a second run's
// trades after the first's. `live` runs as a process with the task's
// permissions plus access to the files.

import assert from "node:assert/strict";
import { join } from "node:path";
import { readTradeFile } from "../common/trade_file/trade_file.ts";
import { gatedTest } from "./_permissions.ts";
import {
  output,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  type RoleExit,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import { runLive } from "./_live_files.ts";

/** Asserts exit `code` with exactly one error line, matching `pattern`, and no stack trace. */
function assertOneError(exit: RoleExit, code: number, pattern: RegExp): void {
  const all = output(exit);
  assert.equal(exit.code, code, all);
  assert.doesNotMatch(all, /Uncaught|^\s+at /m, all);
  const errors = all.split("\n").filter((line) => / ERROR /.test(line));
  assert.equal(errors.length, 1, all);
  assert.match(errors[0], pattern);
}

gatedTest({
  name:
    "live --record or --bars-out onto an existing file: exit 2, one line naming it and --overwrite/--append, the file untouched",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    const path = join(config.dir, "old.ndjson");
    const contents = '{"kept":true}\n';
    for (const flag of ["--record", "--bars-out"]) {
      await Deno.writeTextFile(path, contents);
      const exit = await runLive(config, {
        writable: [path],
        args: [flag, path],
      });
      const quoted = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      assertOneError(
        exit,
        2,
        new RegExp(
          `${flag} ${quoted} exists \\(14 bytes\\): pass --overwrite to replace it or --append to add to it \\(trading_core\\.on_existing_file\\)$`,
        ),
      );
      assert.equal(await Deno.readTextFile(path), contents, flag);
    }
  },
});

gatedTest({
  name:
    "live --record --append with the task's permissions only: exit 1 naming the --allow-read it needs",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    // Outside config.dir, which the roles may read.
    const dir = await Deno.makeTempDir({ prefix: "marketbus_append_" });
    try {
      const path = join(dir, "old.ndjson");
      await Deno.writeTextFile(path, "{}\n");
      const exit = await runLive(config, {
        writable: [path],
        args: ["--record", path, "--append"],
      });
      assertOneError(
        exit,
        1,
        new RegExp(`--allow-read=${path.replaceAll(".", "\\.")}$`),
      );
      assert.equal(await Deno.readTextFile(path), "{}\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Records `count` trades of the running serve into `path` with `flags`; returns the run. */
function record(
  config: RoleConfig,
  path: string,
  count: number,
  flags: string[],
): Promise<RoleExit> {
  return runLive(config, {
    writable: [path],
    readable: [path],
    args: [
      "--record",
      path,
      "--max-trades",
      String(count),
      "--summary-json",
      ...flags,
    ],
  });
}

/** The trades in `path`, read back as `serve --source replay` would. */
async function tradesIn(path: string): Promise<number> {
  let count = 0;
  for await (const _ of readTradeFile(path, { format: "ndjson" })) count++;
  return count;
}

gatedTest({
  name:
    "live --record --append adds a second run's trades after the first's (dropping a cut last line, with a warning); --overwrite replaces them",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    await using serve = new RoleProcess("serve", config, ["--rate", "20000"]);
    await serve.waitFor(/publishing synthetic/);
    const path = join(config.dir, "rec.ndjson");
    const first = await record(config, path, 1000, []);
    assert.equal(first.code, 0, output(first));
    assert.equal(summaryOf(first).received, 1000);
    assert.equal(await tradesIn(path), 1000);
    // A line cut short, as a crash mid-write leaves it.
    await Deno.writeTextFile(path, '{"exchange":"binance","sym', {
      append: true,
    });
    const second = await record(config, path, 1500, ["--append"]);
    assert.equal(second.code, 0, output(second));
    assert.match(
      second.stderr,
      /WARN .*--record .*rec\.ndjson: dropped its incomplete last line \(26 bytes\) before appending/,
    );
    assert.match(second.stdout, /recorded 1,500 trades to /);
    assert.equal(await tradesIn(path), 2500);
    assert.ok((await Deno.readTextFile(path)).endsWith("}\n"));
    const third = await record(config, path, 700, ["--overwrite"]);
    assert.equal(third.code, 0, output(third));
    assert.equal(await tradesIn(path), 700);
  },
});
