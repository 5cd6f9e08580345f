let done = false;
export default {
  onTrade(t: { exchange: string; symbol: string }, ctx: any) {
    if (done) return; done = true;
    ctx.broker.submit({ exchange: t.exchange, symbol: t.symbol, side: "buy", quantity: 0.5 });
    ctx.broker.submit({ exchange: t.exchange, symbol: t.symbol, side: "sell", quantity: 0.1, type: "limit", price: 1e9 });
  },
  onBar() {},
  onFill() { throw new Error("boom in onFill"); },
};
