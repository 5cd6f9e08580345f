/**
 * Error paths at run time (tests/error_paths_test.ts): replay files that are
 * missing, empty, corrupt, of the wrong format or symbols; a busy or
 * forbidden metrics endpoint, a busy console port; unreachable and forbidden NATS servers and
 * Binance endpoints; garbage feed frames; bad strategies and outputs of
 * `live`.
 *
 * @module
 */

import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { zipSync } from "fflate";
import { FakeBinance } from "./_fake_binance.ts";
import {
  busyPort,
  busyPortFor,
  CLOSED_NATS,
  CSV_ROW,
  type ErrorPath,
  file,
  fixture,
  FORBIDDEN_NATS,
  replay,
  strategy,
} from "./_error_paths.ts";

/** `serve --source replay` of files that cannot be replayed, or publish nothing. */
export const REPLAY_CASES: ErrorPath[] = [
  {
    what: "replay file missing",
    role: "serve",
    args: replay((config) => Promise.resolve(join(config.dir, "none.csv"))),
    code: 1,
    error: /replay: .*none\.csv.*(not found|No such file)/i,
  },
  {
    what: "replay file is a directory",
    role: "serve",
    args: replay((config) => Promise.resolve(config.dir)),
    code: 1,
    error: /replay: .*marketbus_roles_\w+.*directory/i,
  },
  {
    what: "replay file empty",
    role: "serve",
    args: replay((config) => file(config, "BTCUSDT-trades-2024-01-01.csv", "")),
    code: 1,
    error: /replay: .*BTCUSDT-trades-2024-01-01\.csv.*no trade rows/,
  },
  {
    what: "replay zip truncated",
    role: "serve",
    args: replay(async (config) => {
      const csv = await Deno.readFile(
        new URL(
          "./fixtures/replay/BTCUSDT-trades-2024-01-01.csv",
          import.meta.url,
        ),
      );
      const zip = zipSync({ "BTCUSDT-trades-2024-01-01.csv": csv });
      return file(
        config,
        "BTCUSDT-trades-2024-01-01.zip",
        zip.subarray(0, zip.length - 30),
      );
    }),
    code: 1,
    error:
      /replay: Cannot read trade file .*BTCUSDT-trades-2024-01-01\.zip.*: not a zip archive, or a truncated one/,
  },
  {
    what: "replay file of blank lines only",
    role: "serve",
    args: replay((config) =>
      file(config, "BTCUSDT-trades-2024-01-01.csv", "\n\r\n  \n")
    ),
    code: 1,
    error: /replay: .*BTCUSDT-trades-2024-01-01\.csv.*no trade rows/,
  },
  {
    what: "replay file of binary garbage",
    role: "serve",
    args: replay((config) =>
      file(
        config,
        "BTCUSDT-trades-2024-01-01.csv",
        // One line of random bytes, not starting like gzip or a blank.
        crypto.getRandomValues(new Uint8Array(4096)).map((b, i) =>
          i === 0 ? 0xff : b === 0x0a || b === 0x0d ? 0x20 : b
        ),
      )
    ),
    code: 1,
    error: /Invalid trade at .*BTCUSDT-trades-2024-01-01\.csv:1: /,
  },
  {
    what: "replay CSV whose name has no symbol, two symbols configured",
    role: "serve",
    args: replay((config) => file(config, "trades.csv", CSV_ROW)),
    code: 2,
    error:
      /trades\.csv.*data_manager\.replay\.file.*BTCUSDT-trades-2024-01-01\.csv.*data_manager\.symbols.*BTCUSDT, ETHUSDT/,
  },
  {
    what: "replay gzip with a corrupt body",
    role: "serve",
    args: replay((config) =>
      file(
        config,
        "BTCUSDT-trades-2024-01-01.csv.gz",
        new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe]),
      )
    ),
    code: 1,
    error:
      /replay: Cannot read trade file ".*BTCUSDT-trades-2024-01-01\.csv\.gz"/,
  },
  {
    what: "replay gzip truncated",
    role: "serve",
    args: replay((config) => {
      const rows = CSV_ROW.repeat(2000);
      const gz = gzipSync(new TextEncoder().encode(rows));
      return file(
        config,
        "BTCUSDT-trades-2024-01-01.csv.gz",
        gz.subarray(0, gz.length / 2),
      );
    }),
    code: 1,
    error:
      /replay: Cannot read trade file ".*BTCUSDT-trades-2024-01-01\.csv\.gz" after line \d+/,
  },
  {
    what: "replay file named .gz but not gzipped",
    role: "serve",
    args: replay((config) =>
      file(config, "BTCUSDT-trades-2024-01-01.csv.gz", CSV_ROW)
    ),
    code: 1,
    error:
      /replay: Cannot read trade file ".*BTCUSDT-trades-2024-01-01\.csv\.gz"/,
  },
  {
    what: "replay file of an unknown format (HTML)",
    role: "serve",
    args: replay((config) =>
      file(
        config,
        "BTCUSDT-trades-2024-01-01.csv",
        "<html><body>Not Found</body></html>\n",
      )
    ),
    code: 1,
    error:
      /Invalid trade at .*BTCUSDT-trades-2024-01-01\.csv:1: 1 fields found/,
  },
  {
    what: "replay CSV with the wrong columns",
    role: "serve",
    args: replay((config) =>
      file(config, "BTCUSDT-trades-2024-01-01.csv", "1,2,3\n4,5,6\n")
    ),
    code: 1,
    error:
      /Invalid trade at .*BTCUSDT-trades-2024-01-01\.csv:1: 3 fields found/,
  },
  {
    what: "replay CSV with the wrong columns, --on-error skip",
    role: "serve",
    args: replay(
      (config) =>
        file(config, "BTCUSDT-trades-2024-01-01.csv", "1,2,3\n4,5,6\n"),
      ["--on-error", "skip"],
    ),
    code: 1,
    error: /replay: published 0 of 2 rows of .*: 2 bad/,
  },
  {
    what: "replay NDJSON with a missing field",
    role: "serve",
    args: replay((config) =>
      file(config, "session.ndjson", '{"exchange":"binance","symbol":"X"}\n')
    ),
    code: 1,
    error: /Invalid trade at .*session\.ndjson:1: invalid tsEvent/,
  },
  {
    what: "replay of symbols not configured (CSV)",
    role: "serve",
    args: replay(
      (config) => fixture(config, "ETHUSDT-trades-2024-01-02.csv"),
      ["--symbols", "BTCUSDT"],
    ),
    code: 1,
    error:
      /replay: published 0 of 3 rows of .*ETHUSDT-trades-2024-01-02\.csv: every row was of symbols not configured \(ETHUSDT ×3\); configured: BTCUSDT/,
  },
  {
    what: "replay of symbols not configured (NDJSON)",
    role: "serve",
    args: replay(
      (config) => fixture(config, "session.ndjson"),
      ["--symbols", "SOLUSDT"],
    ),
    code: 1,
    error:
      /replay: published 0 of 3 rows of .*session\.ndjson: every row was of symbols not configured \(BTCUSDT ×2, ETHUSDT ×1\); configured: SOLUSDT/,
  },
  {
    what: "replay format unknown in the config",
    role: "serve",
    args: async (config) => {
      await Deno.writeTextFile(
        config.path,
        `${await Deno.readTextFile(
          config.path,
        )}\n[data_manager.replay]\nformat = "parquet"\n`,
      );
      return { args: ["--source", "replay", "--file", config.path] };
    },
    code: 2,
    error: /"parquet".*data_manager\.replay\.format/,
  },
  {
    what: "--file empty",
    role: "serve",
    args: ["--source", "replay", "--file", ""],
    code: 2,
    error: /data_manager\.replay\.file/,
  },
];

