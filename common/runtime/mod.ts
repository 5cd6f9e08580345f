/**
 * What every role process runs on: the system clocks, timers and the event
 * loop yield, logging and the status line, progress lines, shutdown signals,
 * number formatting, and the command-line runner both roles share.
 *
 * @module
 */

// Clocks: the wall clock to the nanosecond and a monotonic one.
export { type ClockReading, monotonicNanos, readWallClock } from "./clock.ts";
// Timers: an abortable delay, an abort as a promise, one turn of the event loop.
export { delay, whenAborted, yieldToEventLoop } from "./delay.ts";
// Logging: text or JSON lines, a warning at most once per period, and the
// terminal status line that log lines print above.
export {
  createLogger,
  type LogFields,
  type Logger,
  type LoggerOptions,
} from "./log.ts";
export { RateLimitedLog } from "./rate_limited_log.ts";
export { StatusLine } from "./status_line.ts";
// Number formatting for progress lines and summaries.
export {
  ellipsize,
  formatBytes,
  formatCount,
  formatNanos,
  formatRate,
  plainDecimal,
} from "./format.ts";
// A role's output: progress lines, the recent trade rate, shutdown signals.
export {
  type ProgressContext,
  type ProgressLine,
  type ProgressOptions,
  type ProgressReport,
  type RoleOutput,
  roleOutput,
  startProgress,
} from "./progress.ts";
export { FlowWatch } from "./flow_watch.ts";
// Listening for HTTP: one line for an address that cannot be bound.
export {
  HttpListenError,
  listenHttp,
  type ListenHttpOptions,
  urlHost,
} from "./http_listen.ts";
export {
  type Shutdown,
  type ShutdownOptions,
  shutdownSignal,
} from "./shutdown.ts";
// The command line both roles share: flags, usage text and the runner.
export {
  configToJson,
  type FlagMapping,
  LOG_FLAGS_HELP,
  metricsPortHelp,
  natsUrlHelp,
  parseRoleArgs,
  type RoleArgs,
  type RoleCommand,
  type RoleFlag,
  type RoleUsage,
  roleUsage,
  runRole,
  splitList,
  toNumber,
} from "./cli.ts";
