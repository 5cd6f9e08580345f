/**
 * A real browser for tests: headless Chromium driven over the Chrome
 * DevTools Protocol (CDP) on Deno's own WebSocket, no dependency. It opens
 * pages, collects every console error, uncaught exception, log error and
 * dialog of them, evaluates expressions, takes PNG screenshots, and always
 * stops the browser and removes its profile (`await using`).
 *
 * The browser is `CHROMIUM_BIN`, else `chromium`, `chromium-browser` or
 * `google-chrome` on `PATH` (scripts/install_chromium.sh installs Debian's
 * `chromium`); {@linkcode browserTest} skips a test, saying why, when there
 * is none or the permissions to run it are missing.
 *
 * @module
 */

import { join } from "node:path";
import {
  Connection,
  type Listener,
  type Params,
  TIMEOUT_MS,
  within,
  withTimeout,
} from "./_cdp.ts";
import { gatedTest, missingPermissions } from "./_permissions.ts";

/** Names looked up on `PATH`, in order, when `CHROMIUM_BIN` is not set. */
export const BROWSER_NAMES = ["chromium", "chromium-browser", "google-chrome"];

/** What launching the browser needs: run it, its temp profile, finding it, CDP on loopback. */
export const BROWSER_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "run" },
  { name: "read" },
  { name: "write" },
  { name: "env", variable: "CHROMIUM_BIN" },
  { name: "env", variable: "PATH" },
  { name: "net", host: "127.0.0.1" },
];

/** The browser to launch: `CHROMIUM_BIN`, else the first of {@linkcode BROWSER_NAMES} on `PATH`; `undefined` when none. */
export function findBrowser(): string | undefined {
  const explicit = Deno.env.get("CHROMIUM_BIN");
  if (explicit) return explicit;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of BROWSER_NAMES) {
      const path = join(dir || ".", name);
      try {
        const info = Deno.statSync(path);
        if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
      } catch {
        // not in this directory
      }
    }
  }
  return undefined;
}

/** Why a browser test cannot run here (missing permissions, no browser), or `undefined`. */
export function browserSkipReason(): string | undefined {
  const missing = missingPermissions(BROWSER_PERMISSIONS);
  if (missing.length > 0) return `needs ${missing.join(", ")}`;
  if (findBrowser() === undefined) {
    return `no Chromium: set CHROMIUM_BIN, or put one of ${
      BROWSER_NAMES.join(", ")
    } on PATH (bash scripts/install_chromium.sh installs Debian's chromium)`;
  }
  return undefined;
}

/**
 * Registers a test that needs a real browser: skipped, with the reason in its
 * name, when {@linkcode browserSkipReason} gives one; failing instead when
 * the reason is a missing browser and {@linkcode browserRequired}.
 */
export function browserTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  options: BrowserTestOptions = {},
): void {
  const permissions = [...BROWSER_PERMISSIONS, ...options.permissions ?? []];
  const missing = missingPermissions(permissions);
  const reason = missing.length > 0
    ? `needs ${missing.join(", ")}`
    : browserSkipReason();
  if (reason === undefined) {
    gatedTest({ name, permissions, fn });
  } else if (browserRequired() && !reason.startsWith("needs ")) {
    // CI (.ci/run) sets it: no browser there is a failure, not a skip.
    Deno.test(name, () => {
      throw new Error(`MARKETBUS_REQUIRE_BROWSER=1 but ${reason}`);
    });
  } else {
    Deno.test({ name: `${name} [skipped: ${reason}]`, ignore: true, fn() {} });
  }
}

/** Options of {@linkcode browserTest}. */
export interface BrowserTestOptions {
  /**
   * What the test needs besides the browser (spawning the roles, a
   * nats-server); without them it is skipped, saying which.
   * @default {[]}
   */
  permissions?: readonly Deno.PermissionDescriptor[];
}

/** `true` when `MARKETBUS_REQUIRE_BROWSER=1` (readable without a prompt): a missing browser fails the browser tests. */
export function browserRequired(): boolean {
  const variable = "MARKETBUS_REQUIRE_BROWSER";
  const { state } = Deno.permissions.querySync({ name: "env", variable });
  return state === "granted" && Deno.env.get(variable) === "1";
}

