/**
 * trading_core's live web console (`[trading_core.console]`): where it
 * listens (off unless a port is set), how often it pushes updates, and the
 * bar intervals it charts when `live` builds no bars of its own.
 *
 * @module
 */

import type { Section } from "./_reader.ts";
import { readHost, readIntervals } from "./_values.ts";
import type { ConsoleConfig } from "./types.ts";

/** The console's default updates per second. */
export const CONSOLE_UPDATES_PER_SECOND = 4;

/** Reads `[trading_core.console]`. */
export function readConsole(section: Section): ConsoleConfig {
  const port = section.has("port")
    ? section.integer("port", 0, { min: 0, max: 65535 })
    : undefined;
  const host = readHost(section);
  const updatesPerSecond = section.integer(
    "updates_per_second",
    CONSOLE_UPDATES_PER_SECOND,
    { min: 1, max: 20 },
  );
  const intervals = readIntervals(section, "intervals");
  section.done();
  return { port, host, updatesPerSecond, intervals };
}
