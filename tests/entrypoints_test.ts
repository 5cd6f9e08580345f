/**
 * Runs `deno task serve` / `deno task live` exactly as users do, with the
 * tasks' own narrow permissions.
 */
import assert from "node:assert/strict";
import { gatedTest } from "./_permissions.ts";
import { runInProject, type RunResult } from "./_run.ts";

const PERMISSIONS: Deno.PermissionDescriptor[] = [
  { name: "run" },
  { name: "read" },
  { name: "env" },
];

function task(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return runInProject(Deno.execPath(), ["task", "--quiet", ...args], { env });
}

gatedTest({
  name:
    "serve --print-config: development config with flags and NATS_URL applied (NATS on), ignored with NATS off",
  permissions: PERMISSIONS,
  async fn() {
    for (const nats of [true, false]) {
      const { code, stdout, stderr } = await task(
        [
          "serve",
          "--symbols",
          "btcusdt",
          ...(nats ? ["--nats"] : []),
          "--print-config",
        ],
        { NATS_URL: "nats://env-host:4222" },
      );
      assert.equal(code, 0, stderr);
      const config = JSON.parse(stdout);
      assert.equal(config.file, "config/development.toml");
      assert.deepEqual(config.dataManager.symbols, ["BTCUSDT"]);
      assert.equal(
        config.transport.nats.servers.includes("nats://env-host:4222"),
        nats,
        stdout,
      );
    }
  },
});

/**
 * Start-ups that must be refused before anything is published or consumed. A
 * symbol of its own and `--max-trades 1` make a regression fail fast instead
 * of publishing forever into a developer's rings.
 */
const REFUSALS: {
  what: string;
  args: string[];
  code: number;
  stderr: RegExp;
}[] = [
  {
    what: "serve --no-ipc without --nats: no transport enabled",
    args: ["serve", "--no-ipc"],
    code: 2,
    stderr: /no transport enabled/,
  },
  {
    what: "serve --source replay without a file",
    args: ["serve", "--source", "replay"],
    code: 2,
    stderr: /without data_manager\.replay\.file/,
  },
];

for (const { what, args, code, stderr } of REFUSALS) {
  gatedTest({
    name: `${what}: exit ${code}`,
    permissions: PERMISSIONS,
    async fn() {
      const symbol = `MBT${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
      const result = await task([
        ...args,
        "--symbols",
        symbol,
        "--max-trades",
        "1",
      ]);
      const output = `${result.stdout}${result.stderr}`;
      assert.equal(result.code, code, output);
      assert.match(result.stderr, stderr);
      assert.doesNotMatch(output, /publishing|attached|waiting for ring/);
    },
  });
}

gatedTest({
  name: "live --print-config with --durable selects the NATS consumer",
  permissions: PERMISSIONS,
  async fn() {
    const { code, stdout, stderr } = await task([
      "live",
      "--durable",
      "tc-test",
      "--print-config",
    ]);
    assert.equal(code, 0, stderr);
    const config = JSON.parse(stdout);
    assert.equal(config.dataSource.type, "nats");
    assert.equal(config.dataSource.nats.consumer.durableName, "tc-test");
  },
});

gatedTest({
  name: "serve/live: config problems and usage errors exit 2 with the reason",
  permissions: PERMISSIONS,
  async fn() {
    const bad = await task(["serve", "--source", "kafka"]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /Invalid value "kafka" at data_manager\.source \(from --source\)/,
    );
    const usage = await task(["live", "--no-such-flag"]);
    assert.equal(usage.code, 2);
    // One line: the usage is for --help, not buried under it.
    assert.equal(
      usage.stderr,
      "trading_core: Unknown option '--no-such-flag' (--help lists the flags)\n",
    );
    const missing = await task(["serve", "--config", "config/missing.toml"]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /Config file "config\/missing\.toml" not found/,
    );
  },
});

gatedTest({
  name:
    "serve: a config outside config/ is refused by the narrow read permission, with the fix",
  permissions: PERMISSIONS,
  async fn() {
    const { code, stderr } = await task(["serve", "--config", "deno.json"]);
    assert.equal(code, 2);
    assert.match(stderr, /cannot be read: run with --allow-read=deno\.json/);
  },
});
