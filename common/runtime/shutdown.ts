/**
 * Clean shutdown on SIGINT and SIGTERM through an `AbortSignal`.
 *
 * @module
 */

/** Options of {@linkcode shutdownSignal}. */
export interface ShutdownOptions {
  /** Also stop when this signal aborts (e.g. a caller's own). */
  signal?: AbortSignal;
  /** Told which OS signal arrived (once: repeats, e.g. also forwarded by `deno task`, are ignored). */
  onSignal?: (signal: Deno.Signal) => void;
}

/** A stop signal and the function that removes its OS signal listeners. */
export interface Shutdown {
  /** Aborts on SIGINT, SIGTERM or the caller's signal. */
  signal: AbortSignal;
  /** Removes the SIGINT/SIGTERM listeners. */
  dispose(): void;
}

/** An `AbortSignal` that aborts on SIGINT or SIGTERM, or when `options.signal` does. */
export function shutdownSignal(options: ShutdownOptions = {}): Shutdown {
  const controller = new AbortController();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (controller.signal.aborted) return;
      options.onSignal?.(signal);
      controller.abort(new Error(`received ${signal}`));
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  const external = options.signal;
  const follow = () => controller.abort(external?.reason);
  if (external?.aborted) follow();
  else external?.addEventListener("abort", follow, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      external?.removeEventListener("abort", follow);
      for (const [signal, handler] of handlers) {
        Deno.removeSignalListener(signal, handler);
      }
    },
  };
}
