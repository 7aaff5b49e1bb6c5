// The kernel's mechanics: every command and fault is a sequence of state changes, and each
// step() turns the difference of every host's view into journal events, so the transient states
// (Unconnected, WFBitMapT with the disk capped at Outdated, StartingSyncS …) reach the streams in
// the order DRBD prints them. Sources are named next to each mechanism (LINBIT/drbd, drbd-9.2
// and drbd-8.4 branches; drbd_receiver.c, drbd_state.c, drbd_sender.c/drbd_worker.c, drbd_nl.c).

import { appendJournal } from './event-journal.js';
import type { Clock } from './state.js';
import {
  type ConnectionCause,
  type DiskState,
  type Endpoint,
  endpointOf,
  established,
  isClient,
  linkKey,
  nodeId,
  peersOf,
  replicaOf,
  replicating,
  resourceConfig,
  type SimState,
  syncKey,
} from './types.js';
import { buildView, diffViews, type HelperScope, type HostView, helperRecord, syncOn } from './views.js';

export class Transaction {
  readonly #views = new Map<string, HostView | null>();

  constructor(
    readonly dir: string,
    readonly state: SimState,
    readonly clock: Clock,
  ) {
    for (const host of state.hosts) this.#views.set(host, state.up[host] ? buildView(state, host) : null);
  }

  /** Publishes what changed since the previous step to every host's journal. */
  step(): void {
    const t = this.clock.nowMicros();
    const followUps: (() => void)[] = [];
    for (const host of this.state.hosts) {
      const before = this.#views.get(host) ?? null;
      const after = this.state.up[host] ? buildView(this.state, host) : null;
      if (before && !after) appendJournal(this.dir, host, { type: 'down', t });
      else if (!before && after) appendJournal(this.dir, host, { type: 'boot', t });
      else if (before && after) {
        const events = diffViews(before, after, this.state);
        if (events.length > 0) appendJournal(this.dir, host, { type: 'events', t, events });
        followUps.push(...this.#afterStateChange(host, before, after));
      }
      this.#views.set(host, after);
    }
    for (const followUp of followUps) followUp();
  }

  /**
   * Helpers the kernel calls because of a state change (drbd_state.c after_state_ch):
   * quorum-lost on a Primary that just lost quorum; on DRBD 9 unfence-peer when a peer's disk
   * becomes UpToDate next to an UpToDate local disk with fencing configured (drbd_should_unfence).
   */
  #afterStateChange(host: string, before: HostView, after: HostView): (() => void)[] {
    const calls: (() => void)[] = [];
    const field = (view: HostView, kind: string, resource: string, key: string, peer?: string) =>
      view.find((o) => o.kind === kind && o.resource === resource && (peer === undefined || o.peer === peer))
        ?.info[key];
    for (const res of this.state.resources) {
      if (this.state.dialect !== '9') continue;
      const role = field(after, 'resource', res.name, 'role');
      if (
        role === 'Primary' &&
        field(before, 'device', res.name, 'quorum') === 'yes' &&
        field(after, 'device', res.name, 'quorum') === 'no'
      ) {
        calls.push(() => this.helper(host, res.name, 'quorum-lost', { scope: 'device' }));
      }
      if (res.fencing === 'dont-care') continue;
      for (const peer of peersOf(this.state, host)) {
        const was = field(before, 'peer-device', res.name, 'peer-disk', peer);
        const now = field(after, 'peer-device', res.name, 'peer-disk', peer);
        const disk = field(after, 'device', res.name, 'disk');
        if (disk === 'UpToDate' && now === 'UpToDate' && was !== undefined && was !== 'UpToDate') {
          calls.push(() => this.helper(host, res.name, 'unfence-peer', { scope: 'connection', peer }));
        }
      }
    }
    return calls;
  }

  /** DRBD 9 with `usermode_helper=disabled` emits no helper events (drbd_maybe_khelper). */
  get helpersEnabled(): boolean {
    return this.state.dialect === '8.4' || this.state.usermodeHelper;
  }

  /** The `call helper` line of a usermode helper. */
  helperCall(host: string, resource: string, name: string, opts: HelperOpts): void {
    if (!this.helpersEnabled || !this.state.up[host]) return;
    const call = helperRecord(this.state, host, resource, name, { scope: opts.scope, peer: opts.peer });
    appendJournal(this.dir, host, { type: 'events', t: this.clock.nowMicros(), events: [call] });
  }

