// Alert rules: turn state changes into notifications. Pure. The rules remember which problems they
// have announced (`Problems`), so a "restored" message is only sent for a problem someone was told
// about, and a flapping state inside one problem (Connecting → Unconnected → Connecting) is not
// announced again.
//
// What each DRBD state and helper means is taken from DRBD's sources (kernel `drbd_nl.c`,
// `drbd_state.c`, `drbd_receiver.c`, `drbd_sender.c`; drbd-utils `drbdsetup_events2.c`) and
// drbd.conf(5); ../../docs/drbd-situations.md lists every situation with what the bot says.

import { decodeHelperStatus, type HelperOutcome } from '../drbd/events2.js';
import {
  capsLocalDisk,
  capsPeerDisk,
  diskHealth,
  flagList,
  isAttaching,
  isCongested,
  isPausedSync,
  isResyncing,
  isResyncSource,
  isSyncing,
  isVerifying,
  replicates,
} from '../drbd/states.js';
import type { Change, ConnectionState, HostState, Location, ResourceState } from './host-state.js';
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
  | 'suspended'
  | 'congestion'
  | 'paused'
  | 'out-of-sync';

type FieldChange = Extract<Change, { type: 'field' }>;
type HelperChange = Extract<Change, { type: 'helper' }>;

function problemKey(family: Family, loc: Location): string {
  return [family, loc.resource, loc.peer ?? '', loc.volume ?? ''].join('/');
}

