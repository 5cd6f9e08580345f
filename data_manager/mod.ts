/**
 * data_manager: the publisher role.
 *
 * @module
 */

export * from "./cli.ts";
export * from "./synthetic/generator.ts";
