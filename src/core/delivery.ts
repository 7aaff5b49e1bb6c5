// What the outbox sends next on one channel, and how a burst is folded. Pure: the outbox store and
// the sender loop (src/adapters/outbox.ts) do the I/O.
//
// Rules, in order:
// - urgent entries (critical, and not a thread reply) go first: an alert is never queued behind
//   info traffic; otherwise entries go in the order they were written (per resource, in order);
// - an edit of an incident's parent only matters in its latest form: older edits are dropped;
// - a reply or update waits for its incident's parent to be posted on this channel;
// - when several non-urgent messages for the same thread (or the same resource, outside threads)
//   are waiting, they are folded into one summary that counts every change.

import type { PlatformName } from '../ports/chat.js';
import type { Message } from './message.js';
import { type AlertKind, type Severity, worseSeverity } from './notification.js';

export type DeliveryOp = 'open' | 'reply' | 'update-parent' | 'post';

export interface OutboxEntry {
  /** Zero-padded sequence number: the write order. */
  readonly id: string;
  /** Idempotency key: a retried post of this entry must not appear twice. */
  readonly key: string;
  readonly platform: PlatformName;
  readonly channel: string;
  readonly op: DeliveryOp;
  readonly incidentKey?: string;
  readonly message: Message;
  readonly resource: string | null;
  readonly severity: Severity;
  readonly urgent: boolean;
  /** How many notifications this entry accounts for, per kind (a folded summary has many). */
  readonly kinds: Readonly<Partial<Record<AlertKind, number>>>;
  readonly changes: number;
  readonly createdAt: number;
  readonly attempts: number;
  /** A send was started: after a crash the platform is asked whether it arrived. */
  readonly sending?: boolean;
  /**
   * Ids of the entries folded into this one. They are deleted after this entry is written; if a
   * crash comes in between, loading drops them again instead of counting them twice.
   */
  readonly absorbed?: readonly string[];
}

export function isUrgent(severity: Severity, op: DeliveryOp): boolean {
  return severity === 'critical' && op !== 'reply';
}

export type Choice =
  | { readonly type: 'send'; readonly entry: OutboxEntry; readonly drop: readonly OutboxEntry[] }
  | {
      readonly type: 'fold';
      /** The entries merged, in order; the summary takes the first one's place. */
      readonly merged: readonly OutboxEntry[];
      readonly summary: OutboxEntry;
    }
  | { readonly type: 'orphan'; readonly entry: OutboxEntry }
  | { readonly type: 'idle' };

/** A thread key for folding: replies of one incident, or loose posts about one resource. */
function foldGroup(e: OutboxEntry): string | undefined {
  // An entry whose send may have gone through is settled first, never folded.
  if (e.urgent || e.sending === true) return undefined;
  if (e.op === 'reply') return `reply:${e.incidentKey ?? ''}`;
  if (e.op === 'post') return `post:${e.resource ?? ''}`;
  return undefined;
}

/**
 * Pick the next action for one channel. `entries` are that channel's entries in id order;
 * `hasParent(incidentKey)` tells whether the incident's parent message exists on this channel.
 */
export function chooseNext(
  entries: readonly OutboxEntry[],
  hasParent: (incidentKey: string) => boolean,
): Choice {
  const ready = entries.filter((e) => {
    if (e.op !== 'reply' && e.op !== 'update-parent') return true;
    const key = e.incidentKey ?? '';
    // Waits while its parent is still queued; an orphan (parent never posted) is handled below.
    return hasParent(key) || !entries.some((o) => o.op === 'open' && o.incidentKey === key);
  });
  const candidate = ready.find((e) => e.urgent) ?? ready[0];
  if (candidate === undefined) return { type: 'idle' };

  if (
    (candidate.op === 'reply' || candidate.op === 'update-parent') &&
    !hasParent(candidate.incidentKey ?? '')
  ) {
    return { type: 'orphan', entry: candidate };
  }

  if (candidate.op === 'update-parent') {
    const edits = ready.filter((e) => e.op === 'update-parent' && e.incidentKey === candidate.incidentKey);
    const latest = edits.at(-1) ?? candidate;
    return { type: 'send', entry: latest, drop: edits.filter((e) => e !== latest) };
  }

  const group = foldGroup(candidate);
  if (group !== undefined) {
    const same = ready.filter((e) => foldGroup(e) === group);
    if (same.length > 1) return { type: 'fold', merged: same, summary: summarise(same) };
  }
  return { type: 'send', entry: candidate, drop: [] };
}

/** How many of the folded messages are quoted in the summary; the rest are counted. */
const QUOTED = 8;

/** One message standing for several: every change counted, the first few quoted. */
export function summarise(entries: readonly OutboxEntry[]): OutboxEntry {
  const first = entries[0];
  if (first === undefined) throw new Error('summarise needs at least one entry');
  const kinds: Partial<Record<AlertKind, number>> = {};
  let changes = 0;
  let severity: Severity = 'info';
  for (const e of entries) {
    changes += e.changes;
    severity = worseSeverity(severity, e.severity);
    for (const [kind, n] of Object.entries(e.kinds) as [AlertKind, number][])
      kinds[kind] = (kinds[kind] ?? 0) + n;
  }
  const tally = (Object.entries(kinds) as [AlertKind, number][])
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind} ×${n}`)
    .join(', ');
  const quoted = entries
    .slice(0, QUOTED)
    .map((e) => `• ${e.message.title}${e.message.body === undefined ? '' : `: ${e.message.body}`}`);
  const rest = entries.length - quoted.length;
  const last = entries.at(-1) ?? first;
  const message: Message = {
    title: `${first.resource === null ? '' : `${first.resource}: `}${changes} changes`,
    tone: severity,
    ...(first.message.host === undefined ? {} : { host: first.message.host }),
    resource: first.resource,
    body: [
      ...quoted,
      ...(rest > 0 ? [`… and ${rest} more message${rest === 1 ? '' : 's'}`] : []),
      `Counted: ${tally}`,
    ].join('\n'),
    ...(first.incidentKey === undefined ? {} : { incidentKey: first.incidentKey }),
    ...(last.message.at === undefined ? {} : { at: last.message.at }),
  };
  return {
    ...first,
    key: `${first.key}+${entries.length}`,
    message,
    severity,
    kinds,
    changes,
    attempts: 0,
    // Only the direct ones: earlier summaries' absorbed entries were deleted (or dropped on load).
    absorbed: entries.slice(1).map((e) => e.id),
  };
}

/** Entries that a summary absorbed but that a crash left behind: drop them on load. */
export function withoutAbsorbed(entries: readonly OutboxEntry[]): {
  keep: OutboxEntry[];
  stale: OutboxEntry[];
} {
  const absorbed = new Set(entries.flatMap((e) => e.absorbed ?? []));
  return {
    keep: entries.filter((e) => !absorbed.has(e.id)),
    stale: entries.filter((e) => absorbed.has(e.id)),
  };
}
