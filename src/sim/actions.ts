// The drbdsetup verbs and the faults/scenarios of `drbdsetup-sim sim …`, built from the kernel
// mechanics in engine.ts. Each names the DRBD source it follows.

import {
  applyPause,
  cancelSyncs,
  DEFAULT_CHANGES_KIB,
  ep,
  fenceOutcome,
  loseConnections,
  markDivergence,
  primaryPeers,
  reachesUpToDate,
  settle,
  standAlone,
  startResync,
  startVerify,
  type Transaction,
} from './engine.js';
import { addResource, newEndpoint, type ResourceOptions, resourceSettings } from './state.js';
import {
  type CommandResult,
  type ConnectionCause,
  type Endpoint,
  established,
  isClient,
  linkKey,
  nodeId,
  peersOf,
  type Replica,
  replicaOf,
  replicating,
  resourceConfig,
  SimError,
  type SimState,
  utilsBefore,
} from './types.js';
import { hasQuorum } from './views.js';

export { settle, Transaction, tick } from './engine.js';

const OK: CommandResult = { exitCode: 0, stdout: '', stderr: '' };

const STATE_ERRORS: Record<number, { text: string; exitCode: number }> = {
  [-1]: { text: 'Multiple primaries not allowed by config', exitCode: 11 },
  [-2]: { text: 'Need access to UpToDate data', exitCode: 17 },
  [-7]: { text: 'Refusing to be Primary while peer is not outdated', exitCode: 11 },
  [-12]: { text: 'Device is held open by someone', exitCode: 11 },
  [-25]: { text: 'No quorum', exitCode: 11 },
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

function requireUp(state: SimState, host: string): void {
  peersOf(state, host);
  if (!state.up[host]) throw new SimError(`host ${host} is down (crashed); boot it first`, 11);
}

function require9(state: SimState, what: string): void {
  if (state.dialect !== '9') throw new SimError(`${what} needs DRBD 9 (this pair speaks 8.4)`, 2);
}

/** The hosts with a disk of their own (not intentionally diskless clients). */
function diskful(state: SimState): string[] {
  return state.hosts.filter((h) => !isClient(state, h));
}

// ---- drbdsetup verbs ------------------------------------------------------------------

/**
 * drbd_nl.c drbd_set_role: refuses a second Primary (-1), no quorum (-25), no UpToDate data
 * reachable (-2; a diskless client may be Primary on an UpToDate peer's data). With fencing and a
 * peer whose disk is unknown it first runs fence-peer (conn_try_outdate_peer): a fenced peer lets
 * the promotion go on; "peer is Primary" (6) outdates this disk (-2); a broken handler leaves the
 * peer not outdated (-7).
 */
export function primary(tx: Transaction, host: string, resource: string, force: boolean): CommandResult {
  const { state } = tx;
  const replica = replicaOf(state, host, resource);
  const config = resourceConfig(state, resource);
  if (replica.role === 'Primary') return OK;
  if (primaryPeers(state, host, resource).length > 0) return stateChangeFailed(state, resource, -1);
  if (!hasQuorum(state, host, resource)) return stateChangeFailed(state, resource, -25);
  // drbd_state.c is_valid_state lets any Diskless node be Primary on an UpToDate peer's data
  // (drbd_data_accessible); the simulator allows it only to intentionally diskless clients, so a
  // node whose disk failed is refused (-2) as the failover tests expect (docs/simulator.md).
  const disklessClient = isClient(state, host) && reachesUpToDate(state, host, resource);
  if (replica.disk !== 'UpToDate' && !disklessClient) {
    const forcible = ['Inconsistent', 'Outdated', 'Consistent'].includes(replica.disk);
    if (!force || !forcible) return stateChangeFailed(state, resource, -2);
    // --force declares this side's data the good one; connected peers get overwritten: they
    // see it UpToDate and start a resync (drbd_receiver.c receive_state: CONSIDER_RESYNC).
    replica.disk = 'UpToDate';
    replica.role = 'Primary';
    replica.primarySince = tx.clock.nowMicros();
    tx.step();
    for (const peer of peersOf(state, host)) {
      const endpoint = ep(state, host, resource, peer);
      const peerDisk = replicaOf(state, peer, resource).disk;
      if (replicating(endpoint) && peerDisk !== 'Diskless' && peerDisk !== 'UpToDate') {
        cancelSyncs(state, resource, host, peer);
        startResync(tx, resource, host, peer, { how: 'bitmap', totalKiB: state.deviceSizeKiB });
      }
    }
    markDivergence(state);
    return OK;
  }
  if (config.fencing !== 'dont-care' && replica.disk === 'UpToDate') {
    for (const peer of peersOf(state, host)) {
      const endpoint = ep(state, host, resource, peer);
      if (isClient(state, peer) || established(endpoint) || endpoint.fencedPeerDisk !== null) continue;
      tx.helperCall(host, resource, 'fence-peer', { scope: 'connection', peer });
      fenceOutcome(tx, resource, host, peer, config.fenceExit);
      if (!tx.helpersEnabled) continue;
      if (replica.disk !== 'UpToDate') return stateChangeFailed(state, resource, -2);
      if (endpoint.fencedPeerDisk === null) return stateChangeFailed(state, resource, -7);
    }
  }
  replica.role = 'Primary';
  replica.primarySince = tx.clock.nowMicros();
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

function targetPeers(state: SimState, host: string, peer: string | undefined): string[] {
  if (peer === undefined) return peersOf(state, host);
  if (!peersOf(state, host).includes(peer)) throw new SimError(`no connection from ${host} to ${peer}`, 10);
  return [peer];
}

/**
 * `connect` (drbd_nl.c drbd_adm_connect): StandAlone → Unconnected, then the receiver thread goes
 * Connecting. drbdsetup-84 first reports the new connection and peer-device (create … StandAlone,
 * replication:Off), then the state change to Unconnected.
 */
export function connect(
  tx: Transaction,
  host: string,
  resource: string,
  discardMyData: boolean,
  peer?: string,
): CommandResult {
  const { state } = tx;
  replicaOf(state, host, resource);
  const endpoints = targetPeers(state, host, peer).map((p) => ep(state, host, resource, p));
  const standalone = endpoints.filter((e) => e.conn === 'StandAlone');
  if (standalone.length === 0) {
    return {
      exitCode: 10,
      stdout: '',
      stderr: `${resource}: Failure: (125) Device has a net-config (use disconnect first)\n`,
    };
  }
  for (const e of standalone) e.discardMyData = discardMyData;
  if (state.dialect === '8.4') {
    for (const e of standalone) e.configured = true;
    tx.step();
  }
  for (const e of standalone) e.conn = 'Unconnected';
  tx.step();
  for (const e of standalone) e.conn = 'Connecting';
  tx.step();
  settle(tx);
  return OK;
}

/**
 * `disconnect`: this side Disconnecting → StandAlone; a peer that was connected gets the
 * cluster-wide state change as TearDown and, like any broken connection, reconnects
 * (conn_disconnect: TearDown → Unconnected → Connecting). DRBD 9 calls `disconnected` on both.
 */
export function disconnect(tx: Transaction, host: string, resource: string, peer?: string): CommandResult {
  const { state } = tx;
  replicaOf(state, host, resource);
  const pairs = targetPeers(state, host, peer)
    .map((p) => ({ peer: p, mine: ep(state, host, resource, p), theirs: ep(state, p, resource, host) }))
    .filter((x) => x.mine.conn !== 'StandAlone');
  if (pairs.length === 0) return OK;
  const tornDown: typeof pairs = [];
  for (const x of pairs) {
    const wasConnected = x.mine.conn === 'Connected';
    cancelSyncs(state, resource, host, x.peer);
    x.mine.conn = 'Disconnecting';
    x.mine.repl = 'Off';
    x.mine.discardMyData = false;
    x.mine.fencedPeerDisk = null;
    x.mine.primaryAtSplit = replicaOf(state, host, resource).role === 'Primary';
    if (wasConnected && state.up[x.peer] && x.theirs.conn === 'Connected') {
      x.theirs.conn = 'TearDown';
      x.theirs.repl = 'Off';
      x.theirs.primaryAtSplit = replicaOf(state, x.peer, resource).role === 'Primary';
      tornDown.push(x);
    }
  }
  markDivergence(state);
  tx.step();
  if (state.dialect === '9') {
    for (const x of pairs) {
      tx.helper(host, resource, 'disconnected', { scope: 'connection', peer: x.peer });
      if (tornDown.includes(x))
        tx.helper(x.peer, resource, 'disconnected', { scope: 'connection', peer: host });
    }
  }
  for (const x of pairs) standAlone(state, x.mine);
  for (const x of tornDown) x.theirs.conn = 'Unconnected';
  tx.step();
  if (tornDown.length > 0) {
    for (const x of tornDown) x.theirs.conn = 'Connecting';
    tx.step();
  }
  settle(tx);
  return OK;
}

/** `suspend-io` (drbd_nl.c drbd_adm_suspend_io): suspended:user. */
export function suspendIo(tx: Transaction, host: string, resource: string): CommandResult {
  const replica = replicaOf(tx.state, host, resource);
  if (!replica.suspendedUser) {
    replica.suspendedUser = true;
    tx.step();
  }
  return OK;
}

/**
 * `resume-io` (drbd_adm_resume_io): clears the user, no-data and fencing suspensions; quorum
 * suspension follows the quorum itself.
 */
export function resumeIo(tx: Transaction, host: string, resource: string): CommandResult {
  const { state } = tx;
  const replica = replicaOf(state, host, resource);
  replica.suspendedUser = false;
  replica.suspendedNoData = false;
  for (const peer of peersOf(state, host)) ep(state, host, resource, peer).suspendedFencing = false;
  tx.step();
  return OK;
}

// ---- faults -------------------------------------------------------------------------------

export interface LinkSelection {
  /** Only the link between these two hosts. */
  between?: [string, string] | undefined;
  /** Every link of this host (isolate it). */
  host?: string | undefined;
}

function selectedPairs(state: SimState, selection: LinkSelection): [string, string][] {
  const pairs: [string, string][] = [];
  for (const a of state.hosts)
    for (const b of state.hosts) if (nodeId(state, a) < nodeId(state, b)) pairs.push([a, b]);
  if (selection.between) {
    const [x, y] = selection.between;
    for (const h of [x, y]) peersOf(state, h);
    if (x === y) throw new SimError('--between needs two different hosts', 2);
    return pairs.filter(([a, b]) => (a === x && b === y) || (a === y && b === x));
  }
  if (selection.host !== undefined) {
    peersOf(state, selection.host);
    return pairs.filter(([a, b]) => a === selection.host || b === selection.host);
  }
  return pairs;
}

export interface LinkDownOptions extends LinkSelection {
  cause?: ConnectionCause | undefined;
  fenceExit?: number | undefined;
}

/** The replication network is cut; both sides lose the connection (engine.loseConnections). */
export function linkDown(tx: Transaction, resources: string[], opts: LinkDownOptions = {}): void {
  const { state } = tx;
  for (const resource of resources) {
    const pairs = selectedPairs(state, opts);
    for (const [a, b] of pairs) state.links[linkKey(state, resource, a, b)] = false;
    const sides = pairs.flatMap(([a, b]) => [
      { host: a, peer: b },
      { host: b, peer: a },
    ]);
    loseConnections(tx, resource, sides, opts.cause ?? 'NetworkFailure', { fenceExit: opts.fenceExit });
  }
  settle(tx);
}

export function linkUp(tx: Transaction, resources: string[], opts: LinkSelection = {}): void {
  const { state } = tx;
  for (const resource of resources)
    for (const [a, b] of selectedPairs(state, opts)) state.links[linkKey(state, resource, a, b)] = true;
  settle(tx);
}

export function crash(
  tx: Transaction,
  host: string,
  opts: { cause?: ConnectionCause | undefined; fenceExit?: number | undefined } = {},
): void {
  const { state } = tx;
  requireUp(state, host);
  state.up[host] = false;
  for (const res of state.resources) {
    replicaOf(state, host, res.name).holders = [];
    const sides = peersOf(state, host).map((peer) => ({ host: peer, peer: host }));
    loseConnections(tx, res.name, sides, opts.cause ?? 'NetworkFailure', { fenceExit: opts.fenceExit });
  }
  tx.step();
  settle(tx);
}

export function boot(tx: Transaction, host: string): void {
  const { state } = tx;
  if (state.up[host]) throw new SimError(`host ${host} is already up`, 11);
  for (const res of state.resources) {
    const replica = replicaOf(state, host, res.name);
    // The writes this host missed while down leave it Outdated; its own unreplicated
    // writes before the crash are superseded by whatever the survivors did.
    const missed = peersOf(state, host).some(
      (peer) => state.up[peer] && ep(state, peer, res.name, host).wrote,
    );
    if (replica.disk === 'UpToDate' && missed) replica.disk = 'Outdated';
    if (replica.disk === 'Failed' || replica.disk === 'Detaching') replica.disk = 'Diskless';
    Object.assign(replica, {
      role: 'Secondary',
      holders: [],
      suspendedUser: false,
      suspendedNoData: false,
    } satisfies Partial<Replica>);
    for (const peer of peersOf(state, host)) {
      const fresh = newEndpoint('Connecting', 'Off');
      const endpoints = state.endpoints[host]?.[res.name];
      if (endpoints) endpoints[peer] = fresh;
    }
  }
  state.up[host] = true;
  tx.step();
  settle(tx);
}

/** A Primary whose I/O lost every UpToDate copy suspends it with on-no-data-accessible suspend-io. */
function checkNoData(state: SimState, host: string, resource: string): void {
  const replica = replicaOf(state, host, resource);
  if (
    replica.role === 'Primary' &&
    resourceConfig(state, resource).onNoDataAccessible === 'suspend-io' &&
    !reachesUpToDate(state, host, resource)
  )
    replica.suspendedNoData = true;
}

/**
 * An I/O error (drbd_state.c: __drbd_chk_io_error → D_FAILED, then go_diskless → D_DISKLESS);
 * with on-io-error call-local-io-error the `local-io-error` helper is called when the disk
 * becomes Failed (after_state_ch: was_io_error && eh == EP_CALL_HELPER). Peers see peer-disk
 * Failed, then Diskless.
 */
export function diskFail(
  tx: Transaction,
  host: string,
  resource: string,
  opts: { helper?: boolean } = {},
): void {
  const { state } = tx;
  requireUp(state, host);
  const replica = replicaOf(state, host, resource);
  if (replica.disk === 'Diskless') throw new SimError(`${resource}: ${host} is already Diskless`, 11);
  for (const peer of peersOf(state, host)) cancelSyncs(state, resource, host, peer);
  replica.disk = 'Failed';
  tx.step();
  if (opts.helper === true || resourceConfig(state, resource).onIoError === 'call-local-io-error')
    tx.helper(host, resource, 'local-io-error', { scope: 'device' });
  replica.disk = 'Diskless';
  checkNoData(state, host, resource);
  tx.step();
}

/**
 * Administrative detach (`drbdadm detach`/`down`): DRBD 9 goes Detaching → Diskless (the
 * D_DETACHING state, drbd_nl.c drbd_adm_detach); DRBD 8.4 has no Detaching and goes through
 * Failed → Diskless like an I/O error, only without the local-io-error helper.
 */
export function detach(tx: Transaction, host: string, resource: string): void {
  const { state } = tx;
  requireUp(state, host);
  const replica = replicaOf(state, host, resource);
  if (replica.disk === 'Diskless') throw new SimError(`${resource}: ${host} is already Diskless`, 11);
  for (const peer of peersOf(state, host)) cancelSyncs(state, resource, host, peer);
  replica.disk = state.dialect === '9' ? 'Detaching' : 'Failed';
  tx.step();
  replica.disk = 'Diskless';
  checkNoData(state, host, resource);
  tx.step();
}

/**
 * `attach` of a disk that missed writes: Attaching; while connected the new disk state waits for
 * the negotiation with the peers (Negotiating, drbd_nl.c drbd_adm_attach), then it resyncs from an
 * UpToDate peer (WFBitMapT … SyncTarget). Without a connection it comes up Inconsistent.
 */
export function diskAttach(tx: Transaction, host: string, resource: string): void {
  const { state } = tx;
  requireUp(state, host);
  if (isClient(state, host))
    throw new SimError(`${resource}: ${host} is an intentionally diskless client`, 11);
  const replica = replicaOf(state, host, resource);
  if (replica.disk !== 'Diskless')
    throw new SimError(`${resource}: ${host} already has a disk (${replica.disk})`, 11);
  replica.disk = 'Attaching';
  tx.step();
  const source = peersOf(state, host).find(
    (peer) =>
      replicating(ep(state, host, resource, peer)) && replicaOf(state, peer, resource).disk === 'UpToDate',
  );
  if (source === undefined) {
    replica.disk = 'Inconsistent';
    tx.step();
    return;
  }
  replica.disk = 'Negotiating';
  tx.step();
  replica.disk = 'Inconsistent';
  replica.suspendedNoData = false;
  startResync(tx, resource, source, host, { how: 'bitmap', totalKiB: state.deviceSizeKiB });
}

function resyncPair(
  state: SimState,
  resource: string,
  source: string | undefined,
  target: string | undefined,
): [string, string] {
  resourceConfig(state, resource);
  const primaryHost = state.hosts.find((h) => replicaOf(state, h, resource).role === 'Primary');
  const candidates = diskful(state);
  const from =
    source ??
    (target !== undefined ? candidates.find((h) => h !== target) : undefined) ??
    primaryHost ??
    candidates[0];
  if (from === undefined) throw new SimError(`${resource}: no resync source`, 11);
  const to = target ?? candidates.find((h) => h !== from);
  if (to === undefined || to === from) throw new SimError(`${resource}: no resync target`, 11);
  peersOf(state, from);
  peersOf(state, to);
  const src = replicaOf(state, from, resource);
  const dst = replicaOf(state, to, resource);
  if (!state.up[from] || !state.up[to] || !replicating(ep(state, from, resource, to)))
    throw new SimError(`${resource}: cannot resync, the resource is not Connected`, 11);
  if (src.disk !== 'UpToDate') throw new SimError(`${resource}: resync source ${from} is not UpToDate`, 11);
  if (dst.disk === 'Diskless') throw new SimError(`${resource}: resync target ${to} is Diskless`, 11);
  return [from, to];
}

/** A bitmap-based resync of `seconds` (like `invalidate-remote --reset-bitmap=no`). */
export function resync(
  tx: Transaction,
  resource: string,
  seconds: number,
  source?: string,
  target?: string,
): void {
  if (!(seconds > 0)) throw new SimError('--seconds must be a positive number', 2);
  const [from, to] = resyncPair(tx.state, resource, source, target);
  startResync(tx, resource, from, to, { how: 'bitmap', seconds });
}

/**
 * A full resync asked for by the admin: `invalidate-remote` on the source (StartingSyncS →
 * SyncSource; drbd_nl.c full_sync_from_peer) or `invalidate` on the target (StartingSyncT).
 */
export function fullSync(
  tx: Transaction,
  resource: string,
  opts: { source?: string | undefined; target?: string | undefined; seconds?: number | undefined },
): void {
  const [from, to] = resyncPair(tx.state, resource, opts.source, opts.target);
  const how = opts.target !== undefined && opts.source === undefined ? 'starting-target' : 'starting-source';
  startResync(tx, resource, from, to, { how, seconds: opts.seconds, totalKiB: tx.state.deviceSizeKiB });
}

export interface SplitBrainOptions {
  afterSb0pri?: string | undefined;
  afterSb1pri?: string | undefined;
  afterSb2pri?: string | undefined;
  /** Hosts that are Primary when the link comes back (default: both). */
  primaries?: string[] | undefined;
  /** KiB each host wrote while apart (default 4096 each; the victim's 1024). */
  changes?: Record<string, number> | undefined;
  /**
   * The host expected to lose: it gets fewer changes (1024 KiB against 4096) and, with
   * victimHolders, its device held open. Who is the younger Primary is what happened: the host
   * that was Secondary when the link broke and got promoted during the split.
   */
  victim?: string | undefined;
  /** Processes holding the victim's device open when the link comes back (blocks its demotion). */
  victimHolders?: string[] | undefined;
}

/**
 * The real way to a split-brain: cut the link, let the second host become Primary and write, bring
 * the link back; the handshake then detects it (engine.splitBrainHandshake) and applies the
 * after-sb policies.
 */
export function splitBrain(tx: Transaction, resource: string, opts: SplitBrainOptions = {}): void {
  const { state } = tx;
  const config = resourceConfig(state, resource);
  const policies: ResourceOptions = {};
  if (opts.afterSb0pri !== undefined) policies.afterSb0pri = opts.afterSb0pri;
  if (opts.afterSb1pri !== undefined) policies.afterSb1pri = opts.afterSb1pri;
  if (opts.afterSb2pri !== undefined) policies.afterSb2pri = opts.afterSb2pri;
  Object.assign(config, resourceSettings(policies, state.dialect, state.hosts, config));
  const [a, b] = diskful(state);
  if (a === undefined || b === undefined)
    throw new SimError(`${resource}: a split-brain needs two disks`, 11);
  for (const host of [a, b]) {
    requireUp(state, host);
    const replica = replicaOf(state, host, resource);
    if (ep(state, host, resource, host === a ? b : a).conn === 'StandAlone')
      throw new SimError(`${resource}: ${host} is StandAlone; connect it first`, 11);
    if (replica.disk !== 'UpToDate') throw new SimError(`${resource}: ${host} is not UpToDate`, 11);
  }
  const victim = opts.victim;
  if (victim !== undefined && victim !== a && victim !== b)
    throw new SimError(`${resource}: victim must be ${a} or ${b}`, 2);
  const primaries = opts.primaries ?? [a, b];
  for (const p of primaries)
    if (p !== a && p !== b) throw new SimError(`${resource}: --primaries names ${a} and/or ${b}`, 2);
  for (const [host, kib] of Object.entries(opts.changes ?? {})) {
    if (host !== a && host !== b) throw new SimError(`${resource}: --changes names ${a} and/or ${b}`, 2);
    if (!Number.isInteger(kib) || kib < 0) throw new SimError('--changes needs KiB counts >= 0', 2);
  }
  if ((opts.victimHolders ?? []).length > 0 && victim === undefined)
    throw new SimError(`${resource}: holders for the victim need --victim`, 2);
  linkDown(tx, [resource], { between: [a, b] });
  for (const host of [a, b]) {
    const result = primary(tx, host, resource, false);
    if (result.exitCode !== 0) throw new SimError(result.stderr.trim(), result.exitCode);
  }
  markDivergence(state);
  const ea = ep(state, a, resource, b);
  const eb = ep(state, b, resource, a);
  if (victim !== undefined) {
    const [v, s] = victim === a ? [ea, eb] : [eb, ea];
    v.changesKiB = 1024;
    s.changesKiB = DEFAULT_CHANGES_KIB;
  }
  for (const [host, kib] of Object.entries(opts.changes ?? {})) (host === a ? ea : eb).changesKiB = kib;
  for (const host of [a, b]) {
    if (primaries.includes(host)) continue;
    const result = secondary(tx, host, resource);
    if (result.exitCode !== 0) throw new SimError(result.stderr.trim(), result.exitCode);
  }
  if (victim !== undefined) {
    const replica = replicaOf(state, victim, resource);
    for (const holder of opts.victimHolders ?? [])
      if (!replica.holders.includes(holder)) replica.holders.push(holder);
    if ((opts.victimHolders ?? []).length > 0) tx.step();
  }
  linkUp(tx, [resource], { between: [a, b] });
}

/**
 * A Primary loses its peer with fencing configured (drbd.conf `fencing resource-only`, or
 * `resource-and-stonith` with I/O frozen while the handler runs): the fence-peer handler answers
 * `exit` (engine.fenceOutcome).
 */
export function fencePeer(
  tx: Transaction,
  resource: string,
  opts: { exit: number; stonith?: boolean | undefined; crash?: boolean | undefined },
): void {
  const { state } = tx;
  const config = resourceConfig(state, resource);
  const primaryHost = state.hosts.find(
    (h) => state.up[h] && replicaOf(state, h, resource).role === 'Primary',
  );
  if (primaryHost === undefined)
    throw new SimError(`${resource}: fence-peer runs on a Primary; there is none`, 11);
  Object.assign(
    config,
    resourceSettings(
      { fencing: opts.stonith === true ? 'resource-and-stonith' : 'resource-only', fenceExit: opts.exit },
      state.dialect,
      state.hosts,
      config,
    ),
  );
  const victims = diskful(state).filter((h) => h !== primaryHost);
  if (opts.crash === true) {
    for (const victim of victims) if (state.up[victim]) crash(tx, victim, { fenceExit: opts.exit });
    return;
  }
  for (const victim of victims)
    linkDown(tx, [resource], { between: [primaryHost, victim], fenceExit: opts.exit });
}

/**
 * A Primary loses access to all UpToDate data: its peers are gone and then its own disk fails
 * (drbd.conf on-no-data-accessible suspend-io: suspended:no-data until resume-io or a disk).
 */
export function noData(tx: Transaction, host: string, resource: string): void {
  const { state } = tx;
  requireUp(state, host);
  const config = resourceConfig(state, resource);
  if (replicaOf(state, host, resource).role !== 'Primary')
    throw new SimError(`${resource}: ${host} is not Primary`, 11);
  config.onNoDataAccessible = 'suspend-io';
  linkDown(tx, [resource], { host });
  diskFail(tx, host, resource);
}

/**
 * DRBD 9 quorum (`quorum majority`): `host` is cut off from every peer. It keeps quorum only with
 * a majority of all nodes reachable (drbd_state.c calc_quorum); losing it sets quorum:no, on a
 * Primary calls `quorum-lost` (after_state_ch: role Primary && have_quorum OLD && !NEW), and with
 * on-no-quorum suspend-io suspends I/O (suspended:quorum, state_change_is_susp_quorum).
 */
export function quorumLost(
  tx: Transaction,
  host: string,
  resource: string,
  opts: { onNoQuorum?: 'suspend-io' | 'io-error' | undefined } = {},
): void {
  const { state } = tx;
  require9(state, 'quorum');
  requireUp(state, host);
  const config = resourceConfig(state, resource);
  config.quorum = 'majority';
  if (opts.onNoQuorum !== undefined) config.onNoQuorum = opts.onNoQuorum;
  linkDown(tx, [resource], { host });
}

/**
 * Online verify (`drbdadm verify`): VerifyS/VerifyT for `seconds`; blocks found out of sync call
 * the `out-of-sync` helper on both sides and stay in the out-of-sync counter until a resync
 * (disconnect/connect) copies them (drbd_sender.c drbd_resync_finished).
 */
export function verify(
  tx: Transaction,
  resource: string,
  opts: {
    source?: string | undefined;
    target?: string | undefined;
    seconds?: number | undefined;
    outOfSyncKiB?: number | undefined;
  },
): void {
  const { state } = tx;
  const seconds = opts.seconds ?? state.resyncSeconds;
  if (!(seconds > 0)) throw new SimError('--seconds must be a positive number', 2);
  const found = opts.outOfSyncKiB ?? 0;
  if (!Number.isInteger(found) || found < 0) throw new SimError('--out-of-sync needs KiB >= 0', 2);
  const [from, to] = resyncPair(state, resource, opts.source, opts.target);
  const endpoint = ep(state, from, resource, to);
  if (endpoint.repl !== 'Established') throw new SimError(`${resource}: a resync or verify is running`, 11);
  startVerify(tx, resource, from, to, seconds, found);
}

/**
 * Congestion with `on-congestion pull-ahead` (drbd_req.c maybe_pull_ahead): the Primary goes Ahead
 * and only marks blocks out of sync; its peer goes Behind with its disk capped at Outdated
 * (sanitize_state: L_BEHIND). When the congestion clears the Ahead side starts a resync as
 * SyncSource (drbd_req.c: "time to go Ahead -> SyncSource"); the Behind side becomes Inconsistent
 * and SyncTarget (drbd_receiver.c "Start resync after AHEAD/BEHIND").
 */
export function congestion(
  tx: Transaction,
  resource: string,
  opts: { source?: string | undefined } = {},
): void {
  const { state } = tx;
  const [from, to] = resyncPair(state, resource, opts.source, undefined);
  const se = ep(state, from, resource, to);
  const te = ep(state, to, resource, from);
  if (se.repl !== 'Established')
    throw new SimError(`${resource}: replication is ${se.repl}, not Established`, 11);
  se.repl = 'Ahead';
  te.repl = 'Behind';
  const target = replicaOf(state, to, resource);
  if (target.disk === 'UpToDate' || target.disk === 'Consistent') target.disk = 'Outdated';
  se.outOfSyncKiB += 2048;
  te.outOfSyncKiB += 2048;
  tx.step();
}

export function congestionEnd(
  tx: Transaction,
  resource: string,
  opts: { seconds?: number | undefined } = {},
): void {
  const { state } = tx;
  for (const source of state.hosts) {
    for (const target of peersOf(state, source)) {
      const se = state.endpoints[source]?.[resource]?.[target];
      if (se?.repl !== 'Ahead' || !established(se)) continue;
      startResync(tx, resource, source, target, { how: 'after-ahead', seconds: opts.seconds });
      return;
    }
  }
  throw new SimError(`${resource}: no connection is Ahead`, 11);
}

/**
 * `pause-sync` on `host` (resync-suspended:user there, :peer on the peer) or a `resync-after`
 * dependency (resync-suspended:dependency on both, each also seeing :peer); a running resync
 * becomes PausedSyncS/PausedSyncT (drbd_state.c sanitize_state: resync_suspended).
 */
export function pauseSync(
  tx: Transaction,
  resource: string,
  opts: { host?: string | undefined; reason: 'user' | 'dependency'; pause: boolean },
): void {
  const { state } = tx;
  const [a, b] = diskful(state);
  if (a === undefined || b === undefined) throw new SimError(`${resource}: no resync link`, 11);
  const host = opts.host ?? a;
  const peers = opts.reason === 'user' ? peersOf(state, host).filter((p) => !isClient(state, p)) : [];
  const change = (e: Endpoint) => {
    if (opts.reason === 'user') e.pausedUser = opts.pause;
    else e.pausedDependency = opts.pause;
  };
  if (opts.reason === 'user') {
    requireUp(state, host);
    for (const peer of peers) change(ep(state, host, resource, peer));
    for (const peer of peers) applyPause(tx, resource, host, peer);
  } else {
    change(ep(state, a, resource, b));
    change(ep(state, b, resource, a));
    applyPause(tx, resource, a, b);
  }
  tx.step();
}

/**
 * A new resource comes up on every host (`drbdadm create-md` + `up`): the objects are created
 * (disk Diskless, connection StandAlone), the new disk attaches (Attaching → Inconsistent, day-0
 * metadata), the connections come up and connect with nothing to sync (both Inconsistent). With
 * `primary`, `primary --force` there starts the initial full sync.
 */
export function newResource(
  tx: Transaction,
  name: string,
  minor: number,
  opts: { primary?: string | undefined; port?: number | undefined; seconds?: number | undefined },
): void {
  const { state } = tx;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new SimError(`invalid resource name '${name}'`, 2);
  if (!Number.isInteger(minor) || minor < 0) throw new SimError(`invalid minor for ${name}`, 2);
  if (state.resources.some((r) => r.name === name || r.minor === minor))
    throw new SimError(`${name}: resource name or minor ${minor} already in use`, 10);
  if (opts.primary !== undefined) {
    peersOf(state, opts.primary);
    if (isClient(state, opts.primary)) throw new SimError(`${opts.primary} is a diskless client`, 2);
  }
  for (const host of state.hosts) requireUp(state, host);
  const [first] = state.resources;
  const config = {
    name,
    minor,
    port: opts.port ?? 7789 + minor,
    ...resourceSettings({}, state.dialect, state.hosts, first),
    afterSb0pri: 'disconnect',
    afterSb1pri: 'disconnect',
    afterSb2pri: 'disconnect',
  };
  state.resources.push(config);
  addResource(state, config, '', 'UpToDate');
  for (const host of state.hosts) {
    const replica = replicaOf(state, host, name);
    replica.role = 'Secondary';
    replica.disk = 'Diskless';
    for (const peer of peersOf(state, host)) {
      const fresh = newEndpoint('StandAlone', 'Off');
      const endpoints = state.endpoints[host]?.[name];
      if (endpoints) endpoints[peer] = fresh;
      // drbdsetup-84 lists a connection only once `connect` configured it.
      fresh.configured = state.dialect === '9';
    }
  }
  tx.step();
  const attaching = diskful(state);
  for (const host of attaching) replicaOf(state, host, name).disk = 'Attaching';
  tx.step();
  for (const host of attaching) replicaOf(state, host, name).disk = 'Inconsistent';
  tx.step();
  for (const host of state.hosts) connect(tx, host, name, false);
  if (opts.primary !== undefined) {
    if (opts.seconds !== undefined) state.resyncSeconds = opts.seconds;
    const result = primary(tx, opts.primary, name, true);
    if (result.exitCode !== 0) throw new SimError(result.stderr.trim(), result.exitCode);
  }
}

/** A helper call and response as DRBD prints them, for helpers no scenario produces. */
export function helper(
  tx: Transaction,
  host: string,
  resource: string,
  name: string,
  opts: { exitCode?: number | undefined; peer?: string | undefined },
): void {
  const { state } = tx;
  requireUp(state, host);
  resourceConfig(state, resource);
  if (!/^[a-z0-9-]+$/.test(name)) throw new SimError(`invalid helper name '${name}'`, 2);
  const exit = opts.exitCode ?? 0;
  if (!Number.isInteger(exit) || exit < 0 || exit > 255)
    throw new SimError('helper exit code must be 0..255', 2);
  if (opts.peer !== undefined && !peersOf(state, host).includes(opts.peer))
    throw new SimError(`${opts.peer} is not a peer of ${host}`, 2);
  const connectionOnly = ['fence-peer', 'unfence-peer', 'disconnected'];
  const deviceOnly = ['local-io-error', 'quorum-lost', 'pri-on-incon-degr'];
  const scope = connectionOnly.includes(name)
    ? 'connection'
    : deviceOnly.includes(name)
      ? 'device'
      : 'peer-device';
  tx.helper(host, resource, name, { scope, peer: opts.peer, exitCode: exit });
}

/**
 * A `- skipped N` line (drbd-utils before 9.28 and drbdsetup-84 print the gap between kernel
 * sequence numbers; N is signed). drbd-utils 9.28+ reorders events instead and prints none.
 */
export function skip(tx: Transaction, host: string, n: number): void {
  const { state } = tx;
  requireUp(state, host);
  if (!Number.isInteger(n) || n === 0) throw new SimError('skip needs a non-zero integer N', 2);
  if (state.dialect === '9' && !utilsBefore(state, '9.28'))
    throw new SimError(
      `drbd-utils ${state.utilsVersion} reorders events and prints no '- skipped' lines; ` +
        'init with --drbd-utils 9.27 or older',
      2,
    );
  tx.skip(host, n);
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
