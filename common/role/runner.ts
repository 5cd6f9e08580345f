/**
 * The skeleton both roles run on: the role's output, the shutdown signal
 * (SIGINT/SIGTERM), the `/metrics` + `/healthz` endpoint, progress, the
 * role's work, the clean-up in order, the errors the role expects (one log
 * line each, exit status 1), and the exit status.
 *
 * A role opens its resources in {@linkcode RoleRunnerOptions.open} and hands
 * back its {@linkcode RoleWork}; the runner does the rest:
 *
 * 1. the shutdown signal is installed;
 * 2. the metrics endpoint starts (an address it cannot bind: one line,
 *    {@linkcode RoleWork.release}, exit status 1);
 * 3. progress starts and {@linkcode RoleWork.run} runs until it ends, a
 *    shutdown signal arrives or {@linkcode RoleContext.fail} is called;
 * 4. progress stops, {@linkcode RoleWork.drain} runs (the endpoint still
 *    serves), the endpoint closes, {@linkcode RoleWork.close} runs;
 * 5. {@linkcode RoleWork.report} runs, unless `run` threw an error the role
 *    does not expect;
 * 6. only then are the signal listeners removed: a repeated signal during
 *    the clean-up (`deno task` forwards one too) must not kill the process
 *    half way.
 *
 * @module
 */

import type { LogConfig, MetricsConfig } from "../config/mod.ts";
import {
  type MetricsEndpointOptions,
  type MetricsServer,
  MetricsServerError,
  startMetricsEndpoint,
} from "../metrics/mod.ts";
import type { Logger } from "../runtime/log.ts";
import {
  type ProgressContext,
  type ProgressLine,
  type RoleOutput,
  roleOutput,
  startProgress,
} from "../runtime/progress.ts";
import { shutdownSignal } from "../runtime/shutdown.ts";

/** Says an error a role expects in one line, or returns undefined for any other error. */
export type ErrorLine = (error: unknown) => string | undefined;

/** A class of errors, for {@linkcode errorLine}. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * An {@linkcode ErrorLine} for the instances of `classes`: their message,
 * after `options.prefix`.
 *
 * @example
 * ```ts
 * import { errorLine } from "./runner.ts";
 *
 * const line = errorLine([RangeError], { prefix: "replay: " });
 * line(new RangeError("bad row")); // "replay: bad row"
 * line(new TypeError("bug")); // undefined
 * ```
 */
export function errorLine(
  classes: readonly ErrorClass[],
  options: {
    /** Put before the message. @default {""} */
    prefix?: string;
  } = {},
): ErrorLine {
  const prefix = options.prefix ?? "";
  return (error) =>
    classes.some((type) => error instanceof type)
      ? `${prefix}${(error as Error).message}`
      : undefined;
}

/** A role's `/metrics` and `/healthz`: where, and what they serve. */
export interface RoleMetrics extends Omit<MetricsEndpointOptions, "log"> {
  /** The endpoint's config (port 0: none). */
  config: MetricsConfig;
}

/** How the run went, for the clean-up and the report. */
export interface RunEnd {
  /** `performance.now()` when the run started: after the endpoint, before progress. */
  startedAt: number;
  /** A shutdown signal (SIGINT, SIGTERM or the caller's) arrived. */
  signalled: boolean;
}

/** What a role hands the runner once its resources are open. */
export interface RoleWork {
  /** Its `/metrics` and `/healthz`. */
  metrics: RoleMetrics;
  /** The progress lines, told the seconds since the last ones and what they are for (a terminal's width). */
  progress(seconds: number, context: ProgressContext): ProgressLine[];
  /**
   * The role's work: runs until done, or until `signal` aborts (a shutdown
   * signal, or {@linkcode RoleContext.fail}).
   */
  run(signal: AbortSignal): Promise<void>;
  /**
   * The errors of {@linkcode RoleWork.run} that end the role with one log
   * line and exit status 1, first match first; any other error propagates
   * (after the clean-up).
   */
  expected: readonly ErrorLine[];
  /** Clean-up while the metrics endpoint still serves, e.g. flushing the transports. */
  drain?(end: RunEnd): Promise<void>;
  /** Clean-up once the endpoint closed. */
  close?(): Promise<void>;
  /** The final report, after the clean-up (not after an error the role does not expect). */
  report?(end: RunEnd): void;
  /** Releases what the role opened, saying nothing: the endpoint could not start. */
  release(): Promise<void>;
}

/** The run as a role sees it: its output, and its exit status. */
export interface RoleContext {
  /** The role's logger. */
  readonly log: Logger;
  /** The role's logger and terminal status block. */
  readonly output: RoleOutput;
  /** Stops the run with exit status 1, logging `message` as an error first when given. */
  fail(message?: string): void;
  /** Makes the exit status 1 without stopping the run. */
  setFailed(): void;
}

/** Options of {@linkcode runRoleWork}. */
export interface RoleRunnerOptions {
  /** Logging and the progress interval. */
  log: LogConfig;
  /** Stops the run when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /**
   * Opens the role's resources (before any signal listener exists) and
   * returns its work, or the exit status after saying why it could not.
   */
  open(context: RoleContext): Promise<RoleWork | number>;
}

/**
 * Runs role `role` as the module documentation says and returns its exit
 * status: 0, 1 when the run failed ({@linkcode RoleContext.fail}, an expected
 * error), or what {@linkcode RoleRunnerOptions.open} returned.
 */
export async function runRoleWork(
  role: string,
  options: RoleRunnerOptions,
): Promise<number> {
  const output = roleOutput(role, options.log);
  const { log } = output;
  let status = 0;
  const failed = new AbortController();
  const work = await options.open({
    log,
    output,
    fail(message) {
      if (message !== undefined) log.error(message);
      status = 1;
      failed.abort();
    },
    setFailed() {
      status = 1;
    },
  });
  if (typeof work === "number") return work;
  const shutdown = shutdownSignal({
    signal: options.signal,
    onSignal: (signal) => log.info(`${signal}: stopping`),
  });
  let endpoint: MetricsServer | undefined;
  try {
    const { config, ...endpointOptions } = work.metrics;
    endpoint = startMetricsEndpoint(config, { ...endpointOptions, log });
  } catch (error) {
    if (!(error instanceof MetricsServerError)) throw error;
    log.error(error.message);
    shutdown.dispose();
    await work.release();
    return 1;
  }
  const startedAt = performance.now();
  const end = (): RunEnd => ({
    startedAt,
    signalled: shutdown.signal.aborted,
  });
  const progress = startProgress((s, context) => work.progress(s, context), {
    intervalMs: options.log.progressIntervalMs,
    log,
    status: output.status,
  });
  try {
    try {
      await work.run(AbortSignal.any([shutdown.signal, failed.signal]));
    } catch (error) {
      const line = expectedLine(work.expected, error);
      if (line === undefined) throw error;
      log.error(line);
      status = 1;
    } finally {
      progress.stop();
      await work.drain?.(end());
      await endpoint?.close();
      await work.close?.();
    }
    work.report?.(end());
  } finally {
    // Only now: a repeated signal arriving during the clean-up above must
    // not kill the process half way.
    shutdown.dispose();
  }
  return status;
}

/** The line of the first of `expected` that knows `error` (undefined: none). */
export function expectedLine(
  expected: readonly ErrorLine[],
  error: unknown,
): string | undefined {
  for (const line of expected) {
    const text = line(error);
    if (text !== undefined) return text;
  }
  return undefined;
}
