/**
 * The wire format shared by both transports: the 48-byte trade record, its
 * codec and zero-copy view, fixed-point prices and epoch-nanosecond times,
 * and how trades are named on NATS: subjects and message ids (see
 * docs/wire_format.md).
 *
 * @module
 */

export * from "./trade.ts";
export * from "./fixed_point.ts";
export * from "./epoch_nanos.ts";
export * from "./codec.ts";
export * from "./trade_view.ts";
export * from "./subjects.ts";
export * from "./message_id.ts";
