/**
 * What `deno task live` writes besides its logs: bars and the strategy
 * ({@linkcode TradeProcessing}) and the recording (`--record`), opened before
 * consuming and closed after it, each saying what it wrote.
 *
 * @module
 */

import type { Config, TradingCoreConfig } from "../common/config/mod.ts";
import { formatCount } from "../common/runtime/format.ts";
import { createLogger, type Logger } from "../common/runtime/log.ts";
import type { RoleContext } from "../common/role/mod.ts";
import {
  type OutputFileOptions,
  RecordFileError,
  RecordFileExistsError,
  type RecordFormat,
  TradeRecorder,
} from "./recorder.ts";
import { TradeProcessing } from "./processing.ts";
import { StrategyLoadError } from "./strategy.ts";
import type { Bar } from "./bar.ts";

/** The exchange (undefined: every one) and the symbols (none: every one) read. */
export interface Selection {
  /** The exchange, or undefined for every exchange. */
  exchange: string | undefined;
  /** The symbols; none for every symbol. */
  symbols: string[];
}

/** Bars and the strategy, and the recording: each when used. */
export interface LiveOutputs {
  /** Bars and the strategy. */
  processing: TradeProcessing | undefined;
  /** The `--record` file. */
  recorder: TradeRecorder | undefined;
}

/** Options of {@linkcode openOutputs}. */
export interface OpenOutputsOptions {
  /** What is read, which the outputs follow. */
  selection: Selection;
  /** Record every delivered trade to this file. */
  record?: string;
  /** Format of the recording. */
  recordFormat?: RecordFormat;
  /** Called with each closed bar of the bars `live` builds (the web console's candles). */
  onBar?: (bar: Bar) => void;
}

/**
 * Opens bars, the strategy and the recording, or returns the exit status
 * after saying why it could not (2 for a usage error). A strategy error and
 * a failed write stop the run or only fail it, as the config says.
 */
export async function openOutputs(
  config: Config,
  context: RoleContext,
  options: OpenOutputsOptions,
): Promise<LiveOutputs | number> {
  const files = outputFiles(config, context);
  const processing = await openProcessing(config, context, {
    selection: options.selection,
    files,
    onBar: options.onBar,
  });
  if (typeof processing === "number") return processing;
  const { tradingCore } = config;
  if (tradingCore.strategy !== undefined) {
    context.log.info(`strategy ${tradingCore.strategy}`);
  }
  if (tradingCore.barsOut !== undefined) {
    context.log.info(
      `writing ${
        tradingCore.bars.intervals.join(", ")
      } bars to ${tradingCore.barsOut}`,
    );
  }
  if (tradingCore.fillsOut !== undefined) {
    context.log.info(`writing paper fills to ${tradingCore.fillsOut}`);
  }
  if (options.record === undefined) return { processing, recorder: undefined };
  try {
    const recorder = await TradeRecorder.open(options.record, {
      ...files,
      format: options.recordFormat,
      selection: options.selection,
    });
    context.log.info(`recording to ${options.record} (${recorder.format})`);
    return { processing, recorder };
  } catch (error) {
    if (!(error instanceof RecordFileError || error instanceof TypeError)) {
      throw error;
    }
    await processing?.stop();
    context.log.error(error.message);
    // a format the subscription cannot fill, or an existing file, is a
    // usage error
    const usage = error instanceof RecordFileExistsError ||
      error instanceof TypeError;
    return usage ? 2 : 1;
  }
}

/**
 * --record, --bars-out and --fills-out: an existing file, and a failed write (a full
 * disk), as trading_core.on_existing_file and on_write_error say.
 */
function outputFiles(config: Config, context: RoleContext): OutputFileOptions {
  const { onExistingFile, onWriteError } = config.tradingCore;
  return {
    onExisting: onExistingFile,
    onError: ({ message }) => {
      if (onWriteError === "stop") {
        return context.fail(
          `${message}; stopping (trading_core.on_write_error = "stop")`,
        );
      }
      context.log.error(
        `${message}; consuming continues without it (trading_core.on_write_error = "continue")`,
      );
      context.setFailed();
    },
    onNotice: (message) => context.log.warn(message),
  };
}

