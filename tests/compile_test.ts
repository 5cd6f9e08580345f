/**
 * `deno task compile` builds one standalone binary per role. It needs to
 * download the Deno runtime (denort) once; where the network blocks that, the
 * test is skipped and says so.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { missingPermissions } from "./_permissions.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NAME = "deno task compile: standalone data_manager and trading_core run";
const DOWNLOAD_FAILURE =
  /dns error|error sending request|failed to (download|fetch)|Name or service not known|Connection refused|timed out|network/i;

function run(command: string, args: string[]) {
  const output = new Deno.Command(command, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", NATS_URL: "" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

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
  const build = run(Deno.execPath(), ["task", "--quiet", "compile"]);
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
    fn() {
      assert.equal(build.code, 0, `deno task compile failed:\n${build.stderr}`);
      const printed = run(`${ROOT}/dist/data_manager`, [
        "--config",
        "config/development.toml",
        "--print-config",
      ]);
      assert.equal(printed.code, 0, printed.stderr);
      assert.equal(JSON.parse(printed.stdout).file, "config/development.toml");
      const help = run(`${ROOT}/dist/trading_core`, ["--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: deno task live/);
    },
  });
}
