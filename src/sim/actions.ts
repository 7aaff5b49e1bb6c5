// The pair's behaviour: every command and fault is a sequence of state transitions, and
// each step() turns the difference of every host's view into journal events, so the
// intermediate states (Disconnecting, NetworkFailure …) reach the streams as DRBD prints them.

import { appendJournal } from './journal.js';
import type { Clock } from './state.js';
import {
  type CommandResult,
  type ConnState,
  peerOf,
  type Replica,
  replicaOf,
  resourceConfig,
  SimError,
  type SimState,
} from './types.js';
import { buildView, diffViews, type HostView, helperRecord } from './views.js';

export class Transaction {
  private readonly views = new Map<string, HostView | null>();

  constructor(
    readonly dir: string,
    readonly state: SimState,
    readonly clock: Clock,
  ) {
    for (const host of state.hosts) this.views.set(host, state.up[host] ? buildView(state, host) : null);
  }

  /** Publishes what changed since the previous step to every host's journal. */
  step(): void {
    const t = this.clock.nowMicros();
    for (const host of this.state.hosts) {
      const before = this.views.get(host) ?? null;
      const after = this.state.up[host] ? buildView(this.state, host) : null;
      if (before && !after) appendJournal(this.dir, host, { type: 'down', t });
      else if (!before && after) appendJournal(this.dir, host, { type: 'boot', t });
      else if (before && after) {
        const events = diffViews(before, after, this.state.dialect);
        if (events.length > 0) appendJournal(this.dir, host, { type: 'events', t, events });
      }
      this.views.set(host, after);
    }
  }

  /** A usermode helper call and its response (DRBD 9 with helpers disabled prints nothing). */
  helper(host: string, resource: string, name: string, status = 0): void {
    if (this.state.dialect === '9' && !this.state.usermodeHelper) return;
    const call = helperRecord(this.state, host, resource, name, false);
    appendJournal(this.dir, host, { type: 'events', t: this.clock.nowMicros(), events: [call] });
    const response = helperRecord(this.state, host, resource, name, true, status);
    appendJournal(this.dir, host, { type: 'events', t: this.clock.nowMicros(), events: [response] });
  }
}

const OK: CommandResult = { exitCode: 0, stdout: '', stderr: '' };

const STATE_ERRORS: Record<number, { text: string; exitCode: number }> = {
  [-1]: { text: 'Multiple primaries not allowed by config', exitCode: 11 },
  [-2]: { text: 'Need access to UpToDate data', exitCode: 17 },
  [-12]: { text: 'Device is held open by someone', exitCode: 11 },
};

/** The object drbdsetup names in messages: the resource on DRBD 9, the minor on 8.4. */
export function objectName(state: SimState, resource: string): string {
  return state.dialect === '8.4' ? String(resourceConfig(state, resource).minor) : resource;
}

function stateChangeFailed(state: SimState, resource: string, code: number, extra = ''): CommandResult {
  const error = STATE_ERRORS[code] ?? { text: 'State change failed', exitCode: 11 };
  return {
    exitCode: error.exitCode,
    stdout: '',
    stderr: `${objectName(state, resource)}: State change failed: (${code}) ${error.text}\n${extra}`,
  };
}

export function hostDownResult(): CommandResult {
  return { exitCode: 20, stdout: '', stderr: "Could not connect to 'drbd' generic netlink family\n" };
}

function replicating(replica: Replica): boolean {
  return replica.conn === 'Connected' && !replica.handshaking;
}

function requireUp(state: SimState, host: string): void {
  peerOf(state, host);
  if (!state.up[host]) throw new SimError(`host ${host} is down (crashed); boot it first`, 11);
}

// Writes on a Primary that cannot replicate make its data diverge from the peer's.
function markDivergence(state: SimState): void {
  for (const host of state.hosts) {
    if (!state.up[host]) continue;
    for (const res of state.resources) {
      const replica = replicaOf(state, host, res.name);
      if (replica.role === 'Primary' && !replicating(replica)) replica.diverged = true;
    }
  }
}

/** Runs pending handshakes after any change that may have brought two sides together. */
export function settle(tx: Transaction): void {
  markDivergence(tx.state);
  for (const res of tx.state.resources) handshake(tx, res.name);
  markDivergence(tx.state);
}

type Outcome =
  | { kind: 'split-brain' }
  | { kind: 'connected'; source?: string; target?: string }
  | { kind: 'refused'; source: string; target: string };

