// The publisher's hand-written wire bytes: HPUB commands as nats.js would
// write them, message ids as natsMessageId builds them, and PubAcks read
// without JSON.parse.

import assert from "node:assert/strict";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { natsMessageId } from "../wire/message_id.ts";
import { RecordOffset } from "../wire/record.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { scanAck, type ScannedAck } from "./_publish_acks.ts";
import { FrameWriter, headerLength, writeDigits } from "./_publish_frames.ts";
import { newLane, newSlot } from "./_publish_lane.ts";
import { headerBytes, messageIdOf, setMessage } from "./_publish_message.ts";

const encoder = new TextEncoder();

/** A connection whose protocol collects what nats.js would queue (not a DenoTransport: the copying path). */
function collecting(sent: Uint8Array[]): NatsConnection {
  const protocol = {
    transport: {},
    connected: true,
    infoReceived: true,
    outbound: { size: () => 0 },
    sendCommand: (bytes: Uint8Array) => sent.push(bytes),
  };
  return { protocol } as unknown as NatsConnection;
}
const decoder = new TextDecoder();

Deno.test("writeDigits writes integers up to 2^53 in decimal", () => {
  const into = new Uint8Array(20);
  for (const value of [0, 7, 10, 99, 1001, 4294967295, 2 ** 53 - 1]) {
    const end = writeDigits(into, 2, value);
    assert.equal(decoder.decode(into.subarray(2, end)), String(value));
  }
});

Deno.test("FrameWriter: one HPUB per message as nats.js writes it, handed over once per turn", async () => {
  const sent: Uint8Array[] = [];
  const writer = new FrameWriter();
  writer.use(collecting(sent));
  const id = encoder.encode("binance:BTCUSDT:42:1:7");
  const payload = new Uint8Array([1, 2, 3]);
  writer.hpub(
    encoder.encode("m.btc"),
    encoder.encode("_INBOX.x."),
    12,
    id,
    id.length,
    payload,
  );
  writer.hpub(
    encoder.encode("m.eth"),
    encoder.encode("_INBOX.x."),
    3,
    id,
    id.length,
    payload,
  );
  assert.equal(sent.length, 0);
  await Promise.resolve();
  assert.equal(sent.length, 1);
  const block = headers();
  block.set("Nats-Msg-Id", "binance:BTCUSDT:42:1:7");
  const hdr = block.toString();
  assert.equal(headerLength(id.length), encoder.encode(hdr).length);
  const total = hdr.length + 3;
  const expected =
    `HPUB m.btc _INBOX.x.12 ${hdr.length} ${total}\r\n${hdr}\x01\x02\x03\r\n` +
    `HPUB m.eth _INBOX.x.3 ${hdr.length} ${total}\r\n${hdr}\x01\x02\x03\r\n`;
  assert.equal(decoder.decode(sent[0]), expected);
});

Deno.test("FrameWriter: a run epoch is a header line after the id, as nats.js writes it", async () => {
  const sent: Uint8Array[] = [];
  const writer = new FrameWriter(4294967295);
  writer.use(collecting(sent));
  const id = encoder.encode("binance:BTCUSDT:42:1:7");
  writer.hpub(
    encoder.encode("m.btc"),
    encoder.encode("_INBOX.x."),
    5,
    id,
    id.length,
    new Uint8Array([9]),
  );
  await Promise.resolve();
  const block = headers();
  block.set("Nats-Msg-Id", "binance:BTCUSDT:42:1:7");
  block.set("Marketbus-Epoch", "4294967295");
  const hdr = block.toString();
  assert.equal(writer.headerLength(id.length), encoder.encode(hdr).length);
  assert.equal(
    decoder.decode(sent[0]),
    `HPUB m.btc _INBOX.x.5 ${hdr.length} ${hdr.length + 1}\r\n${hdr}\x09\r\n`,
  );
});

Deno.test("FrameWriter: a message bigger than the buffer goes out whole", async () => {
  const sent: Uint8Array[] = [];
  const writer = new FrameWriter();
  writer.use(collecting(sent));
  const id = encoder.encode("a:B:1:1:1");
  const big = new Uint8Array(200_000).fill(0x41);
  writer.hpub(
    encoder.encode("s"),
    encoder.encode("r."),
    1,
    id,
    id.length,
    new Uint8Array(10),
  );
  writer.hpub(encoder.encode("s"), encoder.encode("r."), 2, id, id.length, big);
  await Promise.resolve();
  const text = sent.map((b) => decoder.decode(b)).join("");
  assert.equal(text.split("HPUB").length, 3);
  assert.ok(text.endsWith("A".repeat(1000) + "\r\n"));
});

Deno.test("setMessage: the id bytes are natsMessageId's, for every trade id up to 2^64 - 1", () => {
  const lane = newLane("binance", "btcusdt", { prefix: "m" });
  const slot = newSlot(0, 64);
  slot.lane = lane;
  for (
    const tradeId of [
      0n,
      1n,
      2n ** 32n + 5n,
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 64n - 1n,
    ]
  ) {
    const seq = 4_000_000_000;
    slot.view.setBigUint64(
      TRADE_RECORD_SIZE + RecordOffset.TradeId,
      tradeId,
      true,
    );
    slot.view.setUint32(TRADE_RECORD_SIZE + RecordOffset.Seq, seq, true);
    setMessage(slot, 1, 63);
    assert.equal(
      messageIdOf(slot),
      natsMessageId(lane.origin, tradeId, { count: 63, firstSeq: seq }),
    );
  }
  assert.equal(
    headerBytes(lane.origin, 64),
    headerLength(
      "binance:BTCUSDT:18446744073709551615:64:4294967295".length,
      "Marketbus-Epoch: 4294967295\r\n".length,
    ),
  );
});

Deno.test("scanAck reads plain and duplicate acks; errors and odd replies are left to JSON.parse", () => {
  const into: ScannedAck = { seq: 0, duplicate: false };
  const scan = (text: string) => scanAck(encoder.encode(text), into);
  assert.equal(scan('{"stream":"S","seq":123}'), true);
  assert.deepEqual(into, { seq: 123, duplicate: false });
  assert.equal(scan('{"stream":"S","seq":9,"duplicate": true}'), true);
  assert.deepEqual(into, { seq: 9, duplicate: true });
  assert.equal(
    scan('{"stream":"S","domain":"d","seq":10,"duplicate":false}'),
    true,
  );
  assert.deepEqual(into, { seq: 10, duplicate: false });
  assert.equal(scan('{"error":{"code":503,"description":"x"}}'), false);
  assert.equal(scan('{"stream":"S","seq":x}'), false);
  assert.equal(scan('{"stream":"S"}'), false);
  assert.equal(scan(""), false);
});
