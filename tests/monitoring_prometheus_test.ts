// A real Prometheus on the monitoring profile's own config and rules, made
// fast (1 s scrapes; every rule window and `for:` scaled by 1/5, from the
// committed files), scraping real roles on a real nats-server: the NATS
// pipeline as compose runs it (`serve --nats --no-ipc`, `live --nats`), the
// ring pipeline (`serve --nats`, `live` on the ring, `live --catch-up`) and a
// `live --nats` that never connects. Through its HTTP API: every query of
// every dashboard panel and variable has data (the ring's and catch-up's
// too), polled until the rates are there; the catch-up's history connection,
// closed once caught up, is not reported; nothing fires but the unreachable
// live's MarketbusNatsDisconnected; then both pipelines' `live` are
// SIGSTOPped and MarketbusTargetDown, MarketbusStaleData (NATS: no other
// consumer) and MarketbusRingLagHigh (ring: data_manager's view of the
// stopped reader) fire, and nothing for the catch-up; SIGCONT and they are
// scraped again.

import assert from "node:assert/strict";
import { delay } from "../common/runtime/delay.ts";
import {
  dashboardPanels,
  readDashboard,
  runnable,
  templateExprs,
} from "./_grafana_dashboard.ts";
import {
  MonitoredPipelines,
  type MonitoredRole,
  MONITORING_ROLE_PERMISSIONS,
  type RoleName,
  SYMBOLS,
} from "./_monitoring_roles.ts";
import { waitUntil } from "./_metrics_scrape.ts";
import {
  prometheusYml,
  scaledRuleFiles,
  scrapeIntervalMs,
} from "./_prometheus_rules.ts";
import { type ApiAlert, PrometheusServer } from "./_prometheus_server.ts";
import { toolTest } from "./_prometheus_tools.ts";

/** The test's scrape and evaluation interval, ms. */
const INTERVAL_MS = 1000;

/** A static target group of prometheus.yml. */
interface TargetGroup {
  targets: string[];
  labels: { pipeline: string; service: string };
}

/**
 * The committed prometheus.yml with the test's intervals and its job
 * `marketbus` only: its compose groups pointed at the NATS pipeline's roles
 * (by their `service` label) on 127.0.0.1, and a group for each other role,
 * labelled as {@linkcode MonitoredRole} says. The cluster's DNS job and
 * Prometheus's own are left out.
 */
function testConfig(
  roles: Readonly<Record<RoleName, MonitoredRole>>,
): Record<string, unknown> {
  const config = prometheusYml();
  const interval = `${INTERVAL_MS / 1000}s`;
  config.global = {
    scrape_interval: interval,
    scrape_timeout: interval,
    evaluation_interval: interval,
  };
  const job = config.scrape_configs.find((j) => j.job_name === "marketbus") as {
    static_configs: TargetGroup[];
  };
  const target = (role: MonitoredRole) => `127.0.0.1:${role.port}`;
  const all = Object.values(roles);
  for (const group of job.static_configs) {
    const role = all.find((r) =>
      r.pipeline === "compose" && r.service === group.labels.service
    );
    assert.ok(role, `no compose role for service ${group.labels.service}`);
    group.targets = [target(role)];
  }
  for (const role of all.filter((r) => r.pipeline !== "compose")) {
    job.static_configs.push({
      targets: [target(role)],
      labels: { pipeline: role.pipeline, service: role.service },
    });
  }
  config.scrape_configs = [job];
  return config;
}

/** Polls `probe` every 250 ms until it returns something, within `timeoutMs`. */
function poll<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  return waitUntil(what, async () => {
    const result = await probe();
    if (result === undefined) await delay(250);
    return result;
  }, { timeoutMs });
}

/** Every query of every dashboard panel and variable, made runnable, with what it is. */
function dashboardQueries(): { what: string; expr: string }[] {
  const board = readDashboard();
  return [
    ...dashboardPanels(board).flatMap((panel) =>
      panel.targets.map((target) => ({
        what: `"${panel.title}" ${target.refId}`,
        expr: runnable(target.expr, INTERVAL_MS),
      }))
    ),
    ...templateExprs(board).map((expr) => ({
      what: "variable",
      expr: runnable(expr, INTERVAL_MS),
    })),
  ];
}

