/**
 * The replay source: a recorded trade file published at its original pace,
 * sped up, or as fast as the transports take it.
 *
 * @module
 */

export * from "./source.ts";
