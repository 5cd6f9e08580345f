// The NATS server configs compose.yaml mounts, run by the real nats-server:
// each passes `nats-server -t` with its service's environment, and each
// profile's nodes start from copies of the shipped files (only the addresses,
// ports and store dir moved onto loopback and a temp dir), form their cluster,
// and take the stream the profile's data_manager config asks for, with its
// replicas.

import assert from "node:assert/strict";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { loadConfig } from "../common/config/mod.ts";
import { ensureStream } from "../common/nats/stream_setup.ts";
import { captureLog } from "./_capture_log.ts";
import {
  type ComposeFile,
  type ComposeService,
  listenPort,
  type NatsConf,
  parseCompose,
  parseNatsConf,
  projectPath,
  readProjectFile,
} from "./_compose.ts";
import {
  COMPOSE_PERMISSIONS,
  gatedTest,
  harnessPermissions,
  OWN_SERVER_REASON,
} from "./_permissions.ts";
import { findNatsServer, PROJECT_ROOT } from "./nats_server.ts";

/** The nats-server harness, and reading compose.yaml and the files it mounts. */
const PERMISSIONS = [...harnessPermissions(), ...COMPOSE_PERMISSIONS];

let parsedCompose: ComposeFile | undefined;

/** compose.yaml, parsed on first use (not at import: reading needs --allow-read). */
function compose(): ComposeFile {
  return parsedCompose ??= parseCompose(readProjectFile("compose.yaml"));
}

/** The NATS services of one profile (`""` = the profile-free default). */
function natsNodes(profile: string): [string, ComposeService][] {
  return Object.entries(compose().services).filter(([, s]) =>
    s.image.startsWith("nats:") && (s.profiles?.[0] ?? "") === profile
  );
}

/** The project-relative config file of a NATS service (`--config FILE`). */
function confFile(service: ComposeService): string {
  return projectPath(service, service.command[2]);
}

