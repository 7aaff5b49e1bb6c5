// The watcher against every fault the simulator can produce, in both dialects: the simulator's
// events2 lines (with timestamps and statistics, as the daemon reads them) go through exactly the
// daemon's parser, state and rules. Deterministic: in-process, with a clock moved by hand.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../src/core/notification.js';
import { HostWatcher } from '../../src/core/watcher.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import type { Dialect } from '../../src/sim/types.js';
import { ManualClock, tempDir } from '../sim/helpers.js';

const STREAM = { timestamps: true, statistics: true } as const;

class Observed {
  readonly watchers: Record<string, HostWatcher> = {};
  readonly marks: Record<string, number> = {};
  readonly errors: string[] = [];

  constructor(readonly pair: SimulatedPair) {
    for (const host of ['alpha', 'beta']) {
      this.watchers[host] = new HostWatcher(host);
      this.marks[host] = pair.mark(host);
      for (const line of pair.eventsNow(host, STREAM)) this.feed(host, line);
    }
  }

  private feed(host: string, line: string): Notification[] {
    const result = this.watchers[host]?.feed(line, 0);
    if (result?.error !== undefined) this.errors.push(`${result.error.reason}: ${line}`);
    return [...(result?.notifications ?? [])];
  }

  /** Run an action and return what each host's watcher says about it, as "host kind" strings. */
  step(action: () => void): string[] {
    action();
    const said: string[] = [];
    for (const host of ['alpha', 'beta']) {
      const lines = this.pair.eventsSince(host, this.marks[host] ?? 0, STREAM);
      this.marks[host] = this.pair.mark(host);
      for (const line of lines) said.push(...this.feed(host, line).map((n) => `${host} ${n.kind}`));
    }
    return said;
  }
}

for (const dialect of ['9', '8.4'] as Dialect[]) {
  describe(`watcher on simulated faults (DRBD ${dialect})`, () => {
    let dir: string;
    let cleanup: () => void;
    let clock: ManualClock;
    let pair: SimulatedPair;
    let seen: Observed;

    beforeEach(() => {
      ({ dir, cleanup } = tempDir('drbd-chatops-faults-'));
      clock = new ManualClock();
      pair = SimulatedPair.init(
        dir,
        {
          hosts: ['alpha', 'beta'],
          resources: [{ name: 'r0', minor: 0 }],
          dialect,
          primary: { r0: 'alpha' },
        },
        { clock },
      );
      seen = new Observed(pair);
    });
    afterEach(() => {
      expect(seen.errors).toEqual([]);
      cleanup();
    });

    const finishResync = () => {
      clock.advance(60_000);
      pair.tick();
    };

    it('starts quiet on a healthy pair', () => {
      expect(seen.step(() => {})).toEqual([]);
    });

    it('link down and up: lost (critical on the Primary), restored, resync of what was written', () => {
      expect(seen.step(() => pair.linkDown('r0'))).toEqual(['alpha connection-lost', 'beta connection-lost']);
      const back = seen.step(() => pair.linkUp('r0'));
      expect(back).toEqual(
        expect.arrayContaining(['alpha connection-restored', 'alpha resync-started', 'beta resync-started']),
      );
      expect(seen.step(finishResync)).toEqual(
        expect.arrayContaining(['alpha resync-finished', 'beta resync-finished']),
      );
    });

    it('host crash and boot', () => {
      expect(seen.step(() => pair.crash('beta'))).toEqual(['alpha connection-lost']);
      const boot = seen.step(() => pair.boot('beta'));
      expect(boot).toEqual(expect.arrayContaining(['alpha connection-restored', 'alpha resync-started']));
      seen.step(finishResync);
    });

    it('disk failure, then the disk attached again and resynced', () => {
      const failed = seen.step(() => pair.diskFail('beta', 'r0'));
      expect(failed).toEqual(['alpha peer-disk-degraded', 'beta disk-degraded']);
      expect(seen.step(() => pair.diskAttach('beta', 'r0'))).toEqual(
        expect.arrayContaining(['alpha resync-started', 'beta resync-started']),
      );
      expect(seen.step(finishResync)).toEqual(
        expect.arrayContaining(['alpha peer-disk-restored', 'beta disk-restored', 'beta resync-finished']),
      );
    });

    it('a resync of N seconds', () => {
      expect(seen.step(() => pair.resync('r0', { seconds: 30, source: 'alpha' }))).toEqual(
        expect.arrayContaining(['alpha resync-started', 'beta resync-started']),
      );
      expect(seen.step(finishResync)).toEqual(
        expect.arrayContaining(['alpha resync-finished', 'beta resync-finished']),
      );
    });

    it('a refused demotion changes nothing and says nothing', () => {
      pair.openDevice('alpha', 'r0', 'multipathd');
      const said = seen.step(() => {
        expect(pair.secondary('alpha', 'r0').exitCode).toBe(11);
      });
      expect(said).toEqual([]);
    });

    it('split-brain on both hosts, and the recovery', () => {
      const split = seen.step(() => pair.splitBrain('r0'));
      for (const host of ['alpha', 'beta']) {
        expect(split).toContain(`${host} split-brain`);
        expect(split).toContain(`${host} standalone`);
        expect(split.filter((s) => s === `${host} split-brain`)).toHaveLength(1);
      }
      expect(split).not.toContain('alpha connection-restored');
      const recovered = seen.step(() => {
        expect(pair.secondary('beta', 'r0').exitCode).toBe(0);
        expect(pair.connect('beta', 'r0', { discardMyData: true }).exitCode).toBe(0);
        expect(pair.connect('alpha', 'r0').exitCode).toBe(0);
      });
      expect(recovered).toEqual(
        expect.arrayContaining([
          'alpha connection-restored',
          'beta connection-restored',
          'beta resync-started',
        ]),
      );
      expect(seen.step(finishResync)).toContain('beta resync-finished');
    });

    it('a planned switchover', () => {
      const said = seen.step(() => {
        expect(pair.secondary('alpha', 'r0').exitCode).toBe(0);
        expect(pair.primary('beta', 'r0').exitCode).toBe(0);
      });
      expect(said.filter((s) => s.endsWith('role-changed'))).toHaveLength(4);
      expect(said.every((s) => s.endsWith('role-changed'))).toBe(true);
    });
  });
}
