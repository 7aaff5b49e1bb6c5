// Alert rules: turn state changes into notifications. Pure. The rules remember which problems they
// have announced (`Problems`), so a "restored" message is only sent for a problem someone was told
// about, and a flapping state inside one problem (Connecting → Unconnected → Connecting) is not
// announced again.

import { diskHealth, isResyncing, isResyncSource } from '../drbd/states.js';
import type { Change, ConnectionState, HostState, Location, ResourceState } from './host-state.js';
import { isSplitBrainHelper } from './host-state.js';
import type { AlertKind, DetailValue, Notification, Severity } from './notification.js';

/** An announced problem that is still going on, keyed by `problemKey`. */
export interface Problem {
  readonly kind: AlertKind;
  readonly since: number;
  /** The state value it was announced with, so a worse value is announced again. */
  readonly value: string;
}

export type Problems = Readonly<Record<string, Problem>>;

export interface RulesResult {
  readonly problems: Problems;
  readonly notifications: readonly Notification[];
}

type Family =
  | 'connection'
  | 'standalone'
  | 'split-brain'
  | 'disk'
  | 'peer-disk'
  | 'resync'
  | 'quorum'
  | 'suspended';

function problemKey(family: Family, loc: Location): string {
  return [family, loc.resource, loc.peer ?? '', loc.volume ?? ''].join('/');
}

