/**
 * The checks of compose.yaml's `monitoring` profile, run by
 * tests/compose_test.ts with its other checks (and on its mutated copies):
 * Prometheus and Grafana pinned to exact versions, published on 127.0.0.1
 * only, every file they mount there, Prometheus scraping exactly the roles'
 * services on their metrics ports, and Grafana's datasource pointing at the
 * Prometheus service with its scrape interval and the uid the dashboard uses.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import {
  type ComposeFile,
  type ComposeService,
  containerPort,
  globFiles,
  isRole,
  projectPath,
  type ProjectReader,
  roleMetricsPort,
} from "./_compose.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** What the checks read: compose.yaml parsed, and the reader of every other file. */
export interface ComposeProject {
  /** compose.yaml, parsed. */
  readonly compose: ComposeFile;
  /** Reads a project file (mutated in tests). */
  readonly read: ProjectReader;
}

/** The monitoring services and their profiles. */
export const MONITORING_PROFILES: Record<string, string[]> = {
  prometheus: ["monitoring"],
  grafana: ["monitoring"],
};

/** A scrape job of prometheus.yml (the keys the project uses). */
interface ScrapeJob {
  job_name: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
  relabel_configs?: {
    source_labels?: string[];
    target_label: string;
    replacement?: string;
  }[];
}

/** prometheus.yml (the keys the project uses). */
export interface PrometheusConfig {
  /** Intervals, e.g. `scrape_interval: 5s`. */
  global: Record<string, string>;
  /** Rule file globs, relative to the config's folder. */
  rule_files: string[];
  /** The scrape jobs. */
  scrape_configs: ScrapeJob[];
}

function service(project: ComposeProject, name: string): ComposeService {
  const found = project.compose.services[name];
  assert.ok(found, `compose.yaml has no service ${name}`);
  return found;
}

/** The value of `--flag=value` in a command. */
function flagValue(command: string[], flag: string): string {
  const found = command.find((arg) => arg.startsWith(`${flag}=`));
  assert.ok(found, `expected ${flag}=… in ${JSON.stringify(command)}`);
  return found.slice(flag.length + 1);
}

/** The port Prometheus listens on in its container. */
function prometheusPort(project: ComposeProject): number {
  const address = flagValue(
    service(project, "prometheus").command,
    "--web.listen-address",
  );
  return Number(address.split(":").at(-1));
}

/** The project path of the Prometheus config the `prometheus` service runs. */
export function prometheusConfigPath(project: ComposeProject): string {
  const prometheus = service(project, "prometheus");
  return projectPath(
    prometheus,
    flagValue(prometheus.command, "--config.file"),
  );
}

/** The Prometheus config the `prometheus` service runs, parsed. */
export function prometheusConfig(project: ComposeProject): PrometheusConfig {
  return parse(project.read(prometheusConfigPath(project)));
}

function checkImages(project: ComposeProject): void {
  assert.match(
    service(project, "prometheus").image,
    /^prom\/prometheus:v\d+\.\d+\.\d+$/,
    "prometheus: an exact version tag",
  );
  assert.match(
    service(project, "grafana").image,
    /^grafana\/grafana:\d+\.\d+\.\d+$/,
    "grafana: an exact version tag",
  );
}

function checkPorts(project: ComposeProject): void {
  // Every published port of every service: 127.0.0.1 only.
  for (const [, s] of Object.entries(project.compose.services)) {
    for (const mapping of s.ports ?? []) containerPort(mapping);
  }
  assert.deepEqual(
    service(project, "prometheus").ports?.map(containerPort),
    [prometheusPort(project)],
    "prometheus publishes its --web.listen-address port",
  );
  const grafana = service(project, "grafana");
  assert.deepEqual(
    grafana.ports?.map(containerPort),
    [Number(grafana.environment?.GF_SERVER_HTTP_PORT ?? 3000)],
    "grafana publishes its http port",
  );
}

