/**
 * The name registry entries give this host: a publisher writes it, and a
 * ring consumer that discovers symbols keeps those of its own host.
 *
 * @module
 */

/**
 * This host's name (needs `--allow-sys=hostname`), or `unknown` without the
 * permission: asked first, so a terminal never shows a permission prompt.
 */
export function hostName(): string {
  const permission = { name: "sys", kind: "hostname" } as const;
  if (Deno.permissions.querySync(permission).state !== "granted") {
    return "unknown";
  }
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/**
 * Are `host` and `other` known to be the same host? An `unknown` name
 * (no `--allow-sys=hostname`) could be any host, so it never matches, not
 * even another `unknown`.
 */
export function sameHost(host: string, other: string): boolean {
  return host !== "unknown" && host === other;
}
