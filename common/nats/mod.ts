/**
 * NATS helpers shared by both roles: connection options from the
 * configuration and a connect that logs state changes.
 *
 * @module
 */

export * from "./connection.ts";