function checkMounts(project: ComposeProject): void {
  for (const name of Object.keys(MONITORING_PROFILES)) {
    for (const mount of service(project, name).volumes ?? []) {
      const [source, , mode] = mount.split(":");
      if (!source.startsWith(".")) continue;
      assert.equal(mode, "ro", `${name} mounts ${source} read-only`);
      try {
        Deno.statSync(join(PROJECT_ROOT, source));
      } catch {
        assert.fail(`${name} mounts ${source}, which is not in the project`);
      }
    }
  }
  const config = prometheusConfig(project);
  const folder = dirname(prometheusConfigPath(project));
  const rules = config.rule_files.flatMap((glob) => {
    try {
      return globFiles(join(folder, glob));
    } catch {
      return [];
    }
  });
  assert.ok(rules.length > 0, `rule_files ${config.rule_files} match nothing`);
  const grafana = service(project, "grafana");
  const home = grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
  assert.ok(home, "grafana: a home dashboard");
  JSON.parse(project.read(projectPath(grafana, home)));
  for (const provider of dashboardProviders(project)) {
    const dir = projectPath(grafana, provider.options.path);
    assert.ok(
      globFiles(join(dir, "*.json")).length > 0,
      `dashboards in ${dir}`,
    );
  }
}

/** The dashboard providers Grafana is given (provisioning/dashboards/*.yml). */
function dashboardProviders(
  project: ComposeProject,
): { options: { path: string } }[] {
  const dir = projectPath(
    service(project, "grafana"),
    "/etc/grafana/provisioning/dashboards",
  );
  return globFiles(join(dir, "*.yml")).flatMap((file) =>
    parse(project.read(file)).providers
  );
}

/** The datasources Grafana is given (provisioning/datasources/*.yml). */
export function grafanaDatasources(
  project: ComposeProject,
): {
  uid: string;
  type: string;
  url: string;
  jsonData?: Record<string, string>;
}[] {
  const dir = projectPath(
    service(project, "grafana"),
    "/etc/grafana/provisioning/datasources",
  );
  return globFiles(join(dir, "*.yml")).flatMap((file) =>
    parse(project.read(file)).datasources
  );
}

/** The role services of compose.yaml with the given profiles, as `service:metricsPort`. */
function roleTargets(project: ComposeProject, profiles: string[]): string[] {
  return Object.entries(project.compose.services)
    .filter(([, s]) =>
      isRole(s) &&
      JSON.stringify(s.profiles ?? []) === JSON.stringify(profiles)
    )
    .map(([name, s]) => `${name}:${roleMetricsPort(s, project.read)}`);
}

function checkScrapeTargets(project: ComposeProject): void {
  const jobs = new Map(
    prometheusConfig(project).scrape_configs.map((job) => [job.job_name, job]),
  );
  const compose = jobs.get("marketbus");
  assert.deepEqual(
    compose?.static_configs?.map((group) => [group.targets, group.labels]),
    roleTargets(project, []).map((target) => [[target], {
      pipeline: "compose",
      service: target.split(":")[0],
    }]),
    "targets of job marketbus: the default pipeline's roles",
  );
  const cluster = jobs.get("marketbus-cluster");
  assert.deepEqual(
    cluster?.dns_sd_configs?.map((sd) => `${sd.names.join()}:${sd.port}`),
    roleTargets(project, ["cluster"]),
    "targets of job marketbus-cluster: the cluster profile's roles, by DNS",
  );
  assert.ok(cluster?.dns_sd_configs?.every((sd) => sd.type === "A"));
  assert.deepEqual(
    cluster?.relabel_configs?.find((r) => r.target_label === "pipeline")
      ?.replacement,
    "cluster",
    "job marketbus-cluster labels its targets pipeline=cluster",
  );
}

function checkGrafana(project: ComposeProject): void {
  const sources = grafanaDatasources(project);
  assert.equal(sources.length, 1, "one datasource");
  const [source] = sources;
  assert.equal(source.type, "prometheus");
  assert.equal(
    source.url,
    `http://prometheus:${prometheusPort(project)}`,
    "grafana's datasource url: the prometheus service and port",
  );
  assert.equal(
    source.jsonData?.timeInterval,
    prometheusConfig(project).global.scrape_interval,
    "grafana's timeInterval is prometheus.yml's scrape_interval",
  );
  const grafana = service(project, "grafana");
  assert.ok(
    service(project, "prometheus").healthcheck,
    "prometheus: a healthcheck",
  );
  assert.equal(
    grafana.depends_on?.prometheus?.condition,
    "service_healthy",
    "grafana starts once prometheus is healthy",
  );
  const home = grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
  const uids = new Set(
    JSON.stringify(JSON.parse(project.read(projectPath(grafana, home!))))
      .match(/"uid":"[^"]*"/g)
      ?.map((m) => m.slice(7, -1))
      .filter((uid) => uid !== "-- Grafana --" && uid !== "marketbus"),
  );
  assert.deepEqual([...uids], [source.uid], "the dashboard's datasource uid");
  const env = grafana.environment ?? {};
  if (env.GF_AUTH_ANONYMOUS_ENABLED === "true") {
    assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE, "Viewer", "anonymous: Viewer");
  }
  assert.match(
    env.GF_SECURITY_ADMIN_PASSWORD ?? "",
    /^\$\{GRAFANA_ADMIN_PASSWORD(:-[^}]*)?\}$/,
    "the admin password comes from GRAFANA_ADMIN_PASSWORD",
  );
}

