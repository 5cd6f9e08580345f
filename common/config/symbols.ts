/**
 * The one rule for a list of symbols, wherever one is given (a config key, a
 * `--symbols` flag, a source's constructor): every item a symbol, that is a
 * subject token ({@linkcode normalizeSymbol}: non-empty, without ".", "*",
 * ">", whitespace or control characters), and each listed once, compared
 * upper-cased. Callers word the problems their own way.
 *
 * @module
 */

import { normalizeSymbol } from "../wire/subjects.ts";
import { expectation } from "./_reader.ts";

/** One problem with an item of a symbol list. */
export interface SymbolProblem {
  /** The item's index in the list. */
  index: number;
  /** The item as given. */
  value: unknown;
  /** What was expected of it, as `expected …`. */
  expected: string;
  /** For a repeat: the index of the item it repeats; undefined for a bad item. */
  repeats?: number;
}

/** What {@linkcode checkSymbolList} found. */
export interface SymbolListCheck {
  /** The items that are symbols, upper-cased, in list order (repeats too). */
  symbols: string[];
  /** Every bad item and every repeat, in list order. */
  problems: SymbolProblem[];
}

/** Options of {@linkcode checkSymbolList}. */
export interface CheckSymbolListOptions {
  /**
   * A stricter alphabet a caller needs on top of the rule (Binance's stream
   * names), checked first, with the `expected …` text of its problem
   * (`expected letters, digits, "_" or "-"`).
   */
  alphabet?: { pattern: RegExp; expected: string };
}

/**
 * Checks a list of symbols by the rule (see the module doc) and returns the
 * items that are symbols, upper-cased, with every problem; an empty list is
 * no problem here, since whether one is allowed depends on the caller.
 *
 * @example
 * ```ts
 * import { checkSymbolList } from "./symbols.ts";
 *
 * const { symbols, problems } = checkSymbolList(["btcusdt", "BTCUSDT", "a b"]);
 * // symbols: ["BTCUSDT", "BTCUSDT"]; problems: the repeat at 1 (of 0), the bad item at 2
 * ```
 */
export function checkSymbolList(
  list: readonly unknown[],
  options: CheckSymbolListOptions = {},
): SymbolListCheck {
  const symbols: string[] = [];
  const problems: SymbolProblem[] = [];
  const first = new Map<string, number>();
  list.forEach((value, index) => {
    const { alphabet } = options;
    if (
      alphabet !== undefined &&
      (typeof value !== "string" || !alphabet.pattern.test(value))
    ) {
      problems.push({ index, value, expected: alphabet.expected });
      return;
    }
    let symbol: string;
    try {
      symbol = normalizeSymbol(value as string);
    } catch (error) {
      problems.push({ index, value, expected: expectation(error) });
      return;
    }
    symbols.push(symbol);
    const repeats = first.get(symbol);
    if (repeats === undefined) first.set(symbol, index);
    else {
      problems.push({
        index,
        value,
        expected: "expected each symbol once",
        repeats,
      });
    }
  });
  return { symbols, problems };
}
