// scripts/install_prometheus.sh in a sandbox: a copy of the scripts (its
// reason file under the copy), PATH holding stubs of `id` (root), `apt-get`
// and `systemctl` and the few system tools the scripts use, POLICY_RC_D a
// temp file. Nothing on the machine is touched. It exits 0 and says why when
// it cannot write policy-rc.d; it denies service starts during the install
// and puts the original policy-rc.d back after it, after an apt-get failure
// and on SIGTERM; a run killed (SIGKILL) leaves the deny policy, and the
// next run puts the original back, whether it installs or finds prometheus.

import assert from "node:assert/strict";
import { join } from "node:path";
import { delay } from "../common/runtime/delay.ts";
import { gatedTest } from "./_permissions.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** Running bash on a temp copy of the scripts. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  { name: "run" },
  { name: "read" },
  { name: "write" },
];

/** System tools the scripts (and the stubs) run, linked into the sandbox's PATH. */
const TOOLS = [
  "dirname",
  "mkdir",
  "rm",
  "mv",
  "tee",
  "chmod",
  "head",
  "grep",
  "cat",
  "sleep",
  "touch",
];

/** The deny policy the script writes: its second line is how it knows it. */
const DENY =
  "#!/bin/sh\n# scripts/install_prometheus.sh: no service starts while it installs\nexit 101\n";

/** What the stub apt-get does on `install`. */
type Apt = "installs" | "fails" | "is slow";

/** A sandbox for the script; disposing removes it. */
class Sandbox implements AsyncDisposable {
  readonly dir: string;
  readonly policy: string;
  constructor(dir: string) {
    this.dir = dir;
    this.policy = join(dir, "sbin", "policy-rc.d");
  }

  static async create(): Promise<Sandbox> {
    const box = new Sandbox(
      await Deno.makeTempDir({ prefix: "marketbus_install_" }),
    );
    for (const sub of ["scripts", "bin", "sbin"]) {
      await Deno.mkdir(join(box.dir, sub));
    }
    for (const script of ["install_prometheus.sh", "_apt_install.sh"]) {
      await Deno.copyFile(
        join(PROJECT_ROOT, "scripts", script),
        join(box.dir, "scripts", script),
      );
    }
    for (const tool of TOOLS) {
      const path = ["/usr/bin", "/bin"].map((d) => join(d, tool))
        .find((p) => Deno.statSync(p).isFile);
      await Deno.symlink(path!, join(box.dir, "bin", tool));
    }
    await box.stub("id", "echo 0\n");
    await box.stub("systemctl", "exit 0\n");
    // apt-get: records the policy in force while it installs, then does what
    // $STUB_APT says (the binaries it installs are stubs too).
    await box.stub(
      "apt-get",
      `case " $* " in *" update "*) exit 0 ;; esac
cat "$POLICY_RC_D" > "$SANDBOX/policy_during_install" 2>/dev/null || echo none > "$SANDBOX/policy_during_install"
touch "$SANDBOX/installing"
case "$STUB_APT" in
  fails) exit 100 ;;
  "is slow") sleep 2 ;;
esac
printf '#!/bin/bash\\necho "prometheus, version 2.42.0"\\n' > "$SANDBOX/bin/prometheus"
printf '#!/bin/bash\\nexit 0\\n' > "$SANDBOX/bin/promtool"
chmod 755 "$SANDBOX/bin/prometheus" "$SANDBOX/bin/promtool"
`,
    );
    return box;
  }

  /** Writes an executable `bin/name` running `body` under bash. */
  async stub(name: string, body: string): Promise<void> {
    const path = join(this.dir, "bin", name);
    await Deno.writeTextFile(path, `#!/bin/bash\n${body}`);
    await Deno.chmod(path, 0o755);
  }

