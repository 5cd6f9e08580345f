// `deno task demo`: serve and live together on the shared-memory ring with
// live's web console, its URL printed; until Ctrl-C (or --duration), then a
// clean stop, publisher first.
//
// The demo runs both tasks on config/development.toml and takes no config of
// its own, so it cannot get a unique segment prefix: it uses the developer's
// rings (/marketbus_binance_*). When those exist (a `deno task serve` is
// running, or one crashed) the tests are skipped, with the reason in their
// names, rather than fail or disturb them.

import assert from "node:assert/strict";
import { gatedTest, SHM_PERMISSIONS } from "./_permissions.ts";
import { parseCount, segmentsWithPrefix } from "./_ipc_roles.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

const DEMO_PREFIX = "/marketbus_binance_";

const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...SHM_PERMISSIONS,
  { name: "run" },
  { name: "read" },
  { name: "net", host: "127.0.0.1" },
];

/** The demo's line with the console's URL. */
const CONSOLE_URL = /^console: (http:\/\/127\.0\.0\.1:\d+\/) /m;

function developerRings(): string[] {
  const granted = SHM_PERMISSIONS.every((p) =>
    Deno.permissions.querySync(p).state === "granted"
  );
  return granted ? segmentsWithPrefix(DEMO_PREFIX) : [];
}

const busy = developerRings();
const skip = busy.length > 0
  ? ` [skipped: ${
    busy.join(", ")
  } exist under /dev/shm: is a deno task serve running?]`
  : "";

/** A running `deno task demo` whose stdout is collected as it comes. */
class Demo implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  #changed = () => {};
  readonly done: Promise<{ code: number; stdout: string; stderr: string }>;

  constructor(args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "demo", ...args],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1", NATS_URL: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (
      stream: ReadableStream<Uint8Array>,
      add: (text: string) => void,
    ) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        add(text);
        this.#changed();
      }
    };
    const pumps = Promise.all([
      read(this.#child.stdout, (text) => this.#stdout += text),
      read(this.#child.stderr, (text) => this.#stderr += text),
    ]);
    this.done = this.#child.status.then(async ({ code }) => {
      await pumps;
      this.#changed();
      return { code, stdout: this.#stdout, stderr: this.#stderr };
    });
  }

  /** Its stdout and stderr so far. */
  get output(): string {
    return `${this.#stdout}${this.#stderr}`;
  }

  /** The first match of `pattern` on stdout, waiting up to 30 s for it. */
  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    const deadline = Date.now() + 30_000;
    let ended = false;
    this.done.then(() => ended = true);
    while (true) {
      const found = pattern.exec(this.#stdout);
      if (found) return found;
      if (ended || Date.now() > deadline) {
        assert.fail(`no ${pattern} from the demo:\n${this.output}`);
      }
      await new Promise<void>((resolve) => {
        this.#changed = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  /** Sends `signal` to the `deno task` process (it forwards it to the demo). */
  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // exited
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const ended = await Promise.race([
      this.done.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 20_000)),
    ]);
    if (!ended) this.kill("SIGKILL");
    await this.done;
  }
}

/** The console at `url` answers with its page under its security headers. */
async function assertConsoleServes(url: string): Promise<void> {
  const response = await fetch(url);
  const body = await response.text();
  assert.equal(response.status, 200, body);
  assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(
    response.headers.get("content-security-policy") ?? "",
    /default-src 'none'/,
  );
  assert.match(body, /id="streams"/);
}

/** The demo's output shows both roles' progress, and live got every trade serve sent. */
function assertRun(stdout: string, output: string): void {
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
}

gatedTest({
  name:
    "deno task demo --duration 4s: prints the console URL, which serves the page; both roles report progress, every trade arrives" +
    skip,
  ignore: busy.length > 0,
  permissions: PERMISSIONS,
  async fn() {
    await using demo = new Demo(["--duration", "4s"]);
    const [, url] = await demo.waitFor(CONSOLE_URL);
    await assertConsoleServes(url);
    const { code, stdout } = await demo.done;
    assert.equal(code, 0, demo.output);
    assert.match(stdout, /on the shared-memory ring for 4s/);
    assertRun(stdout, demo.output);
  },
});

gatedTest({
  name:
    "deno task demo: runs until Ctrl-C (SIGINT), its console live meanwhile, then stops both roles cleanly" +
    skip,
  ignore: busy.length > 0,
  permissions: PERMISSIONS,
  async fn() {
    await using demo = new Demo([]);
    const [, url] = await demo.waitFor(CONSOLE_URL);
    assert.match(demo.output, /on the shared-memory ring until Ctrl-C/);
    // Running well past the old 10 s default is not worth the test's time:
    // progress from both, then the page, then Ctrl-C.
    await demo.waitFor(
      /^\[serve\] \S+Z INFO {2}data_manager: [\d,]+ trades \(/m,
    );
    await assertConsoleServes(url);
    demo.kill("SIGINT");
    const { code, stdout } = await demo.done;
    assert.equal(code, 0, demo.output);
    assertRun(stdout, demo.output);
    await assert.rejects(fetch(url), "the console still answers");
  },
});
