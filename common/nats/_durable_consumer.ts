/**
 * The feed's durable consumer, from start to end of a subscription: created
 * or reconciled with the configuration, rewound to its acknowledged
 * position when messages were delivered but not acknowledged, read pass by
 * pass, created again when it is gone from the server; at the end its last
 * acknowledgement confirmed and each stream's position saved in its
 * metadata.
 *
 * @module
 */

import { deadline, errors } from "@nats-io/nats-core";
import type { ConsumerInfo, JetStreamClient } from "@nats-io/jetstream";
import { delay } from "../runtime/delay.ts";
import { POSITIONS_KEY, savePositions, seedPositions } from "./_feed_loss.ts";
import { reconcileDurable } from "./_consumer_config.ts";
import {
  consumePass,
  type ConsumerRun,
  noteStream,
  retrying,
} from "./_consume_loop.ts";
import { streamKey } from "./_subscription_channel.ts";
import { RedeliveryHold } from "./_redelivery_hold.ts";

/** How long the end of a subscription waits for the server to confirm the last acknowledgement, ms. */
const FINAL_ACK_MS = 50;
/** Added to ack_wait when waiting for the server to redeliver, ms. */
const REDELIVERY_MARGIN_MS = 250;
/** The first server version with the consumer reset API (ADR-60). */
const RESET_VERSION = [2, 14] as const;

/** The durable consumer as reconciled: its info, and how it came to be (`created`, `existing`, `updated …`). */
type Durable = { info: ConsumerInfo; change: string };

/** Reads a subscription through the durable consumer `name` until it ends. */
export async function runDurable(
  run: ConsumerRun,
  name: string,
): Promise<void> {
  await new DurableConsumer(run, name).read();
}

/** One subscription's durable consumer; see the module's description. */
class DurableConsumer {
  readonly #run: ConsumerRun;
  readonly #name: string;
  /** The consumer's info as last known; undefined once an attach was aborted. */
  #info: ConsumerInfo | undefined;

  constructor(run: ConsumerRun, name: string) {
    this.#run = run;
    this.#name = name;
  }

  /** Creates (or finds) the consumer, attaches it and reads until the end. */
  async read(): Promise<void> {
    const durable = await this.#create();
    if (durable === undefined) return;
    this.#run.subscription.status.consumerName = this.#name;
    const info = await this.#attach(durable, false);
    this.#info = info;
    if (info === undefined) return;
    const js = this.#run.jsm.jetstream();
    try {
      await this.#passes(js, info);
    } finally {
      await this.#settle();
    }
  }

