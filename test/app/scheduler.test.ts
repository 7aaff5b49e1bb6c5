import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app/log.js';
import { type ScheduledJob, Scheduler } from '../../src/app/scheduler.js';
import { tempDir } from '../helpers/cleanup.js';

const logger = createLogger({ level: 'silent', format: 'json' });

function job(runs: string[], cron = '0 8 * * *', catchUpMs = 6 * 3_600_000): ScheduledJob {
  return { name: 'digest', cron, catchUpMs, run: async (slot) => void runs.push(slot.toISOString()) };
}

describe('scheduler', () => {
  it('runs a slot once, remembers it on disk, and a new instance does not run it again', async () => {
    const dir = tempDir();
    const runs: string[] = [];
    const slot = new Date('2026-11-29T08:00:00');
    const first = new Scheduler({ jobs: [job(runs)], stateDir: dir, leading: () => true, logger });
    await Promise.all([first.runSlot(job(runs), slot), first.runSlot(job(runs), slot)]);
    await first.runSlot(job(runs), slot);
    expect(runs).toEqual([slot.toISOString()]);
    const restarted = new Scheduler({ jobs: [job(runs)], stateDir: dir, leading: () => true, logger });
    await restarted.runSlot(job(runs), slot);
    expect(runs).toHaveLength(1);
    expect(restarted.done).toEqual({ digest: slot.toISOString() });
  });

  it('a new leader runs the slot nobody ran, once; not one the old leader reported done', async () => {
    const runs: string[] = [];
    const now = new Date('2026-11-29T09:30:00');
    const missed = new Scheduler({
      jobs: [job(runs)],
      stateDir: tempDir(),
      leading: () => true,
      logger,
      now: () => now,
    });
    await missed.catchUp();
    await missed.catchUp();
    expect(runs).toEqual([new Date('2026-11-29T08:00:00').toISOString()]);

    const told: string[] = [];
    const other = new Scheduler({
      jobs: [job(told)],
      stateDir: tempDir(),
      leading: () => true,
      logger,
      now: () => now,
    });
    // The old leader ran it and said so over the peer link.
    await other.record('digest', new Date('2026-11-29T08:00:00').toISOString());
    await other.catchUp();
    expect(told).toEqual([]);
  });

  it('does not catch up a slot older than the window', async () => {
    const runs: string[] = [];
    const now = new Date('2026-11-29T20:00:00');
    const s = new Scheduler({
      jobs: [job(runs)],
      stateDir: tempDir(),
      leading: () => true,
      logger,
      now: () => now,
    });
    await s.catchUp();
    expect(runs).toEqual([]);
  });

  it('fires on its cron times only while leading, and tells the peer', async () => {
    const runs: string[] = [];
    const told: string[] = [];
    let leading = false;
    const s = new Scheduler({
      jobs: [job(runs, '* * * * * *')],
      stateDir: tempDir(),
      leading: () => leading,
      logger,
      tellPeer: async (name, slot) => void told.push(`${name}@${slot}`),
    });
    s.start();
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      expect(runs).toEqual([]);
      leading = true;
      const deadline = Date.now() + 5_000;
      while (runs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(runs.length).toBeGreaterThanOrEqual(2);
      expect(new Set(runs).size).toBe(runs.length);
      expect(told[0]).toBe(`digest@${runs[0]}`);
    } finally {
      await s.stop();
    }
  });
});
