// The one way the shell waits: a pause that a stop can cut short, and a poll for a condition with a
// deadline. Retry loops (lock renewal, Socket Mode reconnects, plan-message edits, the demo's tour)
// pause with these so an abort ends every wait the same way and no timer or listener is left
// behind. The core never waits (it has no clock); it is told the time.

/**
 * Resolves after `ms`, or at once when `signal` is (or becomes) aborted. It never rejects: a caller
 * that stops checks its own signal after the pause rather than catching an AbortError.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true || ms <= 0) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Polls `condition` every `intervalMs` until it holds (true) or `timeoutMs` has passed or `signal`
 * is aborted (false).
 */
export async function until(
  condition: () => boolean,
  timeoutMs: number,
  { intervalMs = 20, signal }: { readonly intervalMs?: number; readonly signal?: AbortSignal } = {},
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline || signal?.aborted === true) return false;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), signal);
  }
  return true;
}
