// The DRBD situations the bot must report truthfully, each with hand-written events2 streams in
// DRBD's own format (test/fixtures/events2/situations/<dialect>-<situation>.<host>.events2) and the
// notifications an operator needs from them. drbd-situations.test.ts replays every stream through
// the real watcher and checks them; the same replay renders docs/drbd-situations.md, so the
// reference cannot drift from what the bot says.

import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  ALERT_KINDS,
  type AlertKind,
  type DetailValue,
  type Notification,
  SEVERITIES,
  type Severity,
} from '../../src/core/notification.js';
import { feedLine, initialWatch } from '../../src/core/watcher.js';

export const SITUATIONS_DIR = join(import.meta.dirname, '../fixtures/events2/situations');

export interface Expected {
  readonly kind: AlertKind;
  readonly severity: Severity;
  /** Fragments the text must contain. */
  readonly says?: readonly string[];
  /** Fragments it must not contain (advice that would be wrong here). */
  readonly never?: readonly string[];
  readonly details?: Readonly<Record<string, DetailValue>>;
}

export interface Replay {
  /** File name in SITUATIONS_DIR: `drbd9-…` or `drbd84-…`, then `.<host>.events2`. */
  readonly stream: string;
  readonly expect: readonly Expected[];
}

export interface Situation {
  readonly title: string;
  /** What DRBD does, and where that is written down. */
  readonly drbd: string;
  readonly replays: readonly Replay[];
}

const RECIPE = 'drbdadm connect --discard-my-data';

