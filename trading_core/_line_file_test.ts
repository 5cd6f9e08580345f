import assert from "node:assert/strict";
import { join } from "node:path";
import { TEMP_FILE_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";
import {
  LineFile,
  type LineFileOptions,
  ndjsonWithFields,
  RecordFileError,
  RecordFileExistsError,
} from "./_line_file.ts";

/** Tests that write files: skipped, saying why, without those permissions. */
const test = testNeeding(TEMP_FILE_PERMISSIONS);

/** Runs `fn` with a fresh temp directory, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_line_file_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens `path`, writes `lines`, closes it, and returns the file. */
async function writeLines(
  path: string,
  lines: string[],
  options: Partial<LineFileOptions> = {},
): Promise<LineFile> {
  using file = await LineFile.open(path, { flag: "--record", ...options });
  for (const line of lines) file.writeLine(line);
  return file;
}

const RECORD = ndjsonWithFields("a record", ["n"]);

test("LineFile: refuses an existing file that is not empty, naming it, the flags and the key; leaves it as it was", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    await Deno.writeTextFile(path, '{"n":1}\n');
    for (const options of [{}, { onExisting: "refuse" as const }]) {
      await assert.rejects(
        LineFile.open(path, { flag: "--record", ...options }),
        (error: unknown) => {
          assert.ok(error instanceof RecordFileExistsError);
          assert.ok(error instanceof RecordFileError);
          assert.equal(error.path, path);
          assert.equal(
            error.message,
            `--record ${path} exists (8 bytes): pass --overwrite to replace it or --append to add to it (trading_core.on_existing_file)`,
          );
          return true;
        },
      );
    }
    assert.equal(await Deno.readTextFile(path), '{"n":1}\n');
  });
});

test("LineFile: an existing empty file is taken as a new one (header included)", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "rec.csv");
    await Deno.writeTextFile(path, "");
    const file = await writeLines(path, ["1,2"], { header: "a,b" });
    assert.equal(await Deno.readTextFile(path), "a,b\n1,2\n");
    assert.equal(file.lines, 1);
    assert.equal(file.bytes, 8);
  });
});

test("LineFile: overwrite replaces the file, header first", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "rec.csv");
    await Deno.writeTextFile(path, "something else entirely\nand more\n");
    await writeLines(path, ["1,2"], {
      header: "a,b",
      onExisting: "overwrite",
    });
    assert.equal(await Deno.readTextFile(path), "a,b\n1,2\n");
  });
});

test("LineFile: append adds after the existing lines, the header once", async () => {
  await inTempDir(async (dir) => {
    const csv = join(dir, "rec.csv");
    await writeLines(csv, ["1,2"], { header: "a,b" });
    const file = await writeLines(csv, ["3,4", "5,6"], {
      header: "a,b",
      onExisting: "append",
    });
    assert.equal(await Deno.readTextFile(csv), "a,b\n1,2\n3,4\n5,6\n");
    assert.equal(file.lines, 2);
    const ndjson = join(dir, "rec.ndjson");
    await writeLines(ndjson, ['{"n":1}']);
    await writeLines(ndjson, ['{"n":2}'], {
      checkFirstLine: RECORD,
      onExisting: "append",
    });
    assert.equal(await Deno.readTextFile(ndjson), '{"n":1}\n{"n":2}\n');
  });
});

test("LineFile: append drops an incomplete last line first, saying so", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    // A big file, so the last newline is found more than a block back.
    const whole = `${'{"n":1}\n'.repeat(20_000)}`;
    const cut = `{"n":2,"pad":"${"x".repeat(70_000)}`;
    await Deno.writeTextFile(path, whole + cut);
    const notices: string[] = [];
    await writeLines(path, ['{"n":3}'], {
      checkFirstLine: RECORD,
      onExisting: "append",
      onNotice: (message) => notices.push(message),
    });
    assert.equal(await Deno.readTextFile(path), `${whole}{"n":3}\n`);
    assert.deepEqual(notices, [
      `--record ${path}: dropped its incomplete last line (70,014 bytes) before appending`,
    ]);
  });
});

test("LineFile: append refuses a file of another kind, leaving it as it was", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "rec");
    const cases: [string, Partial<LineFileOptions>, string][] = [
      [
        "x,y\n1,2\n",
        { header: "a,b" },
        `its first line is "x,y", not the header "a,b"`,
      ],
      [
        '{"m":1}\n{"n":2',
        { checkFirstLine: RECORD },
        `its first line is not a record (an NDJSON object with n): "{\\"m\\":1}"`,
      ],
      [
        "not json\n",
        { checkFirstLine: RECORD },
        `its first line is not a record (an NDJSON object with n): "not json"`,
      ],
      [
        '{"n":1',
        { checkFirstLine: RECORD },
        "it holds no whole line (6 bytes)",
      ],
      [
        `${"y".repeat(70_000)}\n`,
        { header: "a,b" },
        "its first line is longer than 65,536 bytes",
      ],
    ];
    for (const [contents, options, why] of cases) {
      await Deno.writeTextFile(path, contents);
      await assert.rejects(
        LineFile.open(path, {
          flag: "--bars-out",
          onExisting: "append",
          ...options,
        }),
        (error: unknown) => {
          assert.ok(error instanceof RecordFileExistsError, String(error));
          assert.equal(
            error.message,
            `--bars-out cannot append to ${path}: ${why}; pass --overwrite to replace it, or name another file`,
          );
          return true;
        },
      );
      assert.equal(await Deno.readTextFile(path), contents);
    }
  });
});

test("LineFile: lines and bytes as written; no loss without a failed write", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    const file = await LineFile.open(path, {
      flag: "--record",
      chunkChars: 100,
      flushIntervalMs: 0,
    });
    for (let n = 0; n < 50; n++) file.writeLine(`{"n":${n}}`);
    assert.equal(file.lines, 50);
    assert.ok(file.bytes > 0 && file.bytes < 50 * 9);
    file.close();
    assert.equal(file.dropped, 0);
    assert.equal(file.error, undefined);
    const text = await Deno.readTextFile(path);
    assert.equal(file.bytes, text.length);
    assert.equal(text.split("\n").length - 1, 50);
    assert.throws(() => file.writeLine("{}"), /--record file .* is closed/);
  });
});

Deno.test("ndjsonWithFields: a JSON object with every field passes; anything else is named", () => {
  const check = ndjsonWithFields("a bar", ["interval", "open"]);
  assert.equal(check('{"interval":"1s","open":1,"x":2}'), undefined);
  assert.equal(
    check('{"interval":"1s"}'),
    `its first line is not a bar (an NDJSON object with interval, open): "{\\"interval\\":\\"1s\\"}"`,
  );
  assert.match(check("[1,2]")!, /not a bar/);
  assert.match(check("null")!, /not a bar/);
  assert.match(check(`${"z".repeat(100)}`)!, /"z{80}…"$/);
});

test("LineFile: a bad chunkChars is a RangeError, before the file is touched", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "never");
    await assert.rejects(
      LineFile.open(path, { flag: "--record", chunkChars: 0 }),
      RangeError,
    );
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });
});
