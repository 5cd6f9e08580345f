import base from "./ma_crossover.ts";
const s: any = base;
export default {
  onStart: (c: any) => s.onStart?.(c),
  onTrade(t: any, c: any) { const e = performance.now() + 0.2; while (performance.now() < e); },
  onBar: (b: any, c: any) => s.onBar(b, c),
  onFill: (f: any, c: any) => s.onFill(f, c),
  onStop: (c: any) => s.onStop?.(c),
};
