// compose.yaml against the files it runs (Docker does not run here): the NATS
// server configs it mounts, the marketbus configs the roles load, the pinned
// versions. Each check also runs on mutated copies of the files, so a rename
// or a port changed on one side only is caught.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ComposeFile,
  type ComposeService,
  containerPort,
  isNats,
  isRole,
  listenPort,
  namedVolumeAt,
  type NatsConf,
  parseCompose,
  parseNatsConf,
  projectPath,
  type ProjectReader,
  readProjectFile,
  type RoleService,
  roleService,
} from "./_compose.ts";
import {
  MONITORING_CHECKS,
  MONITORING_MUTATIONS,
  MONITORING_PROFILES,
} from "./_compose_monitoring.ts";
import { COMPOSE_PERMISSIONS, testNeeding } from "./_permissions.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** A test that reads and parses the project's files: skipped, saying why, without those permissions. */
const test = testNeeding(COMPOSE_PERMISSIONS);

/** The services and their profiles; a rename on either side fails. */
const PROFILES: Record<string, string[]> = {
  nats: [],
  data_manager: [],
  trading_core: [],
  "nats-1": ["cluster"],
  "nats-2": ["cluster"],
  "nats-3": ["cluster"],
  "data_manager-cluster": ["cluster"],
  "trading_core-cluster": ["cluster"],
  ...MONITORING_PROFILES,
};

/** Everything the checks look at, read through one reader (mutated in tests). */
class Project {
  readonly read: ProjectReader;
  readonly compose: ComposeFile;

  constructor(read: ProjectReader) {
    this.read = read;
    this.compose = parseCompose(read("compose.yaml"));
  }

  get services(): [string, ComposeService][] {
    return Object.entries(this.compose.services);
  }

  /** NATS server services of the same profiles as `service`, in file order. */
  natsNodes(service: ComposeService): [string, ComposeService][] {
    const profiles = JSON.stringify(service.profiles ?? []);
    return this.services.filter(([, s]) =>
      isNats(s) && JSON.stringify(s.profiles ?? []) === profiles
    );
  }

  /** The config file a NATS service runs with. */
  natsConf(service: ComposeService): NatsConf {
    const [bin, flag, file, ...rest] = service.command;
    assert.deepEqual([bin, flag, rest], ["nats-server", "--config", []]);
    return parseNatsConf(projectPath(service, file), this.read);
  }

  /** The config a role service loads, and its parsed command. */
  role(service: ComposeService): RoleService {
    return roleService(service, this.read);
  }
}

/** The port of the `http://127.0.0.1:PORT/healthz` URL a healthcheck probes. */
function healthPort(service: ComposeService): number {
  const test = service.healthcheck?.test ?? [];
  assert.equal(test[0], "CMD");
  const match = /http:\/\/127\.0\.0\.1:(\d+)\/healthz\b/.exec(test.join(" "));
  assert.ok(match, `expected a /healthz probe in ${JSON.stringify(test)}`);
  return Number(match[1]);
}

/** `$VAR` resolved from the service's environment, as nats-server does. */
function resolveVar(service: ComposeService, value: unknown): unknown {
  return typeof value === "string" && value.startsWith("$")
    ? service.environment?.[value.slice(1)]
    : value;
}

function checkServices(project: Project): void {
  assert.deepEqual(
    Object.fromEntries(
      project.services.map(([name, s]) => [name, s.profiles ?? []]),
    ),
    PROFILES,
  );
}

function checkImages(project: Project): void {
  const nats = /NATS_SERVER_VERSION:-v([\d.]+)\}/.exec(
    project.read("scripts/install_nats_server.sh"),
  )?.[1];
  const deno = /^DENO_VERSION=([\d.]+)$/m.exec(project.read(".ci/run"))?.[1];
  assert.ok(nats && deno, "pinned nats-server and Deno versions not found");
  for (
    const [name, service] of project.services.filter(([, s]) =>
      isNats(s) || isRole(s)
    )
  ) {
    assert.equal(
      service.image,
      isNats(service) ? `nats:${nats}-alpine` : `denoland/deno:debian-${deno}`,
      `image of ${name}`,
    );
  }
}

