/**
 * The name registry entries give this host: a publisher writes it, and a
 * ring consumer that discovers symbols keeps those of its own host.
 *
 * @module
 */

/** This host's name (needs `--allow-sys=hostname`), or `unknown` without the permission. */
export function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
