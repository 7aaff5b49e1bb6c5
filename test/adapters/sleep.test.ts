import { describe, expect, it } from 'vitest';
import { sleep, until } from '../../src/adapters/sleep.js';

describe('sleep', () => {
  it('resolves after the pause', async () => {
    await expect(sleep(5)).resolves.toBeUndefined();
  });

  it('an abort ends a long pause without rejecting (the test would time out otherwise)', async () => {
    const stop = new AbortController();
    const paused = sleep(600_000, stop.signal);
    stop.abort();
    await expect(paused).resolves.toBeUndefined();
  });

  it('an already aborted signal does not pause at all', async () => {
    await expect(sleep(600_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});

describe('until', () => {
  it('is true as soon as the condition holds', async () => {
    let checks = 0;
    await expect(until(() => ++checks === 3, 600_000, { intervalMs: 1 })).resolves.toBe(true);
    expect(checks).toBe(3);
  });

  it('is false when the time is up and the condition never held', async () => {
    await expect(until(() => false, 10, { intervalMs: 1 })).resolves.toBe(false);
  });

  it('is false when stopped, without waiting out the time', async () => {
    const stop = new AbortController();
    const waiting = until(() => false, 600_000, { signal: stop.signal });
    stop.abort();
    await expect(waiting).resolves.toBe(false);
  });
});
