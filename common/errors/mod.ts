/**
 * The message convention for bad arguments, shared by every package that
 * checks its arguments (the lowest layer: it imports nothing).
 *
 * @module
 */

// `Invalid <name> <value>: expected <what>`, and how the value is shown.
export { describeArgument, invalidArgument } from "./invalid.ts";