/** `serve` meeting a busy port, a forbidden or unreachable server, a garbage feed. */
export const SERVE_RUNTIME_CASES: ErrorPath[] = [
  {
    what: "metrics port busy",
    role: "serve",
    args: busyPort,
    code: 1,
    error:
      /Cannot serve metrics on 127\.0\.0\.1:\d+: address already in use; pick another --metrics-port \(data_manager\.metrics\.port\)/,
  },
  {
    what: "metrics host outside --allow-net",
    role: "serve",
    args: async (config) => {
      await Deno.writeTextFile(
        config.path,
        `${await Deno.readTextFile(
          config.path,
        )}\n[data_manager.metrics]\nhost = "0.0.0.0"\n`,
      );
      return { args: ["--metrics-port", "9464"] };
    },
    code: 1,
    error:
      /Cannot serve metrics on 0\.0\.0\.0:9464: needs --allow-net=0\.0\.0\.0:9464/,
  },
  {
    what: "NATS server unreachable",
    role: "serve",
    args: async (config) => {
      await Deno.writeTextFile(
        config.path,
        `${await Deno.readTextFile(
          config.path,
        )}\n[transport.nats.publish]\nflush_timeout = "1s"\n`,
      );
      return {
        args: ["--no-ipc", "--nats-url", CLOSED_NATS, "--max-trades", "1"],
      };
    },
    code: 1,
    error: /1 trades were not acknowledged by the NATS stream/,
  },
  {
    what: "NATS server outside --allow-net",
    role: "serve",
    args: ["--no-ipc", "--nats-url", FORBIDDEN_NATS],
    code: 1,
    error: /192\.0\.2\.1:4222 is outside this process's network permissions/,
  },
  {
    what: "Binance endpoint outside --allow-net",
    role: "serve",
    args: ["--source", "binance", "--endpoint", "wss://example.com"],
    code: 1,
    error:
      /binance: endpoint wss:\/\/example\.com is outside this process's network permissions: add example\.com:443 to its --allow-net/,
  },
  {
    what: "Binance endpoint unreachable: retries until stopped",
    role: "serve",
    args: ["--source", "binance", "--endpoint", "ws://127.0.0.1:9"],
    code: 0,
    error:
      /WARN .*connection 0 to ws:\/\/127\.0\.0\.1:9\/stream failed \(.+\); reconnecting in \d+ ms/,
    interruptAt: /connection 0 to .* failed/,
  },
  {
    what: "Binance feed of garbage frames: counted, reported, goes on",
    role: "serve",
    args: () => {
      const fake = FakeBinance.start();
      return {
        args: ["--source", "binance", "--endpoint", fake.endpoint],
        during: async () => {
          await fake.waitForAccepted(1);
          fake.send([
            "not json",
            "{}",
            '{"stream":"btcusdt@trade","data":{"e":"trade","p":"x"}}',
            "[1,2,3]",
            '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":-1,"p":"1","q":"1","T":1,"m":true}}',
          ], { everyone: true });
        },
        dispose: () => fake.close(),
      };
    },
    code: 0,
    error: /WARN .*invalid frame: Invalid frame "not json": expected JSON/,
    interruptAt: /invalid frame: Invalid trade id/,
  },
];

