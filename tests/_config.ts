/**
 * Helpers the config tests (common/config/*_test.ts) share: parse a TOML
 * text as if it were a file, and collect the problems a
 * {@linkcode ConfigError} lists.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConfigError } from "../common/config/error.ts";
import { type LoadConfigOptions, parseConfig } from "../common/config/load.ts";
import type { Config } from "../common/config/types.ts";

/** The file name the helpers give the text. */
export const FILE = "x.toml";
/** How problems name that file. */
export const IN_FILE = `in ${FILE}`;

/** Both roles on NATS (serve publishes to it, live reads it), so the NATS variables apply to both. */
export const BOTH_NATS =
  '[transport.nats]\nenabled = true\n[data_source]\ntype = "nats"\n';

/** Options of the helpers: {@linkcode parseConfig}'s. */
export type TestLoadOptions = LoadConfigOptions & { file?: string };

/** Parses `text` as if it were x.toml, with no NATS variables unless given. */
export function load(
  text: string | undefined,
  options: TestLoadOptions = {},
): Config {
  return parseConfig(text, { file: FILE, env: {}, ...options });
}

/** The problems the ConfigError lists; fails when the text loads. */
export function problemsOf(
  text: string | undefined,
  options: TestLoadOptions = {},
): readonly string[] {
  try {
    load(text, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${error}`);
    assert.ok(error.problems.length > 0);
    return error.problems;
  }
  throw new assert.AssertionError({
    message: "expected a ConfigError, but the configuration loaded",
  });
}

/** The only problem; fails when there is none or several. */
export function problemOf(
  text: string | undefined,
  options: TestLoadOptions = {},
): string {
  const problems = problemsOf(text, options);
  assert.equal(
    problems.length,
    1,
    `expected one problem, got:\n${problems.join("\n")}`,
  );
  return problems[0];
}