  /**
   * The `response helper` line: `status` is call_usermodehelper's return value, the raw wait
   * status (exit code << 8), which drbd_khelper passes unchanged to notify_helper (drbd_nl.c) and
   * drbdsetup prints with %u; the kernel itself reads the exit code back as (r >> 8) & 0xff.
   */
  helperResponse(host: string, resource: string, name: string, opts: HelperOpts): void {
    if (!this.helpersEnabled || !this.state.up[host]) return;
    const status = (opts.exitCode ?? 0) * 256;
    const response = helperRecord(this.state, host, resource, name, {
      scope: opts.scope,
      peer: opts.peer,
      status,
    });
    appendJournal(this.dir, host, { type: 'events', t: this.clock.nowMicros(), events: [response] });
  }

  /** A helper that runs to completion: call, then response. */
  helper(host: string, resource: string, name: string, opts: HelperOpts): void {
    this.helperCall(host, resource, name, opts);
    this.helperResponse(host, resource, name, opts);
  }

  /** A `- skipped N` line in `host`'s stream (drbd-utils < 9.28, drbdsetup-84). */
  skip(host: string, n: number): void {
    appendJournal(this.dir, host, { type: 'skip', t: this.clock.nowMicros(), n });
  }
}

export interface HelperOpts {
  scope: HelperScope;
  peer?: string | undefined;
  exitCode?: number | undefined;
}

// ---- small queries ------------------------------------------------------------------------

export function ep(state: SimState, host: string, resource: string, peer: string): Endpoint {
  return endpointOf(state, host, resource, peer);
}

export function linkIsUp(state: SimState, resource: string, a: string, b: string): boolean {
  return state.links[linkKey(state, resource, a, b)] !== false;
}

/** Diskful peers this host is not replicating to: writes on a Primary mark them out of sync. */
export function markDivergence(state: SimState): void {
  for (const host of state.hosts) {
    if (!state.up[host]) continue;
    for (const res of state.resources) {
      const replica = replicaOf(state, host, res.name);
      if (replica.role !== 'Primary' || replica.disk !== 'UpToDate') continue;
      for (const peer of peersOf(state, host)) {
        if (isClient(state, peer)) continue;
        const endpoint = ep(state, host, res.name, peer);
        if (replicating(endpoint)) continue;
        if (!endpoint.wrote) endpoint.changesKiB = Math.max(endpoint.changesKiB, DEFAULT_CHANGES_KIB);
        endpoint.wrote = true;
      }
    }
  }
}

/** What a Primary writes while apart, unless a scenario says otherwise (after-sb "changes"). */
export const DEFAULT_CHANGES_KIB = 4096;

/** The disk state cap of a resync target before SyncTarget (drbd_state.c sanitize_state). */
function capAtOutdated(disk: DiskState): DiskState {
  return disk === 'UpToDate' || disk === 'Consistent' ? 'Outdated' : disk;
}

function pausedLink(source: Endpoint, target: Endpoint): boolean {
  return source.pausedUser || source.pausedDependency || target.pausedUser || target.pausedDependency;
}

// ---- connection loss ----------------------------------------------------------------------

export interface LossOptions {
  /** drbd.conf fencing outcome override: the exit code the fence-peer handler answers with. */
  fenceExit?: number | undefined;
}

/**
 * The connection of each (host → peer) side breaks without anyone asking (DRBD 9
 * drbd_receiver.c conn_disconnect; 8.4 the same): `cause` (NetworkFailure, BrokenPipe, Timeout,
 * ProtocolError), then on a Primary with fencing the fence-peer helper is started
 * (conn_try_outdate_peer_async), DRBD 9 calls the `disconnected` helper, the connection goes
 * Unconnected and the restarted receiver goes Connecting. The fence-peer response comes last:
 * the recipe's handlers take seconds.
 */
