/**
 * Least privilege: `serve`, `live`, `demo`, `symbols` and `backtest` run with exactly the permission
 * flags of their tasks in deno.json (parsed here, so a widened task breaks
 * these tests), and whatever lies outside them is denied quickly and clearly:
 * reading an unrelated file, opening an unrelated host, writing outside
 * data/, running anything but deno. The rings they create are owner-only,
 * and NATS secrets appear in no output.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import { NATS_ENV_VARIABLES } from "../common/config/mod.ts";
import { gatedTest, harnessPermissions } from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  ROLE_PERMISSIONS,
  roleArgs,
  roleConfig,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import { shmModes } from "./_ring_helpers.ts";
import { PROJECT_ROOT, startNatsServer } from "./nats_server.ts";

/** The tasks that run project code with `deno run`. */
type RunTask = "serve" | "live" | "demo" | "symbols" | "backtest";

/** The permission flags each task grants, in order: review any change here. */
const SERVE_FLAGS = [
  "--allow-read=config,data",
  "--allow-env=NATS_URL,NATS_TOKEN,NATS_USER,NATS_PASSWORD,NATS_CREDS",
  "--allow-sys=hostname",
  "--allow-ffi",
  "--allow-net=127.0.0.1,localhost,stream.binance.com:9443,stream.binance.us:9443,stream.testnet.binance.vision:443",
];
const LIVE_FLAGS = [
  "--allow-read=config,strategies",
  "--allow-write=data",
  "--allow-env=NATS_URL,NATS_TOKEN,NATS_USER,NATS_PASSWORD,NATS_CREDS",
  "--allow-sys=hostname",
  "--allow-ffi",
  "--allow-net=127.0.0.1,localhost",
];
const TASK_FLAGS: Record<RunTask, string[]> = {
  serve: SERVE_FLAGS,
  live: LIVE_FLAGS,
  demo: ["--allow-run=deno"],
  // Read-only registry listing: its config, the NATS variables, loopback NATS.
  symbols: [
    "--allow-read=config",
    "--allow-env=NATS_URL,NATS_TOKEN,NATS_USER,NATS_PASSWORD,NATS_CREDS",
    "--allow-net=127.0.0.1,localhost",
  ],
  // Files only: recordings, the strategy and the config in (and common/, the source the merge workers load); results under data/ out.
  // --no-prompt: on a terminal, a path outside these is one line, not Deno's prompt.
  backtest: [
    "--no-prompt",
    "--allow-read=config,strategies,data,common",
    "--allow-write=data",
  ],
};
/** `deno task compile`: per binary, its script and the flags baked in (live's, minus strategies/). */
const BINARY_FLAGS: Record<string, { script: string; flags: string[] }> = {
  "dist/data_manager": { script: "data_manager/main.ts", flags: SERVE_FLAGS },
  "dist/trading_core": {
    script: "trading_core/main.ts",
    flags: ["--allow-read=config", ...LIVE_FLAGS.slice(1)],
  },
};
/** The one permission Deno cannot scope usefully (scoped FFI breaks the pointer APIs). */
const UNSCOPED_ALLOWED = ["--allow-ffi"];

/** A never-routable address (TEST-NET-1, RFC 5737). */
const UNRELATED_NATS = "nats://192.0.2.1:4222";
/** A denial must end the role within this, ms: retrying a denied host can never succeed. */
const DENIAL_MS = 15_000;

/** Every NATS variable the roles read, blank: the shell's own never reach a test run. */
const NO_NATS_ENV = Object.fromEntries(
  NATS_ENV_VARIABLES.map((name) => [name, ""]),
);

/** A `deno run` task split into its flags, script and trailing arguments. */
interface TaskCommand {
  flags: string[];
  script: string;
  args: string[];
}

function taskCommand(task: RunTask): TaskCommand {
  const command = denoJson.tasks[task].command;
  const tokens = command.split(/\s+/);
  const script = tokens.findIndex((token, i) =>
    i > 1 && !token.startsWith("-")
  );
  assert.ok(
    tokens[0] === "deno" && tokens[1] === "run" && script > 1,
    `task ${task} is no longer "deno run <flags> <script> …": ${command}`,
  );
  return {
    flags: tokens.slice(2, script),
    script: tokens[script],
    args: tokens.slice(script + 1),
  };
}

