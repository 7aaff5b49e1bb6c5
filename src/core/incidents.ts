// Incidents: one per resource and problem, so a flapping link is one conversation instead of a
// channel flood. The first notification of a problem opens the incident (a parent message, posted at
// once); everything after it is a thread reply, and the parent is edited in place to show the
// current state; the problem's end resolves it (the parent turns green with the duration). A problem
// that comes back soon after it ended reopens the same incident. The bot's own blindness on a host
// (its DRBD event stream down, core/stream-health.ts) is an incident of that host, threaded the same
// way. Pure: state in, state and deliveries out.

import type { Message, MessageField, Tone } from './message-tones.js';
import { type AlertKind, type Notification, type Severity, worseSeverity } from './notification.js';
import { formatDuration, splitBrainRecovery } from './rules.js';

export type IncidentFamily = 'connection' | 'disk' | 'resync' | 'quorum' | 'io' | 'stream';

/** Which kinds open or continue an incident, and which end it. */
const OPENS: Partial<Record<AlertKind, IncidentFamily>> = {
  'connection-lost': 'connection',
  standalone: 'connection',
  'split-brain': 'connection',
  'dual-primary': 'connection',
  'disk-degraded': 'disk',
  'peer-disk-degraded': 'disk',
  'resync-started': 'resync',
  // A congested link and a paused resync are part of the resync story; resync-finished ends it.
  'ahead-behind': 'resync',
  'resync-paused': 'resync',
  'resync-resumed': 'resync',
  'quorum-lost': 'quorum',
  suspended: 'io',
};

const RESOLVES: Partial<Record<AlertKind, IncidentFamily>> = {
  'connection-restored': 'connection',
  'disk-restored': 'disk',
  'peer-disk-restored': 'disk',
  'resync-finished': 'resync',
  'quorum-restored': 'quorum',
  resumed: 'io',
};

export const INCIDENT_TITLES = {
  connection: 'Replication link',
  disk: 'Disk',
  resync: 'Resync',
  quorum: 'Quorum',
  io: 'I/O suspended',
  stream: 'DRBD event stream',
} as const satisfies Record<IncidentFamily, string>;

/** A problem that returns within this time after it ended reopens the same incident. */
export const REOPEN_WINDOW_MS = 10 * 60_000;

export interface Incident {
  readonly key: string;
  /** The resource; for an incident of a whole host (`scope: 'host'`), the host's name. */
  readonly resource: string;
  /** About a host, not a resource: the bot cannot see DRBD there. */
  readonly scope?: 'host';
  readonly family: IncidentFamily;
  readonly openedAt: number;
  /** Set while resolved; a reopen clears it. */
  readonly resolvedAt?: number;
  /** The worst severity seen while open (a resync is info; a split-brain is critical). */
  readonly severity: Severity;
  readonly latest: Notification;
  /** Notifications that belong to it, the first included. */
  readonly changes: number;
  readonly reopened: number;
  /** Hosts that reported it. */
  readonly hosts: readonly string[];
  /** A split-brain was seen while it was open: the title keeps saying so until it is resolved. */
  readonly splitBrain?: boolean;
}

export type Incidents = Readonly<Record<string, Incident>>;

/** What to do in chat for one notification. */
export type Delivery =
  | { readonly op: 'open'; readonly incidentKey: string; readonly message: Message }
  | { readonly op: 'reply'; readonly incidentKey: string; readonly message: Message }
  | { readonly op: 'update-parent'; readonly incidentKey: string; readonly message: Message }
  | { readonly op: 'post'; readonly message: Message };

export const KIND_TITLES = {
  'split-brain': 'Split-brain',
  'split-brain-resolved': 'Split-brain resolved by DRBD',
  standalone: 'Connection StandAlone',
  'connection-lost': 'Connection lost',
  'connection-restored': 'Connection restored',
  'role-changed': 'Role changed',
  'dual-primary': 'Primary on both hosts',
  'disk-degraded': 'Disk degraded',
  'disk-restored': 'Disk restored',
  'peer-disk-degraded': "Peer's disk degraded",
  'peer-disk-restored': "Peer's disk restored",
  'resync-started': 'Resync started',
  'resync-finished': 'Resync finished',
  'resync-paused': 'Resync paused',
  'resync-resumed': 'Resync resumed',
  'ahead-behind': 'Replication congested (Ahead/Behind)',
  'out-of-sync': 'Verify found out-of-sync blocks',
  'quorum-lost': 'Quorum lost',
  'quorum-restored': 'Quorum restored',
  suspended: 'I/O suspended',
  resumed: 'I/O resumed',
  'helper-failed': 'Handler failed',
  fencing: 'Peer fencing',
  'primary-lost': 'Primary lost its data',
  'resource-added': 'Resource added',
  'resource-removed': 'Resource removed',
  'watcher-gap': 'Event stream gap',
} as const satisfies Record<AlertKind, string>;