export function loseConnections(
  tx: Transaction,
  resource: string,
  sides: { host: string; peer: string }[],
  cause: ConnectionCause,
  opts: LossOptions = {},
): void {
  const { state } = tx;
  const config = resourceConfig(state, resource);
  const affected = sides.filter(
    (s) => state.up[s.host] && ep(state, s.host, resource, s.peer).conn === 'Connected',
  );
  if (affected.length === 0) return;
  for (const { host, peer } of affected) {
    const endpoint = ep(state, host, resource, peer);
    const replica = replicaOf(state, host, resource);
    endpoint.conn = cause;
    endpoint.repl = 'Off';
    endpoint.fencedPeerDisk = null;
    endpoint.primaryAtSplit = replica.role === 'Primary';
    cancelSyncs(state, resource, host, peer);
    // drbd_state.c sanitize_state: "Suspend IO while fence-peer handler runs (peer lost)".
    if (config.fencing === 'resource-and-stonith' && replica.role === 'Primary' && !isClient(state, peer))
      endpoint.suspendedFencing = true;
  }
  markDivergence(state);
  tx.step();
  const fencing: { host: string; peer: string }[] = [];
  for (const { host, peer } of affected) {
    if (wantsFence(state, resource, host, peer)) {
      tx.helperCall(host, resource, 'fence-peer', { scope: 'connection', peer });
      fencing.push({ host, peer });
    }
    if (state.dialect === '9') tx.helper(host, resource, 'disconnected', { scope: 'connection', peer });
  }
  for (const { host, peer } of affected) ep(state, host, resource, peer).conn = 'Unconnected';
  tx.step();
  for (const { host, peer } of affected) ep(state, host, resource, peer).conn = 'Connecting';
  tx.step();
  for (const { host, peer } of fencing)
    fenceOutcome(tx, resource, host, peer, opts.fenceExit ?? config.fenceExit);
}

/** A Primary with fencing fences a diskful peer whose disk it no longer knows (conn_disconnect). */
function wantsFence(state: SimState, resource: string, host: string, peer: string): boolean {
  const config = resourceConfig(state, resource);
  const replica = replicaOf(state, host, resource);
  if (config.fencing === 'dont-care' || replica.role !== 'Primary' || isClient(state, peer)) return false;
  // conn_try_outdate_peer: "Not fencing peer, I'm not even Consistent myself".
  return replica.disk === 'UpToDate' || replica.disk === 'Consistent';
}

/**
 * fence-peer's answer, as conn_try_outdate_peer (drbd_nl.c, 8.4 and 9) reads `(r >> 8) & 0xff`:
 * 3 peer Inconsistent, 4 peer fenced (Outdated), 5 peer unreachable (Outdated if we are
 * UpToDate), 6 peer is Primary (outdate myself), 7 peer STONITHed; anything else "fence-peer
 * helper broken": no state change, I/O stays frozen. I/O resumes once every peer disk is
 * Outdated or worse (check_may_resume_io_after_fencing), in a state change of its own.
 */
export function fenceOutcome(
  tx: Transaction,
  resource: string,
  host: string,
  peer: string,
  exit: number,
): void {
  const { state } = tx;
  tx.helperResponse(host, resource, 'fence-peer', { scope: 'connection', peer, exitCode: exit });
  const endpoint = ep(state, host, resource, peer);
  if (!tx.helpersEnabled) {
    // DRBD_UMH_DISABLED: conn_try_outdate_peer returns without deciding anything.
    if (endpoint.suspendedFencing) {
      endpoint.suspendedFencing = false;
      tx.step();
    }
    return;
  }
  const replica = replicaOf(state, host, resource);
  const peerReplica = replicaOf(state, peer, resource);
  let peerDisk: DiskState | null = null;
  switch (exit) {
    case 3:
      peerDisk = 'Inconsistent';
      break;
    case 4:
      peerDisk = 'Outdated';
      // The handler outdated the peer (drbd-peer-outdater runs `drbdadm outdate` there).
      if (
        state.up[peer] &&
        peerReplica.role === 'Secondary' &&
        (peerReplica.disk === 'UpToDate' || peerReplica.disk === 'Consistent')
      )
        peerReplica.disk = 'Outdated';
      break;
    case 5:
      if (replica.disk === 'UpToDate') peerDisk = 'Outdated';
      break;
    case 6:
      if (replica.disk === 'UpToDate' || replica.disk === 'Consistent') replica.disk = 'Outdated';
      break;
    case 7:
      peerDisk = 'Outdated';
      break;
    default:
      return;
  }
  endpoint.fenced = true;
  if (established(endpoint)) return; // reconnected meanwhile: "connection re-established; do not fence"
  if (peerDisk !== null) endpoint.fencedPeerDisk = peerDisk;
  tx.step();
  if (peerDisk !== null && endpoint.suspendedFencing) {
    endpoint.suspendedFencing = false;
    tx.step();
  }
}

/** Drops the resync or verify on the link; a SyncTarget stays Inconsistent (drbd_state.c). */
export function cancelSyncs(state: SimState, resource: string, a: string, b: string): void {
  delete state.resyncs[syncKey(resource, a, b)];
  delete state.resyncs[syncKey(resource, b, a)];
}

// ---- connecting ---------------------------------------------------------------------------