/** "r0", "r0/1" for a multi-volume resource, as people say it. */
function label(resource: ResourceState | undefined, loc: Location): string {
  const volumes = resource === undefined ? 0 : Object.keys(resource.devices).length;
  return loc.volume !== undefined && volumes > 1 ? `${loc.resource}/${loc.volume}` : loc.resource;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function isPrimary(resource: ResourceState | undefined): boolean {
  return resource?.fields.role === 'Primary';
}

function connectedPrimaryPeers(resource: ResourceState): string[] {
  return Object.values(resource.connections)
    .filter((c) => c.fields.connection === 'Connected' && c.fields.role === 'Primary')
    .map((c) => c.peer);
}

function splitBrainRecovery(resource: string): string {
  return (
    `Recovery: pick the victim whose changes since the split are thrown away; on it run ` +
    `\`drbdadm disconnect ${resource}; drbdadm secondary ${resource}; drbdadm connect --discard-my-data ${resource}\`, ` +
    `then on the survivor \`drbdadm connect ${resource}\`. The victim resyncs from the survivor.`
  );
}

/** Collects notifications and problem updates while the rules walk a batch of changes. */
class Outcome {
  readonly notifications: Notification[] = [];
  problems: Record<string, Problem>;

  /** `startup`: describing what the first dump shows, not a change that was seen happening. */
  constructor(
    problems: Problems,
    readonly startup = false,
  ) {
    this.problems = { ...problems };
  }

  say(
    kind: AlertKind,
    severity: Severity,
    loc: { host: string; resource: string | null },
    text: string,
    at: number,
    details: Record<string, DetailValue> = {},
  ): void {
    this.notifications.push({
      kind,
      severity,
      host: loc.host,
      resource: loc.resource,
      text,
      details,
      at: new Date(at).toISOString(),
    });
  }

  open(key: string, problem: Problem): void {
    this.problems[key] = problem;
  }

  close(key: string): Problem | undefined {
    const problem = this.problems[key];
    if (problem !== undefined) delete this.problems[key];
    return problem;
  }

  closeResource(resource: string): void {
    for (const key of Object.keys(this.problems)) {
      if (key.split('/')[1] === resource) delete this.problems[key];
    }
  }
}

/**
 * Evaluate the changes one event (or one resynchronisation) made. `before` and `after` are the
 * host's states around them, for context such as the local role or when a connection was lost.
 */
export function evaluateChanges(
  changes: readonly Change[],
  before: HostState,
  after: HostState,
  problems: Problems,
): RulesResult {
  const out = new Outcome(problems);
  for (const change of changes) evaluateChange(out, change, before, after);
  return { problems: out.problems, notifications: out.notifications };
}

function evaluateChange(out: Outcome, change: Change, before: HostState, after: HostState): void {
  const resource = after.resources[change.resource] ?? before.resources[change.resource];
  const where = label(resource, change);
  const on = `${where} on ${change.host}`;

  switch (change.type) {
    case 'created':
      if (change.object === 'resource') {
        out.say(
          'resource-added',
          'info',
          change,
          `${change.resource} was added on ${change.host}.`,
          change.at,
        );
      }
      return;
    case 'destroyed':
      if (change.object === 'resource') {
        out.closeResource(change.resource);
        out.say(
          'resource-removed',
          'warning',
          change,
          `${change.resource} was removed on ${change.host} (drbdadm down?): it is no longer replicated there.`,
          change.at,
        );
      }
      return;
    case 'renamed':
      out.say(
        'resource-added',
        'info',
        { host: change.host, resource: change.newName },
        `${change.resource} was renamed to ${change.newName} on ${change.host}.`,
        change.at,
        { oldName: change.resource },
      );
      return;
    case 'helper':
      evaluateHelper(out, change, on);
      return;
    case 'field':
      break;
  }

  const { object, field, old } = change;
  const now = change.new;
  if (now === undefined) return;
  const details: Record<string, DetailValue> = { field, old: old ?? null, new: now };
  if (change.peer !== undefined) details.peer = change.peer;
  if (change.volume !== undefined) details.volume = change.volume;

  if (object === 'resource' && field === 'role') {
    if (old === undefined || old === now) return;
    out.say('role-changed', 'info', change, `${on} is now ${now} (was ${old}).`, change.at, details);
    if (now === 'Primary' && resource !== undefined) {
      const peers = connectedPrimaryPeers(resource);
      if (peers.length > 0) dualPrimary(out, change, where, peers[0] ?? '', change.at);
    }
    return;
  }
  if (object === 'resource' && field === 'suspended') {
    const key = problemKey('suspended', change);
    if (now !== 'no') {
      if (out.problems[key]?.value === now) return;
      out.open(key, { kind: 'suspended', since: change.at, value: now });
      out.say(
        'suspended',
        'critical',
        change,
        `${on}: I/O is suspended (${now}); applications writing to it hang until it resumes.`,
        change.at,
        details,
      );
    } else {
      const problem = out.close(key);
      if (problem === undefined) return;
      out.say(
        'resumed',
        'info',
        change,
        `${on}: I/O resumed after ${formatDuration(change.at - problem.since)}.`,
        change.at,
        {
          ...details,
          durationMs: change.at - problem.since,
        },
      );
    }
    return;
  }
  if (object === 'device' && field === 'disk') {
    evaluateDisk(out, change, resource, on, 'disk', details);
    return;
  }
  if (object === 'device' && field === 'quorum') {
    const key = problemKey('quorum', change);
    if (now === 'no') {
      if (out.problems[key] !== undefined) return;
      out.open(key, { kind: 'quorum-lost', since: change.at, value: now });
      out.say(
        'quorum-lost',
        'critical',
        change,
        `${on} lost quorum: it will not accept writes (or freezes them) until enough peers are back.`,
        change.at,
        details,
      );
    } else if (now === 'yes') {
      const problem = out.close(key);
      if (problem === undefined) return;
      out.say(
        'quorum-restored',
        'info',
        change,
        `${on} has quorum again after ${formatDuration(change.at - problem.since)}.`,
        change.at,
        {
          ...details,
          durationMs: change.at - problem.since,
        },
      );
    }
    return;
  }
  if (object === 'connection' && field === 'connection') {
    evaluateConnection(out, change, resource, where, details);
    return;
  }
  if (object === 'connection' && field === 'role') {
    // The peer's role. Unknown only means we cannot see it; connection-lost says that.
    if (old === undefined || old === now || now === 'Unknown' || old === 'Unknown') return;
    out.say(
      'role-changed',
      'info',
      change,
      `${where}: peer ${change.peer} is now ${now} (was ${old}).`,
      change.at,
      details,
    );
    if (now === 'Primary' && isPrimary(resource))
      dualPrimary(out, change, where, change.peer ?? '', change.at);
    return;
  }
  if (object === 'peer-device' && field === 'replication') {
    evaluateReplication(out, change, before, after, where, details);
    return;
  }
  if (object === 'peer-device' && field === 'peer-disk') {
    evaluateDisk(out, change, resource, `${where}: peer ${change.peer}`, 'peer-disk', details);
  }
}

function peerOf(loc: Location): { peer?: string } {
  return loc.peer === undefined ? {} : { peer: loc.peer };
}

function dualPrimary(out: Outcome, loc: Location, where: string, peer: string, at: number): void {
  out.say(
    'dual-primary',
    'critical',
    loc,
    `${where} is Primary on both ${loc.host} and ${peer}: two writers on one file system corrupt it. ` +
      `Demote one side now unless this pair is configured for dual-primary on purpose.`,
    at,
    { peer },
  );
}

function evaluateHelper(out: Outcome, change: Extract<Change, { type: 'helper' }>, on: string): void {
  const details: Record<string, DetailValue> = { helper: change.helper, phase: change.phase };
  if (change.peer !== undefined) details.peer = change.peer;
  if (change.volume !== undefined) details.volume = change.volume;
  if (change.phase === 'call' && isSplitBrainHelper(change.helper)) {
    // DRBD calls initial-split-brain and then split-brain for the same handshake: announce once.
    // Keyed per connection (no volume), like the StandAlone it leads to.
    const key = problemKey('split-brain', {
      host: change.host,
      resource: change.resource,
      ...peerOf(change),
    });
    if (out.problems[key] !== undefined) return;
    out.open(key, { kind: 'split-brain', since: change.at, value: change.helper });
    out.say(
      'split-brain',
      'critical',
      change,
      `Split-brain on ${on}${change.peer === undefined ? '' : ` with ${change.peer}`}: both sides changed ` +
        `data while disconnected; DRBD dropped the connection and will not resync by itself. ` +
        splitBrainRecovery(change.resource),
      change.at,
      details,
    );
    return;
  }
  if (change.phase === 'response' && change.status !== undefined && change.status !== 0) {
    // The kernel reports the raw wait status; a plain exit code n shows as n × 256.
    const exitCode = change.status % 256 === 0 ? change.status / 256 : null;
    details.status = change.status;
    details.exitCode = exitCode;
    out.say(
      'helper-failed',
      'warning',
      change,
      `${on}: handler ${change.helper} failed (status ${change.status}${exitCode === null ? '' : `, exit code ${exitCode}`}); ` +
        `check the handlers section of the resource file and the kernel log.`,
      change.at,
      details,
    );
  }
}

function evaluateConnection(
  out: Outcome,
  change: Extract<Change, { type: 'field' }>,
  resource: ResourceState | undefined,
  where: string,
  details: Record<string, DetailValue>,
): void {
  const now = change.new ?? '';
  const peer = change.peer ?? '';
  const lostKey = problemKey('connection', change);
  const standAloneKey = problemKey('standalone', change);
  const splitBrainKey = problemKey('split-brain', change);

  if (now === 'Connected') {
    // DRBD 9 shows Connected before the data handshake, which may still end in a split-brain. The
    // connection counts as restored once a peer device replicates (see evaluateReplication).
    const connection = resource?.connections[peer];
    const peerDevices = connection === undefined ? [] : Object.values(connection.peerDevices);
    if (peerDevices.length > 0 && !peerDevices.some((pd) => replicates(pd.fields.replication))) return;
    restoreConnection(out, change, where, details);
    return;
  }
  if (change.old === undefined) return;

  if (change.old === 'Connected' && out.problems[lostKey] === undefined) {
    const primary = isPrimary(resource);
    out.open(lostKey, { kind: 'connection-lost', since: change.at, value: now });
    out.say(
      'connection-lost',
      primary ? 'critical' : 'warning',
      change,
      (out.startup
        ? `${where}: ${change.host} is not connected to ${peer} (${now})`
        : `${where}: ${change.host} lost its connection to ${peer} (${now})`) +
        (primary ? ' while Primary: writes are not replicated.' : '.'),
      change.at,
      { ...details, localRole: resource?.fields.role ?? null },
    );
  }
  if (now === 'StandAlone' && out.problems[standAloneKey] === undefined) {
    const connection: ConnectionState | undefined = resource?.connections[peer];
    const afterSplitBrain =
      out.problems[splitBrainKey] !== undefined || connection?.splitBrainAt !== undefined;
    out.open(standAloneKey, { kind: 'standalone', since: change.at, value: now });
    out.say(
      'standalone',
      'critical',
      change,
      `${where}: the connection from ${change.host} to ${peer} is StandAlone: replication stopped and will not come back by itself. ` +
        (afterSplitBrain
          ? 'This follows the split-brain reported above.'
          : `If it went StandAlone right after reconnecting, it is probably a split-brain (with DRBD 9 and ` +
            `usermode_helper=disabled this is the only sign); check \`drbdadm status ${change.resource}\` on both hosts. ` +
            `After a deliberate disconnect, \`drbdadm connect ${change.resource}\` resumes replication.`),
      change.at,
      { ...details, afterSplitBrain },
    );
  }
}

function replicates(replication: string | undefined): boolean {
  return replication !== undefined && replication !== 'Off';
}

/** Close the connection's problems and say for how long it was down, if anyone was told it was. */
function restoreConnection(
  out: Outcome,
  loc: Extract<Change, { type: 'field' }>,
  where: string,
  details: Record<string, DetailValue>,
): void {
  const connLoc = { host: loc.host, resource: loc.resource, ...peerOf(loc) };
  const lost = out.close(problemKey('connection', connLoc));
  const standAlone = out.close(problemKey('standalone', connLoc));
  out.close(problemKey('split-brain', connLoc));
  if (lost === undefined && standAlone === undefined) return;
  const since = Math.min(
    lost?.since ?? Number.POSITIVE_INFINITY,
    standAlone?.since ?? Number.POSITIVE_INFINITY,
  );
  const downMs = loc.at - since;
  out.say(
    'connection-restored',
    'info',
    loc,
    `${where}: ${loc.host} is connected to ${loc.peer ?? 'its peer'} again after ${formatDuration(downMs)}.`,
    loc.at,
    { ...details, downMs },
  );
}

function evaluateReplication(
  out: Outcome,
  change: Extract<Change, { type: 'field' }>,
  before: HostState,
  after: HostState,
  where: string,
  details: Record<string, DetailValue>,
): void {
  const now = change.new ?? '';
  const peer = change.peer ?? '';
  const key = problemKey('resync', change);
  const volume = change.volume ?? 0;
  const connection = after.resources[change.resource]?.connections[peer];
  if (replicates(now) && connection?.fields.connection === 'Connected') {
    restoreConnection(out, change, where, { peer });
  }
  if (isResyncing(now)) {
    // A peer device created in a resync state (8.4 after connect) starts one too.
    if (out.problems[key] !== undefined || isResyncing(change.old)) return;
    const progress = after.resources[change.resource]?.connections[peer]?.peerDevices[volume]?.resync;
    out.open(key, { kind: 'resync-started', since: change.at, value: now });
    const source = isResyncSource(now);
    const size = progress?.initialOutOfSyncKiB;
    out.say(
      'resync-started',
      'info',
      change,
      `${where}: resync ${out.startup ? 'running' : 'started'}, ${source ? `${change.host} → ${peer}` : `${peer} → ${change.host}`}` +
        (size === undefined ? '' : `, ${formatKiB(size)} out of sync`) +
        `. The ${source ? 'peer' : 'local'} disk is not usable until it finishes.`,
      change.at,
      {
        ...details,
        direction: source ? 'source' : 'target',
        from: source ? change.host : peer,
        to: source ? peer : change.host,
        outOfSyncKiB: size ?? null,
      },
    );
    return;
  }
  const problem = out.close(key);
  if (problem === undefined || now !== 'Established') return;
  const progress = before.resources[change.resource]?.connections[peer]?.peerDevices[volume]?.resync;
  const durationMs = change.at - (progress?.startedAt ?? problem.since);
  out.say(
    'resync-finished',
    'info',
    change,
    `${where}: resync with ${peer} finished after ${formatDuration(durationMs)}; both disks are in sync.`,
    change.at,
    { ...details, durationMs, outOfSyncKiB: progress?.initialOutOfSyncKiB ?? null },
  );
}

export function formatKiB(kib: number): string {
  if (kib < 1024) return `${kib} KiB`;
  if (kib < 1024 * 1024) return `${(kib / 1024).toFixed(1)} MiB`;
  return `${(kib / 1024 / 1024).toFixed(1)} GiB`;
}

function evaluateDisk(
  out: Outcome,
  change: Extract<Change, { type: 'field' }>,
  resource: ResourceState | undefined,
  subject: string,
  family: 'disk' | 'peer-disk',
  details: Record<string, DetailValue>,
): void {
  const now = change.new ?? '';
  const health = diskHealth(now);
  const key = problemKey(family, change);
  const kinds =
    family === 'disk'
      ? ({ degraded: 'disk-degraded', restored: 'disk-restored' } as const)
      : ({ degraded: 'peer-disk-degraded', restored: 'peer-disk-restored' } as const);
  const subjectText = family === 'disk' ? `${subject}: disk` : `${subject}'s disk`;

  if (health === 'healthy') {
    const problem = out.close(key);
    if (problem === undefined) return;
    out.say(
      kinds.restored,
      'info',
      change,
      `${subjectText} is UpToDate again (was ${problem.value}).`,
      change.at,
      {
        ...details,
        durationMs: change.at - problem.since,
      },
    );
    return;
  }
  if (health === 'transient') return;
  // A new object's first state (drbdadm up creates devices Diskless) is not a degradation.
  if (change.old === undefined && health !== 'lost') return;
  if (change.old === undefined && now === 'Diskless') return;
  const announced = out.problems[key];
  // Failed → Diskless is the detach that follows a failure: one loss, announced once.
  if (
    announced !== undefined &&
    (announced.value === now || (diskHealth(announced.value) === 'lost' && health === 'lost'))
  ) {
    return;
  }
  // Inconsistent while a resync runs towards this disk is announced as resync-started already. DRBD
  // prints the local disk's change before the peer device's, so for the local disk a Connected
  // peer is enough: the resync it means is about to start and will be announced.
  if (
    now === 'Inconsistent' &&
    (resyncTowards(resource, change, family) || (family === 'disk' && anyConnected(resource)))
  ) {
    return;
  }
  out.open(key, { kind: kinds.degraded, since: out.problems[key]?.since ?? change.at, value: now });
  out.say(
    kinds.degraded,
    health === 'lost' ? 'critical' : 'warning',
    change,
    `${subjectText} is ${now}${change.old === undefined || out.startup ? '' : ` (was ${change.old})`}: ${diskMeaning(now)}`,
    change.at,
    details,
  );
}

function anyConnected(resource: ResourceState | undefined): boolean {
  return (
    resource !== undefined &&
    Object.values(resource.connections).some((c) => c.fields.connection === 'Connected')
  );
}

function resyncTowards(
  resource: ResourceState | undefined,
  loc: Location,
  family: 'disk' | 'peer-disk',
): boolean {
  if (resource === undefined) return false;
  for (const conn of Object.values(resource.connections)) {
    if (family === 'peer-disk' && conn.peer !== loc.peer) continue;
    const pd = conn.peerDevices[loc.volume ?? 0];
    const replication = pd?.fields.replication;
    if (!isResyncing(replication)) continue;
    if (family === 'peer-disk' ? isResyncSource(replication) : !isResyncSource(replication)) return true;
  }
  return false;
}

function diskMeaning(disk: string): string {
  switch (disk) {
    case 'Failed':
      return 'the backing device failed; DRBD detaches it and serves I/O from the peer if connected.';
    case 'Diskless':
      return 'no local backing device; all I/O goes over the network to the peer.';
    case 'Outdated':
      return 'the data is known to be older than the peer; it must not be promoted.';
    case 'Inconsistent':
      return 'the data is partly written (resync needed); it must not be promoted.';
    default:
      return 'the data may not be current; it must not be promoted before a resync.';
  }
}

/**
 * Problems that exist at the moment the watcher first sees a host (the end of its first dump):
 * announced once, so a bot started during an outage reports it instead of staying silent.
 */
export function assessHost(state: HostState, problems: Problems, at: number): RulesResult {
  const out = new Outcome(problems, true);
  const host = state.host;
  for (const resource of Object.values(state.resources)) {
    const base = { host, resource: resource.name };
    const synth = (
      object: Extract<Change, { type: 'field' }>['object'],
      field: string,
      value: string | undefined,
      loc: Location,
      old: string,
    ): Extract<Change, { type: 'field' }> | undefined =>
      value === undefined ? undefined : { ...loc, type: 'field', object, field, old, new: value, at };

    const changes: Change[] = [];
    const suspended = synth('resource', 'suspended', resource.fields.suspended, base, 'no');
    if (suspended !== undefined && suspended.new !== 'no') changes.push(suspended);
    for (const dev of Object.values(resource.devices)) {
      const loc = { ...base, volume: dev.volume };
      const disk = synth('device', 'disk', dev.fields.disk, loc, 'UpToDate');
      if (disk !== undefined && diskHealth(disk.new) !== 'healthy') changes.push(disk);
      const quorum = synth('device', 'quorum', dev.fields.quorum, loc, 'yes');
      if (quorum !== undefined && quorum.new === 'no') changes.push(quorum);
    }
    for (const conn of Object.values(resource.connections)) {
      const loc = { ...base, peer: conn.peer };
      const state = synth('connection', 'connection', conn.fields.connection, loc, 'Connected');
      if (state !== undefined && state.new !== 'Connected') changes.push(state);
      for (const pd of Object.values(conn.peerDevices)) {
        const pdLoc = { ...loc, volume: pd.volume };
        const replication = synth('peer-device', 'replication', pd.fields.replication, pdLoc, 'Established');
        if (replication !== undefined && isResyncing(replication.new)) changes.push(replication);
        const peerDisk = synth('peer-device', 'peer-disk', pd.fields['peer-disk'], pdLoc, 'UpToDate');
        if (peerDisk !== undefined && diskHealth(peerDisk.new) !== 'healthy') changes.push(peerDisk);
      }
    }
    for (const change of changes) evaluateChange(out, change, state, state);
    if (isPrimary(resource)) {
      const peers = connectedPrimaryPeers(resource);
      if (peers.length > 0) dualPrimary(out, base, resource.name, peers[0] ?? '', at);
    }
  }
  return {
    problems: out.problems,
    // The "old" values above were invented to drive the rules; they were never observed.
    notifications: out.notifications.map(({ details: { old: _old, ...details }, ...n }) => ({
      ...n,
      details: { ...details, atStartup: true },
    })),
  };
}
