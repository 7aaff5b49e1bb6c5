// DRBD 9 with a third node: an intentionally diskless quorum tiebreaker (client:yes), quorum
// majority, and one peer lost while the other still replicates. Sources: LINBIT/drbd drbd-9.2
// (drbd_state.c calc_quorum / state_change_is_susp_quorum / after_state_ch quorum-lost),
// LINBIT/drbd-utils user/v9/drbdsetup_events2.c (print_changes order, intentional_diskless_str,
// compute_promotion_info) and user/v9/drbdsetup.c (device_status, peer_device_status).

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';
import { eventsDuring, helpers, ManualClock, SIM_BIN, tempDir } from './helpers.js';

const AB = 'name:r0 peer-node-id:1 conn-name:beta';
const AG = 'name:r0 peer-node-id:2 conn-name:gamma';
const GA = 'name:r0 peer-node-id:0 conn-name:alpha';
const GB = 'name:r0 peer-node-id:1 conn-name:beta';

describe('three DRBD 9 nodes with a diskless tiebreaker', () => {
  let dir: string;
  let cleanup: () => void;
  let clock: ManualClock;
  let pair: SimulatedPair;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    clock = new ManualClock();
    pair = SimulatedPair.init(
      dir,
      {
        hosts: ['alpha', 'beta', 'gamma'],
        clients: ['gamma'],
        resources: [{ name: 'r0', minor: 0 }],
        quorum: 'majority',
      },
      { clock },
    );
  });
  afterEach(() => cleanup());

  it('dumps both connections; the tiebreaker is client:yes, its peers see peer-client:yes', () => {
    // print_changes: resource, all connections, the device, then per connection peer-device and path.
    expect(pair.eventsNow('alpha').filter((l) => !l.includes(' path '))).toEqual([
      'exists resource name:r0 role:Primary suspended:no force-io-failures:no may_promote:no promotion_score:10102',
      `exists connection ${AB} connection:Connected role:Secondary`,
      `exists connection ${AG} connection:Connected role:Secondary`,
      'exists device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:UpToDate client:no open:no quorum:yes',
      `exists peer-device ${AB} volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no`,
      `exists peer-device ${AG} volume:0 replication:Established peer-disk:Diskless peer-client:yes resync-suspended:no`,
      'exists -',
    ]);
    expect(pair.eventsNow('alpha').map((l) => l.split(' ')[1])).toEqual([
      'resource',
      'connection',
      'connection',
      'device',
      'peer-device',
      'path',
      'peer-device',
      'path',
      '-',
    ]);
    // compute_promotion_info on the client: no local disk (0 × 10000), two UpToDate replicas.
    expect(pair.eventsNow('gamma').slice(0, 4)).toEqual([
      'exists resource name:r0 role:Secondary suspended:no force-io-failures:no may_promote:no promotion_score:2',
      `exists connection ${GA} connection:Connected role:Primary`,
      `exists connection ${GB} connection:Connected role:Secondary`,
      'exists device name:r0 volume:0 minor:0 backing_dev:none disk:Diskless client:yes open:no quorum:yes',
    ]);
    // device_status: client: is shown for a Diskless device (not on a terminal).
    expect(pair.status('gamma', 'r0').stdout).toBe(
      'r0 role:Secondary\n  disk:Diskless client:yes\n  alpha role:Primary\n    peer-disk:UpToDate\n  beta role:Secondary\n    peer-disk:UpToDate\n\n',
    );
    expect(pair.status('alpha', 'r0').stdout).toBe(
      'r0 role:Primary\n  disk:UpToDate\n  beta role:Secondary\n    peer-disk:UpToDate\n  gamma role:Secondary\n    peer-disk:Diskless peer-client:yes\n\n',
    );
  });

  it('losing one diskful peer keeps replication to the tiebreaker and quorum (2 of 3)', () => {
    const seen = eventsDuring(pair, () => pair.linkDown('r0', { between: ['alpha', 'beta'] }));
    expect(seen.alpha?.filter((l) => !l.includes(' path '))).toEqual([
      'change resource name:r0 may_promote:no promotion_score:10101',
      `change connection ${AB} connection:NetworkFailure role:Unknown`,
      `change peer-device ${AB} volume:0 replication:Off peer-disk:DUnknown peer-client:no`,
      `call helper ${AB} helper:disconnected`,
      `response helper ${AB} helper:disconnected status:0`,
      `change connection ${AB} connection:Unconnected`,
      `change connection ${AB} connection:Connecting`,
    ]);
    // Nothing changes for the tiebreaker, and nobody loses quorum.
    expect(seen.gamma).toEqual([]);
    expect(pair.status('alpha', 'r0').stdout).toBe(
      'r0 role:Primary\n  disk:UpToDate\n  beta connection:Connecting\n  gamma role:Secondary\n    peer-disk:Diskless peer-client:yes\n\n',
    );
  });

  it('losing the tiebreaker: only the tiebreaker loses quorum', () => {
    const seen = eventsDuring(pair, () => pair.linkDown('r0', { host: 'gamma' }));
    for (const host of ['alpha', 'beta']) {
      expect(
        seen[host]?.some((l) => l.includes('quorum:no') || l.includes('suspended:quorum')),
        host,
      ).toBe(false);
    }
    // state_change_is_susp_quorum: on-no-quorum suspend-io and a device without quorum.
    expect(seen.gamma?.[0]).toBe('change resource name:r0 suspended:quorum may_promote:no promotion_score:0');
    expect(seen.gamma).toContain(
      'change device name:r0 volume:0 minor:0 backing_dev:none disk:Diskless client:yes open:no quorum:no',
    );
    // quorum-lost is for a Primary only (after_state_ch: role[NEW] == R_PRIMARY).
    expect(helpers(seen.gamma ?? []).some((h) => h.includes('quorum-lost'))).toBe(false);
  });

  it('the Primary cut off from both peers loses quorum: quorum:no, suspended:quorum, quorum-lost', () => {
    const seen = eventsDuring(pair, () => pair.quorumLost('alpha', 'r0'));
    const alpha = (seen.alpha ?? []).filter((l) => !l.includes(' path '));
    // One state change: both connections, quorum:no and suspended:quorum together; then
    // drbd_maybe_khelper(device, NULL, "quorum-lost"): a device helper (volume/minor only).
    expect(alpha.slice(0, 8)).toEqual([
      'change resource name:r0 suspended:quorum may_promote:no promotion_score:0',
      `change connection ${AB} connection:NetworkFailure role:Unknown`,
      `change connection ${AG} connection:NetworkFailure role:Unknown`,
      'change device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:UpToDate client:no open:no quorum:no',
      `change peer-device ${AB} volume:0 replication:Off peer-disk:DUnknown peer-client:no`,
      `change peer-device ${AG} volume:0 replication:Off peer-disk:DUnknown peer-client:yes`,
      'call helper name:r0 volume:0 minor:0 helper:quorum-lost',
      'response helper name:r0 volume:0 minor:0 helper:quorum-lost status:0',
    ]);
    // beta and gamma still have each other: quorum, and beta may be promoted.
    expect(seen.beta?.[0]).toBe('change resource name:r0 may_promote:yes promotion_score:10101');
    expect(pair.status('alpha', 'r0').stdout).toBe(
      'r0 role:Primary suspended:quorum\n  disk:UpToDate quorum:no\n  beta connection:Connecting\n  gamma connection:Connecting\n\n',
    );
    // No quorum, no promotion (SS_NO_QUORUM).
    pair.secondary('alpha', 'r0');
    expect(pair.primary('alpha', 'r0')).toMatchObject({
      exitCode: 11,
      stderr: 'r0: State change failed: (-25) No quorum\n',
    });
  });

  it('on-no-quorum io-error: quorum lost without suspending', () => {
    const seen = eventsDuring(pair, () => pair.quorumLost('alpha', 'r0', { onNoQuorum: 'io-error' }));
    expect(seen.alpha?.[0]).toBe('change resource name:r0 may_promote:no promotion_score:0');
    expect(helpers(seen.alpha ?? []).slice(0, 2)).toEqual(['call quorum-lost', 'response quorum-lost 0']);
  });

  it('a diskless client may be Primary on its peers’ data', () => {
    pair.secondary('alpha', 'r0');
    expect(pair.primary('gamma', 'r0').exitCode).toBe(0);
    expect(pair.eventsNow('alpha')[1]).toBe(`exists connection ${AB} connection:Connected role:Secondary`);
    expect(pair.eventsNow('alpha')[2]).toBe(`exists connection ${AG} connection:Connected role:Primary`);
  });

  it('drbdsetup connect/disconnect/cstate name the peer by node id', async () => {
    const run = (args: string[], host = 'alpha') =>
      execa(SIM_BIN, args, {
        env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: host },
        extendEnv: false,
        stripFinalNewline: false,
        timeout: 20_000,
        reject: false,
      });
    expect((await run(['disconnect', 'r0', '2'])).exitCode).toBe(0);
    expect((await run(['cstate', 'r0', '2'])).stdout).toBe('StandAlone\n');
    expect((await run(['cstate', 'r0', '1'])).stdout).toBe('Connected\n');
    expect(await run(['cstate', 'r0', '0'])).toMatchObject({
      exitCode: 10,
      stderr: 'r0: No such connection\n',
    });
    expect((await run(['connect', 'r0', '2'])).exitCode).toBe(0);
    expect((await run(['cstate', 'r0', '2'])).stdout).toBe('Connected\n');
  });
});
