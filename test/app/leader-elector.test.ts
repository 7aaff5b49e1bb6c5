import { describe, expect, it } from 'vitest';
import { LeaderElector } from '../../src/app/leader-elector.js';
import { createLogger } from '../../src/app/log.js';
import type { ElectionEvent, LeaderSettings } from '../../src/core/leader.js';
import { onCleanup } from '../helpers/cleanup.js';
import { MemoryLockStore } from '../helpers/memory-lock.js';
import { until } from '../helpers/wait.js';

const FAST: LeaderSettings = { leaseMs: 900, renewDeadlineMs: 600, retryMs: 150 };
const logger = createLogger({ level: 'silent', format: 'json' });

function elector(store: MemoryLockStore, self: string, now?: () => number) {
  const events: ElectionEvent[] = [];
  const e = new LeaderElector({
    store,
    key: 'leader',
    self,
    settings: FAST,
    logger,
    onEvent: (event) => events.push(event),
    ...(now === undefined ? {} : { now }),
  });
  e.start();
  onCleanup(() => e.stop());
  return { e, events };
}

describe('LeaderElector', () => {
  it('leads alone, with a fencing token', async () => {
    const store = new MemoryLockStore();
    const { e, events } = elector(store, 'alpha');
    await until(() => e.mayAct(), 'alpha to lead');
    expect(e.token).toBe(1);
    expect(events[0]).toEqual({ type: 'became-leader', token: 1, previous: null });
  });

  it('lets exactly one of two lead, and hands over on a clean stop', async () => {
    const store = new MemoryLockStore();
    const alpha = elector(store, 'alpha');
    await until(() => alpha.e.mayAct(), 'alpha to lead');
    const beta = elector(store, 'beta');
    await new Promise((r) => setTimeout(r, 400));
    expect(beta.e.mayAct()).toBe(false);
    expect(beta.e.state).toMatchObject({ role: 'follower', leader: 'alpha', token: 1 });
    const stoppedAt = Date.now();
    await alpha.e.stop();
    await until(() => beta.e.mayAct(), 'beta to take over');
    // Released, not expired: beta does not wait for the lease.
    expect(Date.now() - stoppedAt).toBeLessThan(FAST.leaseMs);
    expect(beta.e.token).toBe(2);
    expect(beta.events.at(-1)).toEqual({ type: 'became-leader', token: 2, previous: 'alpha' });
  });

  it('steps down at the renew deadline when the lock store is unreachable, and reports leaderless after a lease', async () => {
    const store = new MemoryLockStore();
    let skew = 0;
    const { e, events } = elector(store, 'alpha', () => performance.now() + skew);
    await until(() => e.mayAct(), 'alpha to lead');
    store.down = true;
    // However late the timers run, the leader cannot act once its renew deadline has passed.
    skew = FAST.renewDeadlineMs;
    expect(e.mayAct()).toBe(false);
    await until(() => events.at(-1)?.type === 'stepped-down', 'the step-down event');
    expect(events.at(-1)).toMatchObject({ reason: 'could not renew the lease before the renew deadline' });
    await until(() => e.leaderless(), 'leaderless', 5_000);
    store.down = false;
    await until(() => e.mayAct(), 'alpha to lead again');
    expect(e.leaderless()).toBe(false);
  });

  it('does not act with a stale lease after being paused longer than the lease (SIGSTOP)', async () => {
    const store = new MemoryLockStore();
    let skew = 0;
    const { e } = elector(store, 'alpha', () => performance.now() + skew);
    await until(() => e.mayAct(), 'alpha to lead');
    const token = e.token;
    // What a process sees after SIGCONT: its clock jumped by more than the lease.
    skew = 2 * FAST.leaseMs;
    expect(e.mayAct()).toBe(false);
    expect(e.token).toBeUndefined();
    await until(() => e.mayAct(), 'alpha to lead again after renewing');
    // The lease expired while paused, so taking it again means a new token.
    expect(e.token).toBeGreaterThanOrEqual(token ?? 0);
  });
});