/** The config file the profile's data_manager loads. */
function publisherConfigFile(profile: string): string {
  const [, service] = Object.entries(compose().services).find(([name, s]) =>
    name.startsWith("data_manager") && (s.profiles?.[0] ?? "") === profile
  )!;
  const file = service.command[service.command.indexOf("--config") + 1];
  return projectPath(service, join(service.working_dir ?? "", file));
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Replaces `from` in whichever of `files` holds it; it must occur exactly once over all of them. */
function moveOnce(files: Map<string, string>, from: string, to: string): void {
  const holders = [...files].filter(([, text]) => text.includes(from));
  assert.equal(holders.length, 1, `"${from}" in one shipped file`);
  const [name, text] = holders[0];
  assert.equal(text.split(from).length, 2, `"${from}" once in ${name}`);
  files.set(name, text.replace(from, to));
}

interface Node {
  name: string;
  url: string;
  monitor: string;
  process: Deno.ChildProcess;
}

/** Starts the profile's nodes from loopback copies of their shipped configs. */
async function startProfile(profile: string, dir: string): Promise<Node[]> {
  const nodes = natsNodes(profile).map(([name, service]) => ({
    name,
    service,
    conf: parseNatsConf(confFile(service), readProjectFile),
    ports: { client: freePort(), http: freePort(), cluster: freePort() },
  }));
  const started: Node[] = [];
  for (const { name, service, conf, ports } of nodes) {
    const files = new Map<string, string>();
    for (const entry of Deno.readDirSync(join(PROJECT_ROOT, "config/nats"))) {
      files.set(entry.name, readProjectFile(`config/nats/${entry.name}`));
    }
    moveOnce(
      files,
      `listen: ${conf.listen}`,
      `listen: 127.0.0.1:${ports.client}`,
    );
    moveOnce(files, `http: ${conf.http}`, `http: 127.0.0.1:${ports.http}`);
    const storeDir = (conf.jetstream as NatsConf).store_dir;
    moveOnce(
      files,
      `store_dir: ${storeDir}`,
      `store_dir: "${join(dir, name)}"`,
    );
    const cluster = conf.cluster as NatsConf | undefined;
    if (cluster) {
      moveOnce(
        files,
        `listen: ${cluster.listen}`,
        `listen: 127.0.0.1:${ports.cluster}`,
      );
      const routePort = listenPort(cluster.listen);
      for (const other of nodes) {
        moveOnce(
          files,
          `nats-route://${other.name}:${routePort}`,
          `nats-route://127.0.0.1:${other.ports.cluster}`,
        );
      }
    }
    const confDir = join(dir, `${name}-conf`);
    await Deno.mkdir(confDir);
    for (const [file, text] of files) {
      await Deno.writeTextFile(join(confDir, file), text);
    }
    const process = new Deno.Command(findNatsServer(), {
      args: ["--config", join(confDir, service.command[2].split("/").pop()!)],
      env: service.environment ?? {},
      stdout: "null",
      stderr: "piped",
    }).spawn();
    started.push({
      name,
      url: `nats://127.0.0.1:${ports.client}`,
      monitor: `http://127.0.0.1:${ports.http}`,
      process,
    });
  }
  return started;
}

async function healthy(node: Node): Promise<boolean> {
  try {
    const res = await fetch(`${node.monitor}/healthz`);
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

async function stopAll(nodes: Node[]): Promise<string[]> {
  const logs: string[] = [];
  for (const node of nodes) {
    try {
      node.process.kill("SIGTERM");
    } catch {
      // already exited
    }
    const output = await node.process.output();
    logs.push(new TextDecoder().decode(output.stderr));
  }
  return logs;
}

async function monitor(node: Node, path: string): Promise<NatsConf> {
  return await (await fetch(`${node.monitor}${path}`)).json();
}

gatedTest({
  name: "nats-server -t accepts every config compose.yaml mounts",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    const services = Object.values(compose().services).filter((s) =>
      s.image.startsWith("nats:")
    );
    assert.equal(services.length, 4);
    for (const service of services) {
      const file = join(PROJECT_ROOT, confFile(service));
      const { code, stderr } = await new Deno.Command(findNatsServer(), {
        args: ["-t", "-c", file],
        env: service.environment ?? {},
        stdout: "null",
        stderr: "piped",
      }).output();
      const message = new TextDecoder().decode(stderr);
      assert.equal(code, 0, message);
      assert.match(message, /configuration file .* is valid/);
    }
  },
});

for (const [profile, size] of [["", 1], ["cluster", 3]] as const) {
  gatedTest({
    name: `${
      profile || "default"
    } profile: the shipped NATS configs run, and the stream gets ${size} replica(s)`,
    permissions: PERMISSIONS,
    reason: OWN_SERVER_REASON,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "marketbus-compose-" });
      const nodes = await startProfile(profile, dir);
      let passed = false;
      try {
        assert.deepEqual(
          nodes.map((n) => n.name),
          profile ? ["nats-1", "nats-2", "nats-3"] : ["nats"],
        );
        const deadline = Date.now() + 20_000;
        while (!(await Promise.all(nodes.map(healthy))).every(Boolean)) {
          assert.ok(Date.now() < deadline, "nodes healthy within 20 s");
          await new Promise((r) => setTimeout(r, 100));
        }
        for (const node of nodes) {
          const varz = await monitor(node, "/varz");
          assert.equal(varz.server_name, node.name);
          const cluster = varz.cluster as NatsConf;
          assert.equal(cluster.name, profile ? "marketbus" : undefined);
        }
        const config = await loadConfig(
          join(PROJECT_ROOT, publisherConfigFile(profile)),
          { env: {} },
        );
        const jetstream = config.transport.nats.jetstream;
        assert.equal(jetstream.replicas, size);
        const nc = await connect({
          servers: nodes.map((n) => n.url),
          noAsyncTraces: true,
        });
        try {
          // no_advertise: clients learn no other addresses than their config's
          assert.equal(nc.info?.connect_urls, undefined);
          // A cluster just formed may take its first R3 stream past the 5 s
          // default API timeout while its routes settle (seen in CI under load).
          const jsm = await jetstreamManager(nc, { timeout: 30_000 });
          const { log } = captureLog();
          assert.equal(await ensureStream(jsm, jetstream, { log }), "created");
          const info = await jsm.streams.info(jetstream.streamName);
          assert.equal(info.config.num_replicas, size);
          assert.equal(info.config.storage, jetstream.storage);
          // explicit in the file: no 100MB default budget per symbol
          assert.equal(info.config.max_msgs_per_subject, -1);
          if (size > 1) {
            const names = nodes.map((n) => n.name);
            assert.ok(names.includes(info.cluster?.leader ?? ""));
            assert.deepEqual(
              [
                info.cluster!.leader,
                ...info.cluster!.replicas!.map((r) => r.name),
              ]
                .sort(),
              names,
            );
          }
        } finally {
          await nc.close();
        }
        passed = true;
      } finally {
        const logs = await stopAll(nodes);
        await Deno.remove(dir, { recursive: true });
        if (!passed) console.error(logs.join("\n").slice(-4000));
      }
    },
  });
}
