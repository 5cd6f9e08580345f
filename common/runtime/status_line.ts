/**
 * A status block kept at the bottom of a terminal: progress lines redrawn in
 * place, with log lines printed above them.
 *
 * @module
 */

import { ellipsize } from "./format.ts";

const encoder = new TextEncoder();
/** Erase the whole line, cursor to its start. */
const ERASE_LINE = "\x1b[2K\r";

/** Where a {@linkcode StatusLine} draws: a synchronous writer of terminal text. */
export interface TerminalWriter {
  /** Writes `text` as is. */
  write(text: string): void;
}

function stdoutWriter(): TerminalWriter {
  return {
    write(text: string): void {
      const bytes = encoder.encode(text);
      let at = 0;
      while (at < bytes.length) {
        at += Deno.stdout.writeSync(bytes.subarray(at));
      }
    },
  };
}

/**
 * Progress lines redrawn in place on a terminal. Log lines go through
 * {@linkcode StatusLine.print}, which erases the block, prints the line and
 * draws the block again below it, so the two never garble each other.
 */
export class StatusLine {
  #writer: TerminalWriter;
  #lines: string[] = [];
  #columns: () => number;

  /** A status block on `writer` (default: stdout). */
  constructor(
    options: { writer?: TerminalWriter; columns?: () => number } = {},
  ) {
    this.#writer = options.writer ?? stdoutWriter();
    this.#columns = options.columns ?? terminalColumns;
  }

  /** The terminal's width now, in columns. */
  get width(): number {
    return this.#columns();
  }

  /** Replaces the block with `lines` (each cut to the terminal width). */
  show(lines: readonly string[]): void {
    const width = this.#columns();
    const next = lines.map((line) => ellipsize(line, width));
    this.#writer.write(this.#erase() + next.join("\n"));
    this.#lines = next;
  }

  /** Prints `line` (with `write`, e.g. to stderr) above the block, then redraws the block. */
  print(line: string, write: (line: string) => void): void {
    if (this.#lines.length === 0) {
      write(line);
      return;
    }
    this.#writer.write(this.#erase());
    write(line);
    this.#writer.write(this.#lines.join("\n"));
  }

  /** Erases the block for good (at exit). */
  clear(): void {
    if (this.#lines.length === 0) return;
    this.#writer.write(this.#erase());
    this.#lines = [];
  }

  /** Text that erases the block drawn last and leaves the cursor where it began. */
  #erase(): string {
    const count = this.#lines.length;
    if (count === 0) return "";
    // The cursor sits at the end of the block's last line.
    return ERASE_LINE + `\x1b[1A${ERASE_LINE}`.repeat(count - 1);
  }
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns || 120; // a pty may report 0 × 0
  } catch {
    return 120;
  }
}