/** One tab of a {@linkcode Browser}. */
export class Page {
  /** Console errors, uncaught exceptions and error log entries, in order, one line each. */
  readonly errors: string[] = [];
  /** Messages of the alert/confirm/prompt dialogs the page opened (each dismissed). */
  readonly dialogs: string[] = [];
  #cdp: Connection;
  #session: string;

  /** @internal Use {@linkcode Browser.newPage}. */
  constructor(cdp: Connection, session: string) {
    this.#cdp = cdp;
    this.#session = session;
    const mine = (listener: (p: Params) => void): Listener => (p, s) => {
      if (s === session) listener(p);
    };
    cdp.on(
      "Runtime.exceptionThrown",
      mine((p) => this.errors.push(`exception: ${exceptionText(p)}`)),
    );
    cdp.on(
      "Runtime.consoleAPICalled",
      mine((p) => {
        if (p.type !== "error" && p.type !== "assert") return;
        const args = (p.args as Params[] | undefined) ?? [];
        this.errors.push(
          `console.${p.type}: ${
            args.map((a) => a.value ?? a.description).join(" ")
          }`,
        );
      }),
    );
    cdp.on(
      "Log.entryAdded",
      mine((p) => {
        const entry = p.entry as Params;
        if (entry.level !== "error") return;
        this.errors.push(
          `log (${entry.source}): ${entry.text} ${entry.url ?? ""}`,
        );
      }),
    );
    cdp.on(
      "Page.javascriptDialogOpening",
      mine((p) => {
        this.dialogs.push(String(p.message));
        this.#send("Page.handleJavaScriptDialog", { accept: false })
          .catch(() => {});
      }),
    );
  }

  /** Enables the domains the page reports through, and sets its viewport. */
  async init(width: number, height: number): Promise<void> {
    await this.#send("Runtime.enable");
    await this.#send("Log.enable");
    await this.#send("Page.enable");
    await this.#send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
  }

  /** Makes the page's locale `locale` (`navigator.language`, `Intl` defaults), as a viewer's settings would. */
  async setLocale(locale: string): Promise<void> {
    await this.#send("Emulation.setLocaleOverride", { locale });
  }

  /**
   * Runs `source` in every document this page opens from now on, before the
   * document's own scripts (DevTools injects it: the page's CSP does not
   * apply), e.g. to install probes.
   */
  async addInitScript(source: string): Promise<void> {
    await this.#send("Page.addScriptToEvaluateOnNewDocument", { source });
  }

  /**
   * Clicks the middle of the first element matching `selector` with the
   * mouse, as a user would (whatever covers that point gets the click);
   * throws when nothing matches or it has no size.
   */
  async click(selector: string): Promise<void> {
    const point = await this.evaluate<[number, number] | null>(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return null;
      el.scrollIntoView({ block: "center", inline: "center" });
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 ? [r.x + r.width / 2, r.y + r.height / 2] : null;
    })()`);
    if (point === null) {
      throw new Error(`click: no visible element matches ${selector}`);
    }
    const [x, y] = point;
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.#send("Input.dispatchMouseEvent", {
        type,
        x,
        y,
        button: "left",
        clickCount: 1,
      });
    }
  }

  /** Navigates to `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const off = this.#cdp.on("Page.loadEventFired", (_, s) => {
      if (s === this.#session) resolve();
    });
    try {
      const result = await this.#send("Page.navigate", { url });
      if (result.errorText) {
        throw new Error(`Cannot open ${url}: ${result.errorText}`);
      }
      await withTimeout(promise, `loading ${url}`);
    } finally {
      off();
    }
  }

  /** The value of `expression` in the page (awaited if a promise); throws what it throws. */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.#send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (result.exceptionDetails) {
      throw new Error(`evaluate failed: ${exceptionText(result)}`);
    }
    return (result.result as Params).value as T;
  }

  /** Evaluates `expression` every 50 ms until it is truthy and returns that value; throws after `timeoutMs`. */
  async waitFor<T>(expression: string, timeoutMs = TIMEOUT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      if (Date.now() > deadline) {
        const errors = this.errors.length === 0
          ? ""
          : `; the page reported:\n${this.errors.join("\n")}`;
        throw new Error(
          `${expression}: still falsy after ${timeoutMs} ms${errors}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * For each element matching `selector` (a canvas, or holding one): how
   * many pixels of the canvas are painted (not transparent) and how many are
   * near each of `colours` (`#rrggbb`, within 24 per channel, opaque), read
   * back with `getImageData`. Proves a chart drew, and what.
   */
  canvasColours(
    selector: string,
    colours: Record<string, string>,
  ): Promise<CanvasColours[]> {
    const wanted = Object.entries(colours).map(([name, hex]) => [
      name,
      [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)),
    ]);
    return this.evaluate(`(() => {
      const wanted = ${JSON.stringify(wanted)};
      return [...document.querySelectorAll(${
      JSON.stringify(selector)
    })].map((el) => {
        const canvas = el instanceof HTMLCanvasElement ? el : el.querySelector("canvas");
        const result = { id: el.id || Object.values(el.dataset).join(","), painted: 0, near: {} };
        for (const [name] of wanted) result.near[name] = 0;
        if (!canvas) return result;
        const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] === 0) continue;
          result.painted++;
          if (d[i + 3] < 200) continue;
          for (const [name, [r, g, b]] of wanted) {
            if (Math.abs(d[i] - r) < 24 && Math.abs(d[i + 1] - g) < 24 && Math.abs(d[i + 2] - b) < 24) {
              result.near[name]++;
            }
          }
        }
        return result;
      });
    })()`);
  }

  /** Saves a PNG of the whole page (beyond the viewport) at `path`. */
  async screenshot(path: string): Promise<void> {
    const { data } = await this.#send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    });
    const binary = atob(String(data));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    await Deno.writeFile(path, bytes);
  }

  #send(method: string, params: Params = {}): Promise<Params> {
    return this.#cdp.send(method, params, this.#session);
  }
}

