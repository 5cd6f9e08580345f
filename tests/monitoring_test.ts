// The monitoring profile's Prometheus config, rules and Grafana dashboard:
// promtool check config / check rules / test rules on the committed files;
// every alert has a promtool test where it fires and a near miss where it
// does not, and those tests fail once the rule is broken (never firing,
// looser threshold, shorter `for:`); every range window is at least 4 scrape
// intervals; and the metric names the rules and the dashboard use are those
// real `serve` and `live` processes export (ring, NATS and catch-up), read
// from their /metrics, with the panels the NATS-only compose pipeline leaves
// empty saying so. tests/monitoring_prometheus_test.ts runs a real Prometheus
// on them.

import assert from "node:assert/strict";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { readProjectFile } from "./_compose.ts";
import { dashboardProblems } from "./_dashboard_checks.ts";
import {
  DASHBOARD_FILE,
  dashboardPanels,
  emptyUnderCompose,
  readDashboard,
  templateExprs,
} from "./_grafana_dashboard.ts";
import {
  caughtUp,
  MonitoredPipelines,
  MONITORING_ROLE_PERMISSIONS,
  RING_CAPACITY,
  type RoleName,
} from "./_monitoring_roles.ts";
import { valuesBy } from "./_metrics_scrape.ts";
import { COMPOSE_PERMISSIONS, gatedTest, testNeeding } from "./_permissions.ts";
import {
  allRules,
  PROMETHEUS_DIR,
  recordingRules,
  type Rule,
  ruleFiles,
  scrapeIntervalMs,
} from "./_prometheus_rules.ts";
import { runTool, toolTest } from "./_prometheus_tools.ts";
import {
  durationMs,
  PROMETHEUS_OWN,
  promqlNames,
  rangeWindows,
  resolvedNames,
  scaleWindows,
} from "./_promql.ts";
import type { ParsedExposition } from "./promcheck.ts";

/** Reading the committed files (COMPOSE_PERMISSIONS: read, and the variables the yaml package reads). */
const test = testNeeding(COMPOSE_PERMISSIONS);
const pure = testNeeding([]);

const ALERTS_FILE = `${PROMETHEUS_DIR}/rules/marketbus_alerts.yml`;
const ALERT_TESTS = `${PROMETHEUS_DIR}/tests/marketbus_alerts_test.yml`;
const TEST_FILES = [
  ALERT_TESTS,
  `${PROMETHEUS_DIR}/tests/marketbus_recording_test.yml`,
];

// ------------------------------------------------------------------ promtool