export const SITUATIONS: readonly Situation[] = [
  {
    title: 'fence-peer fenced the peer (exit code 4)',
    drbd:
      'The Primary lost the peer; with `fencing resource-only` or `resource-and-stonith` DRBD runs the fence-peer ' +
      'handler, whose exit code is its answer (`drbd_nl.c` conn_try_outdate_peer()). 4: the peer is now Outdated. ' +
      'With resource-and-stonith I/O is frozen (`suspended:fencing`) while the handler runs.',
    replays: [
      {
        stream: 'drbd9-fence-peer-outdated.alpha.events2',
        expect: [
          { kind: 'suspended', severity: 'warning', says: ['fence-peer handler is fencing the peer'] },
          { kind: 'connection-lost', severity: 'critical', says: ['writes are not replicated'] },
          {
            kind: 'fencing',
            severity: 'info',
            says: ['fenced beta', 'Outdated'],
            details: { outcome: 'peer-outdated', exitCode: 4 },
          },
          { kind: 'resumed', severity: 'info' },
        ],
      },
      {
        stream: 'drbd84-fence-peer-outdated.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical', says: ['writes are not replicated'] },
          { kind: 'fencing', severity: 'info', says: ['fenced peer'], details: { outcome: 'peer-outdated' } },
        ],
      },
    ],
  },
  {
    title: 'fence-peer: the peer is Inconsistent (exit code 3)',
    drbd: 'The peer cannot take over with stale data anyway, so nothing is fenced (`drbd_nl.c`, P_INCONSISTENT).',
    replays: [
      {
        stream: 'drbd9-fence-peer-inconsistent.alpha.events2',
        expect: [
          { kind: 'resync-started', severity: 'info', says: ['resync running'] },
          { kind: 'connection-lost', severity: 'critical' },
          {
            kind: 'fencing',
            severity: 'info',
            says: ['Inconsistent'],
            details: { outcome: 'peer-inconsistent' },
          },
        ],
      },
    ],
  },
  {
    title: 'fence-peer: the peer is unreachable (exit code 5)',
    drbd:
      'The handler could not reach the peer and assumes it is dead; DRBD marks it Outdated when the local disk is ' +
      'UpToDate (`drbd_nl.c`, P_DOWN).',
    replays: [
      {
        stream: 'drbd9-fence-peer-unreachable.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical', says: ['(Timeout)'] },
          {
            kind: 'fencing',
            severity: 'warning',
            says: ['could not reach beta', "marks beta's disk Outdated"],
            details: { outcome: 'peer-unreachable' },
          },
        ],
      },
    ],
  },
  {
    title: 'fence-peer: the peer is Primary, this node outdated itself (exit code 6)',
    drbd:
      'A disconnected Secondary asked to become Primary learns that the peer is Primary and outdates its own disk ' +
      '(`drbd_nl.c`, P_PRIMARY).',
    replays: [
      {
        stream: 'drbd9-fence-peer-self-outdated.beta.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning', details: { atStartup: true } },
          {
            kind: 'fencing',
            severity: 'warning',
            says: ['beta outdated its own disk', 'must not be promoted'],
            details: { outcome: 'peer-primary' },
          },
        ],
      },
    ],
  },
  {
    title: 'fence-peer: the peer was STONITHed (exit code 7)',
    drbd: 'The cluster manager powered the peer off or reset it; DRBD marks it Outdated (`drbd_nl.c`, P_FENCING).',
    replays: [
      {
        stream: 'drbd9-fence-peer-stonith.alpha.events2',
        expect: [
          { kind: 'suspended', severity: 'warning' },
          { kind: 'connection-lost', severity: 'critical', says: ['(BrokenPipe)'] },
          { kind: 'fencing', severity: 'warning', says: ['STONITH'], details: { outcome: 'peer-stonithed' } },
          { kind: 'resumed', severity: 'info' },
        ],
      },
    ],
  },
  {
    title: 'fence-peer handler broken (any other exit code)',
    drbd:
      'DRBD logs "fence-peer helper broken" and does not fence; with resource-and-stonith I/O stays frozen until the ' +
      'handler works or `drbdadm resume-io` (`drbd_nl.c` conn_try_outdate_peer(): "Eventually leave IO frozen").',
    replays: [
      {
        stream: 'drbd9-fence-peer-broken.alpha.events2',
        expect: [
          { kind: 'suspended', severity: 'warning' },
          { kind: 'connection-lost', severity: 'critical' },
          {
            kind: 'helper-failed',
            severity: 'critical',
            says: [
              'fence-peer handler on alpha is broken',
              'exited with code 1',
              'stays frozen',
              'resume-io r0',
            ],
            details: { outcome: 'broken', ioFrozen: true },
          },
          { kind: 'resumed', severity: 'info' },
        ],
      },
      {
        stream: 'drbd84-fence-peer-broken.alpha.events2',
        expect: [
          { kind: 'suspended', severity: 'warning' },
          { kind: 'connection-lost', severity: 'critical' },
          { kind: 'helper-failed', severity: 'critical', says: ['exited with code 2', 'stays frozen'] },
        ],
      },
    ],
  },
  {
    title: 'Split-brain resolved by DRBD (after-sb policy)',
    drbd:
      'DRBD calls `initial-split-brain` for every split-brain it detects, then applies the after-sb-0pri/1pri/2pri ' +
      'policy; when the policy picks a victim, the victim becomes SyncTarget and its changes since the split are ' +
      'overwritten, and no `split-brain` helper follows (`drbd_receiver.c` drbd_sync_handshake(); drbd.conf(5)).',
    replays: [
      {
        stream: 'drbd9-split-brain-auto-resolved.beta.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'role-changed', severity: 'info', says: ['is now Primary'] },
          { kind: 'role-changed', severity: 'info', says: ['is now Secondary'] },
          { kind: 'connection-restored', severity: 'info' },
          {
            kind: 'split-brain-resolved',
            severity: 'critical',
            says: ["beta's changes since the split are discarded", 'resyncs from alpha'],
            never: ['discard-my-data', 'drbdadm connect'],
            details: { victim: 'beta', survivor: 'alpha' },
          },
          { kind: 'resync-started', severity: 'info', says: ['alpha → beta'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
      {
        stream: 'drbd9-split-brain-auto-resolved.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical' },
          { kind: 'connection-restored', severity: 'info' },
          {
            kind: 'split-brain-resolved',
            severity: 'critical',
            says: ["beta's changes since the split are discarded"],
            never: ['discard-my-data'],
            details: { victim: 'beta' },
          },
          { kind: 'resync-started', severity: 'info', says: ['alpha → beta'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
      {
        stream: 'drbd84-split-brain-auto-resolved.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning', details: { atStartup: true } },
          { kind: 'connection-restored', severity: 'info' },
          {
            kind: 'split-brain-resolved',
            severity: 'critical',
            says: ["alpha's changes since the split are discarded"],
            never: ['discard-my-data'],
            details: { victim: 'alpha', survivor: 'peer' },
          },
          { kind: 'resync-started', severity: 'info', says: ['peer → alpha'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    ],
  },
  {
    title: 'Split-brain DRBD did not resolve',
    drbd:
      'The after-sb policies could not pick a victim: DRBD calls `split-brain` after `initial-split-brain` and goes ' +
      'Disconnecting → StandAlone ("Split-Brain detected but unresolved, dropping connection!"). DRBD 8.4 destroys ' +
      'the connection instead of showing StandAlone. With `usermode_helper=disabled` no helper events appear: ' +
      'StandAlone right after a handshake is the only sign.',
    replays: [
      {
        stream: 'drbd9-split-brain-unresolved.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical' },
          { kind: 'split-brain', severity: 'critical', says: ['did not resolve it', RECIPE] },
          { kind: 'standalone', severity: 'critical', says: ['follows the split-brain'], never: [RECIPE] },
        ],
      },
      {
        stream: 'drbd9-split-brain-no-helpers.beta.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'role-changed', severity: 'info', says: ['is now Primary'] },
          {
            kind: 'standalone',
            severity: 'critical',
            says: ['right after the handshake', 'usermode_helper=disabled', RECIPE],
            details: { afterHandshake: true },
          },
        ],
      },
      {
        stream: 'drbd84-split-brain-unresolved.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical' },
          { kind: 'split-brain', severity: 'critical', says: [RECIPE] },
          { kind: 'standalone', severity: 'critical', says: ['follows the split-brain'] },
        ],
      },
    ],
  },
  {
    title: 'Split-brain victim is Primary (pri-lost-after-sb)',
    drbd:
      'The after-sb-1pri/2pri policy `call-pri-lost-after-sb` chose this Primary as the victim and it could not ' +
      'demote: DRBD calls `pri-lost-after-sb` (whose usual handler reboots the node), then `split-brain` ' +
      '(`drbd_receiver.c` drbd_asb_recover_1p/2p()). The survivor only sees the handshake break off.',
    replays: [
      {
        stream: 'drbd9-pri-lost-after-sb.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical' },
          {
            kind: 'split-brain',
            severity: 'critical',
            says: ['chose alpha as the victim', 'pri-lost-after-sb', 'reboots alpha', RECIPE],
            details: { victim: 'alpha' },
          },
          { kind: 'standalone', severity: 'critical', says: ['follows the split-brain'] },
        ],
      },
      {
        stream: 'drbd9-pri-lost-after-sb.beta.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning' },
          {
            kind: 'split-brain',
            severity: 'critical',
            says: ['dropped before it was resolved'],
            never: ['discard-my-data'],
          },
        ],
      },
      {
        stream: 'drbd84-pri-lost-after-sb.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical', details: { atStartup: true } },
          { kind: 'split-brain', severity: 'critical', says: ['chose alpha as the victim'] },
          { kind: 'standalone', severity: 'critical', says: ['follows the split-brain'] },
        ],
      },
    ],
  },
  {
    title: 'Online verify found out-of-sync blocks',
    drbd:
      'At the end of `drbdadm verify` DRBD calls the `out-of-sync` helper when blocks differ (`drbd_sender.c` ' +
      'drbd_resync_finished(): "Online verify found N 4k blocks out of sync!"); they stay out of sync until a ' +
      'disconnect/connect resyncs them.',
    replays: [
      {
        stream: 'drbd9-verify-out-of-sync.alpha.events2',
        expect: [
          {
            kind: 'out-of-sync',
            severity: 'warning',
            says: ['12 KiB out of sync', 'drbdadm disconnect r0; drbdadm connect r0'],
          },
        ],
      },
      {
        stream: 'drbd84-verify-out-of-sync.alpha.events2',
        expect: [{ kind: 'out-of-sync', severity: 'warning', says: ['4 KiB out of sync'] }],
      },
    ],
  },
  {
    title: 'Diskless client (quorum tiebreaker)',
    drbd:
      '`client:yes` on a device (`peer-client:yes` on the peer device) marks an intentionally diskless node: Diskless ' +
      'is its healthy state. Losing it costs no copy of the data, only a quorum vote.',
    replays: [
      {
        stream: 'drbd9-diskless-client.gamma.events2',
        expect: [
          {
            kind: 'connection-lost',
            severity: 'warning',
            says: ['redundancy reduced, alpha still has a current copy'],
          },
          { kind: 'connection-restored', severity: 'info' },
        ],
      },
      {
        stream: 'drbd9-tiebreaker-lost.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning', says: ['gamma is a diskless client'] },
          { kind: 'connection-restored', severity: 'info' },
        ],
      },
    ],
  },
  {
    title: 'Several peers: redundancy reduced, then replication stopped',
    drbd:
      'With more than one diskful peer, losing one while another still replicates to an UpToDate disk reduces ' +
      'redundancy; only when no peer receives the writes are they not replicated.',
    replays: [
      {
        stream: 'drbd9-three-nodes.alpha.events2',
        expect: [
          {
            kind: 'connection-lost',
            severity: 'warning',
            says: ['redundancy reduced, writes still replicate to gamma'],
          },
          { kind: 'connection-lost', severity: 'critical', says: ['writes are not replicated'] },
        ],
      },
    ],
  },
  {
    title: 'Quorum lost',
    drbd:
      '`quorum:no`: a Secondary cannot be promoted; a Primary freezes I/O (`on-no-quorum suspend-io`, ' +
      '`suspended:quorum`) or fails it (`io-error`), and only there DRBD calls the `quorum-lost` helper ' +
      '(`drbd_state.c`). DRBD shows `suspended:quorum` on a Secondary too, where nothing writes.',
    replays: [
      {
        stream: 'drbd9-quorum-lost-primary.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical', says: ['writes are not replicated'] },
          { kind: 'suspended', severity: 'critical', says: ['lost quorum'] },
          { kind: 'connection-lost', severity: 'warning', says: ['diskless client'] },
          { kind: 'quorum-lost', severity: 'critical', says: ['while Primary'] },
          { kind: 'resumed', severity: 'info' },
          { kind: 'quorum-restored', severity: 'info' },
          { kind: 'connection-restored', severity: 'info' },
        ],
      },
      {
        stream: 'drbd9-quorum-lost-secondary.beta.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'connection-lost', severity: 'warning', says: ['diskless client'] },
          { kind: 'quorum-lost', severity: 'warning', says: ['nothing freezes on a Secondary'] },
        ],
      },
    ],
  },
  {
    title: 'Normal resync after a reconnect (transient Outdated)',
    drbd:
      'The resync target passes WFBitMapT (and, on DRBD 8.4, WFSyncUUID) with its disk capped at Outdated, then ' +
      'SyncTarget with Inconsistent (`drbd_state.c` sanitize_state()); none of it is a disk problem.',
    replays: [
      {
        stream: 'drbd9-resync-target.beta.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'connection-restored', severity: 'info' },
          { kind: 'resync-started', severity: 'info', says: ['alpha → beta'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
      {
        stream: 'drbd84-resync-target.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'connection-restored', severity: 'info' },
          { kind: 'resync-started', severity: 'info', says: ['peer → alpha'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    ],
  },
  {
    title: 'New resource before its initial sync',
    drbd:
      '`drbdadm up` creates the device Diskless, attaches it (Attaching → Inconsistent) and connects; both disks ' +
      'stay Inconsistent until `drbdadm primary --force` on one side starts the initial full sync.',
    replays: [
      {
        stream: 'drbd9-new-resource.beta.events2',
        expect: [
          { kind: 'resource-added', severity: 'info' },
          { kind: 'role-changed', severity: 'info', says: ['peer alpha is now Primary'] },
          { kind: 'resync-started', severity: 'info', says: ['alpha → beta'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
      {
        stream: 'drbd84-new-resource.alpha.events2',
        expect: [
          { kind: 'resource-added', severity: 'info' },
          { kind: 'role-changed', severity: 'info' },
          { kind: 'resync-started', severity: 'info', says: ['alpha → peer'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    ],
  },
  {
    title: 'Administrative detach',
    drbd:
      '`drbdadm detach` (or `down`) takes the disk Detaching → Diskless (`drbd_nl.c` adm_detach()); the node keeps ' +
      'serving I/O through its peers. DRBD 8.4 has no Detaching state and reports a detach like a failure.',
    replays: [
      {
        stream: 'drbd9-detach.alpha.events2',
        expect: [
          {
            kind: 'disk-degraded',
            severity: 'warning',
            says: ['detached on purpose', 'the only copy left'],
            details: { cause: 'detached' },
          },
          { kind: 'resync-started', severity: 'info', says: ['beta → alpha'] },
          { kind: 'disk-restored', severity: 'info', says: ['was Diskless'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
      {
        stream: 'drbd9-peer-detach.beta.events2',
        expect: [
          {
            kind: 'peer-disk-degraded',
            severity: 'warning',
            says: ['detached on purpose'],
            details: { cause: 'detached' },
          },
        ],
      },
    ],
  },
  {
    title: 'Disk failure',
    drbd:
      'An I/O error on the backing device takes the disk Failed → Diskless and calls `local-io-error` ' +
      '(`drbd_state.c`); the node serves I/O from its peers if connected.',
    replays: [
      {
        stream: 'drbd9-disk-failure.alpha.events2',
        expect: [
          {
            kind: 'disk-degraded',
            severity: 'critical',
            says: ['I/O error', 'beta, the only copy left'],
            details: { cause: 'failed' },
          },
        ],
      },
      {
        stream: 'drbd9-peer-disk-failure.beta.events2',
        expect: [
          {
            kind: 'peer-disk-degraded',
            severity: 'critical',
            says: ['beta holds the only current copy'],
            details: { cause: 'failed' },
          },
        ],
      },
      {
        stream: 'drbd84-disk-failure.alpha.events2',
        expect: [
          {
            kind: 'disk-degraded',
            severity: 'critical',
            says: ['DRBD 8.4 reports the same way'],
            details: { cause: 'failed-or-detached' },
          },
        ],
      },
    ],
  },
  {
    title: 'Events skipped or out of order (drbd-utils before 9.28)',
    drbd:
      "drbdsetup prints `- skipped N` when the kernel's sequence numbers jump; N is printed with %d and is negative " +
      'when events arrived out of order (`user/v9/drbdsetup.c`, `user/v84/drbdsetup.c`). Either way the stream may ' +
      'have missed changes and is read afresh.',
    replays: [
      {
        stream: 'drbd9-skipped.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'critical' },
          {
            kind: 'watcher-gap',
            severity: 'warning',
            says: ['went back 2 events'],
            details: { skipped: -2 },
          },
          { kind: 'watcher-gap', severity: 'warning', says: ['skipped 3 events'], details: { skipped: 3 } },
        ],
      },
      {
        stream: 'drbd84-skipped.alpha.events2',
        expect: [
          { kind: 'watcher-gap', severity: 'warning', details: { skipped: 5 } },
          { kind: 'role-changed', severity: 'info' },
        ],
      },
    ],
  },
  {
    title: 'I/O suspended',
    drbd:
      '`suspended:` lists why I/O is frozen: `user` (`drbdadm suspend-io`), `no-data` (on-no-data-accessible ' +
      'suspend-io: no reachable UpToDate data), `fencing` (while fence-peer runs, resource-and-stonith), `quorum` ' +
      '(on-no-quorum suspend-io).',
    replays: [
      {
        stream: 'drbd9-suspend-io-user.alpha.events2',
        expect: [
          { kind: 'suspended', severity: 'warning', says: ['drbdadm suspend-io', 'drbdadm resume-io r0'] },
          { kind: 'resumed', severity: 'info', says: ['after 8s'] },
        ],
      },
      {
        stream: 'drbd84-suspended-no-data.alpha.events2',
        expect: [
          { kind: 'disk-degraded', severity: 'critical' },
          { kind: 'suspended', severity: 'critical', says: ['node with UpToDate data is reachable'] },
          { kind: 'connection-lost', severity: 'critical', says: ['without a local disk'] },
          { kind: 'resumed', severity: 'info' },
          { kind: 'connection-restored', severity: 'info' },
        ],
      },
    ],
  },
  {
    title: 'Congestion: Ahead / Behind',
    drbd:
      'With `on-congestion pull-ahead` a congested link makes the Primary go Ahead (writes are only recorded as out ' +
      'of sync) and the peer Behind (its disk capped at Outdated); DRBD resyncs by itself when the link keeps up.',
    replays: [
      {
        stream: 'drbd9-ahead.alpha.events2',
        expect: [
          { kind: 'ahead-behind', severity: 'warning', says: ['alpha is Ahead of beta', 'congested'] },
          { kind: 'resync-started', severity: 'info', says: ['alpha → beta'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
      {
        stream: 'drbd84-behind.alpha.events2',
        expect: [
          {
            kind: 'ahead-behind',
            severity: 'warning',
            says: ['alpha is Behind peer', 'must not be promoted'],
          },
          { kind: 'resync-started', severity: 'info', says: ['peer → alpha'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    ],
  },
  {
    title: 'Paused resync',
    drbd:
      'PausedSyncS/T with `resync-suspended:` user (`drbdadm pause-sync`), peer (paused on the other side), ' +
      'dependency (`resync-after` another resource) or max-parallel.',
    replays: [
      {
        stream: 'drbd9-resync-paused-user.beta.events2',
        expect: [
          { kind: 'resync-started', severity: 'info', details: { atStartup: true } },
          {
            kind: 'resync-paused',
            severity: 'warning',
            says: ['drbdadm pause-sync', 'drbdadm resume-sync r0'],
          },
          { kind: 'resync-resumed', severity: 'info', says: ['after a pause of 40m 0s'] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
      {
        stream: 'drbd84-resync-paused-dependency.alpha.events2',
        expect: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'connection-restored', severity: 'info' },
          { kind: 'resync-started', severity: 'info' },
          { kind: 'connection-restored', severity: 'info' },
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-paused', severity: 'info', says: ['resync-after'] },
          { kind: 'resync-finished', severity: 'info' },
          { kind: 'resync-resumed', severity: 'info' },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    ],
  },
];

export interface Replayed {
  readonly host: string;
  readonly dialect: '9' | '8.4';
  readonly notifications: readonly Notification[];
  readonly errors: readonly string[];
}

/** `drbd9-split-brain.alpha.events2` → DRBD 9, seen by alpha. */
export function streamName(file: string): { dialect: '9' | '8.4'; host: string } {
  const parts = basename(file).split('.');
  const host = parts.at(-2);
  if (host === undefined || parts.length < 3) throw new Error(`stream file without a host: ${file}`);
  if (file.startsWith('drbd84-')) return { dialect: '8.4', host };
  if (file.startsWith('drbd9-')) return { dialect: '9', host };
  throw new Error(`stream file without a dialect: ${file}`);
}

/** Feed lines through the real watcher as the daemon would, one second apart when unstamped. */
export function replayLines(host: string, lines: readonly string[]): Omit<Replayed, 'dialect'> {
  let watch = initialWatch(host);
  let at = Date.parse('2026-11-29T00:00:00Z');
  const notifications: Notification[] = [];
  const errors: string[] = [];
  for (const line of lines) {
    const result = feedLine(watch, line, at);
    watch = result.watch;
    notifications.push(...result.notifications);
    if (result.error !== undefined) errors.push(`${result.error.reason}: ${line}`);
    at += 1_000;
  }
  return { host, notifications, errors };
}

export function replayStream(file: string): Replayed {
  const { dialect, host } = streamName(file);
  const lines = readFileSync(join(SITUATIONS_DIR, file), 'utf8').split('\n');
  return { dialect, ...replayLines(host, lines) };
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** docs/drbd-situations.md: every situation with what the bot posts, from the real replay. */
export function renderSituationsMarkdown(): string {
  const out: string[] = [
    '# What the bot says about each DRBD situation',
    '',
    '<!-- Generated by test/core/drbd-situations.test.ts from the streams in',
    '     test/fixtures/events2/situations through the real watcher. Do not edit by hand:',
    '     run `npm run docs:situations` after changing the rules or the streams. -->',
    '',
    "Each situation below was replayed from an `drbdsetup events2 --timestamps` stream in DRBD's own",
    'format (DRBD 9 with current drbd-utils, DRBD 8.4 through drbdsetup-84 where 8.4 has the situation)',
    'through the same parser, state engine and rules the daemon runs. The tables list every',
    'notification the bot posts for that stream, in order: its kind (what routes and `kinds` filters',
    'match), its severity and its text.',
    '',
    'How the bot reads DRBD, and its limits:',
    '',
    "- **Helper exit codes.** The kernel reports a handler's raw wait status (`status:1024` is exit",
    '  code 4); a status of 1–255 is read as the exit code itself, as some tools print it. fence-peer',
    '  answers with codes 3–7, which are outcomes; any other code is a broken handler.',
    '- **Split-brains.** `initial-split-brain` followed by a resync is a split-brain DRBD resolved with',
    '  its after-sb policy: the bot names the node whose changes were discarded and gives no manual',
    '  recipe. The `--discard-my-data` recipe is given only when DRBD did not resolve it (`split-brain`',
    '  helper, or StandAlone right after a handshake when `usermode_helper=disabled` hides the helpers).',
    '- **Transient disk states.** Outdated/Inconsistent while this node is a resync target or Behind,',
    '  and Inconsistent right after attaching, are not announced; if the resync breaks off, the',
    '  degraded disk is.',
    '- **Several peers.** Losing a peer is critical only when no other peer still receives the writes on',
    '  an UpToDate disk; a diskless client (`client:yes`) is healthy without a disk.',
    '- **Roles.** Losing quorum or I/O being suspended is critical on a Primary, whose writers hang; a',
    '  Secondary is only warned about quorum (it cannot be promoted), and of its suspensions only an',
    "  administrator's `suspend-io` is reported, the rest once it is promoted.",
    '- **Fencing.** fence-peer answers 3 and 4 (nothing to fence / peer fenced) are info, 5–7 (peer',
    '  unreachable, this node outdated itself, peer STONITHed) warnings; a broken handler is critical',
    '  while it leaves I/O frozen.',
    '- **DRBD 8.4** reports an administrative detach and a disk failure the same way (Failed → Diskless);',
    '  the bot says so instead of guessing. 8.4 has no quorum, no diskless clients and one peer, `peer`.',
    '- **Gaps.** `- skipped N` (drbd-utils before 9.28, N may be negative) is reported and the stream is',
    '  read afresh.',
    '',
  ];
  const sections: string[] = [];
  const kinds = new Map<AlertKind, { severities: Set<Severity>; situations: Set<string> }>();
  for (const situation of SITUATIONS) {
    sections.push(`## ${situation.title}`, '', situation.drbd, '');
    for (const replay of situation.replays) {
      const { dialect, host, notifications } = replayStream(replay.stream);
      sections.push(`DRBD ${dialect}, seen on ${host} (\`${replay.stream}\`):`, '');
      sections.push('| Kind | Severity | Text |', '| --- | --- | --- |');
      for (const n of notifications) {
        sections.push(`| \`${n.kind}\` | ${n.severity} | ${cell(n.text)} |`);
        const seen = kinds.get(n.kind) ?? { severities: new Set(), situations: new Set() };
        seen.severities.add(n.severity);
        seen.situations.add(situation.title);
        kinds.set(n.kind, seen);
      }
      sections.push('');
    }
  }
  out.push(
    '## Kinds at a glance',
    '',
    'Every kind these situations produce, with the severities it takes.',
    '',
  );
  out.push('| Kind | Severity | Posted in |', '| --- | --- | --- |');
  for (const kind of ALERT_KINDS) {
    const seen = kinds.get(kind);
    if (seen === undefined) continue;
    const severities = SEVERITIES.filter((s) => seen.severities.has(s)).join(', ');
    out.push(`| \`${kind}\` | ${severities} | ${cell([...seen.situations].join('; '))} |`);
  }
  out.push('', ...sections);
  return out.join('\n');
}