function checkNatsServers(project: Project): void {
  for (const [name, service] of project.services.filter(([, s]) => isNats(s))) {
    const conf = project.natsConf(service);
    assert.equal(resolveVar(service, conf.server_name), name, "server_name");
    const client = listenPort(conf.listen);
    const http = listenPort(conf.http);
    assert.deepEqual(service.ports?.map(containerPort), [client, http], name);
    assert.equal(healthPort(service), http, `healthcheck of ${name}`);
    const jetstream = conf.jetstream as NatsConf;
    const store = namedVolumeAt(service, String(jetstream.store_dir));
    assert.ok(store, `${name}: no named volume at ${jetstream.store_dir}`);
    const sharing = project.services.filter(([other, s]) =>
      other !== name && s.volumes?.some((v) => v.startsWith(`${store}:`))
    );
    assert.deepEqual(sharing, [], `${name} shares its store volume`);
    checkCluster(project, [name, service], conf);
  }
}

function checkCluster(
  project: Project,
  [name, service]: [string, ComposeService],
  conf: NatsConf,
): void {
  const nodes = project.natsNodes(service);
  const cluster = conf.cluster as NatsConf | undefined;
  if (nodes.length === 1) {
    assert.equal(cluster, undefined, "a single node has no cluster block");
    return;
  }
  assert.ok(cluster, "a node of a cluster needs a cluster block");
  assert.equal(cluster.name, "marketbus");
  assert.equal(cluster.no_advertise, true, "clients keep to their servers");
  // every node lists all of them; nats-server skips the route to itself
  assert.deepEqual(
    cluster.routes,
    nodes.map(([node, s]) =>
      `nats-route://${node}:${
        listenPort((project.natsConf(s).cluster as NatsConf).listen)
      }`
    ),
    `routes of ${name}`,
  );
}

function checkRoles(project: Project): void {
  for (
    const [name, service] of project.services.filter(([, s]) => isRole(s))
  ) {
    const { role, flags, configFile, config } = project.role(service);
    assert.equal(name.split("-")[0], role, `${name} runs ${role}`);
    const main = projectPath(service, `${service.working_dir}/${role}/main.ts`);
    assert.ok(Deno.statSync(join(PROJECT_ROOT, main)).isFile, main);
    const nodes = project.natsNodes(service);
    const servers = nodes.map(([node, s]) =>
      `nats://${node}:${listenPort(project.natsConf(s).listen)}`
    );
    const metrics = role === "data_manager"
      ? config.dataManager.metrics
      : config.tradingCore.metrics;
    if (role === "data_manager") {
      assert.deepEqual(config.transport.nats.servers, servers, name);
      assert.equal(config.transport.nats.enabled, true);
      assert.equal(config.transport.ipc.enabled, false);
      assert.equal(
        config.transport.nats.jetstream.replicas,
        nodes.length,
        `stream replicas of ${name}`,
      );
    } else {
      assert.deepEqual(config.dataSource.nats.connection.servers, servers);
      assert.equal(config.dataSource.type, "nats");
    }
    assert.equal(metrics.host, "0.0.0.0", `${name} listens on every interface`);
    const hosts = servers.map((url) => new URL(url).host);
    assert.deepEqual(flags, [
      "--frozen",
      "--allow-ffi",
      `--allow-read=${configFile}`,
      `--allow-net=${[...hosts, `${metrics.host}:${metrics.port}`].join(",")}`,
    ], `permissions of ${name}`);
    assert.deepEqual(service.ports?.map(containerPort), [metrics.port], name);
    assert.equal(healthPort(service), metrics.port, `healthcheck of ${name}`);
    assert.deepEqual(
      service.depends_on,
      Object.fromEntries(
        nodes.map(([node]) => [node, { condition: "service_healthy" }]),
      ),
      `${name} waits for a healthy NATS`,
    );
    const denoDir = service.environment?.DENO_DIR;
    assert.ok(denoDir && namedVolumeAt(service, denoDir), "DENO_DIR volume");
  }
}

function checkPublisherMatchesConsumer(project: Project): void {
  for (const [name, service] of project.services) {
    if (!name.startsWith("trading_core")) continue;
    const consumer = project.role(service).config.dataSource.nats;
    const publisher = project.role(
      project.compose.services[name.replace("trading_core", "data_manager")],
    ).config.transport.nats.jetstream;
    assert.deepEqual(
      [consumer.streamName, consumer.subjectPrefix],
      [publisher.streamName, publisher.subjectPrefix],
      name,
    );
  }
}

