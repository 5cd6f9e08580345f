// Helpers of the registry roles tests: a config with a fast registry, and
// the trades the stream stored.

import { decodeTrades } from "../common/wire/codec.ts";
import { parseTradeSubject } from "../common/wire/subjects.ts";
import { TradeFlags } from "../common/wire/trade.ts";
import { type RoleConfig, roleConfig } from "./_ipc_roles.ts";
import { readStoredMessages } from "./_nats_feed.ts";

/**
 * A fast registry, so that expiry takes seconds, not a minute (yet eight
 * heartbeats per TTL: a loaded machine's late heartbeat does not fence the
 * owner), and a small standby buffer, so that a takeover loses trades.
 */
export const REGISTRY = `
[registry]
heartbeat_interval = "250ms"
ttl = "2s"
standby_buffer = 50
`;

/** A temp config of both roles on `url` with fixed trade ids (from 1 per symbol) and `registry` (a fast one). */
export async function registryConfig(
  url: string,
  options: {
    /** @default {["BTCUSDT", "ETHUSDT"]} */
    symbols?: string[];
    /** The `[registry]` section. @default {REGISTRY} */
    registry?: string;
  } = {},
): Promise<RoleConfig> {
  const { symbols = ["BTCUSDT", "ETHUSDT"], registry = REGISTRY } = options;
  const config = await roleConfig({
    symbols,
    nats: { url },
    synthetic: { seed: 7, firstTradeId: 1 },
  });
  await Deno.writeTextFile(config.path, registry, { append: true });
  return config;
}

/** Each stored trade of the config's stream, by symbol, in stream order. */
export async function storedTrades(
  config: RoleConfig,
): Promise<Map<string, { seq: number; id: number; gap: boolean }[]>> {
  const nats = config.nats!;
  const bySymbol = new Map<
    string,
    { seq: number; id: number; gap: boolean }[]
  >();
  await readStoredMessages(nats, (message) => {
    const origin = parseTradeSubject(message.subject, {
      prefix: nats.subjectPrefix,
    });
    const { symbol } = origin;
    const list = bySymbol.get(symbol) ?? [];
    for (const trade of decodeTrades(message.data, origin)) {
      list.push({
        seq: trade.seq,
        id: Number(trade.tradeId),
        gap: (trade.flags & TradeFlags.Gap) !== 0,
      });
    }
    bySymbol.set(symbol, list);
  });
  return bySymbol;
}