  /** Starts the script with `apt` as apt-get's behaviour and `policy` as POLICY_RC_D. */
  spawn(apt: Apt, policy = this.policy): Deno.ChildProcess {
    return new Deno.Command("/bin/bash", {
      args: [join(this.dir, "scripts", "install_prometheus.sh")],
      env: {
        PATH: join(this.dir, "bin"),
        POLICY_RC_D: policy,
        SANDBOX: this.dir,
        STUB_APT: apt,
      },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  }

  /** Runs the script to its end: its exit code and output. */
  async run(
    apt: Apt,
    policy?: string,
  ): Promise<{ code: number; output: string }> {
    const { code, stdout, stderr } = await this.spawn(apt, policy).output();
    const text = new TextDecoder();
    return { code, output: text.decode(stdout) + text.decode(stderr) };
  }

  /** The text of `path` under the sandbox, or `undefined` when there is none. */
  read(path: string): string | undefined {
    try {
      return Deno.readTextFileSync(join(this.dir, path));
    } catch {
      return undefined;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
  }
}

const ORIGINAL = "#!/bin/sh\n# the machine's own\nexit 0\n";

function sandboxTest(name: string, fn: (box: Sandbox) => Promise<void>) {
  gatedTest({
    name,
    permissions: PERMISSIONS,
    async fn() {
      await using box = await Sandbox.create();
      await fn(box);
    },
  });
}

sandboxTest(
  "install_prometheus.sh: installs with every service start denied meanwhile, then puts the machine's policy-rc.d back",
  async (box) => {
    await Deno.writeTextFile(box.policy, ORIGINAL);
    const { code, output } = await box.run("installs");
    assert.equal(code, 0, output);
    assert.match(
      output,
      /prometheus: installed .*bin\/prometheus \(prometheus, version 2\.42\.0\)/,
    );
    assert.equal(box.read("policy_during_install"), DENY);
    assert.equal(box.read("sbin/policy-rc.d"), ORIGINAL);
    assert.equal(box.read("sbin/policy-rc.d.marketbus-saved"), undefined);
    // Without one before, none after.
    await Deno.remove(box.policy);
    await Deno.remove(join(box.dir, "bin", "prometheus"));
    assert.equal((await box.run("installs")).code, 0);
    assert.equal(box.read("sbin/policy-rc.d"), undefined);
  },
);

sandboxTest(
  "install_prometheus.sh: a policy-rc.d it cannot write (or an apt-get that fails) exits 0, saying why on one line, and leaves the original",
  async (box) => {
    const nowhere = join(box.dir, "no such dir", "policy-rc.d");
    const unwritable = await box.run("installs", nowhere);
    assert.equal(unwritable.code, 0, unwritable.output);
    assert.match(
      unwritable.output,
      /prometheus: NOT INSTALLED \(cannot write .*no such dir\/policy-rc\.d to deny service starts\)/,
    );
    assert.match(box.read(".tools/prometheus.not_installed")!, /cannot write/);
    await Deno.writeTextFile(box.policy, ORIGINAL);
    const failed = await box.run("fails");
    assert.equal(failed.code, 0, failed.output);
    assert.match(
      failed.output,
      /NOT INSTALLED \(apt-get install prometheus failed\)/,
    );
    assert.equal(box.read("sbin/policy-rc.d"), ORIGINAL);
  },
);

sandboxTest(
  "install_prometheus.sh: SIGTERM during the install puts the original policy-rc.d back (exit 143)",
  async (box) => {
    await Deno.writeTextFile(box.policy, ORIGINAL);
    const child = box.spawn("is slow");
    const output = child.output();
    while (box.read("installing") === undefined) await delay(20);
    assert.equal(box.read("sbin/policy-rc.d"), DENY);
    child.kill("SIGTERM");
    const { code } = await output;
    assert.equal(code, 143);
    assert.equal(box.read("sbin/policy-rc.d"), ORIGINAL);
    assert.equal(box.read("sbin/policy-rc.d.marketbus-saved"), undefined);
  },
);

sandboxTest(
  "install_prometheus.sh: after a run killed mid-install (SIGKILL: deny policy left, the original saved), the next run puts the original back, installing or finding prometheus; a saved file beside a policy not its own is left alone",
  async (box) => {
    // A run killed during apt-get (which, a child of its own, runs to its
    // end: prometheus is installed after all).
    const killed = async () => {
      await Deno.writeTextFile(box.policy, ORIGINAL);
      await Deno.remove(join(box.dir, "installing")).catch(() => {});
      const child = box.spawn("is slow");
      while (box.read("installing") === undefined) await delay(20);
      child.kill("SIGKILL");
      await child.output();
      assert.equal(box.read("sbin/policy-rc.d"), DENY);
      assert.equal(box.read("sbin/policy-rc.d.marketbus-saved"), ORIGINAL);
    };
    await killed();
    for (const tool of ["prometheus", "promtool"]) {
      await Deno.remove(join(box.dir, "bin", tool)); // as if apt-get died too
    }
    const installs = await box.run("installs");
    assert.equal(installs.code, 0, installs.output);
    assert.match(installs.output, /put back .*policy-rc\.d/);
    assert.match(installs.output, /prometheus: installed/);
    assert.equal(box.read("sbin/policy-rc.d"), ORIGINAL);
    assert.equal(box.read("sbin/policy-rc.d.marketbus-saved"), undefined);

    for (const tool of ["prometheus", "promtool"]) {
      await Deno.remove(join(box.dir, "bin", tool));
    }
    await killed(); // prometheus installed: the next run finds it
    const found = await box.run("installs");
    assert.equal(found.code, 0, found.output);
    assert.match(found.output, /put back .*\n.*prometheus: found/);
    assert.equal(box.read("sbin/policy-rc.d"), ORIGINAL);

    const other = "#!/bin/sh\n# someone else's\nexit 0\n";
    await Deno.writeTextFile(box.policy, other);
    await Deno.writeTextFile(`${box.policy}.marketbus-saved`, ORIGINAL);
    await Deno.remove(join(box.dir, "bin", "prometheus"));
    const refused = await box.run("installs");
    assert.equal(refused.code, 0, refused.output);
    assert.match(refused.output, /not this script's: keep the one you want/);
    assert.match(refused.output, /NOT INSTALLED/);
    assert.equal(box.read("sbin/policy-rc.d"), other);
    assert.equal(box.read("sbin/policy-rc.d.marketbus-saved"), ORIGINAL);
  },
);
