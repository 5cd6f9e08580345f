/**
 * `deno task compile` builds one standalone binary per role, with the task's
 * permissions baked in (tests/least_privilege_test.ts checks the flags). It
 * needs Deno's runtime (denort) for the binaries, downloaded once from
 * dl.deno.land or given with DENORT_BIN; where neither works, the test is
 * skipped and its name and output say why.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { missingPermissions } from "./_permissions.ts";
import { runInProject } from "./_run.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

const NAME =
  "deno task compile: the standalone binaries run with their permissions baked in and config/marketbus.toml as the default config";
/** How deno compile reports that it could not fetch denort. */
const DOWNLOAD_FAILURE =
  /dns error|error sending request|failed to (download|fetch)|Name or service not known|Connection refused|timed out|network/i;

const missing = missingPermissions([
  { name: "run" },
  { name: "read" },
  { name: "write" },
  { name: "env" },
]);

/** Runs a built binary in `cwd` (the project root by default). */
async function runBinary(
  binary: "data_manager" | "trading_core",
  args: string[],
  cwd = PROJECT_ROOT,
) {
  const result = await new Deno.Command(join(PROJECT_ROOT, "dist", binary), {
    args,
    cwd,
    env: { NO_COLOR: "1", NATS_URL: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(15_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    stdout: decoder.decode(result.stdout),
    stderr: decoder.decode(result.stderr),
  };
}

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
  const why =
    "deno compile cannot download its runtime (denort) from dl.deno.land here; it runs where that download works, or with DENORT_BIN=<path to denort>";
  if (offline) {
    const cause = build.stderr.split("\n").find((line) =>
      DOWNLOAD_FAILURE.test(line)
    )?.trim();
    console.log(`compile_test: skipped: ${why} (${cause})`);
  }
  Deno.test({
    name: offline ? `${NAME} [skipped: ${why}]` : NAME,
    ignore: offline,
    async fn(t) {
      assert.equal(build.code, 0, `deno task compile failed:\n${build.stderr}`);

      await t.step("--help", async () => {
        for (const binary of ["data_manager", "trading_core"] as const) {
          const help = await runBinary(binary, ["--help"]);
          assert.equal(help.code, 0, help.stderr);
          assert.match(help.stdout, /^Usage: deno task (serve|live)/);
        }
      });

      await t.step(
        "baked-in permissions deny what the tasks deny",
        async () => {
          for (const binary of ["data_manager", "trading_core"] as const) {
            const read = await runBinary(binary, ["--config", "/etc/hostname"]);
            assert.equal(read.code, 2, read.stderr);
            assert.match(
              read.stderr,
              /Config file "\/etc\/hostname" cannot be read: run with --allow-read=\/etc\/hostname/,
            );
          }
          const net = await runBinary("data_manager", [
            "--config",
            "config/development.toml",
            "--no-ipc",
            "--nats-url",
            "nats://192.0.2.1:4222",
          ]);
          assert.equal(net.code, 1, net.stderr);
          assert.match(
            net.stderr,
            /NATS server 192\.0\.2\.1:4222 is outside this process's network permissions/,
          );
          const strategy = await runBinary("trading_core", [
            "--config",
            "config/development.toml",
            "--strategy",
            "strategies/ma_crossover.ts",
          ]);
          assert.equal(strategy.code, 2, strategy.stderr);
          assert.match(strategy.stderr, /--strategy needs deno task live/);
        },
      );

      await t.step(
        "config: --config, else config/marketbus.toml in the working directory, else the built-in defaults",
        async () => {
          const given = await runBinary("data_manager", [
            "--config",
            "config/development.toml",
            "--print-config",
          ]);
          assert.equal(given.code, 0, given.stderr);
          assert.equal(
            JSON.parse(given.stdout).file,
            "config/development.toml",
          );
          const dir = await Deno.makeTempDir({ prefix: "marketbus_bin_" });
          try {
            const bare = await runBinary(
              "trading_core",
              ["--print-config"],
              dir,
            );
            assert.equal(bare.code, 0, bare.stderr);
            assert.equal(JSON.parse(bare.stdout).file, null);
            await Deno.mkdir(join(dir, "config"));
            await Deno.writeTextFile(
              join(dir, "config", "marketbus.toml"),
              '[data_source]\nsymbols = ["SOLUSDT"]\n',
            );
            const found = await runBinary(
              "trading_core",
              ["--print-config"],
              dir,
            );
            assert.equal(found.code, 0, found.stderr);
            const config = JSON.parse(found.stdout);
            assert.equal(config.file, "config/marketbus.toml");
            assert.deepEqual(config.dataSource.symbols, ["SOLUSDT"]);
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        },
      );
    },
  });
}
