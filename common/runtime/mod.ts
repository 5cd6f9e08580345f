/**
 * What every role process runs on: the system clocks, timers and the event
 * loop yield, logging and the status line, progress lines, shutdown signals,
 * number formatting, and the command-line runner both roles share.
 *
 * @module
 */

export * from "./clock.ts";
export * from "./delay.ts";
export * from "./log.ts";
export * from "./format.ts";
export * from "./shutdown.ts";
export * from "./progress.ts";
export * from "./cli.ts";
