/**
 * The Go peer of bench/peers.ts: natscli's `nats bench`, pinned to
 * {@linkcode NATSCLI_VERSION}. Finds `nats` on PATH, in $GOBIN, ~/go/bin or
 * $GOPATH/bin, installs it with `go install` when missing, and runs
 * `nats bench …` against a server, returning the rate it reports.
 *
 * Permissions: `--allow-run` (nats, go), `--allow-read` (locating the
 * binaries), `--allow-env=PATH,HOME,GOPATH,GOBIN`.
 *
 * @module
 */

/** The natscli release the issue's Go figures were measured with. */
export const NATSCLI_VERSION = "v0.5.1";
const MODULE = `github.com/nats-io/natscli/nats@${NATSCLI_VERSION}`;

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable) throw err;
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && isExecutable(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/** Where `go install` puts binaries, without asking go: $GOBIN, $GOPATH/bin, ~/go/bin. */
function goBinDirs(): string[] {
  const dirs: string[] = [];
  const gobin = Deno.env.get("GOBIN");
  if (gobin) dirs.push(gobin);
  for (const path of (Deno.env.get("GOPATH") ?? "").split(":")) {
    if (path) dirs.push(`${path}/bin`);
  }
  const home = Deno.env.get("HOME");
  if (home) dirs.push(`${home}/go/bin`);
  return dirs;
}

function findNats(): string | undefined {
  return onPath("nats") ??
    goBinDirs().map((dir) => `${dir}/nats`).find(isExecutable);
}

/** The `go` binary on PATH or at /usr/local/go/bin/go; `undefined` without Go. */
export function findGo(): string | undefined {
  return onPath("go") ??
    ["/usr/local/go/bin/go"].find(isExecutable);
}

/** `nats --version`, or `"unknown"`. */
async function versionOf(nats: string): Promise<string> {
  try {
    const out = await new Deno.Command(nats, {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim() ||
      new TextDecoder().decode(out.stderr).trim();
    return text || "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * The path of `nats` with its version; installs {@linkcode NATSCLI_VERSION}
 * with `go install` when it is not found. Returns `undefined` after printing
 * one line saying why when Go is absent or the install fails (the caller
 * skips the Go rows). `signal` aborts a running install.
 */
export async function findOrInstallNatscli(
  signal?: AbortSignal,
): Promise<{ path: string; version: string } | undefined> {
  const found = findNats();
  if (found) return { path: found, version: await versionOf(found) };
  const go = findGo();
  if (!go) {
    console.log(
      `natscli: no nats binary and no Go toolchain to install ${MODULE}: skipping the Go rows`,
    );
    return undefined;
  }
  console.log(`natscli: installing ${MODULE} with ${go} install (minutes)…`);
  const out = await new Deno.Command(go, {
    args: ["install", MODULE],
    env: { GOFLAGS: "-mod=mod" },
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const built = out.success ? findNats() : undefined;
  if (!built) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
    console.log(
      `natscli: go install ${MODULE} failed (${
        out.success
          ? "binary not found in $GOBIN, $GOPATH/bin or ~/go/bin"
          : `exit ${out.code}: ${why}`
      }): skipping the Go rows`,
    );
    return undefined;
  }
  return { path: built, version: await versionOf(built) };
}

/** The msgs/sec of the closing `… stats: N msgs/sec ~ …` line of `nats bench`. */
export function benchRate(output: string): number {
  const match = output.match(/stats: ([\d,]+) msgs\/sec/);
  if (!match) throw new Error(`no "stats: … msgs/sec" line in:\n${output}`);
  return Number(match[1].replaceAll(",", ""));
}

/**
 * Runs `nats -s url bench …args --no-progress` and returns the msgs/s it
 * reports; throws with its output when it fails. `signal` kills it.
 */
export async function natsBench(
  nats: string,
  url: string,
  args: string[],
  signal?: AbortSignal,
): Promise<number> {
  const out = await new Deno.Command(nats, {
    args: ["-s", url, "bench", ...args, "--no-progress"],
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(`nats bench ${args.join(" ")} failed:\n${text}`);
  }
  return benchRate(text);
}
