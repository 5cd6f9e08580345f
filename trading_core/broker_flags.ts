/**
 * The paper broker's command-line flags, shared by `live` and `backtest`:
 * each sets a `trading_core.broker` key (see docs/configuration.md).
 *
 * @module
 */

import { type RoleFlag, toNumber } from "../common/runtime/cli.ts";

const BROKER = "trading_core.broker";

/** The broker flags and the config keys they set, to spread into a role's flag table. */
export const BROKER_FLAGS: Readonly<Record<string, RoleFlag>> = {
  balance: {
    type: "string",
    sets: { key: `${BROKER}.starting_balance`, convert: toNumber },
  },
  "fee-bps": {
    type: "string",
    sets: { key: `${BROKER}.fee_bps`, convert: toNumber },
  },
  "maker-fee-bps": {
    type: "string",
    sets: { key: `${BROKER}.maker_fee_bps`, convert: toNumber },
  },
  "slippage-bps": {
    type: "string",
    sets: { key: `${BROKER}.slippage_bps`, convert: toNumber },
  },
  "fill-latency": { type: "string", sets: { key: `${BROKER}.latency` } },
  "max-open-orders": {
    type: "string",
    sets: { key: `${BROKER}.max_open_orders`, convert: toNumber },
  },
};

/** Usage lines of {@linkcode BROKER_FLAGS}, in the layout of `roleUsage`. */
export const BROKER_FLAGS_HELP =
  `  --balance N          paper broker's starting cash        trading_core.broker.starting_balance
                       (quote currency, default 100000)
  --fee-bps N          taker fee of market orders, bps of  trading_core.broker.fee_bps
                       the notional (default 10 = 0.1 %)
  --maker-fee-bps N    maker fee of limit orders, bps      trading_core.broker.maker_fee_bps
  --slippage-bps N     market fills moved N bps against    trading_core.broker.slippage_bps
                       the order from the trade price
  --fill-latency D     trade time before an order can      trading_core.broker.latency
                       fill, e.g. 50ms (default 0)
  --max-open-orders N  open orders at most; a submit past  trading_core.broker.max_open_orders
                       it is a strategy error (default 10000)`;
