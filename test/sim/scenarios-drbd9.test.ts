// Each `sim` scenario on a DRBD 9 pair, checked line by line against what DRBD's sources make
// drbdsetup print. Sources: LINBIT/drbd (drbd-9.2: drbd_receiver.c, drbd_state.c, drbd_sender.c,
// drbd_nl.c) and LINBIT/drbd-utils (user/v9/drbdsetup_events2.c, user/v9/drbdsetup.c).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';
import type { InitOptions } from '../../src/sim/state.js';
import { eventsDuring, helpers, ManualClock, tempDir } from './helpers.js';

const A = 'name:r0 peer-node-id:1 conn-name:beta'; // alpha's connection to beta
const B = 'name:r0 peer-node-id:0 conn-name:alpha'; // beta's connection to alpha
const PATH_A = `path ${A} local:ipv4:10.0.0.1:7789 peer:ipv4:10.0.0.2:7789`;
const PATH_B = `path ${B} local:ipv4:10.0.0.2:7789 peer:ipv4:10.0.0.1:7789`;
const DEV = 'name:r0 volume:0 minor:0';

describe('sim scenarios, DRBD 9', () => {
  let dir: string;
  let cleanup: () => void;
  let clock: ManualClock;
  let pair: SimulatedPair;

  const init = (opts: Partial<InitOptions> = {}) => {
    pair = SimulatedPair.init(
      dir,
      { hosts: ['alpha', 'beta'], resources: [{ name: 'r0', minor: 0 }], dialect: '9', ...opts },
      { clock },
    );
  };

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    clock = new ManualClock();
    init();
  });
  afterEach(() => cleanup());

  it('link-down: the cause, the `disconnected` helper, Unconnected, Connecting', () => {
    const seen = eventsDuring(pair, () => pair.linkDown('r0', { cause: 'BrokenPipe' }));
    // drbd_receiver.c conn_disconnect: the receiver's error state (here BrokenPipe) is one state
    // change (connection, peer-device Off/DUnknown, path); then drbd_maybe_khelper(NULL,
    // connection, "disconnected") — a connection helper: peer-node-id/conn-name, no volume/minor
    // (drbdsetup_events2.c print_helper) —, then __change_cstate(C_UNCONNECTED), and the restarted
    // receiver goes C_CONNECTING. Status is the raw wait status (drbd_nl.c drbd_khelper → 0).
    expect(seen.alpha).toEqual([
      'change resource name:r0 may_promote:no promotion_score:10101',
      `change connection ${A} connection:BrokenPipe role:Unknown`,
      `change peer-device ${A} volume:0 replication:Off peer-disk:DUnknown peer-client:no`,
      `change ${PATH_A} established:no`,
      `call helper ${A} helper:disconnected`,
      `response helper ${A} helper:disconnected status:0`,
      `change connection ${A} connection:Unconnected`,
      `change connection ${A} connection:Connecting`,
    ]);
    // drbdsetup_events2.c compute_promotion_info: the Secondary may promote once no Primary is seen.
    expect(seen.beta?.[0]).toBe('change resource name:r0 may_promote:yes promotion_score:10101');
    expect(seen.beta?.slice(-2)).toEqual([
      `change connection ${B} connection:Unconnected`,
      `change connection ${B} connection:Connecting`,
    ]);
  });

  it('link-up: the target passes WFBitMapT with its disk capped at Outdated, then SyncTarget (no WFSyncUUID)', () => {
    pair.linkDown('r0');
    const seen = eventsDuring(pair, () => pair.linkUp('r0'));
    // drbd_state.c sanitize_state: L_WF_BITMAP_T → max_disk_state D_OUTDATED; drbd_receiver.c
    // receive_bitmap: with agreed_pro_version >= 110 straight to drbd_start_resync(L_SYNC_TARGET),
    // which first calls before-resync-target (drbd_sender.c), then SyncTarget, disk Inconsistent.
    expect(seen.beta).toEqual([
      `change connection ${B} connection:Connected`,
      `change ${PATH_B} established:yes`,
      'change resource name:r0 may_promote:no promotion_score:1',
      `change connection ${B} role:Primary`,
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Outdated client:no open:no quorum:yes`,
      `change peer-device ${B} volume:0 replication:WFBitMapT peer-disk:UpToDate peer-client:no`,
      `call helper ${B} volume:0 minor:0 helper:before-resync-target`,
      `response helper ${B} volume:0 minor:0 helper:before-resync-target status:0`,
      'change resource name:r0 may_promote:no promotion_score:10001',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Inconsistent client:no open:no quorum:yes`,
      `change peer-device ${B} volume:0 replication:SyncTarget done:0.00`,
    ]);
    // The source: WFBitMapS (its peer's disk shows Outdated), before-resync-source, SyncSource.
    expect(seen.alpha).toEqual([
      `change connection ${A} connection:Connected`,
      `change ${PATH_A} established:yes`,
      `change connection ${A} role:Secondary`,
      `change peer-device ${A} volume:0 replication:WFBitMapS peer-disk:Outdated peer-client:no`,
      `call helper ${A} volume:0 minor:0 helper:before-resync-source`,
      `response helper ${A} volume:0 minor:0 helper:before-resync-source status:0`,
      `change peer-device ${A} volume:0 replication:SyncSource peer-disk:Inconsistent peer-client:no done:0.00`,
    ]);
    // drbd_sender.c drbd_resync_finished: Established, the target UpToDate, after-resync-target.
    const done = eventsDuring(pair, () => {
      clock.advance(2500);
      pair.tick();
    });
    expect(done.beta?.slice(-4)).toEqual([
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:UpToDate client:no open:no quorum:yes`,
      `change peer-device ${B} volume:0 replication:Established`,
      `call helper ${B} volume:0 minor:0 helper:after-resync-target`,
      `response helper ${B} volume:0 minor:0 helper:after-resync-target status:0`,
    ]);
  });

  it('fence-peer with resource-and-stonith: I/O frozen while it runs, exit 4 outdates the peer', () => {
    const seen = eventsDuring(pair, () => pair.fencePeer('r0', { exit: 4, stonith: true }));
    // drbd_state.c: "Suspend IO while fence-peer handler runs (peer lost)" (FP_STONITH, Primary,
    // peer disk D_UNKNOWN) in the same state change as the loss; conn_disconnect starts the
    // fence-peer thread before `disconnected`. drbd_nl.c conn_try_outdate_peer reads
    // (r >> 8) & 0xff = 4 "peer was fenced" → peer disk Outdated; check_may_resume_io_after_fencing
    // then resumes I/O in a state change of its own.
    expect(seen.alpha).toEqual([
      'change resource name:r0 suspended:fencing may_promote:no promotion_score:10101',
      `change connection ${A} connection:NetworkFailure role:Unknown`,
      `change peer-device ${A} volume:0 replication:Off peer-disk:DUnknown peer-client:no`,
      `change ${PATH_A} established:no`,
      `call helper ${A} helper:fence-peer`,
      `call helper ${A} helper:disconnected`,
      `response helper ${A} helper:disconnected status:0`,
      `change connection ${A} connection:Unconnected`,
      `change connection ${A} connection:Connecting`,
      `response helper ${A} helper:fence-peer status:1024`,
      `change peer-device ${A} volume:0 peer-disk:Outdated peer-client:no`,
      'change resource name:r0 suspended:no',
    ]);
    // The handler outdated the peer (drbd-peer-outdater: `drbdadm outdate` there).
    expect(seen.beta?.slice(-2)).toEqual([
      'change resource name:r0 may_promote:no promotion_score:0',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Outdated client:no open:no quorum:yes`,
    ]);
    expect(seen.beta?.some((l) => l.includes('fence-peer'))).toBe(false);
  });

  it('fence-peer exit codes: 3, 5, 7 are outcomes, 6 outdates this node, others leave I/O frozen', () => {
    // conn_try_outdate_peer: P_INCONSISTENT 3, P_OUTDATED 4, P_DOWN 5, P_PRIMARY 6, P_FENCING 7,
    // default "fence-peer helper broken" (abort_state_change: nothing changes).
    const outcome = (exit: number) => {
      init();
      const seen = eventsDuring(pair, () => pair.fencePeer('r0', { exit, stonith: true }));
      const alpha = seen.alpha ?? [];
      const response = alpha.indexOf(`response helper ${A} helper:fence-peer status:${exit * 256}`);
      expect(response, `exit ${exit}`).toBeGreaterThan(0);
      return { after: alpha.slice(response + 1), status: pair.status('alpha', 'r0').stdout };
    };
    expect(outcome(3).after).toEqual([
      `change peer-device ${A} volume:0 peer-disk:Inconsistent peer-client:no`,
      'change resource name:r0 suspended:no',
    ]);
    expect(outcome(5).after).toEqual([
      `change peer-device ${A} volume:0 peer-disk:Outdated peer-client:no`,
      'change resource name:r0 suspended:no',
    ]);
    expect(outcome(7).after).toEqual([
      `change peer-device ${A} volume:0 peer-disk:Outdated peer-client:no`,
      'change resource name:r0 suspended:no',
    ]);
    // "Peer is primary, outdating myself": this disk goes Outdated, the peer stays unknown, so
    // check_may_resume_io_after_fencing does not resume.
    const six = outcome(6);
    expect(six.after).toEqual([
      'change resource name:r0 may_promote:no promotion_score:0',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Outdated client:no open:no quorum:yes`,
    ]);
    expect(six.status).toContain('r0 role:Primary suspended:fencing');
    for (const broken of [0, 1, 2, 8]) {
      const result = outcome(broken);
      expect(result.after, `exit ${broken}`).toEqual([]);
      expect(result.status).toBe(
        'r0 role:Primary suspended:fencing\n  disk:UpToDate\n  beta connection:Connecting\n\n',
      );
    }
    // resume-io (drbd_nl.c drbd_adm_resume_io) thaws it.
    const resumed = eventsDuring(pair, () => expect(pair.resumeIo('alpha', 'r0').exitCode).toBe(0));
    expect(resumed.alpha).toEqual(['change resource name:r0 suspended:no']);
  });

  it('a crashed peer: fence-peer with resource-only fencing freezes nothing, exit 7 = STONITHed', () => {
    init({ fencing: 'resource-only' });
    const seen = eventsDuring(pair, () => pair.crash('beta', { fenceExit: 7 }), {}, ['alpha']);
    expect(seen.alpha?.[0]).toBe('change resource name:r0 may_promote:no promotion_score:10101');
    expect(helpers(seen.alpha ?? [])).toEqual([
      'call fence-peer',
      'call disconnected',
      'response disconnected 0',
      'response fence-peer 1792',
    ]);
    expect(seen.alpha?.at(-1)).toBe(`change peer-device ${A} volume:0 peer-disk:Outdated peer-client:no`);
  });

  it('promoting a disconnected Secondary with fencing runs fence-peer first (drbd_set_role)', () => {
    init({ fencing: 'resource-only', fenceExit: 1, primary: { r0: 'alpha' } });
    pair.linkDown('r0');
    pair.secondary('alpha', 'r0');
    const refused = eventsDuring(pair, () => {
      const result = pair.primary('beta', 'r0');
      // A broken handler leaves the peer not outdated: SS_PRIMARY_NOP (-7).
      expect(result).toMatchObject({
        exitCode: 11,
        stderr: 'r0: State change failed: (-7) Refusing to be Primary while peer is not outdated\n',
      });
    });
    expect(refused.beta).toEqual([
      `call helper ${B} helper:fence-peer`,
      `response helper ${B} helper:fence-peer status:256`,
    ]);
  });

  it('DRBD 9 calls unfence-peer when a fenced peer is UpToDate again (drbd_should_unfence)', () => {
    init({ fencing: 'resource-only', fenceExit: 5 });
    pair.linkDown('r0');
    pair.linkUp('r0');
    const done = eventsDuring(pair, () => {
      clock.advance(2500);
      pair.tick();
    });
    // after_state_ch: local UpToDate, peer disk becomes UpToDate → unfence-peer (connection helper).
    expect(helpers(done.alpha ?? [])).toEqual(['call unfence-peer', 'response unfence-peer 0']);
    expect(helpers(done.beta ?? [])).toEqual(['call after-resync-target', 'response after-resync-target 0']);
  });

  it('split-brain the policies cannot resolve: initial-split-brain, split-brain, StandAlone', () => {
    const seen = eventsDuring(pair, () => pair.splitBrain('r0'));
    // drbd_receiver.c drbd_sync_handshake: initial-split-brain for every split-brain, then with
    // after-sb-2pri disconnect "Split-Brain detected but unresolved, dropping connection!" and
    // the split-brain helper, then C_DISCONNECTING → StandAlone.
    for (const [host, conn] of [
      ['alpha', A],
      ['beta', B],
    ] as const) {
      const lines = seen[host] ?? [];
      expect(helpers(lines), host).toEqual([
        'call disconnected',
        'response disconnected 0',
        'call initial-split-brain',
        'response initial-split-brain 0',
        'call split-brain',
        'response split-brain 0',
      ]);
      expect(lines.slice(-3), host).toEqual([
        `change connection ${conn} connection:Disconnecting`,
        `change ${host === 'alpha' ? PATH_A : PATH_B} established:no`,
        `change connection ${conn} connection:StandAlone`,
      ]);
    }
  });

  it('split-brain resolved by after-sb-0pri discard-zero-changes: the victim resyncs, no split-brain helper', () => {
    const seen = eventsDuring(pair, () =>
      pair.splitBrain('r0', { afterSb0pri: 'discard-zero-changes', primaries: [], changes: { beta: 0 } }),
    );
    // drbd_asb_recover_0p ASB_DISCARD_ZERO_CHG: the side without changes becomes SyncTarget
    // (SYNC_TARGET_USE_BITMAP); initial-split-brain was called on both, split-brain on none.
    expect(helpers(seen.alpha ?? [])).toEqual([
      'call disconnected',
      'response disconnected 0',
      'call initial-split-brain',
      'response initial-split-brain 0',
      'call before-resync-source',
      'response before-resync-source 0',
    ]);
    const beta = seen.beta ?? [];
    const detected = beta.indexOf(
      `response helper ${B} volume:0 minor:0 helper:initial-split-brain status:0`,
    );
    expect(beta.slice(detected + 1)).toEqual([
      'change resource name:r0 may_promote:yes promotion_score:1',
      `change connection ${B} role:Secondary`,
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Outdated client:no open:no quorum:yes`,
      `change peer-device ${B} volume:0 replication:WFBitMapT peer-disk:UpToDate peer-client:no`,
      `call helper ${B} volume:0 minor:0 helper:before-resync-target`,
      `response helper ${B} volume:0 minor:0 helper:before-resync-target status:0`,
      'change resource name:r0 may_promote:yes promotion_score:10001',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Inconsistent client:no open:no quorum:yes`,
      `change peer-device ${B} volume:0 replication:SyncTarget done:0.00`,
    ]);
    expect(pair.cstate('alpha', 'r0')).toBe('Connected');
  });

  it('after-sb policies choose the victim as drbd_asb_recover_0p/1p/2p do', () => {
    const victimOf = (opts: Parameters<SimulatedPair['splitBrain']>[1]) => {
      init();
      pair.splitBrain('r0', opts);
      const alpha = pair.state().endpoints.alpha?.r0?.beta?.repl;
      const beta = pair.state().endpoints.beta?.r0?.alpha?.repl;
      if (alpha === 'SyncTarget') return 'alpha';
      if (beta === 'SyncTarget') return 'beta';
      return pair.cstate('alpha', 'r0') === 'StandAlone' && pair.cstate('beta', 'r0') === 'StandAlone'
        ? 'unresolved'
        : `alpha ${alpha} beta ${beta}`;
    };
    // 0 Primaries. discard-younger-primary: beta was Secondary when the link broke (younger).
    expect(victimOf({ afterSb0pri: 'discard-younger-primary', primaries: [] })).toBe('beta');
    expect(victimOf({ afterSb0pri: 'discard-older-primary', primaries: [] })).toBe('alpha');
    expect(victimOf({ afterSb0pri: 'discard-least-changes', primaries: [], victim: 'alpha' })).toBe('alpha');
    expect(victimOf({ afterSb0pri: 'discard-zero-changes', primaries: [] })).toBe('unresolved');
    expect(victimOf({ afterSb0pri: 'discard-node-alpha', primaries: [] })).toBe('alpha');
    // 1 Primary. discard-secondary; consensus agrees only when the 0pri victim is the Secondary.
    expect(victimOf({ afterSb1pri: 'discard-secondary', primaries: ['alpha'] })).toBe('beta');
    expect(
      victimOf({
        afterSb0pri: 'discard-least-changes',
        afterSb1pri: 'consensus',
        primaries: ['beta'],
        victim: 'beta',
      }),
    ).toBe('unresolved');
    expect(
      victimOf({
        afterSb0pri: 'discard-least-changes',
        afterSb1pri: 'consensus',
        primaries: ['alpha'],
        victim: 'beta',
      }),
    ).toBe('beta');
    // 2 Primaries: violently-as0p applies after-sb-0pri; call-pri-lost-after-sb demotes the victim.
    expect(
      victimOf({ afterSb0pri: 'discard-least-changes', afterSb2pri: 'violently-as0p', victim: 'alpha' }),
    ).toBe('alpha');
    expect(victimOf({ afterSb0pri: 'discard-younger-primary', afterSb2pri: 'call-pri-lost-after-sb' })).toBe(
      'beta',
    );
    expect(pair.role('beta', 'r0')).toBe('Secondary');
  });

  it('pri-lost-after-sb: the Primary victim cannot demote, calls the helper and drops the connection', () => {
    const seen = eventsDuring(pair, () =>
      pair.splitBrain('r0', {
        afterSb0pri: 'discard-younger-primary',
        afterSb2pri: 'call-pri-lost-after-sb',
        victim: 'beta',
        victimHolders: ['mount'],
      }),
    );
    // drbd_asb_recover_2p ASB_CALL_HELPER: change_role(R_SECONDARY) fails (device open) →
    // drbd_maybe_khelper(device, connection, "pri-lost-after-sb"); the strategy stays a
    // split-brain, so split-brain is called and the connection dropped.
    expect(helpers(seen.beta ?? [])).toEqual([
      'call disconnected',
      'response disconnected 0',
      'call initial-split-brain',
      'response initial-split-brain 0',
      'call pri-lost-after-sb',
      'response pri-lost-after-sb 0',
      'call split-brain',
      'response split-brain 0',
    ]);
    expect(seen.beta?.slice(-3)).toEqual([
      `change connection ${B} connection:Disconnecting`,
      `change ${PATH_B} established:no`,
      `change connection ${B} connection:StandAlone`,
    ]);
    // The survivor resolved it for itself; it sees the connection go away and reconnects.
    expect(helpers(seen.alpha ?? []).filter((h) => h.includes('split-brain'))).toEqual([
      'call initial-split-brain',
      'response initial-split-brain 0',
    ]);
    expect(seen.alpha?.slice(-2)).toEqual([
      `change connection ${A} connection:Unconnected`,
      `change connection ${A} connection:Connecting`,
    ]);
    expect(pair.role('beta', 'r0')).toBe('Primary');
  });

  it('verify: VerifyS/VerifyT, then out-of-sync on both sides and in the counter', () => {
    const seen = eventsDuring(pair, () => {
      pair.verify('r0', { outOfSyncKiB: 12, seconds: 1 });
      clock.advance(1100);
      pair.tick();
    });
    // drbd_sender.c drbd_resync_finished: "Online verify found %lu %lluk blocks out of sync!" →
    // khelper_cmd = "out-of-sync", called after the state change back to Established; both the
    // VerifyS and the VerifyT side set the bits (drbd_ov_out_of_sync_found).
    expect(seen.alpha).toEqual([
      `change peer-device ${A} volume:0 replication:VerifyS done:0.00`,
      `change peer-device ${A} volume:0 replication:Established`,
      `call helper ${A} volume:0 minor:0 helper:out-of-sync`,
      `response helper ${A} volume:0 minor:0 helper:out-of-sync status:0`,
    ]);
    expect(seen.beta?.[0]).toBe(`change peer-device ${B} volume:0 replication:VerifyT done:0.00`);
    // The bits stay until a resync: `status --statistics` shows them (out-of-sync only when non-zero).
    expect(pair.status('alpha', 'r0', { statistics: true }).stdout).toContain(
      '        received:0 sent:0 out-of-sync:12\n',
    );
    // A disconnect/connect resyncs them (bitmap-based, the Primary as source).
    pair.disconnect('beta', 'r0');
    pair.connect('beta', 'r0');
    expect(pair.cstate('beta', 'r0')).toBe('Connected');
    expect(pair.dstate('beta', 'r0')).toBe('Inconsistent/UpToDate');
  });

  it('congestion: Ahead/Behind with the Behind disk capped at Outdated, then a resync', () => {
    const seen = eventsDuring(pair, () => pair.congestion('r0'));
    // drbd_req.c pull-ahead; drbd_receiver.c receive_state: peer Ahead → L_BEHIND;
    // sanitize_state: L_BEHIND → max_disk_state D_OUTDATED.
    expect(seen.alpha).toEqual([
      'change resource name:r0 may_promote:no promotion_score:10101',
      `change peer-device ${A} volume:0 replication:Ahead peer-disk:Outdated peer-client:no`,
    ]);
    expect(seen.beta).toEqual([
      'change resource name:r0 may_promote:no promotion_score:1',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Outdated client:no open:no quorum:yes`,
      `change peer-device ${B} volume:0 replication:Behind`,
    ]);
    const end = eventsDuring(pair, () => pair.congestionEnd('r0'));
    // "Start resync after AHEAD/BEHIND": the Behind side becomes Inconsistent at once, then
    // drbd_start_resync (before-resync-target) → SyncTarget; the Ahead side → SyncSource.
    expect(end.beta).toEqual([
      'change resource name:r0 may_promote:no promotion_score:10001',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Inconsistent client:no open:no quorum:yes`,
      `call helper ${B} volume:0 minor:0 helper:before-resync-target`,
      `response helper ${B} volume:0 minor:0 helper:before-resync-target status:0`,
      `change peer-device ${B} volume:0 replication:SyncTarget done:0.00`,
    ]);
    expect(end.alpha?.at(-1)).toBe(`change peer-device ${A} volume:0 replication:SyncSource done:0.00`);
  });

  it('pause-sync: resync-suspended user here and peer there; dependency on both', () => {
    pair.resync('r0', { seconds: 10 });
    const paused = eventsDuring(pair, () => pair.pauseSync('r0', { host: 'beta' }));
    // drbdsetup.c resync_susp_str; drbd_receiver.c receive_state: the peer's user_isp/aftr_isp
    // arrive as resync_susp_peer; sanitize_state turns SyncSource/SyncTarget into PausedSync*.
    expect(paused.beta).toEqual([
      `change peer-device ${B} volume:0 replication:PausedSyncT resync-suspended:user`,
    ]);
    expect(paused.alpha).toEqual([
      `change peer-device ${A} volume:0 replication:PausedSyncS resync-suspended:peer`,
    ]);
    // No progress while paused.
    clock.advance(20_000);
    pair.tick();
    expect(pair.cstate('beta', 'r0')).toBe('Connected');
    expect(pair.status('beta', 'r0').stdout).toContain(
      'replication:PausedSyncT peer-disk:UpToDate done:0.00 resync-suspended:user',
    );
    const resumed = eventsDuring(pair, () => pair.resumeSync('r0', { host: 'beta' }));
    expect(resumed.beta).toEqual([
      `change peer-device ${B} volume:0 replication:SyncTarget resync-suspended:no`,
    ]);
    const dependency = eventsDuring(pair, () => pair.pauseSync('r0', { reason: 'dependency' }));
    expect(dependency.alpha).toEqual([
      `change peer-device ${A} volume:0 replication:PausedSyncS resync-suspended:peer,dependency`,
    ]);
  });

  it('administrative detach goes Detaching → Diskless; an I/O error Failed → Diskless with local-io-error', () => {
    const detached = eventsDuring(pair, () => pair.detach('beta', 'r0'));
    // drbd_nl.c drbd_adm_detach → D_DETACHING (DRBD 9 only), go_diskless → D_DISKLESS; no helper.
    expect(detached.beta).toEqual([
      'change resource name:r0 may_promote:no promotion_score:1',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Detaching client:no open:no quorum:yes`,
      `change device ${DEV} backing_dev:none disk:Diskless client:no open:no quorum:yes`,
    ]);
    expect(detached.alpha?.slice(1)).toEqual([
      `change peer-device ${A} volume:0 peer-disk:Detaching peer-client:no`,
      `change peer-device ${A} volume:0 peer-disk:Diskless peer-client:no`,
    ]);
    const failed = eventsDuring(pair, () => pair.diskFail('alpha', 'r0', { helper: true }));
    // drbd_state.c after_state_ch: "was_io_error && eh == EP_CALL_HELPER" →
    // drbd_maybe_khelper(device, NULL, "local-io-error"): a device helper, no connection keys.
    expect(failed.alpha).toEqual([
      'change resource name:r0 may_promote:no promotion_score:0',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Failed client:no open:no quorum:yes`,
      `call helper ${DEV} helper:local-io-error`,
      `response helper ${DEV} helper:local-io-error status:0`,
      `change device ${DEV} backing_dev:none disk:Diskless client:no open:no quorum:yes`,
    ]);
  });

  it('disk-attach: Attaching, Negotiating with the connected peer, then a resync as target', () => {
    pair.diskFail('beta', 'r0');
    const seen = eventsDuring(pair, () => pair.diskAttach('beta', 'r0'));
    expect(seen.beta?.slice(0, 4)).toEqual([
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Attaching client:no open:no quorum:yes`,
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Negotiating client:no open:no quorum:yes`,
      'change resource name:r0 may_promote:no promotion_score:10001',
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Inconsistent client:no open:no quorum:yes`,
    ]);
    expect(seen.beta).toContain(`change peer-device ${B} volume:0 replication:WFBitMapT`);
    expect(seen.beta?.at(-1)).toBe(`change peer-device ${B} volume:0 replication:SyncTarget done:0.00`);
  });

  it('a new resource: created, Attaching → Inconsistent, connected, initial sync after primary --force', () => {
    const R5 = 'name:r5 peer-node-id:1 conn-name:beta';
    const seen = eventsDuring(pair, () => pair.newResource('r5', 5, { primary: 'alpha' }), {
      resource: 'r5',
    });
    expect(seen.alpha).toEqual([
      'create resource name:r5 role:Secondary suspended:no force-io-failures:no may_promote:no promotion_score:0',
      `create connection ${R5} connection:StandAlone role:Unknown`,
      'create device name:r5 volume:0 minor:5 backing_dev:none disk:Diskless client:no open:no quorum:yes',
      `create peer-device ${R5} volume:0 replication:Off peer-disk:DUnknown peer-client:no resync-suspended:no`,
      `create path ${R5} local:ipv4:10.0.0.1:7794 peer:ipv4:10.0.0.2:7794 established:no`,
      'change device name:r5 volume:0 minor:5 backing_dev:/dev/vg/r5 disk:Attaching client:no open:no quorum:yes',
      'change device name:r5 volume:0 minor:5 backing_dev:/dev/vg/r5 disk:Inconsistent client:no open:no quorum:yes',
      // drbd_adm_connect: StandAlone → Unconnected; the receiver thread → Connecting.
      `change connection ${R5} connection:Unconnected`,
      `change connection ${R5} connection:Connecting`,
      `change connection ${R5} connection:Connected`,
      `change path ${R5} local:ipv4:10.0.0.1:7794 peer:ipv4:10.0.0.2:7794 established:yes`,
      `change connection ${R5} role:Secondary`,
      `change peer-device ${R5} volume:0 replication:Established peer-disk:Inconsistent peer-client:no`,
      'change resource name:r5 role:Primary may_promote:no promotion_score:10101',
      'change device name:r5 volume:0 minor:5 backing_dev:/dev/vg/r5 disk:UpToDate client:no open:no quorum:yes',
      `change peer-device ${R5} volume:0 replication:WFBitMapS`,
      `call helper ${R5} volume:0 minor:5 helper:before-resync-source`,
      `response helper ${R5} volume:0 minor:5 helper:before-resync-source status:0`,
      `change peer-device ${R5} volume:0 replication:SyncSource done:0.00`,
    ]);
    expect(pair.dstate('beta', 'r5')).toBe('Inconsistent/UpToDate');
  });

  it('full-sync: invalidate-remote goes StartingSyncS → SyncSource, invalidate StartingSyncT', () => {
    const remote = eventsDuring(pair, () => pair.fullSync('r0', { source: 'alpha' }));
    // drbd_nl.c full_sync_from_peer: L_STARTING_SYNC_S; drbd_state.c abw_start_sync:
    // L_STARTING_SYNC_S → drbd_start_resync(L_SYNC_SOURCE).
    expect(remote.alpha?.[0]).toBe(`change peer-device ${A} volume:0 replication:StartingSyncS`);
    expect(remote.alpha?.at(-1)).toBe(
      `change peer-device ${A} volume:0 replication:SyncSource peer-disk:Inconsistent peer-client:no done:0.00`,
    );
    init();
    const local = eventsDuring(pair, () => pair.fullSync('r0', { target: 'beta' }));
    // L_STARTING_SYNC_T caps the disk at Outdated like WFBitMapT; the peer answers WFBitMapS.
    expect(local.beta?.slice(1, 3)).toEqual([
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Outdated client:no open:no quorum:yes`,
      `change peer-device ${B} volume:0 replication:StartingSyncT`,
    ]);
    expect(local.alpha).toContain(`change peer-device ${A} volume:0 replication:WFBitMapS`);
  });

  it('I/O suspension: user (suspend-io/resume-io) and no-data', () => {
    const user = eventsDuring(pair, () => {
      pair.suspendIo('alpha', 'r0');
      pair.resumeIo('alpha', 'r0');
    });
    // drbdsetup.c susp_str order: user, no-data, fencing, quorum.
    expect(user.alpha).toEqual([
      'change resource name:r0 suspended:user',
      'change resource name:r0 suspended:no',
    ]);
    const noData = eventsDuring(pair, () => pair.noData('alpha', 'r0'));
    // on-no-data-accessible suspend-io: the Primary's last UpToDate disk is gone.
    expect(noData.alpha?.slice(-3)).toEqual([
      `change device ${DEV} backing_dev:/dev/vg/r0 disk:Failed client:no open:no quorum:yes`,
      'change resource name:r0 suspended:no-data',
      `change device ${DEV} backing_dev:none disk:Diskless client:no open:no quorum:yes`,
    ]);
    expect(pair.status('alpha', 'r0').stdout).toBe(
      'r0 role:Primary suspended:no-data\n  disk:Diskless client:no\n  beta connection:Connecting\n\n',
    );
  });

  it('with usermode_helper=disabled no helper line appears at all', () => {
    init({ usermodeHelper: false, fencing: 'resource-and-stonith' });
    const seen = eventsDuring(pair, () => {
      pair.linkDown('r0');
      pair.linkUp('r0');
      clock.advance(3000);
      pair.tick();
    });
    // drbd_nl.c drbd_maybe_khelper: DRBD_UMH_DISABLED; conn_try_outdate_peer returns at once.
    for (const host of ['alpha', 'beta']) expect(helpers(seen[host] ?? []), host).toEqual([]);
    expect(pair.status('alpha', 'r0').stdout).not.toContain('suspended');
  });

  it('drbd-utils 9.28+ prints no `- skipped` lines; older ones print the signed gap before the timestamp', () => {
    expect(() => pair.skip('alpha', 3)).toThrow(/prints no '- skipped' lines/);
    init({ utilsVersion: '9.11.0' });
    const seen = eventsDuring(
      pair,
      () => {
        pair.skip('alpha', -2);
        pair.secondary('alpha', 'r0');
      },
      { timestamps: true },
      ['alpha'],
    );
    // drbdsetup.c (9.11) print_notifications: printf("- skipped %d\n", skipped) before the
    // timestamp; an out-of-order sequence number gives a negative gap. may_promote and
    // promotion_score only exist since drbd-utils 9.14.
    expect(seen.alpha?.[0]).toBe('- skipped -2');
    expect(seen.alpha?.[1]).toMatch(/^\d{4}-\d\d-\d\dT\S+ change resource name:r0 role:Secondary$/);
    // Before 9.28 drbdsetup prints the kernel's order: resource, connection, path, device, peer-device.
    expect(pair.eventsNow('alpha').map((l) => l.split(' ')[1])).toEqual([
      'resource',
      'connection',
      'path',
      'device',
      'peer-device',
      '-',
    ]);
  });
});