function decide(state: SimState, resource: string): Outcome {
  const [a, b] = state.hosts;
  const ra = replicaOf(state, a, resource);
  const rb = replicaOf(state, b, resource);
  if (ra.disk === 'Diskless' || rb.disk === 'Diskless') return { kind: 'connected' };
  if (ra.diverged && rb.diverged && ra.discardMyData === rb.discardMyData) return { kind: 'split-brain' };
  const needSync = ra.diverged || rb.diverged || ra.disk !== rb.disk;
  if (!needSync) return { kind: 'connected' };
  let source: string | undefined;
  if (ra.discardMyData && !rb.discardMyData) source = b;
  else if (rb.discardMyData && !ra.discardMyData) source = a;
  else if (ra.diverged && !rb.diverged) source = a;
  else if (rb.diverged && !ra.diverged) source = b;
  else if (ra.disk === 'UpToDate') source = a;
  else if (rb.disk === 'UpToDate') source = b;
  if (source === undefined || replicaOf(state, source, resource).disk !== 'UpToDate')
    return { kind: 'connected' };
  const target = peerOf(state, source);
  // DRBD refuses to become SyncTarget while Primary ("I shall become SyncTarget, but I am primary!").
  if (replicaOf(state, target, resource).role === 'Primary') return { kind: 'refused', source, target };
  return { kind: 'connected', source, target };
}

function handshake(tx: Transaction, resource: string): void {
  const { state } = tx;
  const [a, b] = state.hosts;
  if (!state.up[a] || !state.up[b] || !state.links[resource]) return;
  const ra = replicaOf(state, a, resource);
  const rb = replicaOf(state, b, resource);
  if (ra.conn !== 'Connecting' || rb.conn !== 'Connecting') return;

  // The transport connects first; the data generations are compared afterwards.
  for (const r of [ra, rb]) {
    r.conn = 'Connected';
    r.handshaking = true;
  }
  tx.step();
  const outcome = decide(state, resource);
  if (outcome.kind === 'split-brain') {
    for (const host of state.hosts) {
      tx.helper(host, resource, 'initial-split-brain');
      tx.helper(host, resource, 'split-brain');
    }
    for (const r of [ra, rb]) {
      r.conn = 'Disconnecting';
      r.handshaking = false;
      r.discardMyData = false;
    }
    tx.step();
    for (const r of [ra, rb]) r.conn = 'StandAlone';
    tx.step();
    return;
  }
  if (outcome.kind === 'refused') {
    const target = replicaOf(state, outcome.target, resource);
    const source = replicaOf(state, outcome.source, resource);
    target.conn = 'Disconnecting';
    source.conn = 'TearDown';
    for (const r of [ra, rb]) {
      r.handshaking = false;
      r.discardMyData = false;
    }
    tx.step();
    target.conn = 'StandAlone';
    source.conn = 'Connecting';
    tx.step();
    return;
  }
  for (const r of [ra, rb]) {
    r.handshaking = false;
    r.discardMyData = false;
    r.diverged = false;
  }
  if (outcome.source !== undefined && outcome.target !== undefined) {
    startResync(tx, resource, outcome.source, outcome.target, state.resyncSeconds);
  }
  tx.step();
}

function startResync(
  tx: Transaction,
  resource: string,
  source: string,
  target: string,
  seconds: number,
): void {
  const now = tx.clock.nowMs();
  const totalKiB = Math.max(1, Math.round(tx.state.deviceSizeKiB / 10));
  replicaOf(tx.state, target, resource).disk = 'Inconsistent';
  tx.state.resyncs[resource] = {
    source,
    target,
    startedAtMs: now,
    durationMs: Math.round(seconds * 1000),
    totalKiB,
    outOfSyncKiB: totalKiB,
    lastProgressMs: now,
  };
}

const PROGRESS_INTERVAL_MS = 200;

/** Advances resyncs: progress counters every ~200 ms, completion when their time is up. */
export function tick(tx: Transaction): void {
  const { state } = tx;
  const now = tx.clock.nowMs();
  for (const [resource, resync] of Object.entries(state.resyncs)) {
    const source = replicaOf(state, resync.source, resource);
    const target = replicaOf(state, resync.target, resource);
    if (!replicating(source) || !replicating(target)) {
      delete state.resyncs[resource];
      continue;
    }
    const elapsed = now - resync.startedAtMs;
    if (elapsed >= resync.durationMs) {
      delete state.resyncs[resource];
      target.disk = 'UpToDate';
      tx.step();
    } else if (now - resync.lastProgressMs >= PROGRESS_INTERVAL_MS) {
      resync.outOfSyncKiB = Math.max(1, Math.round(resync.totalKiB * (1 - elapsed / resync.durationMs)));
      resync.lastProgressMs = now;
      tx.step();
    }
  }
}

