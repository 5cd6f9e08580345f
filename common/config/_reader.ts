/**
 * Typed, path-aware reading of a parsed TOML tree: every bad value becomes
 * one problem line naming the key path, the value, where it came from and
 * what was expected; unknown keys are problems with the closest valid key.
 *
 * @module
 */

import { parseDuration } from "./duration.ts";
import { closest } from "./_closest.ts";
import { quoteValue } from "./quote.ts";

/** A plain TOML table. */
export type Table = Record<string, unknown>;

/** Whether a value is a TOML table (not an array, date or scalar). */
export function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

/** The part of a checker's error message that says what was expected. */
export function expectation(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const at = message.lastIndexOf(": expected");
  return at >= 0 ? message.slice(at + 2) : message;
}

/**
 * `key` under the dotted path `prefix`, written as TOML writes it: a key
 * that is not bare (`A-Za-z0-9_-`) is quoted, so a key holding a newline or
 * a dot still makes a one-line, unambiguous path.
 */
export function joinKey(prefix: string, key: string): string {
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  return prefix === "" ? part : `${prefix}.${part}`;
}

/** The dotted path of every key and table in `table` (arrays are not entered). */
export function keyPaths(table: Table, prefix = ""): Set<string> {
  const paths = new Set<string>();
  for (const [key, value] of Object.entries(table)) {
    const path = joinKey(prefix, key);
    paths.add(path);
    if (isTable(value)) {
      for (const inner of keyPaths(value, path)) paths.add(inner);
    }
  }
  return paths;
}

/** Collects problems and knows where each key's value came from. */
export class Problems {
  readonly list: string[] = [];
  readonly #file: string | undefined;
  readonly #origins: Map<string, string>;
  readonly #inFile: ReadonlySet<string>;
  readonly #reported = new Set<string>();
  readonly #fromFlags = new Set<string>();

  /**
   * `origins` maps a key path to the flag or variable that set it;
   * `inFile` holds the key paths the file itself set (before any override).
   */
  constructor(
    file: string | undefined,
    origins: Map<string, string>,
    inFile: ReadonlySet<string> = new Set(),
  ) {
    this.#file = file;
    this.#origins = origins;
    this.#inFile = inFile;
  }

  /** The flag or variable that set the value at `path`, if one did. */
  origin(path: string): string | undefined {
    return this.#origins.get(path);
  }

  /** Whether the file itself set `path` (a key or a table), whatever overrode it. */
  inFile(path: string): boolean {
    return this.#inFile.has(path);
  }

  /** Where the value at `path` came from, as a phrase. */
  where(path: string): string {
    const bare = path.replace(/\[\d+\]$/, "");
    const origin = this.#origins.get(bare);
    if (origin !== undefined) return `(from ${origin})`;
    return this.#file === undefined ? "(built-in default)" : `in ${this.#file}`;
  }

  /** Whether a problem was recorded about `path` (or one of its items). */
  reported(path: string): boolean {
    return this.#reported.has(path);
  }

  /** Records a bad value. */
  invalid(what: string, value: unknown, path: string, expected: string): void {
    const bare = path.replace(/\[\d+\]$/, "");
    this.#reported.add(bare);
    // One flag that sets several keys (--symbols) is one problem, not one
    // per key. A NATS variable is named for each role's key: both roles read it.
    const origin = this.#origins.get(bare);
    if (origin?.startsWith("--")) {
      const same = `${origin}\0${what}\0${quoteValue(value)}\0${expected}`;
      if (this.#fromFlags.has(same)) return;
      this.#fromFlags.add(same);
    }
    this.list.push(
      `Invalid ${what} ${quoteValue(value)} at ${path} ${
        this.where(path)
      }: ${expected}`,
    );
  }

  /** Records a problem that is not about one value. */
  add(path: string, message: string): void {
    this.#reported.add(path);
    this.list.push(`${path} ${this.where(path)}: ${message}`);
  }
}

/** Options for a checked read. */
interface ReadOptions<T> {
  /** Converts and checks the raw value; throws RangeError/TypeError with "…: expected …". */
  check?: (value: T) => T;
  /** Never print the value (tokens, passwords, seeds). */
  secret?: boolean;
}

/** Stands in for a secret value in messages. */
const HIDDEN = { toJSON: () => "(hidden)" };

/**
 * Reads one TOML table. Every read marks the key as known; {@linkcode done}
 * reports the keys nobody read.
 */
export class Section {
  readonly path: string;
  readonly #problems: Problems;
  readonly #table: Table;
  readonly #known = new Set<string>();

