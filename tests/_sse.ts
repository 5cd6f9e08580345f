/**
 * A Server-Sent Events client on `fetch`, for tests of the live console:
 * reads `event:`/`data:` blocks (and comment lines) as they come, with the
 * time each arrived.
 *
 * @module
 */

/** One event as it arrived. */
export interface SseEvent {
  /** The `event:` field (`"message"` when absent). */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** `performance.now()` when it was read whole. */
  at: number;
}

/** An open event stream; disposing cancels it (the server sees the browser go). */
export class SseReader implements AsyncDisposable {
  /** The response's status. */
  readonly status: number;
  /** The response's headers. */
  readonly headers: Headers;
  /** Comment lines seen (`: …`), e.g. heartbeats. */
  comments = 0;
  /** The `retry:` field, if one came. */
  retry: number | undefined;
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #queue: SseEvent[] = [];
  #done = false;

  private constructor(response: Response) {
    this.status = response.status;
    this.headers = response.headers;
    this.#reader = response.body!.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  /** Opens `url`. */
  static async open(url: string): Promise<SseReader> {
    return new SseReader(await fetch(url));
  }

  /** Whether the server ended the stream. */
  get done(): boolean {
    return this.#done;
  }

  /** The next event; undefined once the stream ended. Rejects after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<SseEvent | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no event within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      while (this.#queue.length === 0 && !this.#done) {
        const { value, done } = await Promise.race([this.#reader.read(), late]);
        if (done) this.#done = true;
        else this.#parse(value);
      }
      return this.#queue.shift();
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next event named `name` (others skipped); fails when the stream ends first. */
  async nextOf(name: string, timeoutMs = 10_000): Promise<SseEvent> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(1, until - performance.now()));
      if (event === undefined) throw new Error(`stream ended before ${name}`);
      if (event.event === name) return event;
    }
  }

  /** Cancels the stream. */
  async cancel(): Promise<void> {
    if (!this.#done) await this.#reader.cancel().catch(() => {});
    this.#done = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.cancel();
  }

  #parse(text: string): void {
    this.#buffer += text;
    let end: number;
    while ((end = this.#buffer.indexOf("\n\n")) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) this.comments++;
        else if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
        else if (line.startsWith("retry: ")) this.retry = Number(line.slice(7));
      }
      if (data.length > 0) {
        this.#queue.push({
          event,
          data: data.join("\n"),
          at: performance.now(),
        });
      }
    }
  }
}