/** The flags that grant a whole permission kind: `-A`, `--allow-all`, short forms, `--allow-x` without a list. */
function unscoped(flags: readonly string[]): string[] {
  return flags.filter((flag) =>
    /^-[ARWNESI]$/.test(flag) || flag === "--allow-all" ||
    (flag.startsWith("--allow-") && !flag.includes("="))
  );
}

/** How a role ran: exit code, output and how long it took. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `script` with `flags` and `--no-prompt` in `cwd` (SIGTERM after
 * {@linkcode DENIAL_MS}).
 */
async function runWith(
  flags: readonly string[],
  script: string,
  args: readonly string[],
  cwd = PROJECT_ROOT,
  env: Record<string, string> = {},
): Promise<Run> {
  const started = performance.now();
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, script, ...args],
    cwd,
    // The NATS variables of the shell running the tests are blanked (empty = unset).
    env: { NO_COLOR: "1", ...NO_NATS_ENV, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(DENIAL_MS),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    stdout: decoder.decode(result.stdout),
    stderr: decoder.decode(result.stderr),
    ms: performance.now() - started,
  };
}

/** Runs `task`'s script with exactly its flags and `args` instead of its own arguments. */
function runTask(
  task: RunTask,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const { flags, script } = taskCommand(task);
  return runWith(flags, script, args, PROJECT_ROOT, env);
}

Deno.test("least privilege: serve, live, demo, symbols and backtest grant exactly the reviewed permissions, scoped except --allow-ffi", () => {
  for (
    const task of ["serve", "live", "demo", "symbols", "backtest"] as const
  ) {
    const { flags } = taskCommand(task);
    assert.deepEqual(flags, TASK_FLAGS[task], `task ${task}`);
    if (task !== "demo" && task !== "backtest") {
      // Exactly the variables the config loader reads, no more.
      assert.deepEqual(
        flags.filter((flag) => flag.startsWith("--allow-env")),
        [`--allow-env=${NATS_ENV_VARIABLES.join(",")}`],
        `task ${task}`,
      );
    }
    assert.deepEqual(
      unscoped(flags),
      UNSCOPED_ALLOWED.filter((flag) => flags.includes(flag)),
      `task ${task}`,
    );
  }
  assert.deepEqual(taskCommand("serve").args, [
    "--config",
    "config/development.toml",
  ]);
  assert.deepEqual(taskCommand("live").args, [
    "--config",
    "config/development.toml",
  ]);
  assert.deepEqual(taskCommand("demo").args, []);
  assert.deepEqual(taskCommand("backtest").args, []);
  assert.deepEqual(taskCommand("symbols").args, [
    "--config",
    "config/development.toml",
  ]);
});

Deno.test("least privilege: deno task compile bakes in the serve and live permissions (trading_core without strategies/)", () => {
  const binaries: typeof BINARY_FLAGS = {};
  for (const command of denoJson.tasks.compile.command.split("&&")) {
    const tokens = command.trim().split(/\s+/);
    const output = tokens.indexOf("--output");
    assert.ok(
      tokens[0] === "deno" && tokens[1] === "compile" && output > 1 &&
        output === tokens.length - 3,
      `not "deno compile <flags> --output <file> <script>": ${command}`,
    );
    binaries[tokens[output + 1]] = {
      script: tokens[output + 2],
      flags: tokens.slice(2, output),
    };
  }
  assert.deepEqual(binaries, BINARY_FLAGS);
});

/** A start-up the task's permissions must refuse, quickly and saying how to grant it. */
interface Denial {
  what: string;
  task: RunTask;
  args: string[];
  code: number;
  stderr: RegExp;
}