  /** Wraps `raw` (undefined = empty table) found at `path`. */
  constructor(problems: Problems, path: string, raw: unknown) {
    this.#problems = problems;
    this.path = path;
    if (raw === undefined) {
      this.#table = {};
    } else if (isTable(raw)) {
      this.#table = raw;
    } else {
      problems.invalid("value", raw, path || "(top level)", "expected a table");
      this.#table = {};
    }
  }

  /** The key path of `key` in this table (`""` = the table itself). */
  keyPath(key: string): string {
    return key === "" ? this.path : joinKey(this.path, key);
  }

  /** Whether the table sets `key` (and marks it known). */
  has(key: string): boolean {
    this.#known.add(key);
    return this.#table[key] !== undefined;
  }

  /** A nested table. */
  section(key: string): Section {
    this.#known.add(key);
    return new Section(this.#problems, this.keyPath(key), this.#table[key]);
  }

  /** Records a problem about `key` that is not about its type. */
  problem(key: string, message: string): void {
    this.#problems.add(this.keyPath(key), message);
  }

  /** Records that the value of `key`, of the right type, is not allowed here. */
  invalid(key: string, expected: string): void {
    this.#problems.invalid(
      "value",
      this.#table[key],
      this.keyPath(key),
      expected,
    );
  }

  /** Records that item `index` of the list at `key` is not allowed here; `what` names it (`symbol`). */
  invalidItem(
    key: string,
    index: number,
    what: string,
    expected: string,
  ): void {
    const list = this.#table[key];
    this.#problems.invalid(
      what,
      Array.isArray(list) ? list[index] : undefined,
      `${this.keyPath(key)}[${index}]`,
      expected,
    );
  }

  /** Where the value of `key` is written, as a phrase: `in x.toml`, `(from --flag)`. */
  where(key: string): string {
    return this.#problems.where(this.keyPath(key));
  }

