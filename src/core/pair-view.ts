// The pair view: both hosts report every change of the pair from their own side (a role swap is four
// notifications: each host its own role and its peer's; a lost link is lost on both ends), and the
// leader takes in both. Here those views are merged into pair-level changes, so the channel says
// once "r0 moved to beta: beta Primary, alpha Secondary" with each host's evidence in the details,
// instead of four "Role changed" messages. A change caused by an operation the bot runs (a failover,
// a split-brain recovery) is reported in that operation's thread. Pure: the notifier keeps the state
// (and the leader replicates it with the delivery record).

import type { Message, MessageField } from './message-tones.js';
import { type AlertKind, type Notification, type Severity, worseSeverity } from './notification.js';

/** What one pair-level change is about; two views of the same class and resource may be one change. */
export type PairClass =
  | 'role'
  | 'link-down'
  | 'link-up'
  | 'standalone'
  | 'split-brain'
  | 'split-brain-resolved'
  | 'dual-primary'
  | 'resync-start'
  | 'resync-end'
  | `disk-down:${string}`
  | `disk-up:${string}`;

/** One host's evidence: what it reported, as it reported it. */
export interface Evidence {
  readonly host: string;
  readonly kind: AlertKind;
  readonly severity: Severity;
  readonly text: string;
  readonly at: string;
  readonly key: string;
}

/** Where a change's message went, so the other host's view can amend that same message. */
export interface PairDelivery {
  /** `open`: the change opened an incident, its message is the incident's parent. */
  readonly op: 'open' | 'reply' | 'post';
  readonly incidentKey?: string;
  /** The channels it went to (`platform\u0000channel`). */
  readonly channels: readonly string[];
}

export interface PairChange {
  /** Names the change's message (OutboxEntry.ref) so amendments find it. */
  readonly key: string;
  readonly resource: string;
  readonly cls: PairClass;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly evidence: readonly Evidence[];
  /** Role changes: each host's role before and after, and who saw it. */
  readonly roles?: Readonly<
    Record<string, { readonly old: string | null; readonly now: string; readonly seenBy: readonly string[] }>
  >;
  readonly delivery?: PairDelivery;
}

export interface PairView {
  readonly changes: readonly PairChange[];
  readonly seq: number;
}

export const EMPTY_PAIR_VIEW: PairView = { changes: [], seq: 0 };

/**
 * How far apart two hosts' views of one change may be (by their event times). Both ends notice a lost
 * link within DRBD's ping timeout of each other; a role swap runs through a demotion, unmounting and
 * a promotion on the other host, which takes a failover's steps.
 */
const WINDOW_MS: Record<'role' | 'other', number> = { role: 60_000, other: 15_000 };
/** Changes older than this (or beyond this many) are forgotten. */
const KEEP_MS = 10 * 60_000;
const KEEP = 200;
const EVIDENCE = 8;

export function pairClass(n: Notification): PairClass | undefined {
  const peer = typeof n.details.peer === 'string' ? n.details.peer : undefined;
  switch (n.kind) {
    case 'role-changed':
      return 'role';
    case 'connection-lost':
      return 'link-down';
    case 'connection-restored':
      return 'link-up';
    case 'standalone':
      return 'standalone';
    case 'split-brain':
      return 'split-brain';
    case 'split-brain-resolved':
      return 'split-brain-resolved';
    case 'dual-primary':
      return 'dual-primary';
    case 'resync-started':
      return 'resync-start';
    case 'resync-finished':
      return 'resync-end';
    // A host's disk as that host sees it, and as its peer sees it: one fact.
    case 'disk-degraded':
      return `disk-down:${n.host}`;
    case 'disk-restored':
      return `disk-up:${n.host}`;
    case 'peer-disk-degraded':
      return peer === undefined ? undefined : `disk-down:${peer}`;
    case 'peer-disk-restored':
      return peer === undefined ? undefined : `disk-up:${peer}`;
    default:
      return undefined;
  }
}

/** The role fact a role-changed notification states: whose role, now what, before what. */
function roleFact(n: Notification): { subject: string; now: string; old: string | null } | undefined {
  const now = n.details.new;
  if (typeof now !== 'string') return undefined;
  const subject = typeof n.details.peer === 'string' ? n.details.peer : n.host;
  const old = typeof n.details.old === 'string' ? n.details.old : null;
  return { subject, now, old };
}

