/**
 * Conditions around ring segments that callers handle.
 *
 * @module
 */

/** No segment of that name exists (yet): the producer is not running. */
export class RingNotFoundError extends Error {
  /** The segment name. */
  readonly segment: string;

  /** Creates the error for segment `segment`. */
  constructor(segment: string, detail = "no such segment") {
    super(
      `Ring ${segment} not found (${detail}): is data_manager running with the same exchange, symbols and shm_path_prefix?`,
    );
    this.name = "RingNotFoundError";
    this.segment = segment;
  }
}

/** A segment exists but is not a ring this code can read: foreign, corrupt, or another layout version. */
export class RingFormatError extends Error {
  /** The segment name. */
  readonly segment: string;

  /** Creates the error for segment `segment`; `problem` says what was wrong and what was expected. */
  constructor(segment: string, problem: string) {
    super(`Ring ${segment} is not usable: ${problem}`);
    this.name = "RingFormatError";
    this.segment = segment;
  }
}

/** Another live producer is publishing into the segment a new producer wants to create. */
export class RingInUseError extends Error {
  /** The segment name. */
  readonly segment: string;
  /** The pid of the live producer. */
  readonly pid: number;

  /** Creates the error for `segment` held by `pid`. */
  constructor(segment: string, pid: number) {
    super(
      `Ring ${segment} is being published by another data_manager (pid ${pid}): stop it, or give this one another shm_path_prefix or exchange`,
    );
    this.name = "RingInUseError";
    this.segment = segment;
    this.pid = pid;
  }
}