  /**
   * Consumes pass after pass until done: creates the consumer again when it
   * is gone, and after a gap rewinds it to its acknowledged position.
   */
  async #passes(js: JetStreamClient, first: ConsumerInfo): Promise<void> {
    const run = this.#run;
    const { nc, jsm, subscription } = run;
    let info = first;
    for (;;) {
      const end = await consumePass(
        run,
        js.consumers.getConsumerFromInfo(info),
        info.delivered.consumer_seq + 1,
      );
      if (end === "done") return;
      subscription.flushAcks();
      if (end === "missing") {
        // Deleted, or its stream was: create it again, with its start
        // (on a new stream, delivery starts over: see noteStream).
        const again = await this.#create();
        if (again === undefined) return;
        if (again.change === "created") run.onRecreated();
        const attached = await this.#attach(again, true);
        this.#info = attached;
        if (attached === undefined) return;
        info = attached;
        continue;
      }
      // A gap: settle what was delivered, then rewind to the ack floor.
      await nc.flush();
      info = this.#info = await jsm.consumers.info(run.stream, info.name);
      const again = await this.#rewind(info);
      if (again === undefined) return;
      info = this.#info = again.info;
    }
  }

  /**
   * Creates (or finds) the consumer once its stream is there, noting a new
   * stream first (see {@linkcode noteStream}); undefined when aborted.
   */
  #create(): Promise<Durable | undefined> {
    const run = this.#run;
    return retrying(run, async () => {
      await noteStream(run);
      return await reconcileDurable(run.jsm, this.#name, run);
    });
  }

  /**
   * Rewinds the consumer if it must (see {@linkcode DurableConsumer.#rewind}),
   * seeds the loss watch (see `_feed_loss.ts`) and reports the consumer
   * attached (`again`: attached before, the consumer went missing); its
   * info, or undefined when aborted.
   */
  async #attach(
    durable: Durable,
    again: boolean,
  ): Promise<ConsumerInfo | undefined> {
    const { jsm, subscription, filters, stream, prefix } = this.#run;
    const rewound = await this.#rewind(durable.info);
    if (rewound === undefined) return undefined;
    const { info } = rewound;
    // Acknowledged before, maybe by an earlier run: never delivered again
    // (a consumer created again with deliver all replays the stream).
    subscription.deliveredThrough(info.ack_floor.stream_seq);
    const created = durable.change === "created";
    // An existing consumer continues after its acknowledged position; one
    // created again after the last message this run delivered (none yet: it
    // starts where its deliver policy says).
    const discarded = await seedPositions(jsm, subscription.loss, {
      stream,
      prefix,
      filters,
      keyOf: streamKey,
      floor: created
        ? subscription.loss.lastDelivered
        : info.ack_floor.stream_seq,
      resumed: !created,
      saved: created ? undefined : info.config.metadata?.[POSITIONS_KEY],
    });
    const change = created && again ? "recreated" : durable.change;
    subscription.status.attached(
      `durable consumer ${
        JSON.stringify(info.name)
      } (${change}) ${this.#run.describe}; ${info.num_pending} message(s) pending${rewound.note}`,
      info.num_pending,
    );
    if (discarded !== undefined) {
      subscription.status.warn(
        `consumer ${
          JSON.stringify(info.name)
        } continues at stream sequence ${discarded.first} after its acknowledged position ${discarded.floor}: the stream no longer holds the messages in between (stream limits or deleted), and its last run did not save its position (it did not end cleanly): their trades are counted lost only for the symbols whose last message before them is still stored`,
      );
    }
    return info;
  }

  /**
   * Makes the consumer deliver next the first message after its ack floor,
   * when messages were delivered but not acknowledged (a run that ended
   * without acknowledging its prefetched messages, or messages lost in
   * transit). Returns the consumer's info and a note for the attach event,
   * or undefined when aborted.
   */
  async #rewind(
    info: ConsumerInfo,
  ): Promise<{ info: ConsumerInfo; note: string } | undefined> {
    const { nc, jsm, subscription, signal, stream } = this.#run;
    const pending = info.num_ack_pending;
    if (pending === 0) return { info, note: "" };
    const policy = info.config.deliver_policy;
    const version = nc.info?.version;
    const unacknowledged =
      `${pending} message(s) delivered before were not acknowledged`;
    if (policy !== "last_per_subject" && supportsReset(version)) {
      const reset = await jsm.consumers.reset(stream, info.name);
      return {
        info: reset,
        note:
          `; rewound to stream sequence ${reset.reset_seq}: ${unacknowledged}`,
      };
    }
    const waitMs = this.#run.consumer.ackWaitMs + REDELIVERY_MARGIN_MS;
    subscription.status.problem(
      "waiting",
      "waiting",
      `${unacknowledged}, and a ${policy} consumer cannot be rewound on server ${version}: waiting ${
        (waitMs / 1000).toFixed(1)
      } s (ack_wait) for their redelivery, to keep the order`,
    );
    await delay(waitMs, signal);
    if (signal?.aborted) return undefined;
    const after = await jsm.consumers.info(stream, info.name);
    // Redelivered in no particular order: held, then delivered in order.
    subscription.holdRedeliveries(
      new RedeliveryHold(after.num_ack_pending, {
        floor: after.ack_floor.stream_seq,
        last: after.delivered.stream_seq,
        maxWaitMs: waitMs,
      }),
    );
    return {
      info: after,
      note: `; waited for the redelivery of ${unacknowledged}`,
    };
  }

  /** At the end: confirms the last acknowledgement and saves each stream's position. */
  async #settle(): Promise<void> {
    const { nc, jsm, subscription, stream, log } = this.#run;
    await this.#confirmAcks();
    if (subscription.status.state !== "connected" || nc.isClosed()) return;
    const problem = await savePositions(jsm, subscription.loss, {
      stream,
      name: this.#name,
      metadata: this.#info?.config.metadata,
    });
    if (problem !== undefined) {
      log.warn(
        `the position of consumer ${
          JSON.stringify(this.#name)
        } could not be saved (${problem}): if the stream discards messages before the next run reads them, that run cannot count every trade lost`,
      );
    }
  }

  /** Acknowledges what was delivered and waits briefly for the server to have it. */
  async #confirmAcks(): Promise<void> {
    const { nc, subscription, log } = this.#run;
    subscription.flushAcks();
    if (!subscription.unconfirmed) return;
    if (subscription.status.state === "connected" && !nc.isClosed()) {
      try {
        await deadline(nc.flush(), FINAL_ACK_MS);
        return;
      } catch (error) {
        if (!(error instanceof errors.TimeoutError)) throw error;
      }
    }
    log.warn(
      `the last acknowledgement of consumer ${
        JSON.stringify(this.#run.consumer.durableName)
      } may not have reached the server: the next run may receive the last trades again`,
    );
  }
}

/** Whether a server of `version` has the consumer reset API. */
function supportsReset(version: string | undefined): boolean {
  const [major = 0, minor = 0] = (version ?? "").split(".").map(Number);
  return major > RESET_VERSION[0] ||
    (major === RESET_VERSION[0] && minor >= RESET_VERSION[1]);
}
