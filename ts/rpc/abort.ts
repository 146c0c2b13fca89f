// Racing a promise against an AbortSignal, as both ends of a call do.

/**
 * Resolves with `work`, or rejects with the signal's reason as soon as it
 * aborts. `work`'s own later outcome is then ignored (and never reported as
 * an unhandled rejection).
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
