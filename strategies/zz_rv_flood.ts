// review scratch: submits 1e6 orders on the first trade
let done = false;
export default {
  onTrade(t: { exchange: string; symbol: string }, ctx: any) {
    if (done) return; done = true;
    for (let i = 0; i < 1_000_000; i++) ctx.broker.submit({ exchange: t.exchange, symbol: t.symbol, side: i % 2 ? "buy" : "sell", quantity: 0.001 });
  },
  onBar() {},
};
