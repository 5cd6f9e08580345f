/**
 * Fuzzes the config loader for a bounded time (`FUZZ_MS`, default 3 s):
 * the shipped config files with damaged bytes, files generated from every
 * known key with values of every TOML type, random flag overrides and NATS
 * variables. Each input must load or be refused with a ConfigError of
 * one-line problems that never print a secret; any other exception fails,
 * and so does a case that runs for {@linkcode HANG_MS} (the loop runs in a
 * worker, tests/_fuzz_worker.ts, which the test stops). `FUZZ_SEED=<seed>`
 * replays a run; a failure shows the case's input.
 *
 * Needs --allow-read: the worker's module and the config files.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, parseConfig } from "../common/config/mod.ts";
import {
  checkRefusal,
  checkRingNames,
  configCase,
  corpusOf,
} from "./_config_fuzz_cases.ts";
import type { ConfigOutcome } from "./_config_fuzz_worker.ts";
import { mixSeed, seededRandom } from "./_fuzz.ts";
import { fuzzInWorker } from "./_fuzz_worker.ts";
import { READ_PERMISSIONS, testNeeding } from "./_permissions.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** One case taking this long is a hang. */
const HANG_MS = 5000;

const test = testNeeding(READ_PERMISSIONS);

/** The shipped config files: the valid inputs the mutations start from. */
async function shippedConfigs(): Promise<string[]> {
  const dir = join(PROJECT_ROOT, "config");
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".toml")) {
      files.push(await Deno.readTextFile(join(dir, entry.name)));
    }
  }
  assert.ok(files.length > 0, `no .toml file in ${dir}`);
  return files.sort();
}

/** The case of iteration `i`, as the failure message shows it. */
function describeCase(seed: number, i: number, files: string[]): string {
  const input = configCase(seededRandom(mixSeed(seed, i)), corpusOf(files));
  const text = input.text === undefined
    ? "(no file)"
    : JSON.stringify(input.text.slice(0, 2000));
  return `kind ${input.kind}, env ${JSON.stringify(input.env)}, overrides ${
    JSON.stringify(input.overrides)
  }, text ${text}`;
}

/** The checks fail when they must, and a case is the same input every time its seed is. */
function selfCheck(): void {
  assert.throws(
    () => checkRefusal(new TypeError("x"), "s"),
    /not a ConfigError/,
  );
  assert.throws(
    () => checkRefusal(new ConfigError(["a\nb"]), "s"),
    /several lines/,
  );
  assert.throws(
    () => checkRefusal(new ConfigError(["token s3cr3t"]), "s3cr3t"),
    /secret was echoed/,
  );
  checkRefusal(new ConfigError(["one line"]), "s3cr3t");
  const euro = parseConfig(
    '[data_manager]\nsymbols = ["€UR"]\n[transport.ipc]\nenabled = false\n',
  );
  checkRingNames(euro);
  euro.transport.ipc.enabled = true;
  assert.throws(() => checkRingNames(euro), RangeError);
  // A case is the same input every time it is made from the same seed.
  const corpus = corpusOf(['[data_manager]\nsymbols = ["A"]\n']);
  for (let i = 0; i < 50; i++) {
    const a = configCase(seededRandom(mixSeed(7, i)), corpus);
    const b = configCase(seededRandom(mixSeed(7, i)), corpus);
    assert.deepEqual(a, b);
    try {
      parseConfig(a.text, { env: a.env, overrides: a.overrides });
    } catch (error) {
      checkRefusal(error, a.secret);
    }
  }
}

test("config fuzz: random and damaged TOML, flags and NATS variables load or are one-line ConfigErrors, never another exception, never a hang, never a secret", async () => {
  selfCheck();
  const files = await shippedConfigs();
  const { iterations, counts } = await fuzzInWorker(
    new URL("./_config_fuzz_worker.ts", import.meta.url),
    {
      label: "config loader",
      hangMs: HANG_MS,
      data: files,
      describe: (seed, i) => describeCase(seed, i, files),
    },
  );
  const tally = (outcome: ConfigOutcome) => counts[outcome] ?? 0;
  console.log(
    `config fuzz: ${iterations} inputs: ${tally("loaded")} loaded, ${
      tally("refused values")
    } refused for their values, ${tally("invalid TOML")} as invalid TOML`,
  );
  // The generator reaches the validators, not only the TOML parser.
  assert.ok(tally("loaded") > 0, "no input loaded");
  assert.ok(
    tally("refused values") > 0,
    "no input was refused for its values",
  );
});