/** A single notification as a message (a thread reply, or a message of its own). */
export function notificationMessage(n: Notification, incidentKey?: string): Message {
  const resource = n.resource === null ? '' : `${n.resource}: `;
  return {
    title: `${resource}${KIND_TITLES[n.kind]}`,
    tone: n.severity,
    host: n.host,
    resource: n.resource,
    body: n.text,
    at: n.at,
    ...(incidentKey === undefined ? {} : { incidentKey }),
  };
}

/** What an open incident is about: a split-brain stays the headline whatever follows it. */
function headline(incident: Incident): string {
  if (incident.family === 'stream') return 'not seen';
  const latest = KIND_TITLES[incident.latest.kind];
  if (incident.splitBrain !== true || incident.latest.kind === 'split-brain') return latest;
  return `${KIND_TITLES['split-brain']} (now ${latest})`;
}

/** The bot's own way out of a split-brain: a planned, approved recovery. */
function botRecovery(resource: string): string {
  return (
    `With the bot: \`containers ${resource}\` shows what runs on each side; then ` +
    `\`splitbrain ${resource} victim <host>\` plans the recovery (the victim's changes are discarded) and asks for approval.`
  );
}

/**
 * What a person must know while a split-brain is open, whatever was reported after it: the parent
 * message is what people read, and the split-brain notification itself may be folded in a thread.
 */
function splitBrainGuide(resource: string): string {
  return `Split-brain: both sides changed data while disconnected. ${botRecovery(resource)} By hand: ${splitBrainRecovery(resource)}`;
}

/** The parent message of an incident, showing its current state. */
export function incidentMessage(incident: Incident, now: number): Message {
  const resolved = incident.resolvedAt !== undefined;
  const duration = formatDuration((incident.resolvedAt ?? now) - incident.openedAt);
  const fields: MessageField[] = [
    { label: 'Status', value: resolved ? `resolved after ${duration}` : `open for ${duration}`, short: true },
    { label: 'Changes', value: String(incident.changes), short: true },
    { label: 'Reported by', value: incident.hosts.join(', '), short: true },
  ];
  if (incident.reopened > 0) fields.push({ label: 'Reopened', value: `${incident.reopened}×`, short: true });
  const tone: Tone = resolved ? 'resolved' : incident.severity;
  return {
    title: `${incident.resource}: ${INCIDENT_TITLES[incident.family]} — ${resolved ? 'resolved' : headline(incident)}`,
    tone,
    host: incident.latest.host,
    ...(incident.scope === 'host' ? {} : { resource: incident.resource }),
    body: resolved
      ? `Healthy again: ${incident.latest.text}`
      : incident.splitBrain === true && incident.latest.kind !== 'split-brain'
        ? `${incident.latest.text}\n${splitBrainGuide(incident.resource)}`
        : `${incident.latest.text}${incident.latest.kind === 'split-brain' ? `\n${botRecovery(incident.resource)}` : ''}`,
    fields,
    incidentKey: incident.key,
    at: incident.latest.at,
  };
}

export interface IncidentStep {
  readonly incidents: Incidents;
  readonly deliveries: readonly Delivery[];
}

/** The DRBD resource an incident is about; null for a host's own (its event stream). */
export function incidentResource(incident: Incident): string | null {
  return incident.scope === 'host' ? null : incident.resource;
}

/** The incident a notification belongs to, keyed per resource and problem family. */
export function incidentKeyFor(resource: string, family: IncidentFamily): string {
  return `${resource}/${family}`;
}

/** The incident of a host the bot cannot see (apart from any resource's, whatever their names). */
export function hostIncidentKey(host: string): string {
  return `host:${host}/stream`;
}

/**
 * The problem a notification opens, continues or ends, if any: its family, what it is about and
 * whether it ends it. A stream outage (watcher-gap with `details.stream`) is its host's; the watcher's
 * own gap reports (a restart that missed changes) stand alone.
 */
