/**
 * One rule for a setting two keys can hold, a general one and a more
 * specific one (`data_source.symbols` and `data_source.nats.consumer.symbols`):
 * the key set by the higher-precedence source wins (a flag or `NATS_URL` over
 * the file, the file over the default); of two keys set by one source, the
 * more specific wins, and the two must agree.
 *
 * @module
 */

import type { Section } from "./_reader.ts";
import { quoteValue } from "./quote.ts";

/** One of the two keys: its table, its name and the value read there. */
export interface KeyValue<T> {
  /** The table holding the key. */
  section: Section;
  /** The key's name in that table. */
  key: string;
  /** Its value; for the specific key, read with the general value as the fallback. */
  value: T;
}

/**
 * The value that applies where the specific key does. Two keys set by one
 * source to values that are not `same` are a problem naming both keys,
 * both values and where each was set (unless one of them is already
 * reported as bad). `same` compares values (default: equal as JSON).
 */
export function mostSpecific<T>(
  general: KeyValue<T>,
  specific: KeyValue<T>,
  options: { same?: (a: T, b: T) => boolean } = {},
): T {
  const { same = (a, b) => JSON.stringify(a) === JSON.stringify(b) } = options;
  const generalSet = general.section.precedence(general.key);
  const specificSet = specific.section.precedence(specific.key);
  if (generalSet > specificSet) return general.value;
  const bad = general.section.reported(general.key) ||
    specific.section.reported(specific.key);
  if (
    generalSet === specificSet && generalSet > 0 && !bad &&
    !same(general.value, specific.value)
  ) {
    specific.section.problem(
      specific.key,
      `${quoteValue(specific.value)} conflicts with ${
        general.section.keyPath(general.key)
      } = ${quoteValue(general.value)} ${
        general.section.where(general.key)
      }: set only one of the two keys, or both to the same value`,
    );
  }
  return specific.value;
}
