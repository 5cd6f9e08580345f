/**
 * Finds the `deno task …` and `deno run …` commands that README.md and
 * docs/*.md show (fenced lines and inline code spans), and decides how each
 * is checked: run with `--print-config` or `--help` appended so that it ends
 * by itself, or not run, with the reason and the checks that need no run.
 * Used by tests/docs_commands_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "./nats_server.ts";

/** A command as a doc shows it. */
export interface DocCommand {
  /** `file:line` of its first line. */
  where: string;
  /** The command text, continuation lines joined. */
  text: string;
}

/** What a command became once comments, `&& …` and pipes are cut off. */
export interface ParsedCommand {
  /** Leading `NAME=value` assignments. */
  env: Record<string, string>;
  /** The words after `deno`. */
  args: string[];
}

/** How a command is checked. */
export type Plan =
  | {
    kind: "run";
    /** Arguments for `deno`. */
    args: string[];
    /** Variables the command sets (`NATS_URL=… deno task …`). */
    env: Record<string, string>;
    /** `--print-config` is among the arguments: stdout must be the config as JSON. */
    printsConfig: boolean;
  }
  | {
    kind: "skip";
    /** Why it is not run. */
    reason: string;
    /** Checks that do not need to run the command. */
    check: () => Promise<void> | void;
  };

/** The `tasks` of deno.json, by name. */
export type Tasks = Record<string, unknown>;

/** Tasks that run until stopped, or for a while: run with this appended. */
const BOUNDED_FORM: Record<string, string> = {
  serve: "--print-config",
  live: "--print-config",
  demo: "--help",
  rings: "--once",
  symbols: "--print-config",
  backtest: "--print-config",
};

/** Tasks that cannot run here in a bounded way, and why. */
const NOT_RUN: Record<string, string> = {
  test: "the whole suite, which includes this test",
  ok: "fmt, lint, check and the whole suite, which includes this test",
  bench: "benchmarks: minutes of load on a shared machine",
  "bench:peers":
    "benchmarks against Go's nats bench: minutes of load, may go install natscli",
  "bench:streams":
    "a benchmark on a 3-node cluster: minutes of load on a shared machine",
  compile: "downloads Deno's denort runtime and writes dist/",
  "nats:install":
    "installs nats-server with go install (deno task test runs it)",
  "promcheck:install": "builds tools/promcheck (deno task test runs it)",
  "chromium:install":
    "installs Debian's chromium with apt-get (deno task test and .ci/run run it)",
  "prometheus:install":
    "installs Debian's prometheus with apt-get (deno task test and .ci/run run it)",
  "console:screenshot":
    "a minute of serve, live and Chromium, and it rewrites docs/console.png (the browser test runs the same code)",
};

/** Scripts a doc may show with `deno run`, and what to append to bound them. */
const ROLE_SCRIPTS: Record<string, string> = {
  "data_manager/main.ts": "--print-config",
  "trading_core/main.ts": "--print-config",
};

/** A line of a JavaScript stack trace. */
export const STACK_FRAME = /^\s+at .+/m;

// ---------------------------------------------------------------- extraction