/** The checks, by name (tests/compose_test.ts adds them to its own). */
export const MONITORING_CHECKS: Record<
  string,
  (project: ComposeProject) => void
> = {
  "monitoring: images pinned to exact versions": checkImages,
  "monitoring: ports on 127.0.0.1 only, the ones Prometheus and Grafana listen on":
    checkPorts,
  "monitoring: every mounted file and folder exists, read-only; rules and dashboards found":
    checkMounts,
  "monitoring: Prometheus scrapes exactly the roles' services on their metrics ports":
    checkScrapeTargets,
  "monitoring: Grafana's datasource is the Prometheus service, at its scrape interval, the dashboard's uid; anonymous read-only; started once Prometheus is healthy":
    checkGrafana,
};

/** One file changed on one side only, and what must catch it. */
export const MONITORING_MUTATIONS: {
  file: string;
  from: string;
  to: string;
  error: RegExp;
}[] = [
  {
    file: "compose.yaml",
    from: "prom/prometheus:v2.55.1",
    to: "prom/prometheus:latest",
    error: /exact version tag/,
  },
  {
    file: "compose.yaml",
    from: '"127.0.0.1:3000:3000"',
    to: '"3000:3000"',
    error: /127\.0\.0\.1:HOST:CONTAINER/,
  },
  {
    file: "compose.yaml",
    from: "--web.listen-address=0.0.0.0:9090",
    to: "--web.listen-address=0.0.0.0:9091",
    error: /listen-address port/,
  },
  {
    file: "compose.yaml",
    from: "./config/grafana/dashboards:/etc/grafana/dashboards:ro",
    to: "./config/grafana/dashboard:/etc/grafana/dashboards:ro",
    error: /not in the project/,
  },
  {
    file: "compose.yaml",
    from: "./config/prometheus:/etc/prometheus:ro",
    to: "./config/prometheus:/etc/prometheus",
    error: /read-only/,
  },
  {
    file: "compose.yaml",
    from: "condition: service_healthy # ready",
    to: "condition: service_started # ready",
    error: /once prometheus is healthy/,
  },
  {
    file: "compose.yaml",
    from: "GF_AUTH_ANONYMOUS_ORG_ROLE: Viewer",
    to: "GF_AUTH_ANONYMOUS_ORG_ROLE: Editor",
    error: /Viewer/,
  },
  {
    file: "config/prometheus/prometheus.yml",
    from: '"trading_core:9465"',
    to: '"trading_core:9475"',
    error: /targets of job marketbus:/,
  },
  {
    file: "config/prometheus/prometheus.yml",
    from: 'names: ["data_manager-cluster"]',
    to: 'names: ["data_manager"]',
    error: /targets of job marketbus-cluster/,
  },
  {
    file: "config/prometheus/prometheus.yml",
    from: "  - rules/*.yml",
    to: "  - rule/*.yml",
    error: /match nothing/,
  },
  {
    file: "config/grafana/provisioning/datasources/prometheus.yml",
    from: "url: http://prometheus:9090",
    to: "url: http://prometheus:9091",
    error: /datasource url/,
  },
  {
    file: "config/grafana/provisioning/datasources/prometheus.yml",
    from: "timeInterval: 5s",
    to: "timeInterval: 15s",
    error: /timeInterval/,
  },
  {
    file: "config/grafana/provisioning/datasources/prometheus.yml",
    from: "uid: marketbus-prometheus",
    to: "uid: prometheus",
    error: /datasource uid/,
  },
];