/** The connection breaks without anyone asking: `transient` first, then DRBD reconnects. */
function loseConnection(tx: Transaction, resource: string, hosts: string[], transient: ConnState): void {
  const { state } = tx;
  delete state.resyncs[resource];
  const affected = hosts
    .filter((h) => state.up[h])
    .map((h) => replicaOf(state, h, resource))
    .filter((r) => r.conn === 'Connected');
  if (affected.length === 0) return;
  for (const r of affected) {
    r.conn = transient;
    r.handshaking = false;
  }
  markDivergence(state);
  tx.step();
  for (const r of affected) if (r.conn === transient) r.conn = 'Connecting';
  tx.step();
}

// ---- drbdsetup verbs ------------------------------------------------------------------

export function primary(tx: Transaction, host: string, resource: string, force: boolean): CommandResult {
  const { state } = tx;
  const replica = replicaOf(state, host, resource);
  const peer = replicaOf(state, peerOf(state, host), resource);
  if (replica.role === 'Primary') return OK;
  if (replicating(replica) && peer.role === 'Primary') return stateChangeFailed(state, resource, -1);
  if (replica.disk !== 'UpToDate') {
    const forcible = ['Inconsistent', 'Outdated', 'Consistent'].includes(replica.disk);
    if (!force || !forcible) return stateChangeFailed(state, resource, -2);
    // --force declares this side's data the good one; a connected peer gets overwritten.
    delete state.resyncs[resource];
    replica.disk = 'UpToDate';
    if (replicating(replica) && peer.disk !== 'Diskless') {
      startResync(tx, resource, host, peerOf(state, host), state.resyncSeconds);
    }
  }
  replica.role = 'Primary';
  markDivergence(state);
  tx.step();
  return OK;
}

export function secondary(tx: Transaction, host: string, resource: string): CommandResult {
  const { state } = tx;
  const replica = replicaOf(state, host, resource);
  if (replica.holders.length > 0) {
    const minor = resourceConfig(state, resource).minor;
    const detail = replica.holders.map((h) => `/dev/drbd${minor} opened by ${h}\n`).join('');
    return stateChangeFailed(state, resource, -12, `additional info from kernel:\n${detail}`);
  }
  if (replica.role === 'Secondary') return OK;
  replica.role = 'Secondary';
  tx.step();
  return OK;
}

export function connect(
  tx: Transaction,
  host: string,
  resource: string,
  discardMyData: boolean,
): CommandResult {
  const { state } = tx;
  const replica = replicaOf(state, host, resource);
  if (replica.conn !== 'StandAlone') {
    return {
      exitCode: 10,
      stdout: '',
      stderr: `${resource}: Failure: (125) Device has a net-config (use disconnect first)\n`,
    };
  }
  replica.conn = 'Connecting';
  replica.discardMyData = discardMyData;
  tx.step();
  settle(tx);
  return OK;
}

export function disconnect(tx: Transaction, host: string, resource: string): CommandResult {
  const { state } = tx;
  const replica = replicaOf(state, host, resource);
  if (replica.conn === 'StandAlone') return OK;
  const peerHost = peerOf(state, host);
  const peer = replicaOf(state, peerHost, resource);
  const peerWasConnected = state.up[peerHost] === true && peer.conn === 'Connected';
  delete state.resyncs[resource];
  replica.conn = 'Disconnecting';
  replica.handshaking = false;
  replica.discardMyData = false;
  if (peerWasConnected) {
    peer.conn = 'TearDown';
    peer.handshaking = false;
  }
  markDivergence(state);
  tx.step();
  replica.conn = 'StandAlone';
  if (peerWasConnected) peer.conn = 'Connecting';
  tx.step();
  settle(tx);
  return OK;
}

// ---- faults and controls ----------------------------------------------------------------

export function linkDown(tx: Transaction, resources: string[]): void {
  for (const resource of resources) {
    tx.state.links[resource] = false;
    loseConnection(tx, resource, tx.state.hosts, 'NetworkFailure');
  }
  settle(tx);
}

export function linkUp(tx: Transaction, resources: string[]): void {
  for (const resource of resources) tx.state.links[resource] = true;
  settle(tx);
}

export function crash(tx: Transaction, host: string): void {
  const { state } = tx;
  requireUp(state, host);
  const peer = peerOf(state, host);
  state.up[host] = false;
  for (const res of state.resources) {
    const replica = replicaOf(state, host, res.name);
    replica.holders = [];
    loseConnection(tx, res.name, [peer], 'NetworkFailure');
  }
  tx.step();
  settle(tx);
}