  /**
   * What set `key`: 0 = nothing (the built-in default), 1 = the file,
   * 2 = an override (a NATS variable such as `NATS_URL`, or a flag).
   */
  precedence(key: string): 0 | 1 | 2 {
    if (this.#table[key] === undefined) return 0;
    return this.#problems.origin(this.keyPath(key)) === undefined ? 1 : 2;
  }

  /** Whether a problem about `key` was recorded already. */
  reported(key: string): boolean {
    return this.#problems.reported(this.keyPath(key));
  }

  /** Whether the file itself set `key` (a key or a table), before any override. */
  inFile(key: string): boolean {
    this.#known.add(key);
    return this.#problems.inFile(this.keyPath(key));
  }

  #read<T>(
    key: string,
    what: string,
    fallback: T,
    isType: (value: unknown) => value is T,
    typeExpected: string,
    options: ReadOptions<T>,
  ): T {
    this.#known.add(key);
    const raw = this.#table[key];
    if (raw === undefined) return fallback;
    const path = this.keyPath(key);
    if (!isType(raw)) {
      this.#problems.invalid(
        what,
        options.secret ? HIDDEN : raw,
        path,
        typeExpected,
      );
      return fallback;
    }
    if (options.check === undefined) return raw;
    try {
      return options.check(raw);
    } catch (error) {
      this.#problems.invalid(
        what,
        options.secret ? HIDDEN : raw,
        path,
        expectation(error),
      );
      return fallback;
    }
  }

  /** A string value. */
  string(
    key: string,
    fallback: string,
    options: ReadOptions<string> = {},
  ): string {
    return this.#read(
      key,
      "value",
      fallback,
      isString,
      "expected a string",
      options,
    );
  }

  /** An optional string value. */
  optionalString(
    key: string,
    options: ReadOptions<string> = {},
  ): string | undefined {
    return this.#read<string | undefined>(
      key,
      "value",
      undefined,
      isString,
      "expected a string",
      options as ReadOptions<string | undefined>,
    );
  }

  /** A boolean value. */
  boolean(key: string, fallback: boolean): boolean {
    return this.#read(
      key,
      "value",
      fallback,
      isBoolean,
      "expected true or false",
      {},
    );
  }

  /** An integer within `[min, max]`. */
  integer(
    key: string,
    fallback: number,
    range: { min: number; max: number },
  ): number {
    const value = this.#read<number | bigint>(
      key,
      "value",
      fallback,
      isIntegerLike,
      `expected an integer from ${range.min} to ${range.max}`,
      {},
    );
    const number = Number(value);
    if (
      !Number.isSafeInteger(number) || number < range.min || number > range.max
    ) {
      this.#problems.invalid(
        "value",
        value,
        this.keyPath(key),
        `expected an integer from ${range.min} to ${range.max}`,
      );
      return fallback;
    }
    return number;
  }

  /** One of a fixed set of strings (compared case-sensitively). */
  choice<T extends string>(key: string, fallback: T, choices: readonly T[]): T {
    return this.#read(key, "value", fallback, isString, "expected a string", {
      check: (value) => {
        if (!(choices as readonly string[]).includes(value)) {
          const hint = closest(value, choices);
          throw new RangeError(
            `Invalid value: expected one of ${
              choices.map((c) => `"${c}"`).join(", ")
            }${hint === undefined ? "" : ` (did you mean "${hint}"?)`}`,
          );
        }
        return value;
      },
    }) as T;
  }

  /** A human duration string, in milliseconds. */
  duration(key: string, fallback: number): number {
    const expected =
      `expected a duration string, e.g. "500ms", "30s", "1h", "2h30m"`;
    return this.converted(key, "duration", (value) => {
      if (typeof value !== "string") throw new TypeError(`: ${expected}`);
      return parseDuration(value);
    }, expected) ?? fallback;
  }

  /** A TOML value that is a string or number, converted by `convert`; `typeExpected` is the message for other types. */
  converted<T>(
    key: string,
    what: string,
    convert: (value: string | number) => T,
    typeExpected = "expected a string or a number",
  ): T | undefined {
    this.#known.add(key);
    const raw = this.#table[key];
    if (raw === undefined) return undefined;
    const path = this.keyPath(key);
    try {
      if (typeof raw === "bigint") return convert(Number(raw));
      if (typeof raw !== "string" && typeof raw !== "number") {
        throw new TypeError(`: ${typeExpected}`);
      }
      return convert(raw);
    } catch (error) {
      this.#problems.invalid(what, raw, path, expectation(error));
      return undefined;
    }
  }

  /** The raw value of `key` (marks it known). */
  raw(key: string): unknown {
    this.#known.add(key);
    return this.#table[key];
  }

  /** A list of strings, each checked (and possibly normalised) by `check`. */
  stringList(
    key: string,
    fallback: readonly string[],
    options: {
      check?: (value: string) => string;
      what?: string;
      /** How a bad item is quoted in the problem (e.g. with credentials hidden). */
      shown?: (value: string) => string;
    } = {},
  ): string[] {
    this.#known.add(key);
    const raw = this.#table[key];
    if (raw === undefined) return [...fallback];
    const path = this.keyPath(key);
    if (!Array.isArray(raw) || !raw.every(isString)) {
      this.#problems.invalid(
        "value",
        raw,
        path,
        "expected an array of strings",
      );
      return [...fallback];
    }
    const out: string[] = [];
    let bad = false;
    raw.forEach((item, index) => {
      try {
        out.push(options.check ? options.check(item) : item);
      } catch (error) {
        bad = true;
        this.#problems.invalid(
          options.what ?? "value",
          options.shown ? options.shown(item) : item,
          `${path}[${index}]`,
          expectation(error),
        );
      }
    });
    // A list with a bad item falls back whole, so later checks do not pile on.
    return bad ? [...fallback] : out;
  }

  /** Reports every key of this table that no read asked for. */
  done(): void {
    for (const key of Object.keys(this.#table)) {
      if (this.#known.has(key)) continue;
      const hint = closest(key, [...this.#known]);
      this.#problems.add(
        joinKey(this.path, key), // "" too: not the table itself
        `unknown key${
          hint === undefined
            ? `; valid keys here: ${[...this.#known].join(", ")}`
            : ` (did you mean "${hint}"?)`
        }`,
      );
    }
  }
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === "boolean";
}

function isIntegerLike(value: unknown): value is number | bigint {
  return typeof value === "bigint" ||
    (typeof value === "number" && Number.isInteger(value));
}
