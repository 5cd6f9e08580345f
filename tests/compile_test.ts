/**
 * `deno task compile` builds one standalone binary per role. It needs to
 * download the Deno runtime (denort) once; where the network blocks that, the
 * test is skipped and says so.
 */
import assert from "node:assert/strict";
import { missingPermissions } from "./_permissions.ts";
import { runInProject } from "./_run.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

const NAME = "deno task compile: standalone data_manager and trading_core run";
const DOWNLOAD_FAILURE =
  /dns error|error sending request|failed to (download|fetch)|Name or service not known|Connection refused|timed out|network/i;

const missing = missingPermissions([
  { name: "run" },
  { name: "read" },
  { name: "write" },
  { name: "env" },
]);

if (missing.length > 0) {
  Deno.test({
    name: `${NAME} [skipped: needs ${missing.join(", ")}]`,
    ignore: true,
    fn() {},
  });
} else {
  const build = await runInProject(Deno.execPath(), [
    "task",
    "--quiet",
    "compile",
  ]);
  const offline = build.code !== 0 && DOWNLOAD_FAILURE.test(build.stderr);
  if (offline) {
    const cause = build.stderr.split("\n").find((line) =>
      DOWNLOAD_FAILURE.test(line)
    )?.trim();
    console.log(
      `compile_test: deno compile cannot download its runtime on this network (${cause}); skipped`,
    );
  }
  Deno.test({
    name: offline
      ? `${NAME} [skipped: deno compile cannot download the denort runtime on this network]`
      : NAME,
    ignore: offline,
    async fn() {
      assert.equal(build.code, 0, `deno task compile failed:\n${build.stderr}`);
      const printed = await runInProject(`${PROJECT_ROOT}/dist/data_manager`, [
        "--config",
        "config/development.toml",
        "--print-config",
      ]);
      assert.equal(printed.code, 0, printed.stderr);
      assert.equal(JSON.parse(printed.stdout).file, "config/development.toml");
      const help = await runInProject(`${PROJECT_ROOT}/dist/trading_core`, [
        "--help",
      ]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: deno task live/);
    },
  });
}
