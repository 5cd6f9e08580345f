/**
 * The files of a merge: directories expanded to the trade files they hold,
 * in name order, and the total size for progress.
 *
 * @module
 */

import { TradeFileReadError } from "./_text_file.ts";

/** The name endings of the trade files a directory is expanded to. */
export const TRADE_FILE_EXTENSIONS: readonly string[] = [
  ".csv",
  ".csv.gz",
  ".ndjson",
  ".ndjson.gz",
  ".jsonl",
  ".jsonl.gz",
  ".zip",
];

/** Whether `name` ends as a trade file's does. */
function isTradeFile(name: string): boolean {
  return TRADE_FILE_EXTENSIONS.some((extension) => name.endsWith(extension));
}

/** Why a stat failed, in a few words. */
function reasonOf(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  return error instanceof Error ? error.message : String(error);
}

/**
 * `paths` with each directory replaced by its trade files (not recursive,
 * sorted by name), and their total size.
 *
 * @throws {TradeFileReadError} naming a path that cannot be looked at, or a
 * directory without a trade file.
 */
export async function expandTradeFiles(
  paths: readonly string[],
): Promise<{ files: string[]; totalBytes: number }> {
  const files: string[] = [];
  let totalBytes = 0;
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      throw new TradeFileReadError(path, reasonOf(error), { cause: error });
    }
    if (!info.isDirectory) {
      files.push(path);
      totalBytes += info.size;
      continue;
    }
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(path)) {
        if (!entry.isDirectory && isTradeFile(entry.name)) {
          names.push(entry.name);
        }
      }
    } catch (error) {
      throw new TradeFileReadError(path, reasonOf(error), { cause: error });
    }
    if (names.length === 0) {
      throw new TradeFileReadError(
        path,
        `the directory holds no trade file (expected names ending ${
          TRADE_FILE_EXTENSIONS.join(", ")
        })`,
      );
    }
    names.sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
    const directory = path.endsWith("/") ? path : path + "/";
    for (const name of names) {
      const file = directory + name;
      files.push(file);
      try {
        totalBytes += (await Deno.stat(file)).size;
      } catch (error) {
        throw new TradeFileReadError(file, reasonOf(error), { cause: error });
      }
    }
  }
  return { files, totalBytes };
}
