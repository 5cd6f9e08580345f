// A message's run epoch, read from its raw header block as the publisher
// writes it, or through nats.js's headers for any other layout.

import assert from "node:assert/strict";
import { headers } from "@nats-io/nats-core";
import type { JsMsg } from "@nats-io/jetstream";
import { messageEpoch } from "./_message_epoch.ts";

const encoder = new TextEncoder();

/** A message as nats.js 3.4 holds it: raw header block then payload. */
function raw(block: string, parsed = headers()): JsMsg {
  const bytes = encoder.encode(block + "payload");
  return {
    msg: { _rdata: bytes, _msg: { hdr: encoder.encode(block).length } },
    headers: parsed,
  } as unknown as JsMsg;
}

Deno.test("messageEpoch reads the publisher's last header line without nats.js's parser", () => {
  const parsed = { get: () => assert.fail("parsed the headers") };
  for (const epoch of [1, 42, 4294967295]) {
    const block =
      `NATS/1.0\r\nNats-Msg-Id: binance:BTCUSDT:1:1:1\r\nMarketbus-Epoch: ${epoch}\r\n\r\n`;
    assert.equal(
      messageEpoch(raw(block, parsed as unknown as ReturnType<typeof headers>)),
      epoch,
    );
  }
});

Deno.test("messageEpoch: another layout goes through the headers; none or a bad value is 0", () => {
  const first = headers();
  first.set("Marketbus-Epoch", "77");
  first.set("Nats-Msg-Id", "x");
  assert.equal(messageEpoch(raw(first.toString(), first)), 77);
  const none = headers();
  none.set("Nats-Msg-Id", "x");
  assert.equal(messageEpoch(raw(none.toString(), none)), 0);
  const bad = headers();
  bad.set("Marketbus-Epoch", "99999999999");
  assert.equal(messageEpoch(raw(bad.toString(), bad)), 0);
  assert.equal(messageEpoch({ headers: undefined } as unknown as JsMsg), 0);
});

Deno.test("messageEpoch: the header name matches in any case, on both paths", () => {
  const parsed = { get: () => assert.fail("parsed the headers") };
  const block = "NATS/1.0\r\nNats-Msg-Id: x\r\nmarketbus-EPOCH: 12\r\n\r\n";
  assert.equal(
    messageEpoch(raw(block, parsed as unknown as ReturnType<typeof headers>)),
    12,
  );
  const other = headers();
  other.set("MARKETBUS-EPOCH", "13");
  other.set("Nats-Msg-Id", "x");
  assert.equal(messageEpoch(raw(other.toString(), other)), 13);
  // A name that only looks alike is not it.
  const near = "NATS/1.0\r\nNats-Msg-Id: x\r\nMarketbus-Epoch2: 12\r\n\r\n";
  assert.equal(messageEpoch(raw(near, headers())), 0);
});
