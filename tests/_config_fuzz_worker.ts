/**
 * The fuzz target of the config loader, run in a worker by
 * config_fuzz_test.ts through tests/_fuzz_worker.ts, so that the test can
 * stop a loader that never returns. Made from the shipped config files the
 * test passes; each case must load (and name its rings) or be refused with
 * a ConfigError of one-line problems that never print a secret. Tallies
 * each case as a {@linkcode ConfigOutcome}.
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
import { serveFuzzTargetOf } from "./_fuzz_worker.ts";

/**
 * How a case ended: loaded, refused for its values (a ConfigError past the
 * TOML syntax check: the validators were reached), or refused as invalid
 * TOML.
 */
export type ConfigOutcome = "loaded" | "refused values" | "invalid TOML";

serveFuzzTargetOf((files: string[]) => {
  const corpus = corpusOf(files);
  return (random, count) => {
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
      const toml = (error as ConfigError).problems[0].startsWith(
        "Invalid TOML",
      );
      const outcome: ConfigOutcome = toml ? "invalid TOML" : "refused values";
      count(outcome);
      return;
    }
    checkRingNames(config);
    count("loaded" satisfies ConfigOutcome);
  };
});
