// A real Prometheus on the monitoring profile's own config and rules, made
// fast (1 s scrapes; every rule window and `for:` scaled by 1/5, from the
// committed files), scraping real `serve --nats --no-ipc` and `live --nats`
// (the pipeline compose runs) on a real nats-server: its HTTP API shows their
// series and the recording rules, every dashboard panel that is not marked
// empty under compose has data, no alert fires while all is well; then `live`
// is SIGSTOPped and MarketbusTargetDown and MarketbusStaleData fire; SIGCONT
// and it is scraped again.

import assert from "node:assert/strict";
import { parse } from "yaml";
import { readProjectFile } from "./_compose.ts";
import {
  dashboardPanels,
  emptyUnderCompose,
  readDashboard,
  runnable,
} from "./_grafana_dashboard.ts";
import { MONITORING_ROLE_PERMISSIONS, SYMBOLS } from "./_monitoring_roles.ts";
import {
  PROMETHEUS_DIR,
  scaledRuleFiles,
  scrapeIntervalMs,
} from "./_prometheus_rules.ts";
import { type ApiAlert, PrometheusServer } from "./_prometheus_server.ts";
import { toolTest } from "./_prometheus_tools.ts";
import { roleConfig, RoleProcess } from "./_ipc_roles.ts";
import { freePort, waitUntil } from "./_metrics_scrape.ts";
import { startNatsServer } from "./nats_server.ts";

/** The test's scrape and evaluation interval, ms. */
const INTERVAL_MS = 1000;

/**
 * The committed prometheus.yml with the test's intervals, and the job of
 * the default pipeline pointing at `ports` (by its `service` label) on
 * 127.0.0.1; the cluster's DNS job and Prometheus's own are left out.
 */
function testConfig(ports: Record<string, number>): Record<string, unknown> {
  const config = parse(readProjectFile(`${PROMETHEUS_DIR}/prometheus.yml`));
  const interval = `${INTERVAL_MS / 1000}s`;
  config.global = {
    scrape_interval: interval,
    scrape_timeout: interval,
    evaluation_interval: interval,
  };
  const job = config.scrape_configs.find((
    j: { job_name: string },
  ) => j.job_name === "marketbus");
  for (const group of job.static_configs) {
    const port = ports[group.labels.service];
    assert.ok(port, `no port for service ${group.labels.service}`);
    group.targets = [`127.0.0.1:${port}`];
  }
  config.scrape_configs = [job];
  return config;
}

toolTest(
  "a real Prometheus on the committed config and rules (scaled to 1 s) over serve --nats and live --nats: their series, the recording rules, data in every panel compose fills, no alert while healthy; live SIGSTOPped → MarketbusTargetDown and MarketbusStaleData fire; SIGCONT → scraped again",
  async () => {
    const factor = INTERVAL_MS / scrapeIntervalMs();
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: SYMBOLS,
      nats: { url: server.url },
    });
    const ports = { data_manager: freePort(), trading_core: freePort() };
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "200",
      "--metrics-port",
      String(ports.data_manager),
    ]);
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--metrics-port",
      String(ports.trading_core),
    ]);
    await using prometheus = await PrometheusServer.start(
      testConfig(ports),
      scaledRuleFiles(factor),
    );
    const started = performance.now();
    const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

    // Both roles scraped; their series and the recording rules there.
    const wait = (what: string, expr: string, count: number) =>
      waitUntil(what, async () => {
        const result = await prometheus.query(expr);
        return result.length === count ? result : undefined;
      }, { timeoutMs: 30_000 });
    await wait("both roles up", 'up{job="marketbus"} == 1', 2);
    await wait(
      "data_manager's trades sent, per symbol",
      'marketbus_trades_sent_total{service="data_manager", pipeline="compose", transport="nats"} > 0',
      SYMBOLS.length,
    );
    await wait(
      "trading_core's receive rate, per symbol (a recording rule)",
      'pipeline_transport_stream:marketbus_trades_received:rate1m{pipeline="compose", transport="nats"} > 0',
      SYMBOLS.length,
    );
    await wait(
      "the end-to-end p99 (a recording rule over the histogram)",
      'pipeline_transport:marketbus_end_to_end_latency_seconds:p99_1m{pipeline="compose"} > 0',
      1,
    );
    await wait(
      "the NATS consumer's backlog",
      'marketbus_nats_consumer_pending_messages{service="trading_core"}',
      1,
    );
    console.log(`series and recording rules there after ${seconds()} s`);

    // Every panel compose fills has data.
    const empty: string[] = [];
    const panels = dashboardPanels(readDashboard());
    for (const panel of panels) {
      if (emptyUnderCompose(panel)) continue;
      for (const expr of panel.exprs) {
        const result = await prometheus.query(runnable(expr, INTERVAL_MS));
        if (result.length === 0) empty.push(`"${panel.title}": ${expr}`);
      }
    }
    assert.deepEqual(empty, [], "dashboard queries with no data");

    // Healthy: once live receives (a stream it has not received from yet is
    // stale data pending), nothing fires, and nothing but a target down (a
    // scrape slow on a loaded machine) is even pending.
    const unexpected = (alerts: ApiAlert[]) =>
      alerts.filter((a) =>
        a.state === "firing" || a.labels.alertname !== "MarketbusTargetDown"
      );
    let seen: ApiAlert[] = [];
    await waitUntil("no alert while all is well", async () => {
      seen = unexpected(await prometheus.alerts());
      return seen.length === 0 ? true : undefined;
    }, { timeoutMs: 15_000 }).catch(() => {
      assert.deepEqual(seen, [], "alerts while all is well");
    });

    // live stops (SIGSTOP): its target goes down, its streams go stale.
    const stoppedAt = performance.now();
    live.kill("SIGSTOP");
    try {
      const firing = await waitUntil("the alerts to fire", async () => {
        const now = (await prometheus.alerts()).filter((a) =>
          a.state === "firing"
        );
        const down = now.some((a) =>
          a.labels.alertname === "MarketbusTargetDown" &&
          a.labels.service === "trading_core"
        );
        const stale = SYMBOLS.every((symbol) =>
          now.some((a) =>
            a.labels.alertname === "MarketbusStaleData" &&
            a.labels.symbol === symbol && a.labels.pipeline === "compose"
          )
        );
        return down && stale ? now : undefined;
      }, { timeoutMs: 45_000 });
      console.log(
        `firing ${
          ((performance.now() - stoppedAt) / 1000).toFixed(1)
        } s after SIGSTOP: ${
          firing.map((a) =>
            `${a.labels.alertname} ${a.labels.symbol ?? a.labels.service}`
          )
            .join(", ")
        }`,
      );
      assert.ok(
        firing.every((a) =>
          ["MarketbusTargetDown", "MarketbusStaleData"].includes(
            a.labels.alertname,
          )
        ),
        JSON.stringify(firing),
      );
    } finally {
      live.kill("SIGCONT");
    }
    await wait(
      "trading_core scraped again",
      'up{job="marketbus", service="trading_core"} == 1',
      1,
    );
    console.log(`done after ${seconds()} s`);
    serve.kill("SIGINT");
    live.kill("SIGINT");
    await Promise.all([serve.finish(10_000), live.finish(10_000)]);
  },
  { tools: ["prometheus"], permissions: MONITORING_ROLE_PERMISSIONS },
);
