/**
 * trading_core: the consumer role.
 *
 * @module
 */

export * from "./cli.ts";
