/**
 * Real `serve` and `live` processes for the monitoring tests, and the metric
 * names their /metrics carry: the NATS pipeline as compose runs it (`serve
 * --nats --no-ipc`, `live --nats`), and the ring (`serve --nats` with its
 * rings, `live` on the ring, `live --catch-up`), on a nats-server of their
 * own, so the names the rules and dashboard use are checked against what
 * the roles export rather than a hand-made list.
 *
 * @module
 */

import { delay } from "../common/runtime/delay.ts";
import { gatedTest, harnessPermissions } from "./_permissions.ts";
import {
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";
import { freePort, waitUntil } from "./_metrics_scrape.ts";
import { startNatsServer } from "./nats_server.ts";

/** The symbols both pipelines carry. */
export const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
/** The ring pipeline's `transport.ipc.capacity` (not the default, so the gauge is seen to follow it). */
export const RING_CAPACITY = 4096;

/** Spawning the roles and nats-server, their temp files, their endpoints on loopback; the yaml package reads LOG_TOKENS and LOG_STREAM. */
export const MONITORING_ROLE_PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
  { name: "net", host: "127.0.0.1" },
  { name: "env", variable: "LOG_TOKENS" },
  { name: "env", variable: "LOG_STREAM" },
];

/** The metric names (sample names: `_bucket`, `_sum`, `_count` apart) the roles export. */
export interface RoleNames {
  /** Every role of both pipelines. */
  all: ReadonlySet<string>;
  /** The NATS pipeline as compose runs it. */
  compose: ReadonlySet<string>;
  /** `marketbus_ring_capacity_trades` of the ring `live`, per symbol. */
  ringCapacities: number[];
}

/** The sample names of an exposition text. */
export function sampleNames(text: string): Set<string> {
  return new Set(
    text.split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => line.split(/[{ ]/)[0]),
  );
}

/** `/metrics` on `port` once it has a sample of every one of `names`. */
async function metricsWith(port: number, names: string[]): Promise<string> {
  return await waitUntil(`${names} on :${port}/metrics`, async () => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    const text = await response.text();
    const have = sampleNames(text);
    return names.every((name) => have.has(name)) ? text : undefined;
  }, { timeoutMs: 60_000 });
}

/** A role started with `--metrics-port` on a free port. */
function role(
  which: "serve" | "live",
  config: RoleConfig,
  args: string[],
): { process: RoleProcess; port: number } {
  const port = freePort();
  const process = new RoleProcess(which, config, [
    ...args,
    "--metrics-port",
    String(port),
  ]);
  return { process, port };
}

/** The values of `name` in an exposition text, in order. */
function values(text: string, name: string): number[] {
  return text.split("\n")
    .filter((line) =>
      line.startsWith(`${name}{`) || line.startsWith(`${name} `)
    )
    .map((line) => Number(line.split(" ").at(-1)));
}

/**
 * Registers a test that starts both pipelines, waits until each role
 * exports the families it is there for, and hands `check` their names.
 */
export function startRoles(
  name: string,
  check: (roles: RoleNames) => void | Promise<void>,
): void {
  gatedTest({
    name,
    permissions: MONITORING_ROLE_PERMISSIONS,
    async fn() {
      await using server = await startNatsServer();
      const nats = { url: server.url };
      await using composeConfig = await roleConfig({ symbols: SYMBOLS, nats });
      await using ringConfig = await roleConfig({
        symbols: SYMBOLS,
        capacity: RING_CAPACITY,
        nats,
      });
      const rate = ["--rate", "200"];
      const roles = {
        serveNats: role("serve", composeConfig, [
          "--nats",
          "--no-ipc",
          ...rate,
        ]),
        liveNats: role("live", composeConfig, ["--nats"]),
        serveRing: role("serve", ringConfig, ["--nats", ...rate]),
        liveRing: role("live", ringConfig, []),
        liveCatchUp: role("live", ringConfig, ["--catch-up", "1m"]),
      };
      try {
        const [serveNats, liveNats, serveRing, liveRing, liveCatchUp] =
          await Promise.all([
            metricsWith(roles.serveNats.port, [
              "marketbus_trades_sent_total",
              "marketbus_nats_publish_ack_latency_seconds_bucket",
            ]),
            metricsWith(roles.liveNats.port, [
              "marketbus_end_to_end_latency_seconds_bucket",
              "marketbus_nats_consumer_pending_messages",
            ]),
            metricsWith(roles.serveRing.port, [
              "marketbus_ring_readers",
              "marketbus_ring_reader_lag_ratio",
            ]),
            metricsWith(roles.liveRing.port, [
              "marketbus_ring_capacity_trades",
            ]),
            metricsWith(roles.liveCatchUp.port, ["marketbus_caught_up"]),
          ]);
        const compose = new Set([
          ...sampleNames(serveNats),
          ...sampleNames(liveNats),
        ]);
        const all = new Set([
          ...compose,
          ...sampleNames(serveRing),
          ...sampleNames(liveRing),
          ...sampleNames(liveCatchUp),
        ]);
        await check({
          all,
          compose,
          ringCapacities: values(liveRing, "marketbus_ring_capacity_trades"),
        });
      } finally {
        for (const { process } of Object.values(roles)) process.kill("SIGINT");
        await delay(0);
        for (const { process } of Object.values(roles)) {
          await process.finish(10_000);
        }
      }
    },
  });
}