/** What {@linkcode Page.canvasColours} found on one element's canvas. */
export interface CanvasColours {
  /** The element's id, else its data attribute values joined by commas. */
  id: string;
  /** Pixels not fully transparent. */
  painted: number;
  /** Opaque pixels near each asked colour, by its name. */
  near: Record<string, number>;
}

/** Viewport of new pages, px: wide enough for the report's widest table to need its own scroll box. */
const VIEWPORT: [number, number] = [1280, 900];

/**
 * Runs the browser (`$0 "$@"`) in its own process group under a watchdog
 * reading stdin: when stdin ends, because {@linkcode Browser.close} closed it
 * or because this Deno process died in any way (SIGINT, SIGTERM, SIGKILL,
 * `Deno.exit`), it kills the whole group (the browser and its zygotes,
 * renderers, GPU and crashpad helpers) and removes the profile. A signal to
 * the watchdog alone does the same.
 */
const WATCHDOG = `setsid "$0" "$@" </dev/null &
c=$!
cleanup() {
  kill -9 -"$c" 2>/dev/null || kill -9 "$c" 2>/dev/null
  wait "$c" 2>/dev/null
  rm -rf "$MARKETBUS_CHROMIUM_PROFILE"
}
trap 'cleanup; exit 1' INT TERM HUP
cat >/dev/null
cleanup`;