/** Runs pending handshakes after any change that may have brought two sides together. */
export function settle(tx: Transaction): void {
  markDivergence(tx.state);
  for (const res of tx.state.resources) {
    for (const a of tx.state.hosts) {
      for (const b of tx.state.hosts) {
        if (nodeId(tx.state, a) < nodeId(tx.state, b)) handshake(tx, res.name, a, b);
      }
    }
  }
  markDivergence(tx.state);
}

type Outcome =
  | { kind: 'split-brain' }
  | { kind: 'connected'; source?: string; target?: string; upgrade?: string }
  | { kind: 'refused'; source: string; target: string };

function decide(state: SimState, resource: string, a: string, b: string): Outcome {
  const ra = replicaOf(state, a, resource);
  const rb = replicaOf(state, b, resource);
  const ea = ep(state, a, resource, b);
  const eb = ep(state, b, resource, a);
  if (ra.disk === 'Diskless' || rb.disk === 'Diskless') return { kind: 'connected' };
  if (ea.wrote && eb.wrote && ea.discardMyData === eb.discardMyData) return { kind: 'split-brain' };
  const oos = ea.outOfSyncKiB > 0 || eb.outOfSyncKiB > 0;
  const needSync = ea.wrote || eb.wrote || ra.disk !== rb.disk || oos;
  if (!needSync) return { kind: 'connected' };
  // drbd_state.c: an Outdated disk meeting a stable UpToDate peer without any change in
  // between becomes UpToDate without a resync ("Upgrade myself from D_OUTDATED").
  if (!ea.wrote && !eb.wrote && !oos && !ea.discardMyData && !eb.discardMyData) {
    if (ra.disk === 'Outdated' && rb.disk === 'UpToDate') return { kind: 'connected', upgrade: a };
    if (rb.disk === 'Outdated' && ra.disk === 'UpToDate') return { kind: 'connected', upgrade: b };
  }
  let source: string | undefined;
  if (ea.discardMyData && !eb.discardMyData) source = b;
  else if (eb.discardMyData && !ea.discardMyData) source = a;
  else if (ea.wrote && !eb.wrote) source = a;
  else if (eb.wrote && !ea.wrote) source = b;
  else if (ra.disk === 'UpToDate' && rb.disk !== 'UpToDate') source = a;
  else if (rb.disk === 'UpToDate' && ra.disk !== 'UpToDate') source = b;
  else if (oos) source = rb.role === 'Primary' ? b : a;
  if (source === undefined || replicaOf(state, source, resource).disk !== 'UpToDate')
    return { kind: 'connected' };
  const target = source === a ? b : a;
  // drbd_receiver.c: "I shall become SyncTarget, but I am primary!" (rr-conflict disconnect).
  if (replicaOf(state, target, resource).role === 'Primary') return { kind: 'refused', source, target };
  return { kind: 'connected', source, target };
}

function handshake(tx: Transaction, resource: string, a: string, b: string): void {
  const { state } = tx;
  if (!state.up[a] || !state.up[b] || !linkIsUp(state, resource, a, b)) return;
  const ea = ep(state, a, resource, b);
  const eb = ep(state, b, resource, a);
  if (ea.conn !== 'Connecting' || eb.conn !== 'Connecting') return;

  // The transport connects first; the data generations are compared afterwards.
  ea.conn = 'Connected';
  eb.conn = 'Connected';
  ea.repl = 'Off';
  eb.repl = 'Off';
  tx.step();
  const outcome = decide(state, resource, a, b);
  if (outcome.kind === 'split-brain') {
    splitBrainHandshake(tx, resource, a, b);
    return;
  }
  for (const e of [ea, eb]) {
    e.discardMyData = false;
    e.fencedPeerDisk = null;
    e.suspendedFencing = false;
  }
  if (outcome.kind === 'refused') {
    refuseAsPrimaryTarget(tx, resource, outcome.source, outcome.target);
    return;
  }
  for (const e of [ea, eb]) {
    e.repl = 'Established';
    e.wrote = false;
    e.changesKiB = 0;
  }
  if (outcome.upgrade !== undefined) replicaOf(state, outcome.upgrade, resource).disk = 'UpToDate';
  if (outcome.source !== undefined && outcome.target !== undefined) {
    // The resync states follow the first state exchange (receive_state → drbd_sync_handshake).
    ea.repl = 'Off';
    eb.repl = 'Off';
    startResync(tx, resource, outcome.source, outcome.target, { how: 'bitmap' });
    return;
  }
  tx.step();
}