toolTest(
  "promtool check config: config/prometheus/prometheus.yml and its rules",
  async () => {
    const { code, output } = await runTool("promtool", [
      "check",
      "config",
      `${PROMETHEUS_DIR}/prometheus.yml`,
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS: 2 rule files found/);
  },
  { tools: ["promtool"] },
);

toolTest(
  "promtool check rules: every rule file",
  async () => {
    const files = [...ruleFiles().keys()];
    const { code, output } = await runTool("promtool", [
      "check",
      "rules",
      ...files,
    ]);
    assert.equal(code, 0, output);
    assert.equal(output.match(/SUCCESS/g)?.length, files.length, output);
  },
  { tools: ["promtool"] },
);

toolTest(
  "promtool test rules: each alert fires, each near miss stays quiet, the recording rules' values",
  async () => {
    const { code, output } = await runTool("promtool", [
      "test",
      "rules",
      ...TEST_FILES,
    ]);
    assert.equal(code, 0, output);
    assert.equal(output.match(/SUCCESS/g)?.length, TEST_FILES.length, output);
  },
  { tools: ["promtool"] },
);

/** A promtool test group (the keys used). */
interface TestGroup {
  name: string;
  input_series: { series: string; values: string }[];
  alert_rule_test?: {
    eval_time: string;
    alertname: string;
    exp_alerts: unknown[];
  }[];
}

test("every alert has a promtool test where it fires and a near miss (its own group, on every metric the alert reads, evaluated past its for:) where it does not", () => {
  const groups: TestGroup[] = parse(readProjectFile(ALERT_TESTS)).tests;
  const alerts = allRules(ruleFiles()).filter((rule) => rule.alert);
  assert.ok(alerts.length >= 9, "the alerts the issue names, and more");
  for (const alert of alerts) {
    const name = alert.alert!;
    const evals = (group: TestGroup) =>
      (group.alert_rule_test ?? []).filter((t) => t.alertname === name);
    assert.ok(
      groups.some((g) => evals(g).some((t) => t.exp_alerts.length > 0)),
      `${name}: no test where it fires`,
    );
    const near = groups.filter((g) => g.name.startsWith(`${name} near miss`));
    assert.equal(near.length, 1, `${name}: one "${name} near miss" group`);
    const [group] = near;
    assert.ok(evals(group).length > 0, `${name}: the near miss evaluates it`);
    assert.ok(evals(group).every((t) => t.exp_alerts.length === 0));
    const after = durationMs(alert.for ?? "0s");
    assert.ok(
      evals(group).some((t) => durationMs(t.eval_time) >= after + 60_000),
      `${name}: the near miss is evaluated well past its for: (${alert.for})`,
    );
    const input = new Set(
      group.input_series.map((s) => s.series.split("{")[0]),
    );
    const read = promqlNames(alert.expr).filter((n) => !input.has(n));
    assert.deepEqual(read, [], `${name}: the near miss has no series of`);
  }
});

/** A rule broken on purpose, and the test of ALERT_TESTS that must fail then. */
interface Mutation {
  alert: string;
  /** `expr` with `from` replaced by `to` (once), or `for` set. */
  expr?: [from: string, to: string];
  for?: string;
  fails: "fires" | "near miss";
}

const MUTATIONS: Mutation[] = [
  {
    alert: "MarketbusConsumerLosingTrades",
    expr: [
      "increase(marketbus_trades_lost_total[1m])",
      "marketbus_trades_lost_total",
    ],
    fails: "near miss",
  },
  {
    alert: "MarketbusPublisherDroppingTrades",
    expr: [
      "increase(marketbus_nats_rejected_trades_total[1m])",
      "marketbus_nats_rejected_trades_total",
    ],
    fails: "near miss",
  },
  {
    alert: "MarketbusPublisherDroppingTrades",
    expr: [
      "increase(marketbus_dropped_trades_total[1m])",
      "marketbus_dropped_trades_total",
    ],
    fails: "near miss",
  },
  {
    alert: "MarketbusRingLagHigh",
    expr: ["> 0.5", "> 0.45"],
    fails: "near miss",
  },
  { alert: "MarketbusRingLagHigh", for: "10s", fails: "near miss" },
  { alert: "MarketbusNatsDisconnected", for: "30s", fails: "near miss" },
  {
    alert: "MarketbusPublisherRetriesRising",
    expr: ["> 0.1", "> 0.01"],
    fails: "near miss",
  },
  { alert: "MarketbusPublisherRetriesRising", for: "30s", fails: "near miss" },
  {
    alert: "MarketbusCatchUpStuck",
    expr: ["(marketbus_caught_up == 0)\nand", "(marketbus_caught_up == 0)\nor"],
    fails: "near miss",
  },
  { alert: "MarketbusCatchUpStuck", for: "3m", fails: "near miss" },
  {
    alert: "MarketbusCatchUpStuck",
    expr: [
      'or\n  sum by (pipeline, exchange, symbol) (rate(marketbus_trades_received_total{transport="catch_up"}[1m])) > 0\n',
      "",
    ],
    fails: "fires",
  },
  {
    alert: "MarketbusStaleData",
    expr: [
      "(rate(marketbus_trades_sent_total[1m])) > 0)",
      "(rate(marketbus_trades_sent_total[1m])) >= 0)",
    ],
    fails: "near miss",
  },
  {
    alert: "MarketbusStaleData",
    expr: [
      "(rate(marketbus_trades_received_total[1m])) > 0)",
      "(rate(marketbus_trades_received_total[1m])) > 1)",
    ],
    fails: "near miss",
  },
  {
    alert: "MarketbusStaleData",
    expr: [
      "\nand on (pipeline, exchange, symbol)\ncount by (pipeline, exchange, symbol) (last_over_time(marketbus_trades_received_total[15m]))",
      "",
    ],
    fails: "near miss",
  },
  // Another pipeline's streams of the same symbol do not count.
  {
    alert: "MarketbusStaleData",
    expr: [
      "unless on (pipeline, exchange, symbol)",
      "unless on (exchange, symbol)",
    ],
    fails: "fires",
  },
  {
    alert: "MarketbusStaleData",
    expr: [
      "and on (pipeline, exchange, symbol)",
      "and on (exchange, symbol)",
    ],
    fails: "near miss",
  },
  {
    alert: "MarketbusCatchUpStuck",
    expr: [
      "and on (pipeline, exchange, symbol)",
      "and on (exchange, symbol)",
    ],
    fails: "near miss",
  },
  { alert: "MarketbusTargetDown", for: "20s", fails: "near miss" },
  { alert: "MarketbusTargetVanished", for: "1m", fails: "near miss" },
];

/** The alert rules with `mutation` applied, as YAML. */
function mutated(mutation: Mutation): string {
  const file = parse(readProjectFile(ALERTS_FILE));
  const rule: Rule | undefined = file.groups
    .flatMap((g: { rules: Rule[] }) => g.rules)
    .find((r: Rule) => r.alert === mutation.alert);
  assert.ok(rule, `no alert ${mutation.alert}`);
  if (mutation.expr) {
    const [from, to] = mutation.expr;
    assert.equal(
      rule.expr.split(from).length,
      2,
      `"${from}" once in ${rule.expr}`,
    );
    rule.expr = rule.expr.replace(from, to);
  }
  if (mutation.for) rule.for = mutation.for;
  return stringify(file);
}

toolTest(
  "promtool tests catch broken alerts: each never firing (the test where it fires fails), each looser (its near miss fails)",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "marketbus_rules_" });
    try {
      await Deno.mkdir(join(dir, "rules"));
      await Deno.mkdir(join(dir, "tests"));
      const tests = join(dir, "tests", "marketbus_alerts_test.yml");
      const all = parse(readProjectFile(ALERT_TESTS));
      const alerts = allRules(ruleFiles()).filter((r) => r.alert);
      const never: Mutation[] = alerts.map((rule) => ({
        alert: rule.alert!,
        expr: [rule.expr, "vector(1) < 0"],
        fails: "fires",
      }));
      for (const mutation of [...never, ...MUTATIONS]) {
        await Deno.writeTextFile(
          join(dir, "rules", "marketbus_alerts.yml"),
          mutated(mutation),
        );
        // Only the alert's own test groups: the others cannot fail for it.
        const own = all.tests.filter((group: TestGroup) =>
          group.name.startsWith(`${mutation.alert} `)
        );
        await Deno.writeTextFile(tests, stringify({ ...all, tests: own }));
        const { code, output } = await runTool("promtool", [
          "test",
          "rules",
          tests,
        ]);
        const what = `${mutation.alert} ${
          JSON.stringify(mutation.expr ?? mutation.for)
        }`;
        assert.notEqual(code, 0, `${what}: promtool tests still pass`);
        const failed = [...output.matchAll(/^\s+name: (.*),$/gm)].map((m) =>
          m[1]
        );
        assert.ok(
          failed.some((name) =>
            name.startsWith(mutation.alert) &&
            name.includes(
              mutation.fails === "near miss" ? " near miss" : " fires",
            )
          ),
          `${what}: expected its "${mutation.fails}" test to fail; failed: ${
            failed.join("; ")
          }\n${output}`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  { tools: ["promtool"] },
);

/** The alerts of the rule groups the docs suggest (```yaml blocks with `groups:`), by doc. */
function suggestedAlerts(): { doc: string; alert: string; expr: string }[] {
  return ["docs/observability.md", "docs/operations.md"].flatMap((doc) =>
    [...readProjectFile(doc).matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((block) => parse(block[1]))
      .filter((yaml) => Array.isArray(yaml?.groups))
      .flatMap((yaml: { groups: { rules: Rule[] }[] }) =>
        yaml.groups.flatMap((group) => group.rules)
      )
      .flatMap((rule) =>
        rule.alert ? [{ doc, alert: rule.alert, expr: rule.expr }] : []
      )
  );
}

test("the alerts the docs suggest besides the shipped ones repeat none of them (by name, or by a metric a shipped alert reads), nor each other", () => {
  const shipped = allRules(ruleFiles()).filter((rule) => rule.alert);
  const names = new Set(shipped.map((rule) => rule.alert));
  const read = new Set(shipped.flatMap((rule) => promqlNames(rule.expr)));
  const suggested = suggestedAlerts();
  assert.ok(suggested.length >= 5, "the docs' suggested alerts found");
  const repeats = suggested.flatMap(({ doc, alert, expr }) => {
    const same = promqlNames(expr).filter((name) => read.has(name));
    return names.has(alert) || same.length > 0
      ? [`${doc}: ${alert} (${same.join(", ") || "its name"})`]
      : [];
  });
  assert.deepEqual(
    repeats,
    [],
    "suggested alerts that page again for a shipped one",
  );
  const all = suggested.map(({ alert }) => alert);
  assert.deepEqual(
    all.filter((a, i) => all.indexOf(a) !== i),
    [],
    "suggested twice",
  );
});

// --------------------------------------------------------- windows, names

test("every range window of the rules and the dashboard is at least 4 scrape intervals, or Grafana's $__rate_interval", () => {
  const minimum = 4 * scrapeIntervalMs();
  const exprs = [
    ...allRules(ruleFiles()).map((rule) => rule.expr),
    ...dashboardPanels(readDashboard()).flatMap((panel) => panel.exprs),
  ];
  const short = exprs.flatMap((expr) =>
    rangeWindows(expr)
      .filter((w) => w !== "$__rate_interval" && durationMs(w) < minimum)
      .map((w) => `[${w}] in ${expr}`)
  );
  assert.deepEqual(short, [], `windows under ${minimum} ms`);
  assert.ok(exprs.every((expr) => !expr.includes("$__interval")));
});

/** A change to the dashboard JSON (every occurrence), and what the checks must then say. */
const DASHBOARD_MUTATIONS: { from: string; to: string; error: RegExp }[] = [
  {
    from:
      "sum by (le) (pipeline_transport_le:marketbus_end_to_end_latency_seconds_bucket",
    to:
      "sum by (pipeline) (pipeline_transport_le:marketbus_end_to_end_latency_seconds_bucket",
    error: /latency heatmap.*not summed by \(le\)/,
  },
  {
    from: '"format": "heatmap"',
    to: '"format": "time_series"',
    error: /heatmap.*format is not "heatmap"/,
  },
  { from: '"calculate": false', to: '"calculate": true', error: /calculate/ },
  {
    from: '"unit": "s"',
    to: '"unit": "ns"',
    error: /y axis in ns, the buckets in s/,
  },
  {
    from: '"unit": "s"',
    to: '"unit": "ns"',
    error: /p99.*shown in ns, computes s/,
  },
  {
    from: '"unit": "percentunit"',
    to: '"unit": "short"',
    error: /Ring lag \/ capacity.*computes percentunit/,
  },
  {
    from: '"unit": "bytes"',
    to: '"unit": "decbytes"',
    error: /computes bytes/,
  },
  { from: '"unit": "ops"', to: '"unit": "short"', error: /computes ops/ },
  {
    from: '"value": "percentunit"',
    to: '"value": "short"',
    error: /stall.*computes percentunit/,
  },
];

test("the dashboard's heatmaps draw Prometheus's buckets (format heatmap, summed by le, not recalculated, the y axis in the histogram's unit); every query is shown in the unit its metric's name says", () => {
  const recorded = recordingRules(allRules(ruleFiles()));
  const check = (text?: string) =>
    dashboardProblems(dashboardPanels(readDashboard(text)), recorded);
  assert.deepEqual(check(), []);
  const committed = readProjectFile(DASHBOARD_FILE);
  for (const { from, to, error } of DASHBOARD_MUTATIONS) {
    assert.ok(committed.includes(from), `${from} in ${DASHBOARD_FILE}`);
    const problems = check(committed.replaceAll(from, to));
    assert.ok(
      problems.some((problem) => error.test(problem)),
      `${from} → ${to}: expected ${error}, got ${problems.join("; ")}`,
    );
  }
});

pure(
  "promqlNames: metric and recording-rule names only, not functions, labels, keywords or template variables",
  () => {
    assert.deepEqual(
      promqlNames(
        'sum by (pipeline, le) (rate(marketbus_x_bucket{a="b:c", d=~"$v"}[$__rate_interval])) / on (pipeline) group_left (role) level:metric:rate1m offset 5m > 0.5 * marketbus_y or vector(0) unless count(ALERTS{alertname="marketbus_z"}) and time() - up',
      ),
      [
        "ALERTS",
        "level:metric:rate1m",
        "marketbus_x_bucket",
        "marketbus_y",
        "up",
      ],
    );
    assert.deepEqual(
      resolvedNames("a:b + c", new Map([["a:b", "rate(d[1m]) * a:b"]])),
      ["c", "d"],
    );
    assert.equal(
      scaleWindows("rate(x[1m]) + y[15m:30s] + z[$__rate_interval]", 0.2),
      "rate(x[12s]) + y[180s:30s] + z[$__rate_interval]",
    );
  },
);

/** The names an expression uses that none of `exported` has, Prometheus's own aside. */
function unknownNames(
  expr: string,
  recorded: ReadonlyMap<string, string>,
  exported: ReadonlySet<string>,
): string[] {
  return resolvedNames(expr, recorded).filter((name) =>
    !exported.has(name) && !PROMETHEUS_OWN.has(name)
  );
}

/** The sample names of a parsed exposition (a histogram's `_bucket`, `_sum` and `_count`). */
function sampleNames(exposition: ParsedExposition): string[] {
  return Object.entries(exposition.families).flatMap(([name, family]) =>
    family.type === "HISTOGRAM"
      ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
      : [name]
  );
}

/** The metric names the roles export: every role's, and the NATS pipeline's (as compose runs it). */
interface RoleNames {
  all: ReadonlySet<string>;
  compose: ReadonlySet<string>;
}

/** The checks of the dashboard and rules against what the roles export. */
function checkNames(roles: RoleNames): void {
  const rules = allRules(ruleFiles());
  const recorded = recordingRules(rules);
  const problems: string[] = [];
  for (const rule of rules) {
    const unknown = unknownNames(rule.expr, recorded, roles.all);
    if (unknown.length) {
      problems.push(`rule ${rule.alert ?? rule.record}: ${unknown}`);
    }
  }
  const board = readDashboard();
  for (const expr of templateExprs(board)) {
    const unknown = unknownNames(expr, recorded, roles.all);
    if (unknown.length) problems.push(`template ${expr}: ${unknown}`);
  }
  for (const panel of dashboardPanels(board)) {
    const names = panel.exprs.flatMap((expr) => resolvedNames(expr, recorded));
    assert.ok(names.length > 0, `panel "${panel.title}" queries nothing`);
    const unknown = names.filter((n) =>
      !roles.all.has(n) && !PROMETHEUS_OWN.has(n)
    );
    if (unknown.length) problems.push(`panel "${panel.title}": ${unknown}`);
    const notInCompose = names.some((n) =>
      !roles.compose.has(n) && !PROMETHEUS_OWN.has(n)
    );
    if (notInCompose !== emptyUnderCompose(panel)) {
      problems.push(
        `panel "${panel.title}" (row "${panel.row}"): ${
          notInCompose
            ? "empty under the NATS-only compose pipeline but does not say so"
            : "says it is empty under compose, but the NATS pipeline fills it"
        }`,
      );
    }
  }
  assert.deepEqual(problems, [], "names not exported by serve or live");
}

gatedTest({
  name:
    "the rules' and the dashboard's metric names are those real serve and live processes (NATS as in compose, ring, catch-up) export; panels the NATS pipeline leaves empty say so; marketbus_ring_capacity_trades is the ring's capacity; live --catch-up drops its history's marketbus_nats_connected once caught up, a live --nats that never connects reports 0",
  permissions: MONITORING_ROLE_PERMISSIONS,
  async fn() {
    await using pipelines = await MonitoredPipelines.start();
    const ready = await pipelines.ready();
    const names = (roles: RoleName[]) =>
      new Set(roles.flatMap((role) => sampleNames(ready[role])));
    checkNames({
      all: names(Object.keys(ready) as RoleName[]),
      compose: names(["serveNats", "liveNats"]),
    });
    assert.deepEqual(
      Object.values(
        valuesBy(ready.liveRing, "marketbus_ring_capacity_trades", "symbol"),
      ),
      [RING_CAPACITY, RING_CAPACITY],
    );
    // Before its streams switch, the catch-up reads the history over NATS.
    const caught = await pipelines.scrapeUntil(
      "liveCatchUp",
      "every stream caught up",
      caughtUp,
    );
    assert.equal(
      caught.families.marketbus_nats_connected,
      undefined,
      "the history's connection, closed on purpose once every stream is live, is not reported as lost",
    );
    assert.equal(
      caught.families.marketbus_nats_consumer_pending_messages,
      undefined,
    );
    const unreachable = await pipelines.scrape("liveUnreachable");
    assert.deepEqual(
      unreachable.families.marketbus_nats_connected?.metrics.map((m) =>
        m.value
      ),
      [0],
      "a live that never connected reports 0 (MarketbusNatsDisconnected)",
    );
  },
});