/** A headless Chromium with its own temporary profile; `await using` stops it. */
export class Browser implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #cdp: Connection;
  #profile: string;
  #stderr: string[];
  #drained: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    stdin: WritableStreamDefaultWriter<Uint8Array>,
    cdp: Connection,
    profile: string,
    stderr: { lines: string[]; drained: Promise<void> },
  ) {
    this.#child = child;
    this.#stdin = stdin;
    this.#cdp = cdp;
    this.#profile = profile;
    this.#stderr = stderr.lines;
    this.#drained = stderr.drained;
  }

  /**
   * Starts the browser of {@linkcode findBrowser} under a watchdog (nothing
   * outlives this process) and connects to it; every wait is bounded by
   * {@linkcode TIMEOUT_MS}.
   */
  static async launch(): Promise<Browser> {
    const bin = findBrowser();
    if (bin === undefined) throw new Error(browserSkipReason());
    let profile: string | undefined;
    let child: Deno.ChildProcess | undefined;
    let stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
    let stderr: { url: Promise<string>; drained: Promise<void> } | undefined;
    const lines: string[] = [];
    try {
      if (!(await Deno.stat(bin)).isFile) {
        throw new Error(`${bin} is not a file`);
      }
      profile = await Deno.makeTempDir({ prefix: "marketbus-chromium-" });
      const args = [
        "--headless=new",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        `--user-data-dir=${profile}`,
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-gpu",
        "--disable-crash-reporter",
        "--disable-breakpad",
        "--mute-audio",
        "--hide-scrollbars",
        `--window-size=${VIEWPORT[0]},${VIEWPORT[1]}`,
        // Chromium refuses to start as root with its sandbox on.
        ...(isRoot(profile) ? ["--no-sandbox"] : []),
        "about:blank",
      ];
      child = new Deno.Command("sh", {
        args: ["-c", WATCHDOG, bin, ...args],
        // Nothing written outside the profile (crashpad's settings, caches).
        env: {
          MARKETBUS_CHROMIUM_PROFILE: profile,
          HOME: profile,
          XDG_CONFIG_HOME: profile,
          XDG_CACHE_HOME: profile,
        },
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      stdin = child.stdin.getWriter();
      stderr = readStderr(child, lines);
      const url = await withTimeout(stderr.url, "the DevTools URL on stderr");
      const cdp = await withTimeout(
        Connection.open(url),
        "DevTools connection",
      );
      return new Browser(child, stdin, cdp, profile, { lines, ...stderr });
    } catch (error) {
      if (child !== undefined) {
        await stopWatchdog(child, stdin);
        await stderr?.drained;
      }
      if (profile !== undefined) {
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      }
      throw new Error(
        `${bin} did not start: ${(error as Error).message}\n${
          lines.slice(-20).join("\n")
        }`,
      );
    }
  }

  /** The browser's stderr so far (last lines), for a failure message. */
  get log(): string {
    return this.#stderr.slice(-40).join("\n");
  }

  /** Opens a new tab (about:blank), reporting errors and dialogs from the start; `viewport` is `[width, height]` in CSS px (default 1280×900). */
  async newPage(viewport: [number, number] = VIEWPORT): Promise<Page> {
    const { targetId } = await this.#cdp.send("Target.createTarget", {
      url: "about:blank",
    });
    const { sessionId } = await this.#cdp.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this.#cdp, String(sessionId));
    await page.init(...viewport);
    return page;
  }

  /** Closes the browser (asks it for up to 5 s, then its watchdog kills it) and removes its profile. */
  async close(): Promise<void> {
    await within(this.#cdp.send("Browser.close"), 5_000);
    await this.#cdp.close();
    await stopWatchdog(this.#child, this.#stdin);
    await this.#drained;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }

  /** The same as {@linkcode Browser.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Reads the browser's stderr to its end, keeping the last 200 lines in
 * `lines`; `url` resolves with the address of "DevTools listening on ws://…"
 * (rejects if stderr ends first), `drained` once stderr is closed.
 */
function readStderr(
  child: Deno.ChildProcess,
  lines: string[],
): { url: Promise<string>; drained: Promise<void> } {
  const { promise: url, resolve, reject } = Promise.withResolvers<string>();
  url.catch(() => {}); // also reported through `drained`'s caller
  const drained = (async () => {
    let rest = "";
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        const found = /DevTools listening on (ws:\/\/\S+)/.exec(line);
        if (found) resolve(found[1]);
      }
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    }
    reject(new Error("it exited before listening"));
  })().catch((error) => reject(error));
  return { url, drained };
}

/**
 * Ends the watchdog's stdin (it then kills the browser's process group and
 * removes the profile) and waits up to 5 s for it, then kills it.
 */
async function stopWatchdog(
  child: Deno.ChildProcess,
  stdin: WritableStreamDefaultWriter<Uint8Array> | undefined,
): Promise<void> {
  await (stdin ?? child.stdin).close().catch(() => {});
  if (!await within(child.status, 5_000)) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }
}

/**
 * `true` when this process runs as root: the owner of `path`, a directory
 * it just created (no --allow-sys=uid needed, and /proc wants --allow-all).
 */
function isRoot(path: string): boolean {
  return Deno.statSync(path).uid === 0;
}

function exceptionText(p: Params): string {
  const details = p.exceptionDetails as Params | undefined;
  const exception = details?.exception as Params | undefined;
  return String(exception?.description ?? details?.text ?? "unknown");
}
