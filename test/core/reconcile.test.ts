import { describe, expect, it } from 'vitest';
import { HostWatcher } from '../../src/core/watcher.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { tempDir } from '../helpers/cleanup.js';

function pair(): SimulatedPair {
  return SimulatedPair.init(tempDir(), {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
}

describe('reconciliation against events2 --now', () => {
  it('says nothing while the engine matches the live state', () => {
    const p = pair();
    const watcher = new HostWatcher('alpha');
    for (const line of p.eventsNow('alpha')) watcher.feed(line, 1_000);
    expect(watcher.watch.phase).toBe('live');
    expect(watcher.reconcile(p.eventsNow('alpha'), 2_000).notifications).toEqual([]);
  });

  it('reports what the stream missed as a watcher-gap, raises its alerts, and adopts the live state', () => {
    const p = pair();
    const watcher = new HostWatcher('alpha');
    for (const line of p.eventsNow('alpha')) watcher.feed(line, 1_000);
    // The link fails and the stream never tells (a lost event).
    p.linkDown('r0');
    const result = watcher.reconcile(p.eventsNow('alpha'), 2_000);
    const kinds = result.notifications.map((n) => n.kind);
    expect(kinds[0]).toBe('watcher-gap');
    expect(kinds).toContain('connection-lost');
    expect(result.notifications[0]?.text).toMatch(
      /^Reconciliation on alpha: the live DRBD state differs from what the event stream reported \(4 differences: r0 beta connection: Connected → Connecting; r0 beta role: Secondary → Unknown; /,
    );
    expect(watcher.watch.state.resources.r0?.connections.beta?.fields.connection).not.toBe('Connected');
    // Corrected: the next round is quiet.
    expect(watcher.reconcile(p.eventsNow('alpha'), 3_000).notifications).toEqual([]);
  });

  it('does nothing before the first dump was read', () => {
    const watcher = new HostWatcher('alpha');
    expect(watcher.reconcile(pair().eventsNow('alpha'), 1_000).notifications).toEqual([]);
  });
});