function evidenceOf(n: Notification, key: string): Evidence {
  return { host: n.host, kind: n.kind, severity: n.severity, text: n.text, at: n.at, key };
}

/** Can `n` be another view of `c`? */
function joins(c: PairChange, n: Notification, at: number): boolean {
  const window = c.cls === 'role' ? WINDOW_MS.role : WINDOW_MS.other;
  if (Math.abs(at - c.lastAt) > window) return false;
  if (c.cls === 'role') {
    const fact = roleFact(n);
    if (fact === undefined) return false;
    const known = c.roles?.[fact.subject];
    // A new host's role in the same swap, or the same fact seen from the other side.
    return known === undefined || (known.now === fact.now && !known.seenBy.includes(n.host));
  }
  // Symmetric changes: each host reports it once.
  return !c.evidence.some((e) => e.host === n.host);
}

export interface Observed {
  readonly view: PairView;
  /** The change the notification belongs to (undefined: not a pair-level kind). */
  readonly change: PairChange | undefined;
  /** True when it joined a change already reported (its message is to be amended, not a new one). */
  readonly amends: boolean;
}

/** Take one notification (its key is its notification key) into the pair view. */
export function observe(view: PairView, n: Notification, key: string): Observed {
  const cls = n.resource === null ? undefined : pairClass(n);
  if (cls === undefined || n.resource === null) return { view, change: undefined, amends: false };
  const at = Date.parse(n.at);
  const candidates = view.changes.filter(
    (c) => c.resource === n.resource && c.cls === cls && joins(c, n, at),
  );
  const closest = candidates.sort((a, b) => Math.abs(at - a.lastAt) - Math.abs(at - b.lastAt))[0];
  const fact = cls === 'role' ? roleFact(n) : undefined;
  const withRole = (roles: PairChange['roles']): PairChange['roles'] => {
    if (fact === undefined) return roles;
    const known = roles?.[fact.subject];
    return {
      ...roles,
      [fact.subject]: {
        old: known?.old ?? fact.old,
        now: fact.now,
        seenBy: [...new Set([...(known?.seenBy ?? []), n.host])],
      },
    };
  };
  let change: PairChange;
  let seq = view.seq;
  if (closest !== undefined) {
    const roles = withRole(closest.roles);
    change = {
      ...closest,
      lastAt: Math.max(closest.lastAt, at),
      evidence: [...closest.evidence, evidenceOf(n, key)].slice(-EVIDENCE),
      ...(roles === undefined ? {} : { roles }),
    };
  } else {
    seq += 1;
    const roles = withRole(undefined);
    change = {
      key: `pair:${n.resource}/${cls}#${seq}`,
      resource: n.resource,
      cls,
      firstAt: at,
      lastAt: at,
      evidence: [evidenceOf(n, key)],
      ...(roles === undefined ? {} : { roles }),
    };
  }
  const others = view.changes.filter((c) => c.key !== change.key && at - c.lastAt <= KEEP_MS);
  return {
    view: { changes: [...others, change].slice(-KEEP), seq },
    change,
    amends: closest !== undefined,
  };
}

/** Record where a change's message went. */
export function delivered(view: PairView, key: string, delivery: PairDelivery): PairView {
  return { ...view, changes: view.changes.map((c) => (c.key === key ? { ...c, delivery } : c)) };
}

/** The hosts whose view is in a change, in the order they reported. */
export function hostsOf(change: PairChange): string[] {
  return [...new Set(change.evidence.map((e) => e.host))];
}

const and = (items: readonly string[]) =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;