/**
 * drbd_receiver.c drbd_sync_handshake: a Primary that would have to become SyncTarget drops the
 * connection (rr-conflict disconnect): it goes Disconnecting → StandAlone; its peer sees the
 * connection torn down and reconnects (TearDown → Unconnected → Connecting).
 */
function refuseAsPrimaryTarget(tx: Transaction, resource: string, source: string, target: string): void {
  const { state } = tx;
  const te = ep(state, target, resource, source);
  const se = ep(state, source, resource, target);
  te.conn = 'Disconnecting';
  se.conn = 'TearDown';
  tx.step();
  standAlone(state, te);
  se.conn = 'Unconnected';
  tx.step();
  if (state.dialect === '9') {
    tx.helper(target, resource, 'disconnected', { scope: 'connection', peer: source });
    tx.helper(source, resource, 'disconnected', { scope: 'connection', peer: target });
  }
  se.conn = 'Connecting';
  tx.step();
}

/** StandAlone; on DRBD 8.4 the net config is gone with it (no connection object is listed). */
export function standAlone(state: SimState, endpoint: Endpoint): void {
  endpoint.conn = 'StandAlone';
  endpoint.repl = 'Off';
  if (state.dialect === '8.4') endpoint.configured = false;
}

// ---- split-brain --------------------------------------------------------------------------

type Resolution =
  | { kind: 'resolved'; victim: string; demote: boolean }
  | { kind: 'unresolved' }
  | { kind: 'pri-lost'; victim: string };

/**
 * after-sb-0pri (drbd_receiver.c drbd_asb_recover_0p) as seen from the pair: the host whose
 * changes are discarded, or undefined for "disconnect". younger/older Primary is read from who
 * was Primary when the link broke (the bitmap UUID's primary bit); ties of the change counts go to
 * the RESOLVE_CONFLICTS node, which the transport gives to one side of the connection race — the
 * simulator gives it to the higher node-id.
 */
function recover0p(state: SimState, resource: string, a: string, b: string): string | undefined {
  const policy = resourceConfig(state, resource).afterSb0pri;
  const ea = ep(state, a, resource, b);
  const eb = ep(state, b, resource, a);
  const resolver = nodeId(state, a) > nodeId(state, b) ? a : b;
  const least = (): string => {
    if (ea.changesKiB < eb.changesKiB) return a;
    if (eb.changesKiB < ea.changesKiB) return b;
    return resolver;
  };
  const zero = (): string | undefined => {
    if (ea.changesKiB === 0 && eb.changesKiB === 0) return resolver;
    if (ea.changesKiB === 0) return a;
    if (eb.changesKiB === 0) return b;
    return undefined;
  };
  const younger = (): string | undefined => {
    if (ea.primaryAtSplit && !eb.primaryAtSplit) return b;
    if (eb.primaryAtSplit && !ea.primaryAtSplit) return a;
    return undefined;
  };
  switch (policy) {
    case 'disconnect':
      return undefined;
    case 'discard-younger-primary':
    case 'discard-older-primary': {
      const y = younger();
      if (y !== undefined) return policy === 'discard-younger-primary' ? y : y === a ? b : a;
      // "Discard younger/older primary did not find a decision, using discard-least-changes"
      return zero() ?? least();
    }
    case 'discard-zero-changes':
      return zero();
    case 'discard-least-changes':
      return zero() ?? least();
    default:
      if (policy.startsWith('discard-node-')) return policy.slice('discard-node-'.length);
      return undefined;
  }
}

/** after-sb-1pri / after-sb-2pri (drbd_asb_recover_1p, drbd_asb_recover_2p). */
function resolveSplitBrain(state: SimState, resource: string, a: string, b: string): Resolution {
  const config = resourceConfig(state, resource);
  const primaries = [a, b].filter((h) => replicaOf(state, h, resource).role === 'Primary');
  const victim0 = recover0p(state, resource, a, b);
  const callHelper = (victim: string | undefined): Resolution => {
    if (victim === undefined) return { kind: 'unresolved' };
    const replica = replicaOf(state, victim, resource);
    if (replica.role !== 'Primary') return { kind: 'resolved', victim, demote: false };
    // change_role(R_SECONDARY) fails while the device is open (mounted, held by a process).
    if (replica.holders.length > 0) return { kind: 'pri-lost', victim };
    return { kind: 'resolved', victim, demote: true };
  };
  if (primaries.length === 0) {
    return victim0 === undefined
      ? { kind: 'unresolved' }
      : { kind: 'resolved', victim: victim0, demote: false };
  }
  if (primaries.length === 1) {
    const primary = primaries[0] ?? a;
    const secondary = primary === a ? b : a;
    switch (config.afterSb1pri) {
      case 'consensus':
        return victim0 === secondary
          ? { kind: 'resolved', victim: secondary, demote: false }
          : { kind: 'unresolved' };
      case 'violently-as0p':
        return victim0 === undefined
          ? { kind: 'unresolved' }
          : { kind: 'resolved', victim: victim0, demote: false };
      case 'discard-secondary':
        return { kind: 'resolved', victim: secondary, demote: false };
      case 'call-pri-lost-after-sb':
        return callHelper(victim0);
      default:
        return { kind: 'unresolved' };
    }
  }
  switch (config.afterSb2pri) {
    case 'violently-as0p':
      return victim0 === undefined
        ? { kind: 'unresolved' }
        : { kind: 'resolved', victim: victim0, demote: false };
    case 'call-pri-lost-after-sb':
      return callHelper(victim0);
    default:
      return { kind: 'unresolved' };
  }
}

