// A SIGINT while serve claims its symbols (issue 17, item 6): claiming waits
// up to a lease (registry.ttl + margin + a heartbeat interval) for an owner
// whose heartbeat has not moved yet, before any role signal listener
// exists. The first SIGINT must stop it within a bound (exit 0) and leave no
// claim it just wrote "publishing" (marked stopped), not kill it by
// Deno's default (claims are all or none, so it holds none while it
// waits; one written just before the signal is marked stopped).

import assert from "node:assert/strict";
import { harnessPermissions, natsTest } from "./_permissions.ts";
import {
  output,
  ROLE_PERMISSIONS,
  roleArgs,
  RoleProcess,
} from "./_ipc_roles.ts";
import { registryConfig } from "./_registry_roles.ts";
import { PROJECT_ROOT } from "./nats_server.ts";
import type { RoleConfig } from "./_ipc_roles.ts";

/** A long TTL: claiming an owned symbol waits ~37 s for its heartbeat. */
const REGISTRY = `
[registry]
heartbeat_interval = "250ms"
ttl = "30s"
`;

/** The registry entries of `config`'s prefix as `symbol status pid`, from `deno task symbols --json`. */
async function listed(config: RoleConfig): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...roleArgs("symbols", config), "--json"],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const document = JSON.parse(new TextDecoder().decode(out.stdout));
  return document.entries
    .filter((e: { prefix: string }) => e.prefix === config.nats!.subjectPrefix)
    .map((e: Record<string, unknown>) => `${e.symbol} ${e.status} ${e.pid}`);
}

natsTest({
  name:
    "registry open: SIGINT while serve waits to judge an owner (paused) stops it within seconds, exit 0, leaving no claim alive",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  loopbackOnly: true,
  fn: async (_t, url) => {
    await using config = await registryConfig(url, { registry: REGISTRY });
    // ETHUSDT's owner, paused: its heartbeat does not move.
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--symbols",
      "ETHUSDT",
    ]);
    await owner.waitFor(/publishing synthetic/);
    owner.kill("SIGSTOP");
    try {
      await using opening = new RoleProcess("serve", config, [
        "--nats",
        "--no-ipc",
      ]);
      // It looks at ETHUSDT's heartbeat for a lease before judging it.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const signalled = performance.now();
      opening.kill("SIGINT");
      const stopped = await opening.finish();
      const ms = performance.now() - signalled;
      assert.equal(stopped.code, 0, output(stopped));
      assert.ok(ms < 10_000, `stopped ${ms} ms after SIGINT`);
      assert.match(output(stopped), /SIGINT: stopping before publishing/);
      assert.ok(
        !(await listed(config)).some((e) =>
          e.endsWith(` ${opening.pid}`) && !e.includes(" stopped ")
        ),
        "a claim left alive",
      );
    } finally {
      owner.kill("SIGCONT");
    }
    owner.kill("SIGINT");
    await owner.finish();
  },
});