/** "r0 moved to beta: beta Primary, alpha Secondary" and the other shapes of a role change. */
export function roleTitle(change: PairChange): string {
  const roles = Object.entries(change.roles ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const r = change.resource;
  const primaries = roles.filter(([, v]) => v.now === 'Primary').map(([h]) => h);
  const list = [...roles]
    .sort(([, a], [, b]) => (a.now === 'Primary' ? 0 : 1) - (b.now === 'Primary' ? 0 : 1))
    .map(([h, v]) => `${h} ${v.now}`)
    .join(', ');
  if (primaries.length > 1) return `${r}: Primary on both ${and(primaries)}`;
  const [primary] = primaries;
  if (primary === undefined) return `${r}: no Primary (${list})`;
  const previous = roles.find(([h, v]) => h !== primary && v.old === 'Primary');
  return previous !== undefined ? `${r} moved to ${primary}: ${list}` : `${r}: ${list}`;
}

/** The worst severity any host reported for the change. */
export function pairSeverity(change: PairChange): Severity {
  return change.evidence.reduce<Severity>((s, e) => worseSeverity(s, e.severity), 'info');
}

/** Each host's evidence, as the details of the pair's message. */
export function evidenceFields(change: PairChange): MessageField[] {
  const byHost = new Map<string, string[]>();
  for (const e of change.evidence) byHost.set(e.host, [...(byHost.get(e.host) ?? []), e.text]);
  return [...byHost].map(([host, texts]) => ({ label: `Seen from ${host}`, value: texts.join('\n') }));
}

/**
 * The message of a change seen from more than one side, built on the message its first view got
 * (a notification's or an incident parent's): one title about the pair, each host's evidence.
 */
export function pairMessage(change: PairChange, base: Message): Message {
  const hosts = hostsOf(change);
  const title =
    change.cls === 'role'
      ? roleTitle(change)
      : hosts.length > 1
        ? `${base.title} (seen from ${and(hosts)})`
        : base.title;
  const tone =
    base.tone === 'resolved' || base.tone === 'ok'
      ? base.tone
      : worseSeverity(base.tone, pairSeverity(change));
  const fields = [
    ...(base.fields ?? []).filter((f) => !f.label.startsWith('Seen from ')),
    ...evidenceFields(change),
  ];
  const body = change.cls === 'role' ? undefined : base.body;
  const { body: _body, ...rest } = base;
  return {
    ...rest,
    title,
    tone,
    host: hosts.join(', '),
    ...(body === undefined ? {} : { body }),
    fields,
  };
}

// ─── Changes the bot causes ──────────────────────────────────────────────────────────────────────

/** An operation the bot runs or has just run, as far as the pair view needs it. */
export interface OperationWindow {
  readonly id: string;
  /** The command's name: failover, failover-force, splitbrain, ip-set … */
  readonly command: string;
  readonly resource: string | null;
  /** Its first step started (ms). */
  readonly from: number;
  /** It finished (ms); undefined while running. */
  readonly to: number | undefined;
  /** Where its plan message is. */
  readonly platform: string;
  readonly channel: string;
}

/** Its consequences still arriving after an operation finished (the other host's view, a resync). */
export const OPERATION_AFTERMATH_MS = 30_000;

/**
 * What each kind of operation changes on purpose. Anything else during it (a lost disk, I/O
 * suspended, a second Primary) is news, not a consequence, and alerts as usual.
 */
const CAUSES: Readonly<Record<string, readonly AlertKind[]>> = {
  failover: ['role-changed', 'connection-lost', 'connection-restored', 'resync-started', 'resync-finished'],
  splitbrain: [
    'role-changed',
    'standalone',
    'connection-lost',
    'connection-restored',
    'resync-started',
    'resync-finished',
    'split-brain-resolved',
    'disk-degraded',
    'disk-restored',
    'peer-disk-degraded',
    'peer-disk-restored',
  ],
  // Addresses of containers: nothing DRBD reports.
  'ip-set': [],
};

function causes(command: string): readonly AlertKind[] {
  return CAUSES[command] ?? (command.startsWith('failover') ? (CAUSES.failover ?? []) : []);
}

/** The operation a notification is a consequence of, if any (the latest one that fits). */
export function causedBy(
  n: Notification,
  operations: readonly OperationWindow[],
): OperationWindow | undefined {
  if (n.resource === null) return undefined;
  const at = Date.parse(n.at);
  return operations
    .filter(
      (op) =>
        op.resource === n.resource &&
        causes(op.command).includes(n.kind) &&
        at >= op.from - 1_000 &&
        (op.to === undefined || at <= op.to + OPERATION_AFTERMATH_MS),
    )
    .sort((a, b) => b.from - a.from)[0];
}