/**
 * drbd_receiver.c (sync handshake): every detected split-brain calls `initial-split-brain` on both
 * nodes, then the after-sb policies run. Resolved: the victim becomes SyncTarget of a bitmap
 * resync and its changes are gone (call-pri-lost-after-sb first demotes a Primary victim:
 * "Successfully gave up primary role"). A Primary victim that cannot demote calls
 * `pri-lost-after-sb`, then like every unresolved split-brain `split-brain`, and drops the
 * connection (Disconnecting → StandAlone); unresolved on both sides: both go StandAlone.
 */
function splitBrainHandshake(tx: Transaction, resource: string, a: string, b: string): void {
  const { state } = tx;
  const ea = ep(state, a, resource, b);
  const eb = ep(state, b, resource, a);
  tx.helper(a, resource, 'initial-split-brain', { scope: 'peer-device', peer: b });
  tx.helper(b, resource, 'initial-split-brain', { scope: 'peer-device', peer: a });
  const resolution = resolveSplitBrain(state, resource, a, b);
  for (const e of [ea, eb]) e.discardMyData = false;
  if (resolution.kind === 'resolved') {
    const victim = resolution.victim;
    const survivor = victim === a ? b : a;
    if (resolution.demote) {
      replicaOf(state, victim, resource).role = 'Secondary';
      tx.step();
    }
    for (const e of [ea, eb]) {
      e.wrote = false;
      e.changesKiB = 0;
      e.fencedPeerDisk = null;
      e.suspendedFencing = false;
    }
    startResync(tx, resource, survivor, victim, { how: 'bitmap' });
    return;
  }
  if (resolution.kind === 'pri-lost') {
    const victim = resolution.victim;
    const survivor = victim === a ? b : a;
    const ve = ep(state, victim, resource, survivor);
    const se = ep(state, survivor, resource, victim);
    tx.helper(victim, resource, 'pri-lost-after-sb', { scope: 'peer-device', peer: survivor });
    tx.helper(victim, resource, 'split-brain', { scope: 'peer-device', peer: survivor });
    ve.conn = 'Disconnecting';
    tx.step();
    standAlone(state, ve);
    tx.step();
    // The survivor had resolved it (it would be SyncSource) when the victim hung up.
    se.repl = 'Off';
    se.conn = 'Connected';
    loseConnections(tx, resource, [{ host: survivor, peer: victim }], 'NetworkFailure');
    return;
  }
  tx.helper(a, resource, 'split-brain', { scope: 'peer-device', peer: b });
  tx.helper(b, resource, 'split-brain', { scope: 'peer-device', peer: a });
  ea.conn = 'Disconnecting';
  eb.conn = 'Disconnecting';
  tx.step();
  standAlone(state, ea);
  standAlone(state, eb);
  tx.step();
}

// ---- resync and verify --------------------------------------------------------------------

export interface ResyncStart {
  /**
   * bitmap: after a handshake or `invalidate-remote --reset-bitmap=no` (WFBitMapS/WFBitMapT);
   * starting-source: `invalidate-remote` on the source (StartingSyncS); starting-target:
   * `invalidate` on the target (StartingSyncT); after-ahead: congestion is over (Ahead → SyncSource).
   */
  how: 'bitmap' | 'starting-source' | 'starting-target' | 'after-ahead';
  seconds?: number | undefined;
  totalKiB?: number | undefined;
}