function checkHostPortsAndVolumes(project: Project): void {
  const hostPorts = project.services.flatMap(([, s]) =>
    (s.ports ?? []).map((p) => p.split(":")[1])
  );
  assert.equal(new Set(hostPorts).size, hostPorts.length, "host port clash");
  const used = new Set(
    project.services.flatMap(([, s]) =>
      (s.volumes ?? []).map((v) => v.split(":")[0]).filter((v) =>
        !/^[./]/.test(v)
      )
    ),
  );
  assert.deepEqual(
    [...used].sort(),
    Object.keys(project.compose.volumes).sort(),
  );
}

/** The cluster's role config is the default one but for servers and replicas. */
function checkConfigTwins(project: Project): void {
  const [single, cluster] = ["data_manager", "data_manager-cluster"].map(
    (name) => {
      const { config } = project.role(project.compose.services[name]);
      config.file = undefined;
      config.transport.nats.servers = [];
      config.transport.nats.jetstream.replicas = 0;
      config.dataSource.nats.connection.servers = [];
      return config;
    },
  );
  assert.deepEqual(cluster, single);
}

const CHECKS = {
  "services and profiles": checkServices,
  "images pinned to the project's versions": checkImages,
  "NATS servers: config, ports, healthcheck, store volume, routes":
    checkNatsServers,
  "roles: config, servers, replicas, permissions, metrics, depends_on":
    checkRoles,
  "publisher and consumer agree on the stream": checkPublisherMatchesConsumer,
  "host ports unique, named volumes declared": checkHostPortsAndVolumes,
  "cluster config differs only in servers and replicas": checkConfigTwins,
  ...MONITORING_CHECKS,
};

function checkAll(read: ProjectReader): void {
  const project = new Project(read);
  for (const check of Object.values(CHECKS)) check(project);
}

for (const [name, check] of Object.entries(CHECKS)) {
  test(`compose.yaml: ${name}`, () => check(new Project(readProjectFile)));
}

/** One file changed on one side only, and what must catch it. */
const MUTATIONS: { file: string; from: string; to: string; error: RegExp }[] = [
  {
    file: "compose.yaml",
    from: "\n  nats-3:\n",
    to: "\n  nats-4:\n",
    error: /nats-4/,
  },
  {
    file: "compose.yaml",
    from: '"127.0.0.1:8222:8222"',
    to: '"127.0.0.1:8222:8223"',
    error: /: nats\n[^]*8223/,
  },
  {
    file: "config/nats/nats.conf",
    from: "listen: 0.0.0.0:4222",
    to: "listen: 0.0.0.0:4333",
    error: /: nats\n[^]*4333/,
  },
  {
    file: "config/nats/nats.conf",
    from: "store_dir: /data",
    to: "store_dir: /store",
    error: /no named volume at \/store/,
  },
  {
    file: "config/nats/cluster.conf",
    from: "    nats-route://nats-3:6222\n",
    to: "",
    error: /routes of nats-1/,
  },
  {
    file: "config/compose_cluster.toml",
    from: "replicas = 3",
    to: "replicas = 1",
    error: /stream replicas of data_manager-cluster/,
  },
  {
    file: "config/compose.toml",
    from: "port = 9465",
    to: "port = 9475",
    error: /permissions of trading_core[^]*9475/,
  },
  {
    file: "compose.yaml",
    from: "--allow-net=nats:4222,0.0.0.0:9464",
    to: "--allow-net=nats,0.0.0.0:9464",
    error: /permissions of data_manager/,
  },
  {
    file: "compose.yaml",
    from: '"127.0.0.1:9467:9465"',
    to: '"127.0.0.1:9465:9465"',
    error: /host port clash/,
  },
  {
    file: "compose.yaml",
    from: "      nats-3:\n        condition: service_healthy\n",
    to: "",
    error: /waits for a healthy NATS/,
  },
  {
    file: "compose.yaml",
    from: "denoland/deno:debian-2.9.6",
    to: "denoland/deno:debian-2.9.5",
    error: /2\.9\.6/,
  },
  ...MONITORING_MUTATIONS,
];

for (const { file, from, to, error } of MUTATIONS) {
  test(`compose.yaml: catches ${file} ${JSON.stringify(from.trim())} → ${JSON.stringify(to.trim())}`, () => {
    const original = readProjectFile(file);
    assert.equal(original.split(from).length, 2, `"${from}" once in ${file}`);
    const mutated = original.replace(from, to);
    assert.throws(
      () => checkAll((path) => path === file ? mutated : readProjectFile(path)),
      error,
    );
  });
}
