/**
 * The paper broker of trading_core: {@linkcode PaperBroker} fills the
 * orders a strategy submits (`context.broker`) against the trades that
 * follow them, in trade time, in `live` and in a backtest alike;
 * {@linkcode formatFillLine} writes a fill as one NDJSON line.
 *
 * @module
 */

export type {
  Broker,
  Fill,
  OpenOrder,
  OrderRequest,
  OrderSide,
  OrderType,
  Position,
} from "./types.ts";
export { PaperBroker, type PaperBrokerOptions } from "./paper_broker.ts";
export { brokerFacade } from "./facade.ts";
export { FILL_LINE_FIELDS, formatFillLine } from "./fill_line.ts";
