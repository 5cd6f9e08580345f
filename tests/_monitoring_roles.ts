/**
 * Real `serve` and `live` processes for the monitoring tests, on a
 * nats-server of their own: the NATS pipeline as compose runs it (`serve
 * --nats --no-ipc`, `live --nats`), the ring pipeline (`serve --nats` with
 * its rings, `live` on the ring, `live --catch-up`), and a `live --nats`
 * whose server is not there (it never connects). Each has a metrics port
 * and the `pipeline` and `service` labels a scrape config gives it; their
 * `/metrics` is read with the real Prometheus parser (`_metrics_scrape.ts`).
 *
 * @module
 */

import { delay } from "../common/runtime/delay.ts";
import { harnessPermissions } from "./_permissions.ts";
import {
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";
import { freePort, scrape, waitUntil } from "./_metrics_scrape.ts";
import type { ParsedExposition } from "./promcheck.ts";
import { type NatsServer, startNatsServer } from "./nats_server.ts";

/** The symbols both pipelines carry. */
export const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
/**
 * The ring pipeline's `transport.ipc.capacity`: not the default, so the
 * capacity gauge is seen to follow it, and small, so a stopped reader is half
 * a ring behind within seconds.
 */
export const RING_CAPACITY = 1024;
/** Synthetic trades a second of each `serve`. */
const RATE = "200";

/** Spawning the roles and nats-server, their temp files, their endpoints on loopback; the yaml package reads LOG_TOKENS and LOG_STREAM. */
export const MONITORING_ROLE_PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
  { name: "net", host: "127.0.0.1" },
  { name: "env", variable: "LOG_TOKENS" },
  { name: "env", variable: "LOG_STREAM" },
  { name: "env", variable: "PROMCHECK_BIN" },
];

/** The roles, by what they are. */
export type RoleName =
  | "serveNats"
  | "liveNats"
  | "serveRing"
  | "liveRing"
  | "liveCatchUp"
  | "liveUnreachable";

/** A running role, its metrics port and the labels a scrape config gives it. */
export interface MonitoredRole {
  /** The process. */
  readonly process: RoleProcess;
  /** Its `--metrics-port`. */
  readonly port: number;
  /** `compose` (the NATS pipeline), `ring`, or `unreachable`. */
  readonly pipeline: string;
  /** `data_manager` or `trading_core` (`trading_core_catch_up` for `live --catch-up`). */
  readonly service: string;
}

/** The families each role is scraped for until it has them all (ready). */
const READY_FAMILIES: Record<RoleName, string[]> = {
  serveNats: [
    "marketbus_trades_sent_total",
    "marketbus_nats_publish_ack_latency_seconds",
  ],
  liveNats: [
    "marketbus_end_to_end_latency_seconds",
    "marketbus_nats_consumer_pending_messages",
  ],
  serveRing: ["marketbus_ring_readers", "marketbus_ring_reader_lag_ratio"],
  liveRing: ["marketbus_ring_capacity_trades"],
  liveCatchUp: ["marketbus_caught_up"],
  liveUnreachable: ["marketbus_nats_connected"],
};

/** Is every stream of `exposition` caught up (`marketbus_caught_up` 1)? */
export function caughtUp(exposition: ParsedExposition): boolean {
  const streams = exposition.families.marketbus_caught_up?.metrics ?? [];
  return streams.length === SYMBOLS.length &&
    streams.every((stream) => stream.value === 1);
}

/** Both pipelines and the unreachable `live`; disposing stops them all and removes their files. */
export class MonitoredPipelines implements AsyncDisposable {
  /** The roles, by name. */
  readonly roles: Readonly<Record<RoleName, MonitoredRole>>;
  #server: NatsServer;
  #configs: RoleConfig[];

  private constructor(
    server: NatsServer,
    configs: RoleConfig[],
    roles: Record<RoleName, MonitoredRole>,
  ) {
    this.#server = server;
    this.#configs = configs;
    this.roles = roles;
  }