/** `live`: bad flag combinations, strategies, outputs, ports and servers. */
export const LIVE_CASES: ErrorPath[] = [
  {
    what: "--durable not a consumer name",
    role: "live",
    args: ["--durable", "a.b"],
    code: 2,
    error:
      /Invalid value "a\.b" at data_source\.nats\.consumer\.durable_name \(from --durable\)/,
  },
  {
    what: "--ipc with --nats",
    role: "live",
    args: ["--ipc", "--nats"],
    code: 2,
    error: /--ipc and --nats conflict/,
  },
  {
    what: "--start-time not a time",
    role: "live",
    args: ["--deliver", "by_start_time", "--start-time", "yesterday"],
    code: 2,
    error:
      /data_source\.nats\.consumer\.start_time \(from --start-time\): invalid time "yesterday"/,
  },
  {
    what: "--record without a name",
    role: "live",
    args: ["--record", ""],
    code: 2,
    error: /--record needs a file name/,
  },
  {
    what: "--record-format unknown",
    role: "live",
    args: ["--record", "data/x.ndjson", "--record-format", "xml"],
    code: 2,
    error: /Invalid --record-format "xml"/,
  },
  {
    what: "--record-format csv for several symbols",
    role: "live",
    args: ["--record", "data/x.csv", "--record-format", "csv"],
    code: 2,
    error:
      /--record-format csv holds one \(exchange, symbol\)'s trades .* reads \d+ symbols/,
  },
  {
    what: "--record-format without --record",
    role: "live",
    args: ["--record-format", "csv"],
    code: 2,
    error: /--record-format needs --record/,
  },
  {
    what: "strategy missing",
    role: "live",
    args: (config) => ({
      args: ["--strategy", join(config.dir, "none.ts")],
    }),
    code: 2,
    error: /Strategy file not found: ".*none\.ts"/,
  },
  {
    what: "strategy does not compile",
    role: "live",
    args: strategy("export default { onTrade( {\n"),
    code: 2,
    error: /Strategy ".*strategy\.ts" does not compile/,
  },
  {
    what: "strategy throws at import",
    role: "live",
    args: strategy('throw new Error("boom at import");\n'),
    code: 2,
    error: /strategy ".*strategy\.ts".*boom at import/i,
  },
  {
    what: "strategy exports no hooks",
    role: "live",
    args: strategy("export default 42;\n"),
    code: 2,
    error: /strategy ".*strategy\.ts"/i,
  },
  {
    what: "--record outside --allow-write",
    role: "live",
    args: (config) => ({ args: ["--record", join(config.dir, "t.ndjson")] }),
    code: 1,
    error: /--record needs write permission for .*t\.ndjson/,
  },
  {
    what: "--record to a directory",
    role: "live",
    writable: true,
    args: (config) => ({ args: ["--record", config.dir] }),
    code: 1,
    error: /marketbus_roles_\w+.*directory/i,
  },
  {
    what: "--record into a missing directory",
    role: "live",
    writable: true,
    args: (config) => ({
      args: ["--record", join(config.dir, "none", "t.ndjson")],
    }),
    code: 1,
    error: /none\/t\.ndjson/,
  },
  {
    what: "--bars-out to a directory",
    role: "live",
    writable: true,
    args: (config) => ({ args: ["--bars-out", config.dir] }),
    code: 1,
    error: /marketbus_roles_\w+.*directory/i,
  },
  {
    what: "--bars-out outside --allow-write",
    role: "live",
    args: (config) => ({ args: ["--bars-out", join(config.dir, "b.ndjson")] }),
    code: 1,
    error: /b\.ndjson/,
  },
  {
    what: "metrics port busy",
    role: "live",
    args: busyPort,
    code: 1,
    error:
      /Cannot serve metrics on 127\.0\.0\.1:\d+: address already in use; pick another --metrics-port \(trading_core\.metrics\.port\)/,
  },
  {
    what: "console port busy",
    role: "live",
    args: () => busyPortFor("--console-port"),
    code: 1,
    error:
      /Cannot serve the console on 127\.0\.0\.1:\d+: address already in use; pick another --console-port \(trading_core\.console\.port\)/,
  },
  {
    what: "NATS server outside --allow-net",
    role: "live",
    args: ["--nats-url", FORBIDDEN_NATS],
    code: 1,
    error: /192\.0\.2\.1:4222 is outside this process's network permissions/,
  },
  {
    what: "NATS server unreachable: retries until stopped",
    role: "live",
    args: ["--nats-url", CLOSED_NATS],
    code: 0,
    error: /not connected yet to nats:\/\/127\.0\.0\.1:9/,
    interruptAt: /not connected yet/,
  },
];
