/**
 * Every `deno task …` and `deno run …` command shown in README.md and
 * docs/*.md (fenced lines and inline code spans) runs as written. Commands
 * that would run until stopped (or need a NATS server, Docker or the
 * network) run with `--print-config` appended, so the real parsers validate
 * their flags and config and exit 0; `demo` gets `--help`. Tasks that cannot
 * run here in a bounded way (the suite itself, benchmarks, compile, tool
 * installs) are listed with the reason, after checking what can be checked
 * without running them: the task exists in deno.json; a benchmark script
 * exists, takes the flags shown and has the permissions of `deno task bench`.
 *
 * @module
 */

import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import {
  allDocCommands,
  docCommands,
  parseCommand,
  type Plan,
  planCommand,
  shown,
  STACK_FRAME,
  type Tasks,
  withoutOptional,
} from "./_doc_commands.ts";
import { gatedTest } from "./_permissions.ts";
import { runInProject } from "./_run.ts";

const SAMPLE = [
  "Start it:",
  "",
  "```sh",
  "deno task live    # terminal 1: the consumer",
  "NATS_URL=nats://127.0.0.1:4222 deno task serve --nats --symbols 'BTC USDT' | tee x.log",
  "deno task nats:install && .tools/bin/nats-server -js",
  "deno run --allow-read=config --allow-ffi \\",
  "  data_manager/main.ts --config config/development.toml # comment",
  "curl -s 127.0.0.1:9465/metrics",
  "```",
  "",
  "```",
  "ERROR trading_core: deno task live may read only config/",
  "```",
  "",
  "```yaml",
  "- 127.0.0.1:9464 # deno task serve --metrics-port 9464",
  "```",
  "",
  "Or `deno task live",
  "--exchange '*'` (with `deno run` you may widen it), see `deno task serve`.",
].join("\n");

Deno.test("docCommands finds fenced and inline deno commands, continuation lines joined", () => {
  assert.deepEqual(docCommands(SAMPLE, "x.md"), [
    { where: "x.md:4", text: "deno task live    # terminal 1: the consumer" },
    {
      where: "x.md:5",
      text:
        "NATS_URL=nats://127.0.0.1:4222 deno task serve --nats --symbols 'BTC USDT' | tee x.log",
    },
    {
      where: "x.md:6",
      text: "deno task nats:install && .tools/bin/nats-server -js",
    },
    {
      where: "x.md:7",
      text:
        "deno run --allow-read=config --allow-ffi  data_manager/main.ts --config config/development.toml # comment",
    },
    { where: "x.md:20", text: "deno task live --exchange '*'" },
    { where: "x.md:21", text: "deno task serve" },
  ]);
});

Deno.test("docCommands does not join code spans across a blank line", () => {
  assert.deepEqual(
    docCommands("A stray ` here.\n\nRun `deno task live --nats`.\n", "y.md"),
    [{ where: "y.md:3", text: "deno task live --nats" }],
  );
});

Deno.test("parseCommand cuts comments, && and pipes, and keeps quoted words whole", () => {
  assert.deepEqual(parseCommand("deno task live    # terminal 1"), {
    env: {},
    args: ["task", "live"],
  });
  assert.deepEqual(
    parseCommand(
      "NATS_URL=nats://h:4222 deno task serve --symbols 'BTC USDT' --x \"a#b\" | tee x.log",
    ),
    {
      env: { NATS_URL: "nats://h:4222" },
      args: ["task", "serve", "--symbols", "BTC USDT", "--x", "a#b"],
    },
  );
  assert.deepEqual(parseCommand("deno task nats:install && nats-server").args, [
    "task",
    "nats:install",
  ]);
  assert.deepEqual(parseCommand("live --exchange '*'").args, []);
  assert.equal(
    shown("NATS_URL=x deno task live  --exchange '*' --symbols 'A B' # note"),
    "NATS_URL=x deno task live --exchange '*' --symbols 'A B'",
  );
  assert.deepEqual(parseCommand("deno task live --exchange '*'").args, [
    "task",
    "live",
    "--exchange",
    "*",
  ]);
});

