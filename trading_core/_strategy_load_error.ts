/**
 * The errors of loading a strategy module: {@linkcode StrategyLoadError} and
 * the one-line messages that say what was wrong with the file (unreadable,
 * missing, not compiling, throwing while loading).
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** A strategy module could not be read, compiled or did not export a strategy. */
export class StrategyLoadError extends Error {
  /** The strategy path as given. */
  readonly path: string;

  /** An error about the strategy at `path`. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StrategyLoadError";
    this.path = path;
  }
}

const READ_HINT =
  "deno task live and deno task backtest read strategies only under strategies/";
const RUN_HINT =
  "run trading_core/main.ts (live) or trading_core/backtest/main.ts (backtest) with --allow-read=config,strategies,";

/** `path` quoted for a message. */
export function quote(path: string): string {
  return JSON.stringify(path);
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** `error` as one line, without terminal colours. */
export function errorText(error: unknown): string {
  const text = error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
  return text.replace(ANSI, "");
}

/**
 * Deno 2.9 reports a dynamic import it may not read, a missing module and a
 * syntax error all as a TypeError (code ERR_MODULE_NOT_FOUND); the message
 * tells them apart. `at` is where the strategy `path` resolved to: its
 * absolute `file` and the `url` imported.
 */
export function importError(
  path: string,
  error: unknown,
  at: { file: string; url: string },
): StrategyLoadError {
  const { file, url } = at;
  const message = error instanceof Error ? error.message.replace(ANSI, "") : "";
  const denied = /^Requires read access to "([^"]+)"/.exec(message);
  if (denied) {
    const blocked = denied[1];
    return new StrategyLoadError(
      path,
      blocked === file
        ? `Cannot read strategy ${quote(path)}: ${READ_HINT}; ` +
          `put the strategy under strategies/, or ${RUN_HINT}${path}`
        : `Cannot read ${quote(blocked)}, imported by strategy ${
          quote(path)
        }: ${READ_HINT} and the modules it loaded itself; ` +
          `import project modules with \`import type\` only and keep helpers under strategies/, ` +
          `or ${RUN_HINT}${blocked}`,
      { cause: error },
    );
  }
  if (message.startsWith(`Module not found "${url}"`)) {
    return new StrategyLoadError(
      path,
      `Strategy file not found: ${quote(path)} (looked for ${file})`,
      { cause: error },
    );
  }
  const compile = message.startsWith("Module not found") ||
    message.startsWith("SyntaxError");
  return new StrategyLoadError(
    path,
    compile
      ? `Strategy ${quote(path)} does not compile${compileWhere(message)}: ${
        message.split("\n")[0].trim()
      }`
      : `Strategy ${quote(path)} threw while loading: ${errorText(error)}`,
    { cause: error },
  );
}

/**
 * Where a compile error is, from the `    at file:///…:L:C` line Deno ends
 * its message with: ` at /abs/file.ts:L:C`, or "" when there is none. The
 * error stays one line; the code frame Deno draws is left out.
 */
function compileWhere(message: string): string {
  const at = /^\s+at (file:\/\/\S+?):(\d+):(\d+)\s*$/m.exec(message);
  if (!at) return "";
  let file = at[1];
  try {
    file = fileURLToPath(file);
  } catch {
    // not a file URL after all: quote it as it came
  }
  return ` at ${file}:${at[2]}:${at[3]}`;
}