function problemOf(
  n: Notification,
): { family: IncidentFamily; subject: string; key: string; ends: boolean; host?: true } | undefined {
  if (n.kind === 'watcher-gap') {
    const stream = n.details.stream;
    if (stream !== 'down' && stream !== 'still-down' && stream !== 'back') return undefined;
    return {
      family: 'stream',
      subject: n.host,
      key: hostIncidentKey(n.host),
      ends: stream === 'back',
      host: true,
    };
  }
  const opens = OPENS[n.kind];
  const family = opens ?? RESOLVES[n.kind];
  if (n.resource === null || family === undefined) return undefined;
  return { family, subject: n.resource, key: incidentKeyFor(n.resource, family), ends: opens === undefined };
}

/**
 * Route one notification through the incidents. `now` is the notification's time in ms.
 */
export function applyNotification(incidents: Incidents, n: Notification): IncidentStep {
  const now = Date.parse(n.at);
  const problem = problemOf(n);
  if (problem === undefined) return followUp(incidents, n);
  const { family, key } = problem;
  const current = incidents[key];
  const hosts = current === undefined ? [n.host] : [...new Set([...current.hosts, n.host])];

  if (!problem.ends) {
    if (
      current === undefined ||
      (current.resolvedAt !== undefined && now - current.resolvedAt > REOPEN_WINDOW_MS)
    ) {
      const incident: Incident = {
        key,
        resource: problem.subject,
        ...(problem.host === true ? { scope: 'host' as const } : {}),
        family,
        openedAt: now,
        severity: n.severity,
        latest: n,
        changes: 1,
        reopened: 0,
        hosts,
        ...(n.kind === 'split-brain' ? { splitBrain: true } : {}),
      };
      return {
        incidents: { ...incidents, [key]: incident },
        deliveries: [{ op: 'open', incidentKey: key, message: incidentMessage(incident, now) }],
      };
    }
    const reopening = current.resolvedAt !== undefined;
    const { resolvedAt: _r, splitBrain: seen, ...rest } = current;
    const splitBrain = n.kind === 'split-brain' || (!reopening && seen === true);
    const incident: Incident = {
      ...rest,
      ...(splitBrain ? { splitBrain: true } : {}),
      ...(reopening ? { openedAt: now } : {}),
      severity: reopening ? n.severity : worseSeverity(current.severity, n.severity),
      latest: n,
      changes: current.changes + 1,
      reopened: current.reopened + (reopening ? 1 : 0),
      hosts,
    };
    return continueIncident(incidents, incident, n, now);
  }

  // A notification that ends a problem.
  if (current === undefined || current.resolvedAt !== undefined) {
    // Nobody was told about the problem (it started before the bot), so say it on its own.
    return { incidents, deliveries: [{ op: 'post', message: notificationMessage(n) }] };
  }
  const incident: Incident = {
    ...current,
    resolvedAt: now,
    latest: n,
    changes: current.changes + 1,
    hosts,
  };
  return continueIncident(incidents, incident, n, now);
}

/** A follow-up in the incident's thread, and its parent edited to the new state. */
function continueIncident(
  incidents: Incidents,
  incident: Incident,
  n: Notification,
  now: number,
): IncidentStep {
  return {
    incidents: { ...incidents, [incident.key]: incident },
    deliveries: [
      { op: 'reply', incidentKey: incident.key, message: notificationMessage(n, incident.key) },
      { op: 'update-parent', incidentKey: incident.key, message: incidentMessage(incident, now) },
    ],
  };
}

/**
 * Notifications that neither open nor end a problem (a role change, a failed handler …): a reply in
 * the resource's open incident when there is one, so the story stays in one thread; otherwise a
 * message of their own.
 */
function followUp(incidents: Incidents, n: Notification): IncidentStep {
  const open = Object.values(incidents)
    .filter((i) => i.scope !== 'host' && i.resource === n.resource && i.resolvedAt === undefined)
    .sort((a, b) => b.openedAt - a.openedAt)[0];
  if (open === undefined) return { incidents, deliveries: [{ op: 'post', message: notificationMessage(n) }] };
  const incident: Incident = { ...open, changes: open.changes + 1 };
  return {
    incidents: { ...incidents, [open.key]: incident },
    deliveries: [{ op: 'reply', incidentKey: open.key, message: notificationMessage(n, open.key) }],
  };
}

/** Forget incidents resolved longer ago than the reopen window, so the state stays small. */
export function pruneIncidents(incidents: Incidents, now: number): Incidents {
  return Object.fromEntries(
    Object.entries(incidents).filter(
      ([, i]) => i.resolvedAt === undefined || now - i.resolvedAt <= REOPEN_WINDOW_MS,
    ),
  );
}
