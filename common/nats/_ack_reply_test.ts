// The feed reads a JetStream message's delivery and stream sequences from its
// reply subject as nats.js JsMsg.info does (lib/jsmsg.js parseInfo), in both
// forms, and leaves other subjects to JsMsg.info.

import assert from "node:assert/strict";
import { ackReply, readAckReply } from "./_ack_reply.ts";

function read(reply: string): [number, number] | false {
  if (!readAckReply(reply)) return false;
  return [ackReply.deliverySequence, ackReply.streamSequence];
}

Deno.test("readAckReply: the form with domain, account hash and random token", () => {
  assert.deepEqual(
    read(
      "$JS.ACK._.ABCHASH.MARKET_DATA.me.1.981234.4567.1733400000123456789.12.Xyz9",
    ),
    [4567, 981234],
  );
  // Without the random token, and a domain.
  assert.deepEqual(
    read("$JS.ACK.hub.ABCHASH.S.c.3.7.6.1733400000123456789.0"),
    [6, 7],
  );
});

Deno.test("readAckReply: the old form", () => {
  assert.deepEqual(read("$JS.ACK.S.c.1.42.40.1733400000123456789.5"), [40, 42]);
  // Past 2^32, up to 2^53 exactly.
  assert.deepEqual(
    read(`$JS.ACK.S.c.1.${2 ** 53 - 1}.${2 ** 40}.1.0`),
    [2 ** 40, 2 ** 53 - 1],
  );
});

Deno.test("readAckReply: anything else is left to JsMsg.info", () => {
  ackReply.deliverySequence = -7;
  for (
    const reply of [
      "",
      "_INBOX.abc",
      "$JS.ACK.S.c.1.42.40.1733400000123456789", // 8 tokens
      "$JS.ACK.S.c.1.42.4x.1.0", // not a number
      "$JS.ACK.S.c.1..40.1.0", // empty
      "$JS.ACK.a.b.S.c.1.2.3.4.5.6.7", // 13 tokens
      "$JS.ACK." + ".".repeat(40),
    ]
  ) {
    assert.equal(readAckReply(reply), false, reply);
  }
  assert.equal(ackReply.deliverySequence, -7);
});