/** Bars and the strategy, or the exit status after saying why not. */
async function openProcessing(
  config: Config,
  context: RoleContext,
  options: {
    selection: Selection;
    files: OutputFileOptions;
    onBar?: (bar: Bar) => void;
  },
): Promise<TradeProcessing | undefined | number> {
  const { exchange, symbols } = options.selection;
  try {
    return await TradeProcessing.open(config.tradingCore, {
      exchange: exchange ?? "*",
      symbols,
      strategyLog: createLogger("strategy", {
        ...config.log,
        status: context.output.status,
      }),
      // A strategy bug stops the consumer.
      onStrategyError: (message) => context.fail(message),
      barsFile: options.files,
      fillsFile: options.files,
      onBar: options.onBar,
      log: context.log,
    });
  } catch (error) {
    if (error instanceof StrategyLoadError) {
      context.log.error(error.message);
      return 2;
    }
    if (error instanceof RecordFileError) {
      context.log.error(error.message);
      return error instanceof RecordFileExistsError ? 2 : 1;
    }
    throw error;
  }
}

/**
 * Why a ring durable cannot run with the configured outputs, if so: the
 * recording (`--record`), the bars (`--bars-out`) and the fills
 * (`--fills-out`) buffer up to 1 s, and
 * a kill -9 would lose what its stored position already passed.
 */
export function durableOutputs(
  config: Config,
  options: { record?: string },
): string | undefined {
  const name = config.dataSource.ipc.durableName;
  if (name === undefined) return undefined;
  const outputs = [
    options.record === undefined ? [] : ["--record"],
    config.tradingCore.barsOut === undefined
      ? []
      : ["--bars-out (trading_core.bars_out)"],
    config.tradingCore.fillsOut === undefined
      ? []
      : ["--fills-out (trading_core.fills_out)"],
  ].flat();
  if (outputs.length === 0) return undefined;
  return `${
    outputs.join(" and ")
  } cannot be used with --ring-durable ${name} (data_source.ipc.durable_name): the recording, the bars and the fills are flushed up to 1 s late, and a kill would lose what the stored position already passed; leave ${
    outputs.length > 1 ? "them" : "it"
  } out, or read without a ring durable`;
}

/** Stops bars and the strategy and closes the recording, saying what each wrote. */
export async function closeOutputs(
  outputs: LiveOutputs,
  options: {
    /** Where to say it. */
    log: Logger;
    /** The bar and fill files, for the messages. */
    paths: Pick<TradingCoreConfig, "barsOut" | "fillsOut">;
  },
): Promise<void> {
  const { processing, recorder } = outputs;
  const { log } = options;
  await processing?.stop();
  if (processing?.barsWritten !== undefined) {
    log.info(
      `wrote ${
        formatCount(processing.barsWritten)
      } bars to ${options.paths.barsOut}`,
    );
  }
  if (processing?.fillsWritten !== undefined) {
    log.info(
      `wrote ${
        formatCount(processing.fillsWritten)
      } fills to ${options.paths.fillsOut}`,
    );
  }
  if (!recorder) return;
  recorder.close();
  const gaps = recorder.gaps > 0
    ? ` and ${formatCount(recorder.gaps)} gap line${
      recorder.gaps === 1 ? "" : "s"
    }`
    : "";
  log.info(
    `recorded ${
      formatCount(recorder.lines - recorder.gaps)
    } trades${gaps} to ${recorder.path}`,
  );
  if (recorder.unrecorded > 0) {
    log.warn(
      `${
        formatCount(recorder.unrecorded)
      } trades received are not in ${recorder.path}: writing it failed`,
    );
  }
  const kept = recorder.stream;
  if (recorder.skipped > 0 && kept !== undefined) {
    log.warn(
      `${
        formatCount(recorder.skipped)
      } trades of other (exchange, symbol) streams left out of the csv recording (it holds ${kept.exchange} ${kept.symbol})`,
    );
  }
  if (recorder.gapsLeftOut > 0) {
    log.warn(
      `${
        formatCount(recorder.gapsLeftOut)
      } gaps in the trades left out of the csv recording ${recorder.path}: it has no room for them (record ndjson to keep them)`,
    );
  }
}
