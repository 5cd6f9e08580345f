/**
 * The synthetic source: random-walk trades for any number of symbols, at a
 * set rate or as fast as the transports take them.
 *
 * @module
 */

export * from "./generator.ts";
export * from "./source.ts";