/** The `deno task`/`deno run` commands in `markdown`: fenced lines and inline code spans. */
export function docCommands(markdown: string, file: string): DocCommand[] {
  const lines = markdown.split("\n");
  const commands: DocCommand[] = [];
  const prose: { line: number; text: string }[] = [];
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const marker = lines[i].match(/^\s*(`{3,}|~{3,})/)?.[1];
    if (marker !== undefined && (fence === undefined || marker === fence)) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    if (fence === undefined) {
      prose.push({ line: i + 1, text: lines[i] });
      continue;
    }
    const first = i;
    let text = lines[i];
    while (/\\\s*$/.test(text) && i + 1 < lines.length) {
      text = text.replace(/\\\s*$/, " ") + lines[++i].trim();
    }
    if (isDenoCommand(text)) {
      commands.push({ where: `${file}:${first + 1}`, text: text.trim() });
    }
  }
  // Inline spans may wrap across lines (not across a blank one): join the
  // prose, remember where each line starts.
  let joined = "";
  const starts: number[] = [];
  for (const { text } of prose) {
    starts.push(joined.length);
    joined += text + "\n";
  }
  for (const match of joined.matchAll(/`([^`\n]+(?:\n[^`\n]+)*)`/g)) {
    const text = match[1].replace(/\s*\n\s*/g, " ").trim();
    if (!isDenoCommand(text)) continue;
    let n = 0;
    while (n + 1 < starts.length && starts[n + 1] <= match.index) n++;
    commands.push({ where: `${file}:${prose[n].line}`, text });
  }
  return commands;
}

/** Whether `text` is a shell command running `deno task` or `deno run SCRIPT`. */
function isDenoCommand(text: string): boolean {
  const { args } = parseCommand(text);
  if (args[0] === "task") return args.length > 1;
  return args[0] === "run" && args.slice(1).some(isScript);
}

/**
 * Splits a shell command into words (quotes removed) up to its first
 * comment or control operator (`&&`, `||`, `|`, `;`, `&`), and takes its
 * leading `NAME=value` assignments apart. `args` is empty unless the command
 * runs `deno`.
 */
export function parseCommand(text: string): ParsedCommand {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  scan: for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) {
        word += text[++i];
      } else word += c;
      continue;
    }
    switch (c) {
      case "'":
      case '"':
        quote = c;
        word ??= "";
        break;
      case "\\":
        if (i + 1 < text.length) word = (word ?? "") + text[++i];
        break;
      case "#":
        if (word === undefined) break scan; // a comment
        word += c;
        break;
      case "&":
      case "|":
      case ";":
      case ">":
      case "<":
        break scan; // the rest is another command or a redirection
      default:
        if (/\s/.test(c)) {
          if (word !== undefined) words.push(word);
          word = undefined;
        } else word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  const env: Record<string, string> = {};
  while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split("=");
    env[name] = value.join("=");
  }
  if (words[0] === "$") words.shift(); // a prompt
  return { env, args: words[0] === "deno" ? words.slice(1) : [] };
}

/** `text` as the words it runs: comments, `&& …`, pipes and extra spaces gone. */
export function shown(text: string): string {
  const { env, args } = parseCommand(text);
  const words = [
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    "deno",
    ...args,
  ];
  return words.map((w) =>
    /^[\w@%+=:,./*-]+$/.test(w) && w !== "*" ? w : `'${w}'`
  )
    .join(" ");
}

function isScript(word: string): boolean {
  return !word.startsWith("-") && /\.(ts|js|mjs|tsx)$/.test(word);
}

// ---------------------------------------------------------------- planning

/** Words the docs (and `--help`) use for a value the reader fills in. */
const PLACEHOLDERS = new Set([
  "A,B",
  "DURATION",
  "FILE",
  "FMT",
  "FORMAT",
  "HOST:PORT",
  "KIND",
  "LEVEL",
  "N",
  "NAME",
  "POLICY",
  "PORT",
  "POSITION",
  "STRATEGY",
  "TEXT",
  "TIME",
  "URL",
  "WHAT",
  "X",
]);

/** The first word that is a placeholder the reader fills in (`...`, `…`, `FILE`). */
function placeholder(args: string[]): string | undefined {
  return args.find((a) =>
    a.includes("...") || a.includes("…") || PLACEHOLDERS.has(a)
  );
}

/** `args` without usage brackets: `[--quick]`, `[--rounds 3]` are dropped. */
export function withoutOptional(
  args: string[],
): { args: string[]; flags: string[] } {
  const kept: string[] = [];
  const flags: string[] = [];
  let depth = 0;
  for (const arg of args) {
    if (arg.startsWith("[")) depth++;
    if (depth > 0) {
      const flag = arg.replace(/^\[+/, "").replace(/\]+$/, "");
      if (flag.startsWith("--")) flags.push(flag);
    } else kept.push(arg);
    if (arg.endsWith("]")) depth = Math.max(0, depth - 1);
  }
  return { args: kept, flags };
}

/** How to check `command`, or throws when it cannot be right (unknown task, missing script). */
export function planCommand(command: string, tasks: Tasks): Plan {
  const { env, args } = parseCommand(command);
  const marker = placeholder(args);
  if (args[0] === "task") {
    const task = args[1];
    assert.ok(
      task in tasks,
      `deno task ${task}: no such task in deno.json (tasks: ${
        Object.keys(tasks).join(", ")
      })`,
    );
    if (marker !== undefined) {
      return {
        kind: "skip",
        reason: `the reader fills in "${marker}"`,
        check: () => {},
      };
    }
    const rest = args.slice(2);
    const bound = BOUNDED_FORM[task];
    if (bound !== undefined) {
      return runPlan(["task", task, ...rest], env, bound);
    }
    const reason = NOT_RUN[task];
    assert.ok(
      reason !== undefined,
      `deno task ${task}: say in tests/docs_commands_test.ts how to run it bounded (BOUNDED_FORM) or why not (NOT_RUN)`,
    );
    return { kind: "skip", reason, check: () => {} };
  }
  const at = args.findIndex(isScript);
  const script = args[at];
  if (marker !== undefined) {
    return {
      kind: "skip",
      reason: `the reader fills in "${marker}"`,
      check: () => assertFile(script),
    };
  }
  const bound = ROLE_SCRIPTS[script];
  if (bound !== undefined) {
    const config = args[args.indexOf("--config", at) + 1];
    if (args.includes("--config", at) && !exists(config)) {
      return {
        kind: "skip",
        reason: `reads the reader's own config file ${config}`,
        check: () => assertFile(script),
      };
    }
    return runPlan(args, env, bound);
  }
  if (script.startsWith("bench/")) {
    return {
      kind: "skip",
      reason: "a benchmark: minutes of load on a shared machine",
      check: () => checkBenchCommand(args, tasks),
    };
  }
  throw new Error(
    `deno run ${script}: say in tests/docs_commands_test.ts how to run it bounded`,
  );
}

