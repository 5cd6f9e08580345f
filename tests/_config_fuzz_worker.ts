/// <reference lib="deno.worker" />
/**
 * The config-loader fuzz loop, run in a worker so that the test can stop a
 * loader that never returns. Receives `{ seed, ms, files }`; posts
 * `{ type: "iteration", i }` before each case (the test's hang detector),
 * then `{ type: "done", … }` or `{ type: "failure", i, message }`.
 *
 * @module
 */

import type { Config, ConfigError } from "../common/config/mod.ts";
import { parseConfig } from "../common/config/mod.ts";
import {
  checkRefusal,
  checkRingNames,
  configCase,
  corpusOf,
} from "./_config_fuzz_cases.ts";
import { fuzzFor } from "./_fuzz.ts";

/** What the test sends. */
export interface FuzzRequest {
  seed: number;
  ms: number;
  files: string[];
}

/** Counts of a finished run. */
export interface FuzzDone {
  type: "done";
  iterations: number;
  loaded: number;
  /** ConfigErrors past the TOML syntax check: the validators were reached. */
  refusedValues: number;
  refusedToml: number;
}

/** Every message the worker posts. */
export type FuzzMessage =
  | { type: "iteration"; i: number }
  | FuzzDone
  | { type: "failure"; i: number; message: string };

self.onmessage = async (event: MessageEvent<FuzzRequest>) => {
  const { seed, ms, files } = event.data;
  const corpus = corpusOf(files);
  const done: FuzzDone = {
    type: "done",
    iterations: 0,
    loaded: 0,
    refusedValues: 0,
    refusedToml: 0,
  };
  let current = 0;
  try {
    done.iterations = await fuzzFor(ms, (random, i) => {
      current = i;
      self.postMessage({ type: "iteration", i } satisfies FuzzMessage);
      const input = configCase(random, corpus);
      let config: Config;
      try {
        config = parseConfig(input.text, {
          file: "fuzz.toml",
          env: input.env,
          overrides: input.overrides,
        });
      } catch (error) {
        checkRefusal(error, input.secret);
        if ((error as ConfigError).problems[0].startsWith("Invalid TOML")) {
          done.refusedToml++;
        } else done.refusedValues++;
        return;
      }
      checkRingNames(config);
      done.loaded++;
    }, { seed });
    self.postMessage(done satisfies FuzzMessage);
  } catch (error) {
    self.postMessage(
      {
        type: "failure",
        i: current,
        message: error instanceof Error ? error.message : String(error),
      } satisfies FuzzMessage,
    );
  }
};
