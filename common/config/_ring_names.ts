/**
 * Whether a role's exchange and symbols can name its shared-memory rings,
 * checked at load time with the ring code's own {@linkcode segmentName}: a
 * symbol such as `€UR`, or one too long for its prefix, is then a config
 * problem naming the key and the value, not a RangeError when the ring is
 * created. The problem blames the value the user set: the symbol, else the
 * prefix, else the exchange.
 *
 * @module
 */

import { joinSegmentName, segmentName } from "../wire/mod.ts";
import { expectation, type Section } from "./_reader.ts";

/** Where one role's ring names come from. */
export interface RingNaming {
  /** The table of the segment prefix (`transport.ipc`, `data_source.ipc`). */
  ipc: Section;
  /** The segment prefix read from `ipc`. */
  prefix: string;
  /** The exchange read from the checked table (lower case). */
  exchange: string;
  /** The symbols read from the checked table (upper case). */
  symbols: readonly string[];
  /** How to do without the ring, for messages: `publish without the ring (--no-ipc)`. */
  without: string;
}

/** Why the segment name of `symbol` is refused, as "the segment name … must be …", or undefined. */
function refusal(naming: RingNaming, symbol: string): string | undefined {
  const { ipc, prefix, exchange } = naming;
  try {
    segmentName(prefix, exchange, symbol);
    return undefined;
  } catch (error) {
    const name = joinSegmentName(prefix, exchange, symbol);
    const rule = expectation(error).replace(/^expected /, "must be ");
    return `the segment name ${
      JSON.stringify(name)
    } (${name.length} characters, ${
      ipc.keyPath("shm_path_prefix")
    } + exchange + "_" + symbol) ${rule}; or ${naming.without}`;
  }
}

/**
 * Records a problem when a segment name built from `naming` is refused,
 * blaming a key of `section` (which holds `exchange` and `symbols`) or the
 * prefix, whichever the user set; the ring code would throw on it later.
 */
export function checkRingNames(section: Section, naming: RingNaming): void {
  const { ipc, symbols } = naming;
  if (
    section.reported("exchange") || section.reported("symbols") ||
    ipc.reported("shm_path_prefix")
  ) {
    return; // a value already refused fell back to its default
  }
  const prefixSet = ipc.precedence("shm_path_prefix") > 0;
  const blamePrefix = (why: string) =>
    ipc.invalid(
      "shm_path_prefix",
      `expected a prefix short enough to name the shared-memory rings: ${why}`,
    );
  // The shortest symbol: when even it is refused, the exchange or the prefix is at fault.
  const shortest = refusal(naming, "X");
  if (shortest !== undefined) {
    const why = refusal(naming, symbols[0] ?? "X") ?? shortest;
    if (section.precedence("exchange") > 0) {
      section.invalid(
        "exchange",
        `expected an exchange that can name its shared-memory rings: ${why}`,
      );
    } else if (prefixSet) blamePrefix(why);
    return;
  }
  const symbolsSet = section.precedence("symbols") > 0;
  for (const [index, symbol] of symbols.entries()) {
    const why = refusal(naming, symbol);
    if (why === undefined) continue;
    if (symbolsSet) {
      section.invalidItem(
        "symbols",
        index,
        "symbol",
        `expected a symbol that can name its shared-memory ring: ${why}`,
      );
    } else if (prefixSet) {
      return blamePrefix(why);
    } else {
      return section.invalid(
        "exchange",
        `expected an exchange that can name its shared-memory rings: ${why}`,
      );
    }
  }
}