Deno.test("planCommand bounds serve, live and demo, and names why others are not run", () => {
  const tasks: Tasks = {
    serve: {},
    live: {},
    demo: {},
    bench: {},
    compile: {},
  };
  assert.deepEqual(planCommand("deno task serve --rate 0 # fast", tasks), {
    kind: "run",
    args: ["task", "serve", "--rate", "0", "--print-config"],
    env: {},
    printsConfig: true,
  });
  assert.deepEqual(planCommand("deno task live --help", tasks), {
    kind: "run",
    args: ["task", "live", "--help"],
    env: {},
    printsConfig: false,
  });
  assert.deepEqual(planCommand("deno task demo --rate 1", tasks), {
    kind: "run",
    args: ["task", "demo", "--rate", "1", "--help"],
    env: {},
    printsConfig: false,
  });
  const compile = planCommand("deno task compile", tasks);
  assert.equal(compile.kind, "skip");
  assert.throws(
    () => planCommand("deno task serv --nats", tasks),
    /deno task serv: no such task in deno\.json/,
  );
  assert.throws(
    () => planCommand("deno task other", { ...tasks, other: {} }),
    /deno task other: say in tests\/docs_commands_test\.ts how to run it/,
  );
  const role = planCommand(
    "NATS_URL=nats://h:4222 deno run --allow-ffi trading_core/main.ts --nats",
    tasks,
  );
  assert.deepEqual(role, {
    kind: "run",
    args: [
      "run",
      "--allow-ffi",
      "trading_core/main.ts",
      "--nats",
      "--print-config",
    ],
    env: { NATS_URL: "nats://h:4222" },
    printsConfig: true,
  });
  for (
    const placeholder of [
      "deno run --allow-read=a,... trading_core/main.ts",
      "deno run --allow-read=config,./mine.ts ... trading_core/main.ts",
      "deno task serve --config FILE",
    ]
  ) {
    assert.equal(planCommand(placeholder, tasks).kind, "skip", placeholder);
  }
  assert.equal(
    planCommand("deno task serve --symbols BTCUSDT", tasks).kind,
    "run",
  );
});

Deno.test("withoutOptional drops usage brackets and lists their flags", () => {
  assert.deepEqual(
    withoutOptional([
      "run",
      "bench/ring.ts",
      "[--quick]",
      "[--only",
      "TEXT]",
      "[--rounds",
      "3]",
    ]),
    {
      args: ["run", "bench/ring.ts"],
      flags: ["--quick", "--only", "--rounds"],
    },
  );
});

gatedTest({
  name:
    "every deno task / deno run command in README.md and docs/*.md runs as written (bounded with --print-config or --help)",
  permissions: [{ name: "read" }, { name: "run", command: "deno" }],
  async fn(t) {
    const commands = await allDocCommands();
    // The extraction must find the quick starts, or this test checks nothing.
    for (const expected of ["deno task serve", "deno task live"]) {
      assert.ok(
        commands.some(({ text }) => text.startsWith(expected)),
        `no "${expected}" command found in the docs`,
      );
    }
    assert.ok(commands.length >= 20, `only ${commands.length} commands found`);
    const skipped: string[] = [];
    for (const command of commands) {
      const text = shown(command.text);
      const where = command.where.join(", ");
      let plan: Plan;
      try {
        plan = planCommand(text, denoJson.tasks);
      } catch (error) {
        // An unknown task or script fails its own step; the others still run.
        await t.step(`${where}: ${text}`, () => {
          throw error;
        });
        continue;
      }
      if (plan.kind === "skip") {
        skipped.push(`${text} (${where}): ${plan.reason}`);
        await t.step(`${where}: ${text} [not run: ${plan.reason}]`, plan.check);
        continue;
      }
      await t.step(`${where}: ${text}`, async () => {
        const result = await runInProject("deno", plan.args, {
          env: plan.env,
        });
        const output = `${result.stdout}\n${result.stderr}`;
        assert.equal(
          result.code,
          0,
          `deno ${plan.args.join(" ")} exited ${result.code}:\n${output}`,
        );
        assert.doesNotMatch(output, STACK_FRAME, `stack trace:\n${output}`);
        if (plan.printsConfig) {
          assert.doesNotThrow(
            () => JSON.parse(result.stdout),
            `--print-config did not print the config as JSON:\n${output}`,
          );
        }
      });
    }
    console.log(
      `not run (checked without running):\n  ${skipped.join("\n  ")}`,
    );
  },
});

gatedTest({
  name:
    "every deno run of serve or live in the docs grants --allow-sys=hostname, as the tasks do: without it the registry sees host 'unknown' (a dead owner on this host is not judged gone, deno task symbols shows 'unknown')",
  permissions: [{ name: "read" }],
  async fn() {
    const roles = /\b(data_manager|trading_core)\/main\.ts\b/;
    const runs = (await allDocCommands()).filter(({ text }) =>
      text.startsWith("deno run") && roles.test(text)
    );
    assert.ok(runs.length >= 3, `only ${runs.length} deno run of a role`);
    for (const { text, where } of runs) {
      assert.match(
        text,
        /--allow-sys=hostname\b/,
        `${where.join(", ")}: ${text}`,
      );
    }
  },
});
