// `stream_per_exchange`: off, the stream and its subjects are today's; on,
// the publisher's stream is `{stream_name}_{EXCHANGE}` capturing its
// exchange, and a per-exchange name that is no JetStream name is one
// problem naming the key and the name, on both roles.

import assert from "node:assert/strict";
import { load, problemOf } from "../../tests/_config.ts";

Deno.test("stream_per_exchange off (the default): one stream of every exchange", () => {
  const config = load(`[data_manager]\nexchange = "Kraken"\n`);
  assert.equal(config.transport.nats.jetstream.streamName, "MARKET_DATA");
  assert.equal(config.transport.nats.jetstream.streamExchange, undefined);
  assert.equal(config.dataSource.nats.streamPerExchange, false);
});

Deno.test("stream_per_exchange on: the publisher's stream is {stream_name}_{EXCHANGE}, capturing its exchange", () => {
  const config = load(
    `[data_manager]\nexchange = "Kraken"\n[transport.nats.jetstream]\nstream_name = "MD"\nstream_per_exchange = true\n[data_source.nats]\nstream_per_exchange = true\n`,
  );
  assert.equal(config.transport.nats.jetstream.streamName, "MD_KRAKEN");
  assert.equal(config.transport.nats.jetstream.streamExchange, "kraken");
  assert.equal(config.dataSource.nats.streamName, "MARKET_DATA"); // its own key
  assert.equal(config.dataSource.nats.streamPerExchange, true);
});

Deno.test("stream_per_exchange: a per-exchange name that is no JetStream name is one problem naming key and name", () => {
  assert.match(
    problemOf(
      `[data_manager]\nexchange = "aud/x"\n[transport.ipc]\nenabled = false\n[transport.nats.jetstream]\nstream_per_exchange = true\n`,
    ),
    /^transport\.nats\.jetstream\.stream_per_exchange in .*: the per-exchange name "MARKET_DATA_AUD\/X" \({stream_name}_{EXCHANGE}\) is not a valid JetStream name/,
  );
  assert.match(
    problemOf(
      `[data_source]\ntype = "nats"\nexchange = "aud/x"\n[data_source.nats]\nstream_per_exchange = true\n`,
    ),
    /^data_source\.nats\.stream_per_exchange in .*: the per-exchange name "MARKET_DATA_AUD\/X"/,
  );
});

Deno.test("stream_per_exchange: a start sequence over every exchange is one problem naming the key", () => {
  const text =
    `[data_source]\ntype = "nats"\nexchange = "*"\n[data_source.nats]\nstream_per_exchange = true\n[data_source.nats.consumer]\ndeliver = "by_start_sequence"\nstart_sequence = 42\n`;
  assert.match(
    problemOf(text),
    /^data_source\.nats\.consumer\.start_sequence in .*: cannot start every exchange's stream \(stream_per_exchange = true, exchange "\*"\)/,
  );
  // One exchange, one stream: its sequence is meant.
  const one = load(text.replace('exchange = "*"', 'exchange = "audx"'));
  assert.equal(one.dataSource.nats.consumer.startSequence, 42);
});
