// The `sim` scenarios on a DRBD 8.4 pair as drbdsetup-84 prints them. Sources: LINBIT/drbd tag
// drbd-8.4.7 (drbd_receiver.c, drbd_state.c, drbd_worker.c, drbd_nl.c — the in-kernel 8.4.11 of
// Ubuntu 20.04 has the same events2 code) and LINBIT/drbd-utils user/v84/drbdsetup.c
// (print_notifications, event_key, drbd_conn_str9/drbd_repl_str9, print_*_statistics).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';
import type { InitOptions } from '../../src/sim/state.js';
import { eventsDuring, helpers, ManualClock, tempDir } from './helpers.js';

// event_key: 8.4 has no peer node ids; drbdsetup-84 fakes peer-node-id:0 and conn-name:peer.
const C = 'name:r0 peer-node-id:0 conn-name:peer';
const DEV = 'name:r0 volume:0 minor:0';

describe('sim scenarios, DRBD 8.4', () => {
  let dir: string;
  let cleanup: () => void;
  let clock: ManualClock;
  let pair: SimulatedPair;

  const init = (opts: Partial<InitOptions> = {}) => {
    pair = SimulatedPair.init(
      dir,
      { hosts: ['alpha', 'beta'], resources: [{ name: 'r0', minor: 0 }], dialect: '8.4', ...opts },
      { clock },
    );
  };

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    clock = new ManualClock();
    init();
  });
  afterEach(() => cleanup());

  it('link-down: cause → Unconnected → Connecting, no `disconnected` helper (8.4 has none)', () => {
    const seen = eventsDuring(pair, () => pair.linkDown('r0', { cause: 'Timeout' }));
    // drbd_receiver.c conn_disconnect (8.4): _conn_request_state(C_UNCONNECTED), then the receiver
    // restarts in C_WF_CONNECTION, which drbd_conn_str9 prints as Connecting. A peer-device that
    // is not connected prints Off (peer_device_to_info clamps to C_WF_REPORT_PARAMS).
    expect(seen.alpha).toEqual([
      `change connection ${C} connection:Timeout role:Unknown`,
      `change peer-device ${C} volume:0 replication:Off peer-disk:DUnknown`,
      `change connection ${C} connection:Unconnected`,
      `change connection ${C} connection:Connecting`,
    ]);
    expect(seen.beta).toEqual(seen.alpha);
    expect(pair.cstate('alpha', 'r0')).toBe('WFConnection');
  });

  it('resync after a link flap: WFBitMapT (disk Outdated) → WFSyncUUID → SyncTarget', () => {
    pair.linkDown('r0');
    const seen = eventsDuring(pair, () => pair.linkUp('r0'));
    // The connection goes no further than WFReportParams, printed as Connected; the device's
    // states show on the peer-device. sanitize_state (8.4): C_WF_BITMAP_T/C_WF_SYNC_UUID cap the
    // disk at D_OUTDATED; receive_bitmap → C_WF_SYNC_UUID; drbd_start_resync (drbd_worker.c)
    // calls before-resync-target, then C_SYNC_TARGET with the disk Inconsistent.
    expect(seen.beta).toEqual([
      `change connection ${C} connection:Connected`,
      `change connection ${C} role:Primary`,
      `change device ${DEV} disk:Outdated`,
      `change peer-device ${C} volume:0 replication:WFBitMapT peer-disk:UpToDate`,
      `change peer-device ${C} volume:0 replication:WFSyncUUID`,
      `call helper ${C} volume:0 minor:0 helper:before-resync-target`,
      `response helper ${C} volume:0 minor:0 helper:before-resync-target status:0`,
      `change device ${DEV} disk:Inconsistent`,
      `change peer-device ${C} volume:0 replication:SyncTarget`,
    ]);
    expect(seen.alpha).toEqual([
      `change connection ${C} connection:Connected`,
      `change connection ${C} role:Secondary`,
      `change peer-device ${C} volume:0 replication:WFBitMapS peer-disk:Outdated`,
      `call helper ${C} volume:0 minor:0 helper:before-resync-source`,
      `response helper ${C} volume:0 minor:0 helper:before-resync-source status:0`,
      `change peer-device ${C} volume:0 replication:SyncSource peer-disk:Inconsistent`,
    ]);
  });

  it('the WFBitMapT cap shows when the target starts UpToDate', () => {
    pair.disconnect('beta', 'r0');
    pair.connect('beta', 'r0');
    // alpha (Primary) wrote while beta was away, so beta is target; its disk is capped first.
    const lines = pair.eventsSince('beta', 0);
    const capped = lines.indexOf(`change device ${DEV} disk:Outdated`);
    expect(capped).toBeGreaterThan(0);
    expect(lines[capped + 1]).toBe(
      `change peer-device ${C} volume:0 replication:WFBitMapT peer-disk:UpToDate`,
    );
  });

  it('fence-peer: a connection helper without volume/minor; exit 4 outdates the peer', () => {
    const seen = eventsDuring(pair, () => pair.fencePeer('r0', { exit: 4, stonith: true }));
    // drbd_nl.c conn_khelper(connection, "fence-peer"): no device, so dh->minor = -1 and no
    // volume; conn_try_outdate_peer: (r >> 8) & 0xff == 4 "peer was fenced"; status is the raw
    // wait status. susp_fen with fencing resource-and-stonith (susp_str: "fencing").
    expect(seen.alpha).toEqual([
      'change resource name:r0 suspended:fencing',
      `change connection ${C} connection:NetworkFailure role:Unknown`,
      `change peer-device ${C} volume:0 replication:Off peer-disk:DUnknown`,
      `call helper ${C} helper:fence-peer`,
      `change connection ${C} connection:Unconnected`,
      `change connection ${C} connection:Connecting`,
      `response helper ${C} helper:fence-peer status:1024`,
      `change peer-device ${C} volume:0 peer-disk:Outdated`,
      'change resource name:r0 suspended:no',
    ]);
    expect(seen.beta?.at(-1)).toBe(`change device ${DEV} disk:Outdated`);
  });

  it('fence-peer broken (exit 1): I/O stays frozen until resume-io', () => {
    const seen = eventsDuring(pair, () => pair.fencePeer('r0', { exit: 1, stonith: true }));
    expect(seen.alpha?.at(-1)).toBe(`response helper ${C} helper:fence-peer status:256`);
    expect(pair.status('alpha', 'r0').stdout).toBe(
      'r0 role:Primary suspended:fencing\n  disk:UpToDate\n  peer connection:Connecting\n\n',
    );
    const resumed = eventsDuring(pair, () => pair.resumeIo('alpha', 'r0'));
    expect(resumed.alpha).toEqual(['change resource name:r0 suspended:no']);
  });

  it('8.4 calls unfence-peer on the SyncSource when the resync ends (drbd_worker.c drbd_resync_finished)', () => {
    init({ fencing: 'resource-only' });
    pair.linkDown('r0');
    pair.linkUp('r0');
    const done = eventsDuring(pair, () => {
      clock.advance(3000);
      pair.tick();
    });
    expect(helpers(done.alpha ?? [])).toEqual(['call unfence-peer', 'response unfence-peer 0']);
    expect(helpers(done.beta ?? [])).toEqual(['call after-resync-target', 'response after-resync-target 0']);
  });

  it('split-brain resolved by after-sb-1pri discard-secondary: the Secondary becomes SyncTarget', () => {
    const seen = eventsDuring(pair, () =>
      pair.splitBrain('r0', { afterSb1pri: 'discard-secondary', primaries: ['alpha'] }),
    );
    // drbd_receiver.c (8.4) drbd_sync_handshake: initial-split-brain, drbd_asb_recover_1p
    // ASB_DISCARD_SECONDARY → the Secondary is SyncTarget; no split-brain helper.
    expect(helpers(seen.beta ?? [])).toEqual([
      'call initial-split-brain',
      'response initial-split-brain 0',
      'call before-resync-target',
      'response before-resync-target 0',
    ]);
    expect(seen.beta?.slice(-7)).toEqual([
      `change device ${DEV} disk:Outdated`,
      `change peer-device ${C} volume:0 replication:WFBitMapT peer-disk:UpToDate`,
      `change peer-device ${C} volume:0 replication:WFSyncUUID`,
      `call helper ${C} volume:0 minor:0 helper:before-resync-target`,
      `response helper ${C} volume:0 minor:0 helper:before-resync-target status:0`,
      `change device ${DEV} disk:Inconsistent`,
      `change peer-device ${C} volume:0 replication:SyncTarget`,
    ]);
    expect(pair.cstate('beta', 'r0')).toBe('SyncTarget');
  });

  it('pri-lost-after-sb: helper on the victim, then split-brain and StandAlone (connection destroyed)', () => {
    const seen = eventsDuring(pair, () =>
      pair.splitBrain('r0', {
        afterSb0pri: 'discard-younger-primary',
        afterSb2pri: 'call-pri-lost-after-sb',
        victim: 'beta',
        victimHolders: ['mount'],
      }),
    );
    // drbd_asb_recover_2p (8.4): drbd_khelper(device, "pri-lost-after-sb") when the victim cannot
    // demote; conn_try_disconnect (8.4) destroys the connection objects on StandAlone.
    expect(seen.beta?.slice(-8)).toEqual([
      `response helper ${C} volume:0 minor:0 helper:initial-split-brain status:0`,
      `call helper ${C} volume:0 minor:0 helper:pri-lost-after-sb`,
      `response helper ${C} volume:0 minor:0 helper:pri-lost-after-sb status:0`,
      `call helper ${C} volume:0 minor:0 helper:split-brain`,
      `response helper ${C} volume:0 minor:0 helper:split-brain status:0`,
      `change connection ${C} connection:Disconnecting`,
      `destroy peer-device ${C} volume:0`,
      `destroy connection ${C}`,
    ]);
    expect(pair.role('beta', 'r0')).toBe('Primary/Unknown');
  });

  it('verify with --statistics: every counter on every line, out-of-sync after the helper', () => {
    const seen = eventsDuring(
      pair,
      () => {
        pair.verify('r0', { outOfSyncKiB: 12, seconds: 1 });
        clock.advance(1100);
        pair.tick();
      },
      { statistics: true },
    );
    // user/v84/drbdsetup.c: --statistics sets opt_verbose, so print_peer_device_statistics
    // prints received sent out-of-sync pending unacked on each line; 8.4 has no done/dbdt1/eta;
    // drbd_worker.c drbd_resync_finished (8.4): khelper_cmd = "out-of-sync" after a verify.
    expect(seen.alpha).toEqual([
      `change peer-device ${C} volume:0 replication:VerifyS received:0 sent:0 out-of-sync:0 pending:0 unacked:0`,
      `change peer-device ${C} volume:0 replication:Established received:0 sent:0 out-of-sync:12 pending:0 unacked:0`,
      `call helper ${C} volume:0 minor:0 helper:out-of-sync`,
      `response helper ${C} volume:0 minor:0 helper:out-of-sync status:0`,
    ]);
    expect(seen.beta?.[0]).toContain('replication:VerifyT');
  });

  it('Ahead/Behind and paused syncs pass through as 8.4 names', () => {
    const ahead = eventsDuring(pair, () => pair.congestion('r0'));
    expect(ahead.alpha).toEqual([`change peer-device ${C} volume:0 replication:Ahead peer-disk:Outdated`]);
    expect(ahead.beta).toEqual([
      `change device ${DEV} disk:Outdated`,
      `change peer-device ${C} volume:0 replication:Behind`,
    ]);
    pair.congestionEnd('r0', { seconds: 30 });
    const paused = eventsDuring(pair, () => pair.pauseSync('r0', { host: 'alpha' }));
    // resync_susp_str (v84): user here, peer on the other side (peer_isp).
    expect(paused.alpha).toEqual([
      `change peer-device ${C} volume:0 replication:PausedSyncS resync-suspended:user`,
    ]);
    expect(paused.beta).toEqual([
      `change peer-device ${C} volume:0 replication:PausedSyncT resync-suspended:peer`,
    ]);
    expect(pair.cstate('beta', 'r0')).toBe('PausedSyncT');
  });

  it('detach and disk failure both go Failed → Diskless (8.4 has no Detaching); only an I/O error calls local-io-error', () => {
    const detached = eventsDuring(pair, () => pair.detach('beta', 'r0'));
    // 8.4 drbd_adm_detach requests D_FAILED; enum drbd_disk_state (8.4) has no D_DETACHING.
    expect(detached.beta).toEqual([`change device ${DEV} disk:Failed`, `change device ${DEV} disk:Diskless`]);
    init({ onIoError: 'call-local-io-error' });
    const failed = eventsDuring(pair, () => pair.diskFail('beta', 'r0'));
    // drbd_state.c (8.4) after_state_ch: drbd_khelper(device, "local-io-error"); 8.4's drbd_khelper
    // passes the device's connection, so the key has conn-name:peer too.
    expect(failed.beta).toEqual([
      `change device ${DEV} disk:Failed`,
      `call helper ${C} volume:0 minor:0 helper:local-io-error`,
      `response helper ${C} volume:0 minor:0 helper:local-io-error status:0`,
      `change device ${DEV} disk:Diskless`,
    ]);
  });

  it('`- skipped N` (drbdsetup-84 print_notifications), also negative', () => {
    const seen = eventsDuring(pair, () => {
      pair.skip('beta', 4);
      pair.skip('beta', -1);
    });
    expect(seen.beta).toEqual(['- skipped 4', '- skipped -1']);
  });

  it('a new resource: created without a connection until `connect` configures it', () => {
    const seen = eventsDuring(pair, () => pair.newResource('r1', 1, { primary: 'alpha' }), {
      resource: 'r1',
    });
    const R1 = 'name:r1 peer-node-id:0 conn-name:peer';
    // drbd_adm_connect (8.4): create connection + peer-device while StandAlone, then Unconnected.
    expect(seen.beta?.slice(0, 8)).toEqual([
      'create resource name:r1 role:Secondary suspended:no',
      'create device name:r1 volume:0 minor:1 disk:Diskless',
      'change device name:r1 volume:0 minor:1 disk:Attaching',
      'change device name:r1 volume:0 minor:1 disk:Inconsistent',
      `create connection ${R1} connection:StandAlone role:Unknown`,
      `create peer-device ${R1} volume:0 replication:Off peer-disk:DUnknown resync-suspended:no`,
      `change connection ${R1} connection:Unconnected`,
      `change connection ${R1} connection:Connecting`,
    ]);
    expect(seen.beta?.slice(-3)).toEqual([
      `call helper ${R1} volume:0 minor:1 helper:before-resync-target`,
      `response helper ${R1} volume:0 minor:1 helper:before-resync-target status:0`,
      `change peer-device ${R1} volume:0 replication:SyncTarget`,
    ]);
  });

  it('refuses what DRBD 8.4 does not have: a third node, clients, quorum', () => {
    expect(() =>
      SimulatedPair.init(dir, {
        hosts: ['a', 'b', 'c'],
        resources: [{ name: 'r0', minor: 0 }],
        dialect: '8.4',
      }),
    ).toThrow(/needs --dialect 9/);
    expect(() => pair.quorumLost('alpha', 'r0')).toThrow(/needs DRBD 9/);
  });
});
