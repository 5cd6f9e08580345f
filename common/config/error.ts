/**
 * The error raised when configuration is invalid.
 *
 * @module
 */

/** Invalid configuration: every problem found, each naming the key, value, source and what was expected. */
export class ConfigError extends Error {
  /** One line per problem. */
  readonly problems: readonly string[];

  /** Creates the error from its list of problems. */
  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? problems[0]
        : `${problems.length} configuration problems:\n  - ${
          problems.join("\n  - ")
        }`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}
