/**
 * The worker side of a parallel merge (_merge_remote.ts): it reads and
 * parses the files it is given with the in-thread cursor (_merge_cursor.ts)
 * and posts their records in blocks, transferred, when asked for more, so
 * that parsing runs on another core than the merge and what consumes it.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { MergeCursor } from "./_merge_cursor.ts";
import {
  type FromWorker,
  REMOTE_BLOCK_RECORDS,
  serializeError,
  type ToWorker,
} from "./_merge_protocol.ts";

const cursors = new Map<number, MergeCursor>();
/** Origins already posted, per cursor. */
const posted = new Map<number, number>();
/** Per cursor, the work in progress: requests run one after another. */
const queues = new Map<number, Promise<void>>();

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/** Fills cursor `id`'s block and posts it (or its end, or its error). */
async function send(id: number): Promise<void> {
  const cursor = cursors.get(id);
  if (cursor === undefined) return;
  try {
    await cursor.fill(REMOTE_BLOCK_RECORDS);
  } catch (error) {
    post({ type: "error", id, error: serializeError(error) });
    return;
  }
  const { bytes, streams, count, gaps } = cursor.block.detach();
  const known = posted.get(id) ?? 0;
  const origins = cursor.origins.slice(known);
  posted.set(id, cursor.origins.length);
  post({
    type: "block",
    id,
    bytes,
    streams,
    count,
    gaps,
    origins,
    bytesRead: cursor.bytesRead,
    final: count === 0 && cursor.ended,
  }, [bytes.buffer as ArrayBuffer, streams.buffer as ArrayBuffer]);
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  const id = message.id;
  if (message.type === "open") {
    const { path, index, options } = message;
    cursors.set(
      id,
      new MergeCursor(path, index, {
        ...options,
        onBadRow: (line, reason) => post({ type: "bad", id, line, reason }),
        onOutOfOrder: (line) => post({ type: "out of order", id, line }),
      }),
    );
    return;
  }
  const previous = queues.get(id) ?? Promise.resolve();
  const next = previous.then(() =>
    message.type === "more" ? send(id) : close(id)
  );
  queues.set(id, next);
};

/** Closes cursor `id`. */
async function close(id: number): Promise<void> {
  const cursor = cursors.get(id);
  cursors.delete(id);
  await cursor?.close();
  post({ type: "closed", id });
}
