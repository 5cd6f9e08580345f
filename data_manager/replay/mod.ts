/**
 * The replay source: a recorded trade file published at its original pace,
 * sped up, or as fast as the transports take it.
 *
 * @module
 */

// The source, and the error of a file that held no trade to replay.
export {
  NothingReplayedError,
  ReplaySource,
  type ReplaySourceOptions,
} from "./source.ts";
