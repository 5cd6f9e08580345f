/**
 * A real Prometheus (Debian's `/usr/bin/prometheus`, or `PROMETHEUS_BIN`) for
 * tests: started on a free loopback port with a temp config and storage,
 * queried through its HTTP API, stopped and removed on dispose.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify } from "yaml";
import { findTool } from "./_prometheus_tools.ts";
import type { RuleFile } from "./_prometheus_rules.ts";
import { freePort, waitUntil } from "./_metrics_scrape.ts";

/** A series of a query's answer. */
export interface QuerySeries {
  /** Its labels, `__name__` included when it has one. */
  metric: Record<string, string>;
  /** `[time, "value"]`. */
  value: [number, string];
}

/** An alert of `/api/v1/alerts`. */
export interface ApiAlert {
  /** Its labels, `alertname` included. */
  labels: Record<string, string>;
  /** `pending` or `firing`. */
  state: string;
}

/** A running Prometheus; disposing stops it and removes its directory. */
export class PrometheusServer implements AsyncDisposable {
  /** Its API's base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  #child: Deno.ChildProcess;
  #dir: string;
  #output = "";
  #exited: Promise<Deno.CommandStatus>;

  private constructor(dir: string, port: number) {
    this.#dir = dir;
    this.url = `http://127.0.0.1:${port}`;
    this.#child = new Deno.Command(findTool("prometheus")!, {
      args: [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this.#output += text;
      }
    };
    const pumps = Promise.all([
      pump(this.#child.stdout),
      pump(this.#child.stderr),
    ]);
    this.#exited = this.#child.status.then(async (status) => {
      await pumps;
      return status;
    });
  }

  /**
   * Writes `config` (a prometheus.yml object) and `rules` (file name →
   * rule file, under `rules/`) to a temp directory, starts Prometheus on
   * them and waits until it is ready.
   */
  static async start(
    config: Record<string, unknown>,
    rules: Map<string, RuleFile>,
  ): Promise<PrometheusServer> {
    const dir = await Deno.makeTempDir({ prefix: "marketbus_prometheus_" });
    await Deno.mkdir(join(dir, "rules"));
    for (const [name, file] of rules) {
      await Deno.writeTextFile(join(dir, "rules", name), stringify(file));
    }
    await Deno.writeTextFile(join(dir, "prometheus.yml"), stringify(config));
    const server = new PrometheusServer(dir, freePort());
    try {
      await waitUntil("Prometheus ready", async () => {
        const response = await fetch(`${server.url}/-/ready`);
        await response.body?.cancel();
        return response.ok ? true : undefined;
      }, { timeoutMs: 20_000 });
    } catch (error) {
      await server[Symbol.asyncDispose]();
      throw new Error(`${error}; its output:\n${server.#output}`);
    }
    return server;
  }

  /** Everything it printed so far. */
  get output(): string {
    return this.#output;
  }

  /** The series `expr` selects now (an instant query). */
  async query(expr: string): Promise<QuerySeries[]> {
    const response = await fetch(
      `${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    const body = await response.json();
    assert.equal(body.status, "success", `${expr}: ${JSON.stringify(body)}`);
    return body.data.result;
  }

  /** Its alerts now, pending and firing. */
  async alerts(): Promise<ApiAlert[]> {
    const response = await fetch(`${this.url}/api/v1/alerts`);
    const body = await response.json();
    assert.equal(body.status, "success", JSON.stringify(body));
    return body.data.alerts;
  }

  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const killer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, 5000);
    try {
      await this.#exited;
    } finally {
      clearTimeout(killer);
      await Deno.remove(this.#dir, { recursive: true });
    }
  }
}