/** The key of a problem that concerns a whole connection, whatever volume reported it. */
function connectionKey(family: Family, loc: Location): string {
  return problemKey(family, { host: loc.host, resource: loc.resource, ...peerOf(loc) });
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

export function formatKiB(kib: number): string {
  if (kib < 1024) return `${kib} KiB`;
  if (kib < 1024 * 1024) return `${(kib / 1024).toFixed(1)} MiB`;
  return `${(kib / 1024 / 1024).toFixed(1)} GiB`;
}

function isPrimary(resource: ResourceState | undefined): boolean {
  return resource?.fields.role === 'Primary';
}

function peerOf(loc: Location): { peer?: string } {
  return loc.peer === undefined ? {} : { peer: loc.peer };
}

function connectedPrimaryPeers(resource: ResourceState): string[] {
  return Object.values(resource.connections)
    .filter((c) => c.fields.connection === 'Connected' && c.fields.role === 'Primary')
    .map((c) => c.peer);
}

function anyConnected(resource: ResourceState | undefined): boolean {
  return (
    resource !== undefined &&
    Object.values(resource.connections).some((c) => c.fields.connection === 'Connected')
  );
}

/** Every peer device of the connection marks the peer as intentionally diskless (`peer-client:yes`). */
function isDisklessClientPeer(connection: ConnectionState | undefined): boolean {
  const peerDevices = connection === undefined ? [] : Object.values(connection.peerDevices);
  return peerDevices.length > 0 && peerDevices.every((pd) => pd.fields['peer-client'] === 'yes');
}

/** No volume of the resource has a local disk: a diskless client, or every disk failed or detached. */
function hasNoLocalDisk(resource: ResourceState | undefined): boolean {
  const devices = resource === undefined ? [] : Object.values(resource.devices);
  return devices.length > 0 && devices.every((d) => diskHealth(d.fields.disk) === 'lost');
}

/**
 * Peers, other than `except`, that hold a current copy of every volume and receive this node's
 * writes: connected, replicating, peer disk UpToDate. Deciding "redundancy reduced" against "writes
 * are not replicated" needs all of them, not just the connection that changed.
 */
function uptodatePeers(resource: ResourceState | undefined, except?: string): string[] {
  if (resource === undefined) return [];
  return Object.values(resource.connections)
    .filter((c) => c.peer !== except && c.fields.connection === 'Connected')
    .filter((c) => {
      const pds = Object.values(c.peerDevices);
      return (
        pds.length > 0 &&
        pds.every((pd) => replicates(pd.fields.replication) && pd.fields['peer-disk'] === 'UpToDate')
      );
    })
    .map((c) => c.peer);
}

function list(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

export function splitBrainRecovery(resource: string): string {
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

/** What the rules look at for one change: the states around it and how to name it. */
interface Context {
  readonly out: Outcome;
  readonly before: HostState;
  readonly after: HostState;
  /** The resource after the change (before it, if the change removed it). */
  readonly resource: ResourceState | undefined;
  /** "r0" or "r0/1". */
  readonly where: string;
  /** "r0 on alpha". */
  readonly on: string;
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
  const ctx: Context = { out, before, after, resource, where, on: `${where} on ${change.host}` };

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
      evaluateHelper(ctx, change);
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
    out.say('role-changed', 'info', change, `${ctx.on} is now ${now} (was ${old}).`, change.at, details);
    if (now === 'Primary' && resource !== undefined) {
      const peers = connectedPrimaryPeers(resource);
      if (peers.length > 0) dualPrimary(out, change, where, peers[0] ?? '', change.at);
      // A suspension that did not matter on a Secondary freezes the new Primary's writers.
      const suspended = resource.fields.suspended;
      if (suspended !== undefined && suspended !== 'no') {
        const loc = { host: change.host, resource: change.resource };
        const synthetic: FieldChange = {
          ...loc,
          type: 'field',
          object: 'resource',
          field: 'suspended',
          old: 'no',
          new: suspended,
          at: change.at,
        };
        evaluateSuspended(ctx, synthetic, { field: 'suspended', new: suspended });
      }
    }
    return;
  }
  if (object === 'resource' && field === 'suspended') {
    evaluateSuspended(ctx, change, details);
    return;
  }
  if (object === 'device' && field === 'disk') {
    evaluateLocalDisk(ctx, change, details);
    return;
  }
  if (object === 'device' && field === 'quorum') {
    evaluateQuorum(ctx, change, details);
    return;
  }
  if (object === 'connection' && field === 'connection') {
    evaluateConnection(ctx, change, details);
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
    evaluateReplication(ctx, change, details);
    return;
  }
  if (object === 'peer-device' && field === 'peer-disk') {
    evaluatePeerDisk(ctx, change, details);
  }
}

/** A disk (ours or the peer's) that was reported degraded is UpToDate again: close and say so once. */
function diskBackToUpToDate(
  out: Outcome,
  kind: 'disk-restored' | 'peer-disk-restored',
  key: string,
  change: FieldChange,
  subject: string,
  details: Record<string, DetailValue>,
): void {
  const problem = out.close(key);
  if (problem === undefined) return;
  out.say(kind, 'info', change, `${subject} is UpToDate again (was ${problem.value}).`, change.at, {
    ...details,
    durationMs: change.at - problem.since,
  });
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

// ─── I/O suspension and quorum ──────────────────────────────────────────────────────────────────

/** What each reason in `suspended:` means (`drbd_state.c`, resource_is_suspended()). */
const SUSPENSION_REASONS: Record<string, { severity: Severity; text: (resource: string) => string }> = {
  user: {
    severity: 'warning',
    text: (r) => `an administrator suspended it (\`drbdadm suspend-io\`); \`drbdadm resume-io ${r}\` ends it`,
  },
  'no-data': {
    severity: 'critical',
    text: () =>
      'no node with UpToDate data is reachable (on-no-data-accessible suspend-io); it resumes when one is back',
  },
  fencing: {
    severity: 'warning',
    text: (r) =>
      `the fence-peer handler is fencing the peer (fencing resource-and-stonith); it resumes once the peer is fenced, ` +
      `but stays frozen if the handler fails (then \`drbdadm resume-io ${r}\` after making sure the peer cannot be promoted)`,
  },
  quorum: {
    severity: 'critical',
    text: () =>
      'this node lost quorum (on-no-quorum suspend-io); it resumes when enough peers are reachable again',
  },
};

function evaluateSuspended(ctx: Context, change: FieldChange, details: Record<string, DetailValue>): void {
  const { out } = ctx;
  const now = change.new ?? 'no';
  const key = problemKey('suspended', change);
  const all = flagList(now);
  if (all.length > 0) {
    const announced = out.problems[key];
    const known = flagList(announced?.value);
    // Only a Primary has writers. DRBD records a suspension whatever the role (it sets susp_quorum on
    // a Secondary too, `drbd_state.c`), so on a Secondary only what an administrator asked for is
    // news; the rest is said if the node is promoted while it lasts (see the role rule).
    const primary = isPrimary(ctx.resource);
    const reasons = primary ? all : all.filter((r) => r === 'user');
    // Announce when a reason appears; a reason going away while others remain changes nothing.
    if (reasons.every((r) => known.includes(r))) {
      if (announced !== undefined) out.open(key, { ...announced, value: now });
      return;
    }
    const parts = reasons.map(
      (r) => SUSPENSION_REASONS[r] ?? { severity: 'critical' as const, text: () => `reason "${r}"` },
    );
    const severity: Severity = parts.some((p) => p.severity === 'critical') ? 'critical' : 'warning';
    out.open(key, { kind: 'suspended', since: announced?.since ?? change.at, value: now });
    out.say(
      'suspended',
      severity,
      change,
      `${ctx.on}: I/O is suspended (${now}): ` +
        (primary
          ? 'applications writing to it hang until it resumes. '
          : 'nothing writes to a Secondary, but I/O would hang after a promotion. ') +
        `${capitalise(parts.map((p) => p.text(change.resource)).join('; '))}.`,
      change.at,
      { ...details, reasons: reasons.join(',') },
    );
    return;
  }
  const problem = out.close(key);
  if (problem === undefined) return;
  out.say(
    'resumed',
    'info',
    change,
    `${ctx.on}: I/O resumed after ${formatDuration(change.at - problem.since)}.`,
    change.at,
    { ...details, durationMs: change.at - problem.since },
  );
}

function capitalise(text: string): string {
  return text.length === 0 ? text : `${text[0]?.toUpperCase()}${text.slice(1)}`;
}

function evaluateQuorum(ctx: Context, change: FieldChange, details: Record<string, DetailValue>): void {
  const { out, resource } = ctx;
  const now = change.new;
  const key = problemKey('quorum', change);
  if (now === 'no') {
    if (out.problems[key] !== undefined) return;
    const primary = isPrimary(resource);
    out.open(key, { kind: 'quorum-lost', since: change.at, value: now });
    out.say(
      'quorum-lost',
      primary ? 'critical' : 'warning',
      change,
      primary
        ? `${ctx.on} lost quorum while Primary: depending on on-no-quorum, writes freeze (suspend-io) or fail ` +
            `(io-error) until enough peers are reachable again.`
        : `${ctx.on} lost quorum: nothing freezes on a Secondary, but it cannot be promoted until enough peers are reachable again.`,
      change.at,
      { ...details, localRole: resource?.fields.role ?? null },
    );
  } else if (now === 'yes') {
    const problem = out.close(key);
    if (problem === undefined) return;
    out.say(
      'quorum-restored',
      'info',
      change,
      `${ctx.on} has quorum again after ${formatDuration(change.at - problem.since)}.`,
      change.at,
      { ...details, durationMs: change.at - problem.since },
    );
  }
}

// ─── Helpers (handlers) ─────────────────────────────────────────────────────────────────────────

/**
 * fence-peer answers with its exit code (`drbd_nl.c` conn_try_outdate_peer(); codes from
 * `include/linux/drbd.h`: P_INCONSISTENT 3, P_OUTDATED 4, P_DOWN 5, P_PRIMARY 6, P_FENCING 7). Any
 * other code means "fence-peer helper broken" and DRBD leaves I/O frozen.
 */
const FENCE_OUTCOMES: Record<
  number,
  { outcome: string; severity: Severity; text: (host: string, peer: string, uptodate: boolean) => string }
> = {
  3: {
    outcome: 'peer-inconsistent',
    severity: 'info',
    text: (_host, peer) =>
      `answered that ${peer}'s disk is Inconsistent or worse: it cannot take over with stale data, so nothing had to be fenced.`,
  },
  4: {
    outcome: 'peer-outdated',
    severity: 'info',
    text: (_host, peer) =>
      `fenced ${peer}: its disk is now marked Outdated, so it cannot be promoted with stale data. It resyncs when the connection is back.`,
  },
  5: {
    outcome: 'peer-unreachable',
    severity: 'warning',
    text: (host, peer, uptodate) =>
      `could not reach ${peer} and assumes it is down. ` +
      (uptodate
        ? `DRBD marks ${peer}'s disk Outdated; make sure ${peer} is really down and is not promoted with stale data.`
        : `DRBD does nothing more, since ${host}'s disk is not UpToDate.`),
  },
  6: {
    outcome: 'peer-primary',
    severity: 'warning',
    text: (host, peer) =>
      `found ${peer} Primary, so ${host} outdated its own disk: ${host} must not be promoted until it resyncs from ${peer}.`,
  },
  7: {
    outcome: 'peer-stonithed',
    severity: 'warning',
    text: (_host, peer) =>
      `had ${peer} STONITHed (powered off or reset by the cluster manager); its disk is marked Outdated. ` +
      `Find out why ${peer} was shot and bring it back.`,
  },
};

function describeEnd(outcome: HelperOutcome, status: number): string {
  if (outcome.exitCode !== undefined) return `exited with code ${outcome.exitCode}`;
  if (outcome.signal !== undefined) return `was killed by signal ${outcome.signal}`;
  if (outcome.errno !== undefined) return `could not be started (error ${outcome.errno})`;
  return `ended with status ${status}`;
}

function evaluateHelper(ctx: Context, change: HelperChange): void {
  const { out } = ctx;
  const details: Record<string, DetailValue> = { helper: change.helper, phase: change.phase };
  if (change.peer !== undefined) details.peer = change.peer;
  if (change.volume !== undefined) details.volume = change.volume;

  if (change.phase === 'call') {
    switch (change.helper) {
      case 'split-brain':
        unresolvedSplitBrain(ctx, change, 'helper', details);
        return;
      case 'pri-lost-after-sb':
        splitBrainVictim(ctx, change, details);
        return;
      case 'out-of-sync':
        verifyFoundOutOfSync(ctx, change, details);
        return;
      case 'pri-lost':
      case 'pri-on-incon-degr':
        primaryLost(ctx, change, details);
        return;
      default:
        // initial-split-brain, fence-peer, before/after-resync-*, disconnected, local-io-error,
        // quorum-lost …: what they announce is said by the state changes around them.
        return;
    }
  }

  if (change.status === undefined) return;
  const outcome = decodeHelperStatus(change.status);
  details.status = change.status;
  details.exitCode = outcome.exitCode ?? null;
  if (change.helper === 'fence-peer') {
    fenceAnswer(ctx, change, outcome, details);
    return;
  }
  if (outcome.exitCode === 0) return;
  // DRBD ignores this one exit code of before-resync-source (`drbd_sender.c`: "Old userland tools?").
  if (change.helper === 'before-resync-source' && outcome.exitCode === 3) return;
  const end = describeEnd(outcome, change.status);
  const consequence =
    change.helper === 'before-resync-target' || change.helper === 'before-resync-source'
      ? `DRBD does not start the resync and drops the connection (it goes StandAlone); fix the handler, then \`drbdadm connect ${change.resource}\`.`
      : 'DRBD carries on, but whatever the handler should have done (notify, unfence, …) did not happen.';
  out.say(
    'helper-failed',
    'warning',
    change,
    `${ctx.on}: handler ${change.helper} ${end}. ${consequence} Check the handlers section of the resource file and the kernel log.`,
    change.at,
    details,
  );
}

function fenceAnswer(
  ctx: Context,
  change: HelperChange,
  outcome: HelperOutcome,
  details: Record<string, DetailValue>,
): void {
  const { out, resource } = ctx;
  const peer = change.peer ?? 'the peer';
  const connection = change.peer === undefined ? undefined : resource?.connections[change.peer];
  // The kernel ignores the answer when the connection came back while the handler ran.
  const reconnected = connection?.fields.connection === 'Connected';
  const known = outcome.exitCode === undefined ? undefined : FENCE_OUTCOMES[outcome.exitCode];
  if (known !== undefined) {
    if (reconnected) return;
    const uptodate =
      resource !== undefined && Object.values(resource.devices).every((d) => d.fields.disk === 'UpToDate');
    out.say(
      'fencing',
      known.severity,
      change,
      `${ctx.where}: fence-peer on ${change.host} ${known.text(change.host, peer, uptodate)}`,
      change.at,
      { ...details, outcome: known.outcome },
    );
    return;
  }
  const frozen = flagList(resource?.fields.suspended).includes('fencing');
  out.say(
    'helper-failed',
    frozen && !reconnected ? 'critical' : 'warning',
    change,
    `${ctx.where}: the fence-peer handler on ${change.host} is broken: it ${describeEnd(outcome, change.status ?? 0)} ` +
      `instead of answering with one of DRBD's codes 3–7, so DRBD did not fence ${peer}. ` +
      (frozen && !reconnected
        ? `I/O on ${change.resource} stays frozen (fencing resource-and-stonith) until the handler works or ` +
          `\`drbdadm resume-io ${change.resource}\` is run after making sure ${peer} cannot be promoted. `
        : 'With `fencing resource-and-stonith` this leaves I/O frozen. ') +
      'Check the fence-peer entry in the handlers section and the kernel log.',
    change.at,
    { ...details, outcome: 'broken', ioFrozen: frozen && !reconnected },
  );
}

// ─── Split-brain ────────────────────────────────────────────────────────────────────────────────

/** The split-brain DRBD found at this connection's handshake, as the states around a change show it. */
function splitBrainMark(ctx: Context, peer: string | undefined) {
  if (peer === undefined) return undefined;
  const resource = ctx.resource?.name ?? '';
  return (
    ctx.after.resources[resource]?.connections[peer]?.splitBrain ??
    ctx.before.resources[resource]?.connections[peer]?.splitBrain
  );
}

function unresolvedSplitBrain(
  ctx: Context,
  loc: Location & { at: number },
  why: 'helper' | 'standalone' | 'dropped',
  details: Record<string, DetailValue>,
): void {
  const { out } = ctx;
  const key = connectionKey('split-brain', loc);
  const announced = out.problems[key];
  if (announced !== undefined && announced.value !== 'resolved') return;
  out.open(key, { kind: 'split-brain', since: loc.at, value: 'unresolved' });
  const withPeer = loc.peer === undefined ? '' : ` with ${loc.peer}`;
  const text =
    why === 'dropped'
      ? `Split-brain on ${ctx.on}${withPeer}: DRBD detected it at the handshake and the connection dropped ` +
        `before it was resolved (the peer may be the policy's victim, rebooted by its pri-lost-after-sb handler). ` +
        `Both sides still hold diverging data. When they reconnect DRBD decides again, and the bot reports the outcome; ` +
        `do not promote either side meanwhile unless you accept losing the other side's changes.`
      : `Split-brain on ${ctx.on}${withPeer}: both sides changed data while disconnected and DRBD's after-sb policies ` +
        `did not resolve it; DRBD dropped the connection and will not resync by itself. ${splitBrainRecovery(loc.resource)}`;
  out.say('split-brain', 'critical', loc, text, loc.at, { ...details, resolved: false });
}

function splitBrainVictim(ctx: Context, change: HelperChange, details: Record<string, DetailValue>): void {
  const { out } = ctx;
  const key = connectionKey('split-brain', change);
  if (out.problems[key]?.value === 'victim') return;
  out.open(key, { kind: 'split-brain', since: change.at, value: 'victim' });
  const host = change.host;
  const peer = change.peer ?? 'the peer';
  const r = change.resource;
  out.say(
    'split-brain',
    'critical',
    change,
    `Split-brain on ${ctx.on} with ${peer}: DRBD's after-sb policy chose ${host} as the victim whose changes ` +
      `are discarded, but ${host} is Primary and could not give up that role. DRBD called the pri-lost-after-sb ` +
      `handler, which usually reboots ${host}. If it does not: stop what uses ${r} on ${host}, then on ${host} run ` +
      `\`drbdadm disconnect ${r}; drbdadm secondary ${r}; drbdadm connect --discard-my-data ${r}\` and on ${peer} ` +
      `\`drbdadm connect ${r}\`.`,
    change.at,
    { ...details, victim: host, resolved: false },
  );
}

/**
 * initial-split-brain followed by a resync: DRBD's after-sb policy resolved the split-brain by
 * itself, and the SyncTarget side's changes since the split are being overwritten.
 */
function resolvedSplitBrain(ctx: Context, change: FieldChange, details: Record<string, DetailValue>): void {
  const { out } = ctx;
  const mark = splitBrainMark(ctx, change.peer);
  if (mark === undefined || mark.unresolved) return;
  const key = connectionKey('split-brain', change);
  if (out.problems[key] !== undefined) return;
  const now = change.new ?? '';
  // A resync that ended at once (Established) is judged by the state it left.
  const source = isResyncSource(now === 'Established' ? change.old : now);
  const peer = change.peer ?? 'the peer';
  const victim = source ? peer : change.host;
  const survivor = source ? change.host : peer;
  out.open(key, { kind: 'split-brain-resolved', since: change.at, value: 'resolved' });
  out.say(
    'split-brain-resolved',
    'critical',
    change,
    `Split-brain between ${change.host} and ${peer} on ${ctx.where} was resolved automatically by DRBD's after-sb ` +
      `policy: ${victim}'s changes since the split are discarded, as ${victim} resyncs from ${survivor} (SyncTarget). ` +
      `No manual recovery is needed and none must be attempted; check whether anything written only on ${victim} ` +
      `during the split has to be redone.`,
    change.at,
    { ...details, victim, survivor, resolved: true, detectedAt: new Date(mark.detectedAt).toISOString() },
  );
}

function primaryLost(ctx: Context, change: HelperChange, details: Record<string, DetailValue>): void {
  const host = change.host;
  const text =
    change.helper === 'pri-lost'
      ? `${ctx.on} is Primary, but its data is older than ${change.peer ?? 'the peer'}'s and DRBD must resync it ` +
        `(rr-conflict call-pri-lost): DRBD called the pri-lost handler, which usually reboots ${host}.`
      : `${ctx.on} is Primary without access to UpToDate data (its disk is Inconsistent and no peer with current ` +
        `data is connected): DRBD called the pri-on-incon-degr handler, which usually reboots or halts ${host}.`;
  ctx.out.say('primary-lost', 'critical', change, text, change.at, details);
}

// ─── Verify ─────────────────────────────────────────────────────────────────────────────────────

function verifyFoundOutOfSync(
  ctx: Context,
  loc: Location & { at: number },
  details: Record<string, DetailValue>,
): void {
  const { out } = ctx;
  const key = problemKey('out-of-sync', loc);
  if (out.problems[key] !== undefined) return;
  const peer = loc.peer ?? 'the peer';
  const pd =
    loc.peer === undefined ? undefined : ctx.resource?.connections[loc.peer]?.peerDevices[loc.volume ?? 0];
  const kib = numberOf(pd?.fields['out-of-sync']);
  const amount = kib === undefined || kib === 0 ? 'blocks' : formatKiB(kib);
  const r = loc.resource;
  out.open(key, { kind: 'out-of-sync', since: loc.at, value: String(kib ?? '') });
  out.say(
    'out-of-sync',
    'warning',
    loc,
    `${ctx.where}: online verify between ${loc.host} and ${peer} found ${amount} out of sync. DRBD does not ` +
      `repair them by itself: resync them by disconnecting and reconnecting (\`drbdadm disconnect ${r}; drbdadm connect ${r}\` ` +
      `on either node), then verify again with \`drbdadm verify ${r}\`.`,
    loc.at,
    { ...details, outOfSyncKiB: kib ?? null },
  );
}

function numberOf(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

// ─── Connection ─────────────────────────────────────────────────────────────────────────────────

function evaluateConnection(ctx: Context, change: FieldChange, details: Record<string, DetailValue>): void {
  const { out, resource, where } = ctx;
  const now = change.new ?? '';
  const peer = change.peer ?? '';
  const lostKey = problemKey('connection', change);
  const standAloneKey = problemKey('standalone', change);
  const splitBrainKey = problemKey('split-brain', change);
  const beforeConnection = ctx.before.resources[change.resource]?.connections[peer];

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

  if (now !== 'Disconnecting' && now !== 'StandAlone') {
    // The connection dropped: a split-brain found at this handshake that neither the helpers nor a
    // resync settled is still there.
    const mark = beforeConnection?.splitBrain;
    if (mark !== undefined && !mark.unresolved && out.problems[splitBrainKey] === undefined) {
      unresolvedSplitBrain(ctx, change, 'dropped', { peer });
    }
    // A new attempt: whatever the last handshake found is over (host-state forgets it too).
    out.close(splitBrainKey);
  }

  if (change.old === 'Connected' && out.problems[lostKey] === undefined) {
    connectionLost(ctx, change, details);
  }
  if (now === 'StandAlone' && out.problems[standAloneKey] === undefined) {
    standAlone(ctx, change, beforeConnection ?? resource?.connections[peer], details);
  }
  // The local disk may now be degraded with nothing left to explain it (an interrupted resync).
  if (change.old === 'Connected') recheckLocalDisks(ctx, change, undefined);
}

function connectionLost(ctx: Context, change: FieldChange, details: Record<string, DetailValue>): void {
  const { out, resource, where } = ctx;
  const now = change.new ?? '';
  const peer = change.peer ?? '';
  const lostKey = problemKey('connection', change);
  const primary = isPrimary(resource);
  const beforeConnection = ctx.before.resources[change.resource]?.connections[peer];
  const remaining = uptodatePeers(resource, peer);
  let severity: Severity;
  let consequence: string;
  if (isDisklessClientPeer(beforeConnection ?? resource?.connections[peer])) {
    severity = 'warning';
    consequence = `. ${peer} is a diskless client (for example a quorum tiebreaker): no copy of the data is lost, but one node fewer counts for quorum.`;
  } else if (remaining.length > 0) {
    severity = 'warning';
    consequence = primary
      ? ` while Primary: redundancy reduced, writes still replicate to ${list(remaining)}.`
      : `: redundancy reduced, ${list(remaining)} still ${remaining.length === 1 ? 'has' : 'have'} a current copy.`;
  } else if (primary) {
    severity = 'critical';
    consequence = hasNoLocalDisk(resource)
      ? ' while Primary without a local disk: no node with current data is reachable, so I/O fails or freezes.'
      : ' while Primary: writes are not replicated.';
  } else {
    severity = 'warning';
    consequence = '.';
  }
  out.open(lostKey, { kind: 'connection-lost', since: change.at, value: now });
  out.say(
    'connection-lost',
    severity,
    change,
    (out.startup
      ? `${where}: ${change.host} is not connected to ${peer} (${now})`
      : `${where}: ${change.host} lost its connection to ${peer} (${now})`) + consequence,
    change.at,
    { ...details, localRole: resource?.fields.role ?? null, remainingReplicas: remaining.join(',') },
  );
}

function standAlone(
  ctx: Context,
  change: FieldChange,
  connection: ConnectionState | undefined,
  details: Record<string, DetailValue>,
): void {
  const { out, where } = ctx;
  const peer = change.peer ?? '';
  const r = change.resource;
  const splitBrainKey = problemKey('split-brain', change);
  // The split-brain helper may not have been called although initial-split-brain was.
  if (connection?.splitBrain !== undefined && out.problems[splitBrainKey] === undefined) {
    unresolvedSplitBrain(ctx, change, 'standalone', { peer });
  }
  const afterSplitBrain = out.problems[splitBrainKey] !== undefined;
  const afterHandshake = !afterSplitBrain && connection?.handshakeAt !== undefined;
  const stopped = `${where}: the connection from ${change.host} to ${peer} is StandAlone: replication stopped and will not come back by itself.`;
  let text: string;
  if (afterSplitBrain) {
    text = `${stopped} It follows the split-brain on ${r}; the incident's message says how to recover.`;
  } else if (afterHandshake) {
    text =
      `${where}: the connection from ${change.host} to ${peer} went StandAlone right after the handshake, without ` +
      `any helper events: most likely a split-brain that DRBD did not resolve (with DRBD 9 and usermode_helper=disabled ` +
      `this is the only sign; the kernel log says "Split-Brain detected but unresolved"). Replication stopped and will ` +
      `not come back by itself. If the kernel log confirms the split-brain: ${splitBrainRecovery(r)}`;
  } else if (out.startup || change.old === undefined) {
    text =
      `${stopped} If it went StandAlone right after reconnecting, it is probably a split-brain (with DRBD 9 and ` +
      `usermode_helper=disabled this is the only sign); check \`drbdadm status ${r}\` on both hosts and the kernel log. ` +
      `After a deliberate disconnect, \`drbdadm connect ${r}\` resumes replication.`;
  } else {
    text = `${stopped} It was disconnected (\`drbdadm disconnect\` or a failed handler); \`drbdadm connect ${r}\` resumes replication.`;
  }
  out.open(problemKey('standalone', change), { kind: 'standalone', since: change.at, value: 'StandAlone' });
  out.say('standalone', 'critical', change, text, change.at, { ...details, afterSplitBrain, afterHandshake });
}

/** Close the connection's problems and say for how long it was down, if anyone was told it was. */
function restoreConnection(
  out: Outcome,
  loc: FieldChange,
  where: string,
  details: Record<string, DetailValue>,
): void {
  const connLoc = { host: loc.host, resource: loc.resource, ...peerOf(loc) };
  const lost = out.close(problemKey('connection', connLoc));
  const standAlone = out.close(problemKey('standalone', connLoc));
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

// ─── Replication ────────────────────────────────────────────────────────────────────────────────

const PAUSE_REASONS: Record<string, { text: (host: string, peer: string, r: string) => string }> = {
  user: {
    text: (host, _peer, r) =>
      `paused by an administrator on ${host} (\`drbdadm pause-sync\`); \`drbdadm resume-sync ${r}\` continues it`,
  },
  peer: {
    text: (_host, peer) => `paused on ${peer} (pause-sync or a resync-after dependency there)`,
  },
  dependency: {
    text: () => 'waiting for the resync of the resource it depends on (resync-after) to finish',
  },
  'max-parallel': {
    text: () => 'waiting until fewer resyncs run at the same time',
  },
};

function evaluateReplication(ctx: Context, change: FieldChange, details: Record<string, DetailValue>): void {
  const { out, after, before, where } = ctx;
  const now = change.new ?? '';
  const old = change.old;
  const peer = change.peer ?? '';
  const volume = change.volume ?? 0;
  const connection = after.resources[change.resource]?.connections[peer];
  const peerDevice = connection?.peerDevices[volume];
  if (replicates(now) && connection?.fields.connection === 'Connected') {
    restoreConnection(out, change, where, { peer });
  }

  // The resync that follows initial-split-brain is the after-sb policy's resolution: from the first
  // resync state on, the direction (who is overwritten) is decided.
  if (isResyncing(now) || (now === 'Established' && isResyncing(old)))
    resolvedSplitBrain(ctx, change, details);

  // Verify: blocks it found out of sync stay so until a resync.
  const outOfSyncKey = problemKey('out-of-sync', change);
  if (isResyncing(now) || isVerifying(now) || !replicates(now)) out.close(outOfSyncKey);
  if (isVerifying(old) && now === 'Established' && (numberOf(peerDevice?.fields['out-of-sync']) ?? 0) > 0) {
    verifyFoundOutOfSync(ctx, change, { peer, volume });
  }

  // Congestion (on-congestion pull-ahead).
  const congestionKey = problemKey('congestion', change);
  if (isCongested(now) && !isCongested(old)) {
    out.open(congestionKey, { kind: 'ahead-behind', since: change.at, value: now });
    out.say(
      'ahead-behind',
      'warning',
      change,
      now === 'Ahead'
        ? `${where}: ${change.host} is Ahead of ${peer}: the replication link is congested (on-congestion pull-ahead), so ` +
            `DRBD stopped sending writes to ${peer} and only records them as out of sync. ${peer}'s disk is not current and ` +
            `must not be promoted until DRBD resyncs it, automatically, once the link keeps up.`
        : `${where}: ${change.host} is Behind ${peer}: the replication link is congested (on-congestion pull-ahead), so ` +
            `${change.host}'s disk is Outdated and must not be promoted until the automatic resync from ${peer} catches up.`,
      change.at,
      { ...details, congested: true },
    );
  } else if (!isCongested(now)) {
    out.close(congestionKey);
  }

  // Resync start and end.
  const resyncKey = problemKey('resync', change);
  if (isResyncing(now)) {
    // A peer device created in a resync state (8.4 after connect) starts one too.
    if (out.problems[resyncKey] === undefined && !isResyncing(old)) {
      const progress = peerDevice?.resync;
      out.open(resyncKey, { kind: 'resync-started', since: change.at, value: now });
      const source = isResyncSource(now);
      const size = progress?.initialOutOfSyncKiB;
      out.say(
        'resync-started',
        'info',
        change,
        `${where}: resync ${out.startup ? 'running' : 'started'}, ${source ? `${change.host} → ${peer}` : `${peer} → ${change.host}`}` +
          // Before the bitmaps are exchanged (WFBitMapS/T) the counter may still read 0.
          (size === undefined || size === 0 ? '' : `, ${formatKiB(size)} out of sync`) +
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
    }
  } else {
    const problem = out.close(resyncKey);
    if (problem !== undefined && now === 'Established') {
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
  }

  // Paused resyncs (resync-suspended: user, peer, dependency, max-parallel).
  const pausedKey = problemKey('paused', change);
  if (isPausedSync(now) && out.problems[pausedKey] === undefined) {
    const reasons = flagList(peerDevice?.fields['resync-suspended']);
    const parts = reasons.map((r) => PAUSE_REASONS[r] ?? { text: () => `paused (reason "${r}")` });
    // A pause by design (resync-after, max-parallel) needs nobody; the peer then usually shows the
    // same dependency as `peer`. A pause an administrator left behind (`user`), or one whose only
    // sign is the peer's, may need someone to resume it.
    const byDesign = reasons.includes('dependency') || reasons.includes('max-parallel');
    const severity: Severity = reasons.includes('user') || !byDesign ? 'warning' : 'info';
    out.open(pausedKey, { kind: 'resync-paused', since: change.at, value: reasons.join(',') });
    out.say(
      'resync-paused',
      severity,
      change,
      `${where}: the resync with ${peer} is paused` +
        (parts.length === 0
          ? '.'
          : `: ${parts.map((p) => p.text(change.host, peer, change.resource)).join('; ')}.`) +
        ` The ${isResyncSource(now) ? 'peer' : 'local'} disk stays unusable until it completes.`,
      change.at,
      { ...details, reasons: reasons.join(',') },
    );
  } else if (!isPausedSync(now)) {
    const paused = out.close(pausedKey);
    if (paused !== undefined && isSyncing(now)) {
      out.say(
        'resync-resumed',
        'info',
        change,
        `${where}: the resync with ${peer} continues after a pause of ${formatDuration(change.at - paused.since)}.`,
        change.at,
        { ...details, pausedMs: change.at - paused.since },
      );
    }
  }

  // The split-brain (resolved or not) is over once the peer device replicates normally again.
  if (now === 'Established') out.close(connectionKey('split-brain', change));

  // A resync or Behind that explained a degraded local disk is over without making it UpToDate.
  if (capsLocalDisk(old) && !capsLocalDisk(now)) recheckLocalDisks(ctx, change, volume);
}

// ─── Disks ──────────────────────────────────────────────────────────────────────────────────────

/** Some peer device of this volume puts the local disk below UpToDate by its replication state. */
function localDiskExplained(resource: ResourceState | undefined, volume: number): boolean {
  if (resource === undefined) return false;
  return Object.values(resource.connections).some(
    (c) => c.fields.connection === 'Connected' && capsLocalDisk(c.peerDevices[volume]?.fields.replication),
  );
}

function diskMeaning(disk: string): string {
  switch (disk) {
    case 'Outdated':
      return 'the data is known to be older than the peer; it must not be promoted.';
    case 'Inconsistent':
      return 'the data is partly written (resync needed); it must not be promoted.';
    default:
      return 'the data may not be current; it must not be promoted before a resync.';
  }
}

/** The DRBD 9 stream shows `client:` on every device; DRBD 8.4 (drbdsetup-84) never does. */
function distinguishesDetach(resource: ResourceState | undefined, volume: number): boolean {
  return resource?.devices[volume]?.fields.client !== undefined;
}

/** Copies of the data that remain when this node's disk is gone: the UpToDate peers. */
function lossSeverity(remaining: readonly string[]): Severity {
  return remaining.length >= 2 ? 'warning' : 'critical';
}

function evaluateLocalDisk(ctx: Context, change: FieldChange, details: Record<string, DetailValue>): void {
  const { out, resource } = ctx;
  const now = change.new ?? '';
  const old = change.old;
  const volume = change.volume ?? 0;
  const health = diskHealth(now);
  const key = problemKey('disk', change);
  const subject = `${ctx.on}: disk`;

  if (health === 'healthy') {
    diskBackToUpToDate(out, 'disk-restored', key, change, subject, details);
    return;
  }
  if (health === 'transient') return;
  const announced = out.problems[key];

  if (health === 'lost') {
    // An intentionally diskless client (a quorum tiebreaker) is healthy without a disk.
    if (now === 'Diskless' && resource?.devices[volume]?.fields.client === 'yes') return;
    // drbdadm up creates devices Diskless before it attaches them.
    if (old === undefined && now === 'Diskless' && !out.startup) return;
    // Failed → Diskless is the detach that follows a failure: one loss, announced once.
    if (announced !== undefined && diskHealth(announced.value) === 'lost') return;
    const remaining = uptodatePeers(resource);
    let cause: string;
    let severity: Severity;
    let text: string;
    const elsewhere =
      remaining.length === 0
        ? 'no connected peer has UpToDate data, so I/O to it fails or freezes (on-no-data-accessible).'
        : `I/O goes over the network to ${list(remaining)}` +
          (remaining.length >= 2
            ? ', which still hold current copies (redundancy reduced).'
            : ', the only copy left.');
    if (now === 'Failed' || (old === 'Failed' && announced === undefined)) {
      if (distinguishesDetach(resource, volume)) {
        cause = 'failed';
        severity = lossSeverity(remaining);
        text = `${subject} is Failed: the backing device returned an I/O error and DRBD detached it; ${elsewhere}`;
      } else {
        cause = 'failed-or-detached';
        severity = lossSeverity(remaining);
        text =
          `${subject} is Failed: DRBD detached the backing device after an I/O error (or a \`drbdadm detach\`, which ` +
          `DRBD 8.4 reports the same way; the kernel log tells them apart); ${elsewhere}`;
      }
    } else if (old === 'Detaching' && !isAttaching(resource?.devices[volume]?.detachingFrom)) {
      cause = 'detached';
      severity = 'warning';
      text = `${subject} was detached on purpose (\`drbdadm detach\` or \`down\`): ${change.host} holds no local copy now; ${elsewhere}`;
    } else if (isAttaching(old) || old === 'Detaching') {
      cause = 'attach-failed';
      severity = 'warning';
      text = `${subject}: attaching the backing device failed (see the kernel log: size, meta-data, permissions); it stays Diskless.`;
    } else {
      cause = 'diskless';
      severity = lossSeverity(remaining);
      text = `${subject} is ${now}: no local backing device; ${elsewhere}`;
    }
    out.open(key, { kind: 'disk-degraded', since: announced?.since ?? change.at, value: now });
    out.say('disk-degraded', severity, change, text, change.at, {
      ...details,
      cause,
      remainingReplicas: remaining.join(','),
    });
    return;
  }

  // Outdated, Inconsistent, Consistent.
  if (announced !== undefined && announced.value === now) return;
  // A resync target (WFBitMapT, WFSyncUUID …: capped at Outdated, then Inconsistent) or a node that
  // is Behind: resync-started and ahead-behind say so.
  if (localDiskExplained(resource, volume)) return;
  // With a peer connected, the replication state that explains it arrives in the peer-device line of
  // the same state change, which DRBD prints after the device line; if nothing explains it after all,
  // recheckLocalDisks reports it when that explanation ends or the connection goes.
  if (!out.startup && anyConnected(resource)) return;
  // A disk just attached that is Inconsistent: a new resource before its initial sync, or an
  // interrupted one; the resync reports it when a peer connects.
  if (isAttaching(old) && now === 'Inconsistent') return;
  if (old === undefined && !out.startup) return;
  // fence-peer answered "peer is Primary" and this node outdated itself: the fencing notice says so.
  const selfOutdated =
    now === 'Outdated' &&
    Object.values(resource?.connections ?? {}).some(
      (c) => c.fence?.exitCode === 6 && c.fields.connection !== 'Connected',
    );
  out.open(key, { kind: 'disk-degraded', since: announced?.since ?? change.at, value: now });
  if (selfOutdated) return;
  out.say(
    'disk-degraded',
    'warning',
    change,
    `${subject} is ${now}${old === undefined || out.startup || isAttaching(old) ? '' : ` (was ${old})`}: ${diskMeaning(now)}`,
    change.at,
    details,
  );
}

/**
 * Announce degraded local disks that nothing explains any more: after a resync target lost its
 * connection, its disk stays Inconsistent, and that must not go unsaid.
 */
function recheckLocalDisks(ctx: Context, loc: Location & { at: number }, volume: number | undefined): void {
  const { out, resource } = ctx;
  if (resource === undefined || anyConnected(resource)) return;
  for (const device of Object.values(resource.devices)) {
    if (volume !== undefined && device.volume !== volume) continue;
    const disk = device.fields.disk;
    if (diskHealth(disk) !== 'degraded' || disk === undefined) continue;
    const devLoc = { host: loc.host, resource: loc.resource, volume: device.volume };
    const key = problemKey('disk', devLoc);
    if (out.problems[key] !== undefined) continue;
    out.open(key, { kind: 'disk-degraded', since: loc.at, value: disk });
    out.say(
      'disk-degraded',
      'warning',
      devLoc,
      `${label(resource, devLoc)} on ${loc.host}: disk is ${disk} and no peer is connected to bring it up to date: ${diskMeaning(disk)}`,
      loc.at,
      { field: 'disk', new: disk, volume: device.volume },
    );
  }
}

function evaluatePeerDisk(ctx: Context, change: FieldChange, details: Record<string, DetailValue>): void {
  const { out, resource, where } = ctx;
  const now = change.new ?? '';
  const old = change.old;
  const peer = change.peer ?? '';
  const health = diskHealth(now);
  const key = problemKey('peer-disk', change);
  const subject = `${where}: peer ${peer}'s disk`;
  const connection = resource?.connections[peer];
  const peerDevice = connection?.peerDevices[change.volume ?? 0];

  if (health === 'healthy') {
    diskBackToUpToDate(out, 'peer-disk-restored', key, change, subject, details);
    return;
  }
  if (health === 'transient') return;
  // While disconnected the peer's disk is DRBD's bookkeeping (DUnknown, or what fencing set),
  // reported by connection-lost and the fencing notice.
  if (connection?.fields.connection !== 'Connected') return;
  // The handshake has not decided yet; a resync or a StandAlone follows.
  if (!replicates(peerDevice?.fields.replication)) return;
  // A resync source or an Ahead node caps the peer's disk; resync-started / ahead-behind say so.
  if (capsPeerDisk(peerDevice?.fields.replication)) return;
  const announced = out.problems[key];

  if (health === 'lost') {
    if (now === 'Diskless' && peerDevice?.fields['peer-client'] === 'yes') return;
    if (old === undefined && now === 'Diskless' && !out.startup) return;
    if (announced !== undefined && diskHealth(announced.value) === 'lost') return;
    const remaining = [
      ...(resource !== undefined && Object.values(resource.devices).every((d) => d.fields.disk === 'UpToDate')
        ? [change.host]
        : []),
      ...uptodatePeers(resource, peer),
    ];
    const copies =
      remaining.length === 0
        ? 'no UpToDate copy of the data is reachable.'
        : remaining.length === 1
          ? `${list(remaining)} holds the only current copy, and writes are not replicated to a second disk.`
          : `redundancy reduced: ${list(remaining)} still hold current copies.`;
    let cause: string;
    let severity: Severity;
    let text: string;
    if (old === 'Detaching') {
      cause = 'detached';
      severity = 'warning';
      text = `${subject} was detached on purpose (\`drbdadm detach\` on ${peer}): ${copies}`;
    } else if (isAttaching(old)) {
      cause = 'attach-failed';
      severity = 'warning';
      text = `${subject}: attaching it on ${peer} failed; ${peer} stays Diskless.`;
    } else {
      cause = now === 'Failed' || old === 'Failed' ? 'failed' : 'diskless';
      severity = lossSeverity(remaining);
      text = `${subject} is ${now}${cause === 'failed' ? ` (an I/O error on ${peer}, or a detach there)` : ''}: ${copies}`;
    }
    out.open(key, { kind: 'peer-disk-degraded', since: announced?.since ?? change.at, value: now });
    out.say('peer-disk-degraded', severity, change, text, change.at, {
      ...details,
      cause,
      remainingReplicas: remaining.join(','),
    });
    return;
  }

  if (announced !== undefined && announced.value === now) return;
  if (old === undefined && !out.startup) return;
  // Connected without a resync although neither disk is UpToDate: nobody holds current data, which
  // is a new resource before its initial sync (or a loss the local disk's notice already reports).
  if (resource?.devices[change.volume ?? 0]?.fields.disk !== 'UpToDate') return;
  out.open(key, { kind: 'peer-disk-degraded', since: announced?.since ?? change.at, value: now });
  out.say(
    'peer-disk-degraded',
    'warning',
    change,
    `${subject} is ${now}${old === undefined || out.startup ? '' : ` (was ${old})`}: ${diskMeaning(now)}`,
    change.at,
    details,
  );
}

// ─── Start-up ───────────────────────────────────────────────────────────────────────────────────

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
      object: FieldChange['object'],
      field: string,
      value: string | undefined,
      loc: Location,
      old: string,
    ): FieldChange | undefined =>
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
      const connection = synth('connection', 'connection', conn.fields.connection, loc, 'Connected');
      if (connection !== undefined && connection.new !== 'Connected') changes.push(connection);
      for (const pd of Object.values(conn.peerDevices)) {
        const pdLoc = { ...loc, volume: pd.volume };
        const replication = synth('peer-device', 'replication', pd.fields.replication, pdLoc, 'Established');
        if (replication !== undefined && (isResyncing(replication.new) || isCongested(replication.new)))
          changes.push(replication);
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