function runPlan(
  args: string[],
  env: Record<string, string>,
  bound: string,
): Plan {
  const bounded = args.some((a) =>
    a === "--print-config" || a === "--help" || a === "-h"
  );
  return {
    kind: "run",
    args: bounded ? args : [...args, bound],
    env,
    printsConfig: (bounded ? args : [...args, bound]).includes(
      "--print-config",
    ),
  };
}

/** A doc's `deno run … bench/X.ts [--flag …]`: the script exists, takes those flags, and has `deno task bench`'s permissions. */
async function checkBenchCommand(args: string[], tasks: Tasks): Promise<void> {
  const { args: plain, flags } = withoutOptional(args);
  const at = plain.findIndex(isScript);
  const script = plain[at];
  const source = await Deno.readTextFile(join(PROJECT_ROOT, script));
  for (const flag of flags) {
    const name = flag.slice(2);
    assert.ok(
      source.includes(`"${flag}"`) || source.includes(`${name}: {`),
      `${script} does not take ${flag}`,
    );
  }
  const bench = String(
    (tasks.bench as { command?: string } | undefined)?.command ?? "",
  );
  const step = bench.split("&&").map((s) => s.trim().split(/\s+/))
    .find((words) => words.includes(script));
  assert.ok(step, `deno task bench does not run ${script}`);
  const permissions = (words: string[]) =>
    words.filter((w) => w.startsWith("--allow-")).sort();
  assert.deepEqual(
    permissions(plain.slice(0, at)),
    permissions(step),
    `${script}: the doc's permissions differ from deno task bench's`,
  );
}

function exists(path: string | undefined): boolean {
  if (path === undefined) return false;
  try {
    Deno.statSync(path.startsWith("/") ? path : join(PROJECT_ROOT, path));
    return true;
  } catch {
    return false;
  }
}

function assertFile(path: string): void {
  assert.ok(exists(path), `${path} does not exist`);
}

// ---------------------------------------------------------------- the docs

/** README.md and docs/*.md, by path relative to the project root. */
async function docFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const names = ["README.md"];
  for await (const entry of Deno.readDir(join(PROJECT_ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      names.push(`docs/${entry.name}`);
    }
  }
  for (const name of names.sort()) {
    files.set(name, await Deno.readTextFile(join(PROJECT_ROOT, name)));
  }
  return files;
}

/** Every command of the docs, each once (as first written), with every place that shows it. */
export async function allDocCommands(): Promise<
  { text: string; where: string[] }[]
> {
  const commands = new Map<string, { text: string; where: string[] }>();
  for (const [file, markdown] of await docFiles()) {
    for (const { where, text } of docCommands(markdown, file)) {
      const { env, args } = parseCommand(text);
      const key = JSON.stringify([env, args]);
      const seen = commands.get(key);
      if (seen === undefined) commands.set(key, { text, where: [where] });
      else seen.where.push(where);
    }
  }
  return [...commands.values()];
}