/** Files and a strategy outside what the roles may touch, made per run. */
async function outsideFiles(): Promise<
  AsyncDisposable & { strategy: string; record: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_denied_" });
  const strategy = join(dir, "strategy.ts");
  await Deno.writeTextFile(
    strategy,
    "export default { onTrade() {}, onBar() {} };\n",
  );
  return {
    strategy,
    record: join(dir, "trades.ndjson"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

function denials(files: { strategy: string; record: string }): Denial[] {
  const dev = ["--config", "config/development.toml"];
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const netDenied = new RegExp(
    "NATS server 192\\.0\\.2\\.1:4222 is outside this process's network permissions: add 192\\.0\\.2\\.1:4222 to its --allow-net",
  );
  return [
    {
      what: "serve reads a config outside config/",
      task: "serve",
      args: ["--config", "/etc/hostname"],
      code: 2,
      stderr:
        /Config file "\/etc\/hostname" cannot be read: run with --allow-read=\/etc\/hostname/,
    },
    {
      what: "serve replays a file outside data/",
      task: "serve",
      // NATS to a closed loopback port instead of the ring: nothing shared is touched.
      args: [
        ...dev,
        "--no-ipc",
        "--nats-url",
        "nats://127.0.0.1:9",
        "--source",
        "replay",
        "--file",
        "/etc/passwd",
      ],
      code: 1,
      stderr:
        /replay: cannot read \/etc\/passwd: .*run with --allow-read=\/etc\/passwd/,
    },
    {
      what: "serve connects to a NATS server outside --allow-net",
      task: "serve",
      args: [...dev, "--no-ipc", "--nats-url", UNRELATED_NATS],
      code: 1,
      stderr: netDenied,
    },
    {
      what: "live reads a config outside config/",
      task: "live",
      args: ["--config", "/etc/hostname"],
      code: 2,
      stderr:
        /Config file "\/etc\/hostname" cannot be read: run with --allow-read=\/etc\/hostname/,
    },
    {
      what: "live loads a strategy outside strategies/",
      task: "live",
      args: [...dev, "--strategy", files.strategy],
      code: 2,
      stderr: new RegExp(
        `Cannot read strategy "${
          escape(files.strategy)
        }": deno task live and deno task backtest read strategies only under strategies/`,
      ),
    },
    {
      what: "backtest reads a recording outside data/",
      task: "backtest",
      args: [
        "--strategy",
        "strategies/ma_crossover.ts",
        "--data",
        "/etc/hostname",
      ],
      code: 1,
      stderr:
        /Cannot read trade file "\/etc\/hostname": deno task backtest reads recordings only under data\/; put it there, or run trading_core\/backtest\/main.ts with --allow-read=config,strategies,data,common,\/etc\/hostname/,
    },
    {
      what: "live connects to a NATS server outside --allow-net",
      task: "live",
      args: [...dev, "--nats-url", UNRELATED_NATS],
      code: 1,
      stderr: netDenied,
    },
    {
      what: "live records outside data/",
      task: "live",
      args: [...dev, "--record", files.record],
      code: 1,
      stderr: new RegExp(
        `--record needs write permission for ${
          escape(files.record)
        }: run with --allow-write=`,
      ),
    },
  ];
}

gatedTest({
  name:
    "least privilege: with their tasks' flags, serve, live and backtest are denied unrelated files, hosts and writes, fast and saying which flag is missing",
  permissions: ROLE_PERMISSIONS,
  async fn(t) {
    await using files = await outsideFiles();
    for (const denial of denials(files)) {
      await t.step(denial.what, async () => {
        const run = await runTask(denial.task, denial.args);
        const text = `${run.stdout}${run.stderr}`;
        assert.equal(run.code, denial.code, text);
        assert.ok(run.ms < DENIAL_MS, `took ${run.ms.toFixed(0)} ms:\n${text}`);
        assert.match(run.stderr, denial.stderr);
        assert.doesNotMatch(text, /^\s+at /m, "a stack trace was printed");
      });
    }
    await assert.rejects(Deno.stat(files.record), Deno.errors.NotFound);
  },
});

gatedTest({
  name:
    "least privilege: demo's --allow-run=deno runs deno and nothing else, and reads nothing",
  permissions: [{ name: "run" }, { name: "read" }, { name: "write" }],
  async fn() {
    const source = await Deno.readTextFile(
      join(PROJECT_ROOT, "scripts/demo.ts"),
    );
    const spawned = [...source.matchAll(/new Deno\.Command\(\s*([^,)]+)/g)]
      .map((match) => match[1]);
    assert.deepEqual(spawned, ['"deno"'], "scripts/demo.ts spawns only deno");
    const dir = await Deno.makeTempDir({ prefix: "marketbus_demo_perm_" });
    try {
      const probe = join(dir, "probe.ts");
      await Deno.writeTextFile(
        probe,
        `function attempt(what, fn) {
  try { fn(); console.log(what + ": allowed"); }
  catch (error) { console.log(what + ": " + error.name); }
}
attempt("deno", () => new Deno.Command("deno", { args: ["--version"], stdout: "null" }).outputSync());
attempt("sh", () => new Deno.Command("sh", { args: ["-c", "true"] }).outputSync());
attempt("read", () => Deno.readTextFileSync("/etc/hostname"));
`,
      );
      const run = await runWith(taskCommand("demo").flags, probe, []);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(
        run.stdout,
        "deno: allowed\nsh: NotCapable\nread: NotCapable\n",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

gatedTest({
  name:
    "least privilege: serve and live run with only their tasks' flags; the rings serve creates are owner-only (0600)",
  permissions: [...ROLE_PERMISSIONS, { name: "run", command: "find" }],
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT", "ETHUSDT"] });
    await using serve = new RoleProcess("serve", config, ["--rate", "2000"]);
    await serve.waitFor(/IPC rings/);
    const modes = await shmModes(config.prefix);
    assert.deepEqual(
      [...modes].sort(),
      config.rings.map((ring) => [ring, 0o600]),
    );
    await using live = new RoleProcess("live", config, [
      "--max-trades",
      "500",
      "--summary-json",
    ]);
    const consumed = await live.finish();
    assertCleanExit(consumed, "live");
    assert.equal(summaryOf(consumed).received, 500);
    serve.kill("SIGINT");
    const published = await serve.finish();
    assertCleanExit(published, "serve");
    for (const exit of [consumed, published]) {
      assert.doesNotMatch(output(exit), /NotCapable|Requires \w+ access/);
    }
  },
});

gatedTest({
  name:
    "least privilege: without --config, serve and live read config/marketbus.toml of the working directory (inside --allow-read=config), else the built-in defaults",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "marketbus_cwd_" });
    try {
      const printed = async (task: "serve" | "live") => {
        const { flags, script } = taskCommand(task);
        const run = await runWith(
          flags,
          join(PROJECT_ROOT, script),
          ["--print-config"],
          dir,
        );
        assert.equal(run.code, 0, run.stderr);
        return JSON.parse(run.stdout);
      };
      for (const task of ["serve", "live"] as const) {
        assert.equal((await printed(task)).file, null, task);
      }
      await Deno.mkdir(join(dir, "config"));
      await Deno.writeTextFile(
        join(dir, "config", "marketbus.toml"),
        '[data_manager]\nsymbols = ["SOLUSDT"]\n\n[data_source]\nsymbols = ["XRPUSDT"]\n',
      );
      const serve = await printed("serve");
      assert.equal(serve.file, "config/marketbus.toml");
      assert.deepEqual(serve.dataManager.symbols, ["SOLUSDT"]);
      const live = await printed("live");
      assert.equal(live.file, "config/marketbus.toml");
      assert.deepEqual(live.dataSource.symbols, ["XRPUSDT"]);
      // Starting (not printing) says which file it loaded.
      const { flags, script } = taskCommand("serve");
      const started = await runWith(
        flags,
        join(PROJECT_ROOT, script),
        ["--no-ipc"],
        dir,
      );
      assert.equal(started.code, 2, started.stderr);
      assert.match(
        started.stdout,
        /INFO {2}data_manager: config: config\/marketbus\.toml\n/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const TOKEN = "tok-lp-3c9e1a";
const WRONG_TOKEN = "tok-lp-wrong-77b2";
const PASSWORD = "pw-lp-51d0";
const URL_PASSWORD = "pw-in-url-9f4e";

gatedTest({
  name:
    "least privilege: live --nats with a wrong token exits 1 naming the auth problem; the token is in no output",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  async fn() {
    await using server = await startNatsServer({
      config: { authorization: { token: TOKEN } },
    });
    await using config = await roleConfig({
      nats: { url: server.url, token: WRONG_TOKEN },
    });
    await using live = new RoleProcess("live", config, ["--nats"]);
    const exit = await live.finish(DENIAL_MS);
    const text = output(exit);
    assert.ok(!exit.timedOut, `live still ran after ${DENIAL_MS} ms:\n${text}`);
    assert.equal(exit.code, 1, text);
    assert.match(
      exit.stderr,
      /NATS server nats:\/\/127\.0\.0\.1:\d+ rejected the credentials \(token\)/,
    );
    assert.ok(!text.includes(WRONG_TOKEN), `the token leaked:\n${text}`);
    assert.ok(!text.includes(TOKEN), `the server's token leaked:\n${text}`);
  },
});

gatedTest({
  name:
    "least privilege: --print-config of serve and live hides tokens and passwords; credentials in server URLs are refused without being echoed",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    await Deno.writeTextFile(
      config.path,
      `
[transport.nats.auth]
token = "${TOKEN}"

[data_source.nats.connection.auth]
user = "bob"
password = "${PASSWORD}"
`,
    );
    for (const role of ["serve", "live"] as const) {
      const [, ...flagsAndScript] = roleArgs(role, config);
      const script = flagsAndScript.findIndex((arg) => arg.endsWith(".ts"));
      const run = await runWith(
        flagsAndScript.slice(0, script),
        flagsAndScript[script],
        ["--config", config.path, "--print-config"],
      );
      assert.equal(run.code, 0, run.stderr);
      const text = `${run.stdout}${run.stderr}`;
      for (const secret of [TOKEN, PASSWORD]) {
        assert.ok(
          !text.includes(secret),
          `${role}: ${secret} leaked:\n${text}`,
        );
      }
      const printed = JSON.parse(run.stdout);
      assert.equal(printed.transport.nats.auth.token, "(hidden)");
      assert.equal(
        printed.dataSource.nats.connection.auth.password,
        "(hidden)",
      );
      // A password in a server URL would reach logs and process lists: the
      // config is refused, and the message hides it.
      const refused = await runWith(
        flagsAndScript.slice(0, script),
        flagsAndScript[script],
        [
          "--config",
          config.path,
          "--nats-url",
          `nats://alice:${URL_PASSWORD}@127.0.0.1:4222`,
          "--print-config",
        ],
      );
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /expected no credentials in the URL/);
      assert.ok(
        !`${refused.stdout}${refused.stderr}`.includes(URL_PASSWORD),
        refused.stderr,
      );
    }
  },
});

/** The trades live's `--summary-json` line says it received. */
function receivedOf(run: Run): number {
  const line = run.stdout.split("\n").findLast((l) => l.startsWith("{"));
  assert.ok(line, `no JSON summary on stdout:\n${run.stdout}${run.stderr}`);
  return JSON.parse(line).received;
}

gatedTest({
  name:
    "least privilege: with only their tasks' flags, serve and live take NATS_TOKEN, NATS_USER and NATS_PASSWORD from the environment; a wrong one exits 1; no value in any output",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  async fn(t) {
    const secrets = [TOKEN, WRONG_TOKEN, PASSWORD];
    const assertNoSecret = (run: Run) => {
      const text = `${run.stdout}${run.stderr}`;
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `${secret} leaked:\n${text}`);
      }
      assert.doesNotMatch(text, /^\s+at /m, "a stack trace was printed");
    };
    const dev = ["--config", "config/development.toml"];
    const publish = (url: string, env: Record<string, string>) =>
      runTask("serve", [
        ...dev,
        "--no-ipc",
        "--nats-url",
        url,
        "--rate",
        "0",
        "--max-trades",
        "20",
      ], env);
    const consume = (url: string, env: Record<string, string>) =>
      runTask("live", [
        ...dev,
        "--nats-url",
        url,
        "--deliver",
        "all",
        "--max-trades",
        "20",
        "--summary-json",
      ], env);
    await t.step("NATS_TOKEN", async () => {
      await using server = await startNatsServer({
        config: { authorization: { token: TOKEN } },
      });
      const env = { NATS_TOKEN: TOKEN };
      const published = await publish(server.url, env);
      assert.equal(published.code, 0, published.stderr);
      const consumed = await consume(server.url, env);
      assert.equal(consumed.code, 0, consumed.stderr);
      assert.equal(receivedOf(consumed), 20);
      const refused = await consume(server.url, { NATS_TOKEN: WRONG_TOKEN });
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /NATS server nats:\/\/127\.0\.0\.1:\d+ rejected the credentials \(token\)/,
      );
      for (const run of [published, consumed, refused]) assertNoSecret(run);
    });
    await t.step("NATS_USER and NATS_PASSWORD", async () => {
      await using server = await startNatsServer({
        config: {
          authorization: { users: [{ user: "bob", password: PASSWORD }] },
        },
      });
      const env = { NATS_USER: "bob", NATS_PASSWORD: PASSWORD };
      const published = await publish(server.url, env);
      assert.equal(published.code, 0, published.stderr);
      const consumed = await consume(server.url, env);
      assert.equal(consumed.code, 0, consumed.stderr);
      assert.equal(receivedOf(consumed), 20);
      for (const run of [published, consumed]) assertNoSecret(run);
    });
  },
});