export function boot(tx: Transaction, host: string): void {
  const { state } = tx;
  const peer = peerOf(state, host);
  if (state.up[host]) throw new SimError(`host ${host} is already up`, 11);
  for (const res of state.resources) {
    const replica = replicaOf(state, host, res.name);
    const peerReplica = replicaOf(state, peer, res.name);
    // The writes this host missed while down leave it Outdated; its own unreplicated
    // writes before the crash are superseded by whatever the survivor did.
    if (replica.disk === 'UpToDate' && state.up[peer] && peerReplica.diverged) replica.disk = 'Outdated';
    if (replica.disk === 'Failed') replica.disk = 'Diskless';
    Object.assign(replica, {
      role: 'Secondary',
      conn: 'Connecting',
      handshaking: false,
      discardMyData: false,
      diverged: false,
      holders: [],
    } satisfies Partial<Replica>);
  }
  state.up[host] = true;
  tx.step();
  settle(tx);
}

export function diskFail(tx: Transaction, host: string, resource: string): void {
  const { state } = tx;
  requireUp(state, host);
  const replica = replicaOf(state, host, resource);
  if (replica.disk === 'Diskless') throw new SimError(`${resource}: ${host} is already Diskless`, 11);
  const resync = state.resyncs[resource];
  if (resync) delete state.resyncs[resource];
  replica.disk = 'Failed';
  tx.step();
  replica.disk = 'Diskless';
  tx.step();
}

export function diskAttach(tx: Transaction, host: string, resource: string): void {
  const { state } = tx;
  requireUp(state, host);
  const replica = replicaOf(state, host, resource);
  if (replica.disk !== 'Diskless')
    throw new SimError(`${resource}: ${host} already has a disk (${replica.disk})`, 11);
  const peerHost = peerOf(state, host);
  const peer = replicaOf(state, peerHost, resource);
  replica.disk = 'Attaching';
  tx.step();
  replica.disk = 'Inconsistent';
  if (replicating(replica) && peer.disk === 'UpToDate') {
    startResync(tx, resource, peerHost, host, state.resyncSeconds);
  }
  tx.step();
}

export function resync(tx: Transaction, resource: string, seconds: number, source?: string): void {
  const { state } = tx;
  resourceConfig(state, resource);
  if (!(seconds > 0)) throw new SimError('--seconds must be a positive number', 2);
  const [a, b] = state.hosts;
  const primaryHost = state.hosts.find((h) => replicaOf(state, h, resource).role === 'Primary');
  const from = source ?? primaryHost ?? a;
  peerOf(state, from);
  const to = from === a ? b : a;
  const src = replicaOf(state, from, resource);
  const dst = replicaOf(state, to, resource);
  if (!state.up[a] || !state.up[b] || !replicating(src) || !replicating(dst)) {
    throw new SimError(`${resource}: cannot resync, the resource is not Connected`, 11);
  }
  if (src.disk !== 'UpToDate') throw new SimError(`${resource}: resync source ${from} is not UpToDate`, 11);
  if (dst.disk === 'Diskless') throw new SimError(`${resource}: resync target ${to} is Diskless`, 11);
  startResync(tx, resource, from, to, seconds);
  tx.step();
}

/** The real way: cut the link, let the other host become Primary too, reconnect. */
export function splitBrain(tx: Transaction, resource: string): void {
  const { state } = tx;
  resourceConfig(state, resource);
  for (const host of state.hosts) {
    requireUp(state, host);
    const replica = replicaOf(state, host, resource);
    if (replica.conn === 'StandAlone')
      throw new SimError(`${resource}: ${host} is StandAlone; connect it first`, 11);
    if (replica.disk !== 'UpToDate') throw new SimError(`${resource}: ${host} is not UpToDate`, 11);
  }
  linkDown(tx, [resource]);
  for (const host of state.hosts) {
    const result = primary(tx, host, resource, false);
    if (result.exitCode !== 0) throw new SimError(result.stderr.trim(), result.exitCode);
  }
  linkUp(tx, [resource]);
}

export function openDevice(tx: Transaction, host: string, resource: string, holder: string): void {
  requireUp(tx.state, host);
  const replica = replicaOf(tx.state, host, resource);
  if (!replica.holders.includes(holder)) replica.holders.push(holder);
  tx.step();
}

export function closeDevice(tx: Transaction, host: string, resource: string, holder: string): void {
  requireUp(tx.state, host);
  const replica = replicaOf(tx.state, host, resource);
  if (!replica.holders.includes(holder)) {
    throw new SimError(`${resource}: ${holder} does not hold the device open on ${host}`, 2);
  }
  replica.holders = replica.holders.filter((h) => h !== holder);
  tx.step();
}