/**
 * The way into a resync, as each side goes:
 * - target: WFBitMapT with its disk capped at Outdated (drbd_state.c sanitize_state: L_WF_BITMAP_T
 *   … max_disk_state = D_OUTDATED), then (DRBD 8.4 and protocol < 110 only) WFSyncUUID, then the
 *   `before-resync-target` helper and SyncTarget with the disk Inconsistent (drbd_sender.c
 *   drbd_start_resync; drbd_receiver.c receive_bitmap: "agreed_pro_version < 110" → WFSyncUUID,
 *   else straight to drbd_start_resync(L_SYNC_TARGET));
 * - source: WFBitMapS (or StartingSyncS after invalidate-remote), `before-resync-source`, SyncSource
 *   (abw_start_sync: L_STARTING_SYNC_S → drbd_start_resync(L_SYNC_SOURCE));
 * - either becomes PausedSyncS/T at once when a pause reason holds (drbd_start_resync:
 *   __change_resync_susp_dependency; sanitize_state).
 */
export function startResync(
  tx: Transaction,
  resource: string,
  source: string,
  target: string,
  opts: ResyncStart,
): void {
  const { state } = tx;
  const se = ep(state, source, resource, target);
  const te = ep(state, target, resource, source);
  const tr = replicaOf(state, target, resource);
  const is84 = state.dialect === '8.4';
  switch (opts.how) {
    case 'bitmap':
      se.repl = 'WFBitMapS';
      te.repl = 'WFBitMapT';
      tr.disk = capAtOutdated(tr.disk);
      tx.step();
      if (is84) {
        te.repl = 'WFSyncUUID';
        tx.step();
      }
      break;
    case 'starting-source':
      se.repl = 'StartingSyncS';
      tx.step();
      te.repl = 'WFBitMapT';
      tr.disk = capAtOutdated(tr.disk);
      tx.step();
      if (is84) {
        te.repl = 'WFSyncUUID';
        tx.step();
      }
      break;
    case 'starting-target':
      te.repl = 'StartingSyncT';
      tr.disk = capAtOutdated(tr.disk);
      tx.step();
      se.repl = 'WFBitMapS';
      tx.step();
      if (is84) {
        te.repl = 'WFSyncUUID';
        tx.step();
      }
      break;
    case 'after-ahead':
      // drbd_receiver.c receive_state: "Start resync after AHEAD/BEHIND": the Behind side becomes
      // Inconsistent at once ("resync-after-behind"), the resync itself follows.
      tr.disk = 'Inconsistent';
      tx.step();
      break;
  }
  tx.helper(target, resource, 'before-resync-target', { scope: 'peer-device', peer: source });
  tx.helper(source, resource, 'before-resync-source', { scope: 'peer-device', peer: target });
  const now = tx.clock.nowMs();
  const totalKiB =
    opts.totalKiB ?? Math.max(1, Math.round(state.deviceSizeKiB / 10)) + se.outOfSyncKiB + te.outOfSyncKiB;
  const paused = pausedLink(se, te);
  state.resyncs[syncKey(resource, source, target)] = {
    resource,
    source,
    target,
    kind: 'resync',
    startedAtMs: now,
    durationMs: Math.round((opts.seconds ?? state.resyncSeconds) * 1000),
    totalKiB,
    outOfSyncKiB: totalKiB,
    lastProgressMs: now,
    pausedMs: 0,
    pausedAtMs: paused ? now : null,
    foundKiB: 0,
  };
  se.outOfSyncKiB = 0;
  te.outOfSyncKiB = 0;
  tr.disk = 'Inconsistent';
  se.repl = paused ? 'PausedSyncS' : 'SyncSource';
  te.repl = paused ? 'PausedSyncT' : 'SyncTarget';
  tx.step();
}

/** Online verify (drbdadm verify): VerifyS on the host that asked, VerifyT on its peer. */
export function startVerify(
  tx: Transaction,
  resource: string,
  source: string,
  target: string,
  seconds: number,
  foundKiB: number,
): void {
  const { state } = tx;
  const now = tx.clock.nowMs();
  const totalKiB = state.deviceSizeKiB;
  state.resyncs[syncKey(resource, source, target)] = {
    resource,
    source,
    target,
    kind: 'verify',
    startedAtMs: now,
    durationMs: Math.round(seconds * 1000),
    totalKiB,
    outOfSyncKiB: totalKiB,
    lastProgressMs: now,
    pausedMs: 0,
    pausedAtMs: null,
    foundKiB,
  };
  ep(state, source, resource, target).repl = 'VerifyS';
  ep(state, target, resource, source).repl = 'VerifyT';
  tx.step();
}