toolTest(
  "a real Prometheus on the committed config and rules (scaled to 1 s) over the NATS pipeline, the ring pipeline with a live --catch-up, and a live --nats that never connects: data in every dashboard panel and variable; the caught-up catch-up's history connection not reported; only the unreachable live's MarketbusNatsDisconnected while healthy; both live SIGSTOPped → MarketbusTargetDown, MarketbusStaleData (NATS), MarketbusRingLagHigh (ring, data_manager's view) fire, nothing for the catch-up; SIGCONT → scraped again",
  async () => {
    const factor = INTERVAL_MS / scrapeIntervalMs();
    await using pipelines = await MonitoredPipelines.start();
    const { roles } = pipelines;
    await using prometheus = await PrometheusServer.start(
      testConfig(roles),
      scaledRuleFiles(factor),
    );
    const started = performance.now();
    const seconds = (from = started) =>
      ((performance.now() - from) / 1000).toFixed(1);
    const instance = (name: RoleName) => `127.0.0.1:${roles[name].port}`;
    const count = (what: string, expr: string, n: number, timeoutMs = 30_000) =>
      poll(what, async () => {
        const result = await prometheus.query(expr);
        return result.length === n ? result : undefined;
      }, timeoutMs);

    const all = Object.keys(roles).length;
    await count("every role scraped", 'up{job="marketbus"} == 1', all);

    // Every panel (the ring's and the catch-up's too) and variable has data:
    // polled, as a rate needs two scrapes in its window and a rule
    // evaluation after them.
    const queries = dashboardQueries();
    let empty: string[] = [];
    await poll("data in every dashboard query", async () => {
      empty = [];
      for (const { what, expr } of queries) {
        const result = await prometheus.query(expr);
        if (result.length === 0) empty.push(`${what}: ${expr}`);
      }
      return empty.length === 0 ? true : undefined;
    }, 40_000).catch(() => {
      assert.deepEqual(empty, [], "dashboard queries with no data");
    });
    console.log(`${queries.length} queries with data after ${seconds()} s`);

    // The catch-up switched: its history's connection, closed on purpose,
    // is no longer reported (a 0 left behind would be "disconnected").
    const catchUp = `instance="${instance("liveCatchUp")}"`;
    await count(
      "live --catch-up caught up",
      `marketbus_caught_up{${catchUp}} == 1`,
      SYMBOLS.length,
    );
    await count(
      "the catch-up's marketbus_nats_connected gone once caught up",
      `marketbus_nats_connected{${catchUp}}`,
      0,
      10_000,
    );

    // Healthy: nothing fires or is pending but the unreachable live's
    // NatsDisconnected (and a target down pending on a slow scrape).
    const unreachable = (a: ApiAlert) =>
      a.labels.alertname === "MarketbusNatsDisconnected" &&
      a.labels.instance === instance("liveUnreachable");
    const unexpected = (alerts: ApiAlert[]) =>
      alerts.filter((a) =>
        !unreachable(a) &&
        !(a.state === "pending" && a.labels.alertname === "MarketbusTargetDown")
      );
    let seen: ApiAlert[] = [];
    await poll("no alert while all is well", async () => {
      seen = unexpected(await prometheus.alerts());
      return seen.length === 0 ? true : undefined;
    }, 20_000).catch(() => {
      assert.deepEqual(seen, [], "alerts while all is well");
    });

    // Both live stop: their targets go down; the NATS streams, which no
    // other consumer reads, go stale; the ring reader falls behind, which
    // only data_manager can tell. The catch-up still reads the ring.
    const stoppedAt = performance.now();
    roles.liveNats.process.kill("SIGSTOP");
    roles.liveRing.process.kill("SIGSTOP");
    const expected: [string, (a: ApiAlert) => boolean][] = [
      ...(["liveNats", "liveRing"] as const).map((name) =>
        [
          `MarketbusTargetDown ${name}`,
          (a: ApiAlert) =>
            a.labels.alertname === "MarketbusTargetDown" &&
            a.labels.instance === instance(name),
        ] as [string, (a: ApiAlert) => boolean]
      ),
      ...SYMBOLS.flatMap((symbol) =>
        [
          [
            `MarketbusStaleData compose ${symbol}`,
            (a: ApiAlert) =>
              a.labels.alertname === "MarketbusStaleData" &&
              a.labels.pipeline === "compose" && a.labels.symbol === symbol,
          ],
          [
            `MarketbusRingLagHigh ring ${symbol} (live's reader)`,
            (a: ApiAlert) =>
              a.labels.alertname === "MarketbusRingLagHigh" &&
              a.labels.pipeline === "ring" && a.labels.symbol === symbol &&
              a.labels.pid === String(roles.liveRing.process.pid),
          ],
        ] as [string, (a: ApiAlert) => boolean][]
      ),
      ["MarketbusNatsDisconnected (never connected)", unreachable],
    ];
    let firing: ApiAlert[] = [];
    try {
      await poll("the alerts to fire", async () => {
        firing = (await prometheus.alerts()).filter((a) =>
          a.state === "firing"
        );
        return expected.every(([, is]) => firing.some(is)) ? true : undefined;
      }, 45_000).catch(() => {
        const missing = expected.filter(([, is]) => !firing.some(is));
        assert.fail(
          `not firing: ${missing.map(([name]) => name).join(", ")}; firing: ${
            JSON.stringify(firing.map((a) => a.labels))
          }`,
        );
      });
      console.log(
        `firing ${seconds(stoppedAt)} s after SIGSTOP: ${
          firing.map((a) =>
            `${a.labels.alertname} ${a.labels.pipeline} ${
              a.labels.symbol ?? a.labels.service
            }`
          ).join(", ")
        }`,
      );
      const other = firing.filter((a) => !expected.some(([, is]) => is(a)));
      assert.deepEqual(other.map((a) => a.labels), [], "firing besides");
    } finally {
      roles.liveNats.process.kill("SIGCONT");
      roles.liveRing.process.kill("SIGCONT");
    }
    await count(
      "both live scraped again",
      `up{instance=~"${instance("liveNats")}|${instance("liveRing")}"} == 1`,
      2,
    );
    console.log(`done after ${seconds()} s`);
  },
  { tools: ["prometheus"], permissions: MONITORING_ROLE_PERMISSIONS },
);
