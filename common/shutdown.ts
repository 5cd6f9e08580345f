/**
 * Clean shutdown on SIGINT and SIGTERM through an `AbortController`.
 *
 * @module
 */

/**
 * Aborts `controller` on SIGINT or SIGTERM (reporting which through
 * `onSignal`); returns a function that removes the listeners.
 */
export function abortOnSignals(
  controller: AbortController,
  onSignal?: (signal: Deno.Signal) => void,
): () => void {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (controller.signal.aborted) return; // a repeated signal (e.g. also forwarded by deno task)
      onSignal?.(signal);
      controller.abort(new Error(`received ${signal}`));
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
  };
}
