// Counters exactly as drbd-utils prints them. Two different rules, both from the source:
// - `events2 --statistics` sets opt_verbose as well (user/v9/drbdsetup.c and user/v84/drbdsetup.c,
//   option 's': `++opt_verbose; opt_statistics = true;`), so print_peer_device_statistics prints
//   out-of-sync even when 0, pending and unacked, and during a resync dbdt1 and eta
//   (drbd-utils' own tests/v9/events2-sync.test expects `… out-of-sync:2500 pending:30 unacked:40
//   dbdt1:0.24 eta:10` for plain `events2 --statistics`);
// - `status --statistics` without --verbose (status_cmd: 's' sets only opt_statistics) prints
//   received and sent, out-of-sync only when non-zero, and no pending/unacked/dbdt1/eta.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';
import type { Dialect } from '../../src/sim/types.js';
import { eventsDuring, ManualClock, tempDir } from './helpers.js';

describe('statistics as drbd-utils prints them', () => {
  let dir: string;
  let cleanup: () => void;
  let clock: ManualClock;
  let pair: SimulatedPair;

  const init = (dialect: Dialect) => {
    pair = SimulatedPair.init(
      dir,
      { hosts: ['alpha', 'beta'], resources: [{ name: 'r0', minor: 0 }], dialect },
      { clock },
    );
  };

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    clock = new ManualClock();
  });
  afterEach(() => cleanup());

  it('DRBD 9 events2: done alone without --statistics; every counter, dbdt1 and eta with it', () => {
    init('9');
    pair.linkDown('r0');
    pair.linkUp('r0');
    const plain = eventsDuring(pair, () => {
      clock.advance(500);
      pair.tick();
    });
    // print_peer_device_statistics, called from print_peer_device_changes with indent 0: `done`
    // whenever sync_details (rs_total != 0), then return unless opt_statistics.
    expect(plain.beta).toEqual([
      'change peer-device name:r0 peer-node-id:0 conn-name:alpha volume:0 done:25.00',
    ]);
    const stats = eventsDuring(
      pair,
      () => {
        clock.advance(500);
        pair.tick();
      },
      { statistics: true },
    );
    expect(stats.beta).toEqual([
      'change peer-device name:r0 peer-node-id:0 conn-name:alpha volume:0 done:50.00 received:0 sent:0 out-of-sync:52429 pending:0 unacked:0 dbdt1:51.20 eta:1',
    ]);
    // Outside a resync there are no sync details: no done, dbdt1, eta; out-of-sync:0 still printed.
    clock.advance(2000);
    pair.tick();
    expect(pair.eventsNow('beta', { statistics: true })[3]).toBe(
      'exists peer-device name:r0 peer-node-id:0 conn-name:alpha volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no received:0 sent:0 out-of-sync:0 pending:0 unacked:0',
    );
  });

  it('DRBD 9 events2 change lines: al-suspended/blocked and congested only when they change', () => {
    init('9');
    const seen = eventsDuring(pair, () => pair.secondary('alpha', 'r0'), { full: true });
    // print_resource_changes with --full (opt_fullch, which also sets opt_statistics).
    expect(seen.alpha).toEqual([
      'change resource name:r0 role:Secondary suspended:no force-io-failures:no write-ordering:flush may_promote:yes promotion_score:10102',
    ]);
    expect(pair.primary('alpha', 'r0').exitCode).toBe(0);
    pair.linkDown('r0');
    const loss = eventsDuring(pair, () => pair.linkUp('r0'), { statistics: true }, ['beta']);
    // The device's counters did not change, so print_device_changes prints the states only.
    expect(loss.beta).toContain(
      'change device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:Outdated client:no open:no quorum:yes',
    );
  });

  it('DRBD 8.4 events2 --statistics: every counter on every peer-device line, no done/dbdt1/eta', () => {
    init('8.4');
    pair.linkDown('r0');
    const seen = eventsDuring(pair, () => pair.linkUp('r0'), { statistics: true }, ['beta']);
    // user/v84/drbdsetup.c print_device_statistics (opt_verbose): size … lower-pending on every
    // line, al-suspended/blocked only when new or changed; print_peer_device_statistics: received
    // sent out-of-sync pending unacked.
    expect(seen.beta).toEqual([
      'change connection name:r0 peer-node-id:0 conn-name:peer connection:Connected',
      'change connection name:r0 peer-node-id:0 conn-name:peer role:Primary',
      'change device name:r0 volume:0 minor:0 disk:Outdated size:1048576 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0',
      'change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:WFBitMapT peer-disk:UpToDate received:0 sent:0 out-of-sync:0 pending:0 unacked:0',
      'change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:WFSyncUUID received:0 sent:0 out-of-sync:0 pending:0 unacked:0',
      'call helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:before-resync-target',
      'response helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:before-resync-target status:0',
      'change device name:r0 volume:0 minor:0 disk:Inconsistent size:1048576 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0',
      'change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:SyncTarget received:0 sent:0 out-of-sync:104858 pending:0 unacked:0',
    ]);
    // The 8.4 kernel notifies on state changes only, so no progress lines.
    const progress = eventsDuring(pair, () => {
      clock.advance(500);
      pair.tick();
    });
    expect(progress.beta).toEqual([]);
  });

  for (const dialect of ['9', '8.4'] as Dialect[]) {
    it(`status --statistics (${dialect}) without --verbose: out-of-sync only when non-zero, no pending/unacked`, () => {
      init(dialect);
      const peer = dialect === '9' ? 'beta' : 'peer';
      // device_status → print_device_statistics (read written), peer_device_status →
      // print_peer_device_statistics with opt_verbose 0.
      expect(pair.status('alpha', 'r0', { statistics: true }).stdout).toBe(
        `r0 role:Primary\n  disk:UpToDate\n      read:0 written:0\n  ${peer} role:Secondary\n` +
          `    ${dialect === '8.4' ? 'replication:Established ' : ''}peer-disk:UpToDate\n        received:0 sent:0\n\n`,
      );
      pair.linkDown('r0');
      pair.linkUp('r0');
      const syncing = pair.status('alpha', 'r0', { statistics: true }).stdout;
      expect(syncing).toContain('        received:0 sent:0 out-of-sync:104858\n');
      expect(syncing).not.toMatch(/ (pending|unacked|dbdt1|eta):/);
      // Not connected: with --statistics the peer device is listed too (connection_status:
      // opt_statistics), peer-disk DUnknown.
      pair.linkDown('r0');
      expect(pair.status('beta', 'r0', { statistics: true }).stdout).toContain(
        `  ${dialect === '9' ? 'alpha' : 'peer'} connection:Connecting\n    peer-disk:DUnknown\n        received:0 sent:0\n`,
      );
    });
  }
});