  /** Starts nats-server and the roles (not waiting for them: see {@linkcode ready}). */
  static async start(): Promise<MonitoredPipelines> {
    const server = await startNatsServer();
    const nats = { url: server.url };
    const configs = await Promise.all([
      roleConfig({ symbols: SYMBOLS, nats }),
      roleConfig({ symbols: SYMBOLS, capacity: RING_CAPACITY, nats }),
      // Nothing listens on this port: that live never connects.
      roleConfig({
        symbols: SYMBOLS,
        nats: { url: `nats://127.0.0.1:${freePort()}` },
      }),
    ]);
    const [compose, ring, nowhere] = configs;
    const role = (
      which: "serve" | "live",
      config: RoleConfig,
      labels: { pipeline: string; service: string },
      args: string[],
    ): MonitoredRole => {
      const port = freePort();
      const process = new RoleProcess(which, config, [
        ...args,
        "--metrics-port",
        String(port),
      ]);
      return { process, port, ...labels };
    };
    const rate = ["--rate", RATE];
    const composeDm = { pipeline: "compose", service: "data_manager" };
    const composeTc = { pipeline: "compose", service: "trading_core" };
    const ringDm = { pipeline: "ring", service: "data_manager" };
    const ringTc = { pipeline: "ring", service: "trading_core" };
    const catchUp = { pipeline: "ring", service: "trading_core_catch_up" };
    const none = { pipeline: "unreachable", service: "trading_core" };
    return new MonitoredPipelines(server, configs, {
      serveNats: role("serve", compose, composeDm, [
        "--nats",
        "--no-ipc",
        ...rate,
      ]),
      liveNats: role("live", compose, composeTc, ["--nats"]),
      serveRing: role("serve", ring, ringDm, ["--nats", ...rate]),
      liveRing: role("live", ring, ringTc, []),
      liveCatchUp: role("live", ring, catchUp, ["--catch-up", "1m"]),
      liveUnreachable: role("live", nowhere, none, ["--nats"]),
    });
  }

  /** `/metrics` of role `name`, parsed. */
  scrape(name: RoleName): Promise<ParsedExposition> {
    return scrape(this.roles[name].port);
  }

  /**
   * `/metrics` of role `name` once `until` holds for it (polled every
   * 200 ms: each scrape runs the parser), within 60 s.
   */
  async scrapeUntil(
    name: RoleName,
    what: string,
    until: (exposition: ParsedExposition) => boolean,
  ): Promise<ParsedExposition> {
    return await waitUntil(`${name}: ${what}`, async () => {
      const exposition = await this.scrape(name);
      if (until(exposition)) return exposition;
      await delay(200);
      return undefined;
    }, { timeoutMs: 60_000 });
  }

  /** Each role's `/metrics` once it has the families it is there for. */
  async ready(): Promise<Record<RoleName, ParsedExposition>> {
    const names = Object.keys(READY_FAMILIES) as RoleName[];
    const expositions = await Promise.all(names.map((name) =>
      this.scrapeUntil(
        name,
        `${READY_FAMILIES[name]}`,
        (exposition) =>
          READY_FAMILIES[name].every((family) =>
            (exposition.families[family]?.metrics.length ?? 0) > 0
          ),
      )
    ));
    return Object.fromEntries(
      names.map((name, i) => [name, expositions[i]]),
    ) as Record<RoleName, ParsedExposition>;
  }

  /** Stops every role (SIGINT; SIGCONT first, in case one is stopped), then nats-server, and removes the configs. */
  async [Symbol.asyncDispose](): Promise<void> {
    const all = Object.values(this.roles);
    try {
      for (const { process } of all) process.kill("SIGCONT");
      for (const { process } of all) process.kill("SIGINT");
      await Promise.all(all.map(({ process }) => process.finish(10_000)));
    } finally {
      for (const config of this.#configs) await config[Symbol.asyncDispose]();
      await this.#server[Symbol.asyncDispose]();
    }
  }
}
