import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';
import { ManualClock, tempDir } from './helpers.js';

const CONN = 'name:r0 peer-node-id:0 conn-name:peer';

describe('SimulatedPair, DRBD 8.4 dialect', () => {
  let cleanup: () => void;
  let clock: ManualClock;
  let pair: SimulatedPair;

  beforeEach(() => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    clock = new ManualClock();
    pair = SimulatedPair.init(
      dir,
      { hosts: ['alpha', 'beta'], resources: [{ name: 'r0', minor: 0 }], dialect: '8.4' },
      { clock },
    );
  });
  afterEach(() => cleanup());

  it('dumps with the 8.4 keys and fields: peer-node-id:0 conn-name:peer, no paths, no may_promote', () => {
    // The 8.4 kernel's dump order (drbd_nl.c get_initial_state): resource, connection, device,
    // peer-device; drbdsetup-84 prints each notification as it arrives.
    expect(pair.eventsNow('alpha')).toEqual([
      'exists resource name:r0 role:Primary suspended:no',
      `exists connection ${CONN} connection:Connected role:Secondary`,
      'exists device name:r0 volume:0 minor:0 disk:UpToDate',
      `exists peer-device ${CONN} volume:0 replication:Established peer-disk:UpToDate resync-suspended:no`,
      'exists -',
    ]);
    // drbdsetup-84 generic_get_cmd: --statistics sets opt_verbose too, so print_device_statistics
    // and print_peer_device_statistics (user/v84/drbdsetup.c) print every counter.
    expect(pair.eventsNow('alpha', { statistics: true })).toEqual([
      'exists resource name:r0 role:Primary suspended:no write-ordering:flush',
      `exists connection ${CONN} connection:Connected role:Secondary congested:no`,
      'exists device name:r0 volume:0 minor:0 disk:UpToDate size:1048576 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0 al-suspended:no blocked:no',
      `exists peer-device ${CONN} volume:0 replication:Established peer-disk:UpToDate resync-suspended:no received:0 sent:0 out-of-sync:0 pending:0 unacked:0`,
      'exists -',
    ]);
  });

  it('names the minor in refusals', () => {
    const refused = pair.primary('beta', 'r0');
    expect(refused.exitCode).toBe(11);
    expect(refused.stderr).toBe('0: State change failed: (-1) Multiple primaries not allowed by config\n');
    pair.secondary('alpha', 'r0');
    pair.diskFail('beta', 'r0');
    const noData = pair.primary('beta', 'r0');
    expect(noData.exitCode).toBe(17);
    expect(noData.stderr).toBe('0: State change failed: (-2) Need access to UpToDate data\n');
  });

  it('disconnect prints Disconnecting, then destroys the peer-device and the connection', () => {
    const alpha = pair.mark('alpha');
    const beta = pair.mark('beta');
    pair.disconnect('alpha', 'r0');
    expect(pair.eventsSince('alpha', alpha)).toEqual([
      `change connection ${CONN} connection:Disconnecting role:Unknown`,
      `change peer-device ${CONN} volume:0 replication:Off peer-disk:DUnknown`,
      `destroy peer-device ${CONN} volume:0`,
      `destroy connection ${CONN}`,
    ]);
    // conn_disconnect (8.4 drbd_receiver.c): TearDown → Unconnected, then WFConnection (Connecting).
    expect(pair.eventsSince('beta', beta)).toEqual([
      `change connection ${CONN} connection:TearDown role:Unknown`,
      `change peer-device ${CONN} volume:0 replication:Off peer-disk:DUnknown`,
      `change connection ${CONN} connection:Unconnected`,
      `change connection ${CONN} connection:Connecting`,
    ]);
    expect(pair.status('alpha', 'r0').stdout).toBe('r0 role:Primary\n  disk:UpToDate\n\n');
    expect(pair.status('beta', 'r0').stdout).toBe(
      'r0 role:Secondary\n  disk:UpToDate\n  peer connection:Connecting\n\n',
    );
    expect(pair.cstate('beta', 'r0')).toBe('WFConnection');
    expect(pair.role('beta', 'r0')).toBe('Secondary/Unknown');
  });

  it('split-brain: helper events on both hosts, then StandAlone; recovery resyncs the victim', () => {
    const beta = pair.mark('beta');
    pair.splitBrain('r0');
    const events = pair.eventsSince('beta', beta);
    expect(events.slice(-7)).toEqual([
      `call helper ${CONN} volume:0 minor:0 helper:initial-split-brain`,
      `response helper ${CONN} volume:0 minor:0 helper:initial-split-brain status:0`,
      `call helper ${CONN} volume:0 minor:0 helper:split-brain`,
      `response helper ${CONN} volume:0 minor:0 helper:split-brain status:0`,
      `change connection ${CONN} connection:Disconnecting`,
      `destroy peer-device ${CONN} volume:0`,
      `destroy connection ${CONN}`,
    ]);
    expect(events).toContain('change resource name:r0 role:Primary');
    expect(events.at(-1)).toBe(`destroy connection ${CONN}`);
    expect(pair.cstate('alpha', 'r0')).toBe('StandAlone');

    pair.secondary('beta', 'r0');
    const recovery = pair.mark('beta');
    pair.connect('beta', 'r0', { discardMyData: true });
    pair.connect('alpha', 'r0');
    // drbd_nl.c drbd_adm_connect (8.4): create connection/peer-device while still StandAlone,
    // then Unconnected, then WFConnection. The resync target: WFBitMapT with the disk capped at
    // Outdated (drbd_state.c sanitize_state), WFSyncUUID (receive_bitmap), before-resync-target
    // (drbd_worker.c drbd_start_resync), SyncTarget with the disk Inconsistent.
    expect(pair.eventsSince('beta', recovery)).toEqual([
      `create connection ${CONN} connection:StandAlone role:Unknown`,
      `create peer-device ${CONN} volume:0 replication:Off peer-disk:DUnknown resync-suspended:no`,
      `change connection ${CONN} connection:Unconnected`,
      `change connection ${CONN} connection:Connecting`,
      `change connection ${CONN} connection:Connected`,
      `change connection ${CONN} role:Primary`,
      'change device name:r0 volume:0 minor:0 disk:Outdated',
      `change peer-device ${CONN} volume:0 replication:WFBitMapT peer-disk:UpToDate`,
      `change peer-device ${CONN} volume:0 replication:WFSyncUUID`,
      `call helper ${CONN} volume:0 minor:0 helper:before-resync-target`,
      `response helper ${CONN} volume:0 minor:0 helper:before-resync-target status:0`,
      'change device name:r0 volume:0 minor:0 disk:Inconsistent',
      `change peer-device ${CONN} volume:0 replication:SyncTarget`,
    ]);
    expect(pair.status('alpha', 'r0').stdout).toBe(
      'r0 role:Primary\n  disk:UpToDate\n  peer role:Secondary\n    replication:SyncSource peer-disk:Inconsistent done:90.00\n\n',
    );
    expect(pair.cstate('beta', 'r0')).toBe('SyncTarget');
    clock.advance(2000);
    pair.tick();
    expect(pair.status('beta', 'r0').stdout).toBe(
      'r0 role:Secondary\n  disk:UpToDate\n  peer role:Primary\n    replication:Established peer-disk:UpToDate\n\n',
    );
    expect(pair.dstate('beta', 'r0')).toBe('UpToDate/UpToDate');
  });

  it('status --json does not exist on 8.4', () => {
    expect(pair.status('alpha', 'r0', { json: true }).exitCode).toBe(20);
  });
});