/** Pauses or resumes running syncs on the link after a change of its pause reasons. */
export function applyPause(tx: Transaction, resource: string, a: string, b: string): void {
  const { state } = tx;
  const sync = syncOn(state, resource, a, b);
  if (sync?.kind !== 'resync') return;
  const se = ep(state, sync.source, resource, sync.target);
  const te = ep(state, sync.target, resource, sync.source);
  const paused = pausedLink(se, te);
  const now = tx.clock.nowMs();
  if (paused && sync.pausedAtMs === null) sync.pausedAtMs = now;
  if (!paused && sync.pausedAtMs !== null) {
    sync.pausedMs += now - sync.pausedAtMs;
    sync.pausedAtMs = null;
    sync.lastProgressMs = now;
  }
  se.repl = paused ? 'PausedSyncS' : 'SyncSource';
  te.repl = paused ? 'PausedSyncT' : 'SyncTarget';
}

const PROGRESS_INTERVAL_MS = 200;

/** Advances resyncs and verifies: progress every ~200 ms, completion when their time is up. */
export function tick(tx: Transaction): void {
  const { state } = tx;
  const now = tx.clock.nowMs();
  for (const [key, sync] of Object.entries(state.resyncs)) {
    const se = state.endpoints[sync.source]?.[sync.resource]?.[sync.target];
    const te = state.endpoints[sync.target]?.[sync.resource]?.[sync.source];
    if (!se || !te || !established(se) || !established(te)) {
      delete state.resyncs[key];
      continue;
    }
    if (sync.pausedAtMs !== null) continue;
    const elapsed = now - sync.startedAtMs - sync.pausedMs;
    if (elapsed >= sync.durationMs) {
      finishSync(tx, key);
    } else if (now - sync.lastProgressMs >= PROGRESS_INTERVAL_MS) {
      sync.outOfSyncKiB = Math.max(1, Math.round(sync.totalKiB * (1 - elapsed / sync.durationMs)));
      sync.lastProgressMs = now;
      tx.step();
    }
  }
}

/**
 * drbd_sender.c drbd_resync_finished: back to Established; a resync makes the target UpToDate
 * and calls `after-resync-target` there; a verify that found blocks calls `out-of-sync` on both
 * sides ("Online verify found N blocks out of sync!") and leaves them in the bitmap until the next
 * resync. DRBD 8.4 (drbd_worker.c) calls `unfence-peer` on the SyncSource with fencing once both
 * disks are UpToDate; DRBD 9 does it in after_state_ch (Transaction.step).
 */
function finishSync(tx: Transaction, key: string): void {
  const { state } = tx;
  const sync = state.resyncs[key];
  if (!sync) return;
  delete state.resyncs[key];
  const se = ep(state, sync.source, sync.resource, sync.target);
  const te = ep(state, sync.target, sync.resource, sync.source);
  se.repl = 'Established';
  te.repl = 'Established';
  if (sync.kind === 'verify') {
    se.outOfSyncKiB += sync.foundKiB;
    te.outOfSyncKiB += sync.foundKiB;
    tx.step();
    if (sync.foundKiB > 0) {
      tx.helper(sync.source, sync.resource, 'out-of-sync', { scope: 'peer-device', peer: sync.target });
      tx.helper(sync.target, sync.resource, 'out-of-sync', { scope: 'peer-device', peer: sync.source });
    }
    return;
  }
  replicaOf(state, sync.target, sync.resource).disk = 'UpToDate';
  for (const e of [se, te]) {
    e.wrote = false;
    e.changesKiB = 0;
    e.outOfSyncKiB = 0;
  }
  tx.step();
  tx.helper(sync.target, sync.resource, 'after-resync-target', { scope: 'peer-device', peer: sync.source });
  if (state.dialect === '8.4' && resourceConfig(state, sync.resource).fencing !== 'dont-care') {
    tx.helper(sync.source, sync.resource, 'unfence-peer', { scope: 'connection', peer: sync.target });
  }
}

export function primaryPeers(state: SimState, host: string, resource: string): string[] {
  return peersOf(state, host).filter((peer) => {
    const endpoint = ep(state, host, resource, peer);
    return established(endpoint) && replicaOf(state, peer, resource).role === 'Primary';
  });
}

/** An UpToDate copy of the data is reachable from `host` (its own or an established peer's). */
export function reachesUpToDate(state: SimState, host: string, resource: string): boolean {
  if (replicaOf(state, host, resource).disk === 'UpToDate') return true;
  return peersOf(state, host).some(
    (peer) =>
      established(ep(state, host, resource, peer)) && replicaOf(state, peer, resource).disk === 'UpToDate',
  );
}
