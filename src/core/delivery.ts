// What the outbox sends next on one channel, and how a burst is folded. Pure: the outbox store and
// the sender loop (src/adapters/outbox.ts) do the I/O.
//
// Rules, in order:
// - a leadership announcement goes before everything: it tells the reader who speaks from here on;
// - urgent entries (critical, and not a thread reply) go first: an alert is never queued behind
//   info traffic; otherwise entries go in the order they were written (per resource, in order);
// - an edit of an incident's parent only matters in its latest form: older edits are dropped (what
//   they reported is carried by the latest); a parent not posted yet is posted in its latest form;
// - an incident's replies written before its latest parent edit go first, so a thread never gets
//   news after its parent already turned green;
// - a reply or update waits for its incident's parent to be posted on this channel;
// - a second host's view of a change already reported (an amendment) edits that message, or is
//   merged into it while it still waits here; only when it cannot be found does it go as a reply;
// - when several non-urgent messages for the same thread (or the same resource, outside threads)
//   are waiting, they are folded into one summary that counts every change, names the hosts it
//   counts and carries the incident's state at the time it is posted.

import type { PlatformName } from '../ports/chat.js';
import type { Message, Tone } from './message-tones.js';
import { type AlertKind, type Severity, worseSeverity } from './notification.js';
import { plural } from './text-format.js';

/**
 * `amend`: another host's view of a change an earlier message (named by `ref`) reported: that message
 * is edited (or, while it waits here, rewritten) to show both views.
 */
export type DeliveryOp = 'open' | 'reply' | 'update-parent' | 'post' | 'amend';

/** Where an amendment goes when the message it amends cannot be edited (it was folded, or is gone). */
export interface AmendFallback {
  readonly op: 'reply' | 'post';
  readonly incidentKey?: string;
  readonly message: Message;
}

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
  /**
   * The notifications (by notification key) this message reports once it is posted or edited: the
   * pair's delivery record counts them, so a new leader posts exactly what no message covers yet.
   */
  readonly covers?: readonly string[];
  /** A leadership announcement: sent before anything else on the channel. */
  readonly first?: boolean;
  /** A name for the message this entry posts, so a later amendment can find and edit it. */
  readonly ref?: string;
  /** The names of the messages folded into this summary (an amendment of one of them cannot edit it). */
  readonly refs?: readonly string[];
  /** For `amend`: what to post instead when the message cannot be edited. */
  readonly fallback?: AmendFallback;
  /** For `open`: post the incident's parent inside this thread (an operation's), not at the top. */
  readonly threadKey?: string;
  /** For a reply: its incident's state once this change is applied (what a summary shows). */
  readonly state?: Tone;
}

export function isUrgent(severity: Severity, op: DeliveryOp): boolean {
  return severity === 'critical' && op !== 'reply' && op !== 'amend';
}

/** What the platform knows about a named message on this channel. */
export type RefState = 'posted' | 'posted-summary' | undefined;

export type Choice =
  | { readonly type: 'send'; readonly entry: OutboxEntry; readonly drop: readonly OutboxEntry[] }
  | {
      readonly type: 'fold';
      /** The entries merged, in order; the summary takes the first one's place. */
      readonly merged: readonly OutboxEntry[];
      readonly summary: OutboxEntry;
    }
  /** Replace entries in place (same ids) and choose again: amendments that must be replies. */
  | { readonly type: 'rewrite'; readonly entries: readonly OutboxEntry[] }
  | { readonly type: 'orphan'; readonly entry: OutboxEntry }
  | { readonly type: 'idle' };

/** A thread key for folding: replies of one incident, or loose posts about one resource. */
function foldGroup(e: OutboxEntry): string | undefined {
  // An entry whose send may have gone through is settled first, never folded; an announcement is a
  // message of its own.
  if (e.urgent || e.sending === true || e.first === true) return undefined;
  if (e.op === 'reply') return `reply:${e.incidentKey ?? ''}`;
  if (e.op === 'post') return `post:${e.resource ?? ''}`;
  return undefined;
}

function union(...lists: readonly (readonly string[] | undefined)[]): string[] | undefined {
  const all = lists.flatMap((l) => l ?? []);
  return all.length === 0 ? undefined : [...new Set(all)];
}

function addKinds(
  a: Readonly<Partial<Record<AlertKind, number>>>,
  b: Readonly<Partial<Record<AlertKind, number>>>,
): Partial<Record<AlertKind, number>> {
  const out: Partial<Record<AlertKind, number>> = { ...a };
  for (const [kind, n] of Object.entries(b) as [AlertKind, number][]) out[kind] = (out[kind] ?? 0) + n;
  return out;
}

/** One message in its latest form: `target` posted as the last of `later` shows it, carrying what they report. */
function inLatestForm(target: OutboxEntry, later: readonly OutboxEntry[]): Choice {
  const latest = later.at(-1) ?? target;
  return { type: 'fold', merged: [target, ...later], summary: absorb(target, later, latest.message) };
}

/** `target` carrying what `others` reported too, shown as `message`. */
function absorb(target: OutboxEntry, others: readonly OutboxEntry[], message: Message): OutboxEntry {
  const covers = union(target.covers, ...others.map((o) => o.covers));
  let kinds = target.kinds;
  let changes = target.changes;
  let severity = target.severity;
  for (const o of others) {
    kinds = addKinds(kinds, o.kinds);
    changes += o.changes;
    if (o.op !== 'update-parent') severity = worseSeverity(severity, o.severity);
  }
  return {
    ...target,
    message,
    kinds,
    changes,
    severity,
    ...(covers === undefined ? {} : { covers }),
    absorbed: others.map((o) => o.id),
  };
}

/** The amendment as the message it stands for when it cannot edit one. */
function asFallback(e: OutboxEntry): OutboxEntry {
  const { fallback, ref: _ref, incidentKey: _key, ...rest } = e;
  if (fallback === undefined) return { ...rest, op: 'post' };
  return {
    ...rest,
    op: fallback.op,
    message: fallback.message,
    urgent: isUrgent(e.severity, fallback.op),
    ...(fallback.incidentKey === undefined ? {} : { incidentKey: fallback.incidentKey }),
  };
}

/**
 * Pick the next action for one channel. `entries` are that channel's entries in id order;
 * `hasParent(incidentKey)` tells whether the incident's parent message exists on this channel;
 * `refState(ref)` whether a named message was posted here (and whether as part of a summary).
 */
export function chooseNext(
  entries: readonly OutboxEntry[],
  hasParent: (incidentKey: string) => boolean,
  refState: (ref: string) => RefState = () => undefined,
): Choice {
  const ready = entries.filter((e) => {
    if (e.op !== 'reply' && e.op !== 'update-parent') return true;
    const key = e.incidentKey ?? '';
    // Waits while its parent is still queued; an orphan (parent never posted) is handled below.
    return hasParent(key) || !entries.some((o) => o.op === 'open' && o.incidentKey === key);
  });
  const candidate = ready.find((e) => e.first === true) ?? ready.find((e) => e.urgent) ?? ready[0];
  if (candidate === undefined) return { type: 'idle' };

  if (candidate.op === 'amend') return amendment(candidate, entries, refState);

  // A named message with amendments waiting: post it once, showing every view.
  if (candidate.ref !== undefined && candidate.sending !== true) {
    const amends = entries.filter((e) => e.op === 'amend' && e.ref === candidate.ref);
    if (amends.length > 0) return inLatestForm(candidate, amends);
  }

  // A parent not posted yet is posted in its latest form: one message instead of a post and edits.
  // Only the edits written before its first waiting reply: the thread's news comes before the
  // parent says more (e.g. turns green).
  if (candidate.op === 'open' && candidate.sending !== true) {
    const key = candidate.incidentKey;
    const firstReply = entries.find((e) => e.op === 'reply' && e.incidentKey === key)?.id;
    const edits = entries.filter(
      (e) =>
        e.op === 'update-parent' && e.incidentKey === key && (firstReply === undefined || e.id < firstReply),
    );
    if (edits.length > 0) return inLatestForm(candidate, edits);
  }

  if (
    (candidate.op === 'reply' || candidate.op === 'update-parent') &&
    !hasParent(candidate.incidentKey ?? '')
  ) {
    return { type: 'orphan', entry: candidate };
  }

  if (candidate.op === 'update-parent') {
    const edits = ready.filter((e) => e.op === 'update-parent' && e.incidentKey === candidate.incidentKey);
    const latest = edits.at(-1) ?? candidate;
    // The thread first: replies written before the latest edit are news the parent already sums up.
    const before = ready.find(
      (e) => e.op === 'reply' && e.incidentKey === candidate.incidentKey && e.id < latest.id,
    );
    if (before !== undefined) return next(before, ready);
    const older = edits.filter((e) => e !== latest);
    if (older.every((e) => e.covers === undefined)) return { type: 'send', entry: latest, drop: older };
    // What the older edits reported (a second host's view) is carried by the one that is sent.
    return { type: 'fold', merged: [...older, latest], summary: absorbLatest(older, latest) };
  }

  return next(candidate, ready);
}

/** The latest edit in place of the first of the older ones, carrying what they reported. */
function absorbLatest(older: readonly OutboxEntry[], latest: OutboxEntry): OutboxEntry {
  const first = older[0] ?? latest;
  const merged = absorb(latest, older, latest.message);
  return { ...merged, id: first.id, absorbed: [...older.slice(1).map((o) => o.id), latest.id] };
}

function next(candidate: OutboxEntry, ready: readonly OutboxEntry[]): Choice {
  const group = foldGroup(candidate);
  if (group !== undefined) {
    const same = ready.filter((e) => foldGroup(e) === group);
    if (same.length > 1) return { type: 'fold', merged: same, summary: summarise(same) };
  }
  return { type: 'send', entry: candidate, drop: [] };
}

function amendment(
  amend: OutboxEntry,
  entries: readonly OutboxEntry[],
  refState: (ref: string) => RefState,
): Choice {
  const ref = amend.ref ?? '';
  const target = entries.find((e) => e.op !== 'amend' && (e.ref === ref || e.refs?.includes(ref) === true));
  if (target !== undefined && target.ref === ref && target.sending !== true) {
    // Still waiting here (behind an urgent one, or its parent): merged when the message goes.
    // `amend` is among them: it names this ref.
    return inLatestForm(
      target,
      entries.filter((e) => e.op === 'amend' && e.ref === ref),
    );
  }
  const fallback = asFallback(amend);
  const group = foldGroup(fallback);
  // In a burst (other changes waiting in the same thread, or other messages' amendments) an edit per
  // amendment would be a flood of its own: then it is folded like the rest.
  const busy = entries.some(
    (e) => e.ref !== ref && (e.op === 'amend' || (group !== undefined && foldGroup(e) === group)),
  );
  if (target === undefined && refState(ref) === 'posted' && !busy) {
    // Several views of one change: the latest rendering shows them all, in one edit.
    const amends = entries.filter((e) => e.op === 'amend' && e.ref === ref);
    const latest = amends.at(-1) ?? amend;
    const older = amends.filter((e) => e !== latest);
    if (older.length === 0) return { type: 'send', entry: latest, drop: [] };
    return { type: 'fold', merged: [...older, latest], summary: absorbLatest(older, latest) };
  }
  // Folded into a summary, being sent, never posted here, or a burst: a reply, counted there. In a
  // burst every amendment that cannot be merged into a waiting message becomes one at once, so the
  // next summary folds them all.
  if (!busy) return { type: 'rewrite', entries: [fallback] };
  const waiting = new Set(
    entries.filter((e) => e.op !== 'amend' && e.ref !== undefined && e.sending !== true).map((e) => e.ref),
  );
  const rewritten = entries
    .filter((e) => e.op === 'amend' && (e === amend || !waiting.has(e.ref)))
    .map(asFallback);
  return { type: 'rewrite', entries: rewritten };
}

/** How many of the folded messages are quoted in the summary; the rest are counted. */
const QUOTED = 8;

/** The hosts a run of messages reports, each with how many changes it saw. */
function hostTally(entries: readonly OutboxEntry[]): { hosts: string[]; text: string } {
  const counts = new Map<string, number>();
  for (const e of entries) {
    for (const host of (e.message.host ?? '').split(', ').filter((h) => h !== '')) {
      counts.set(host, (counts.get(host) ?? 0) + e.changes);
    }
  }
  const hosts = [...counts.keys()].sort();
  return { hosts, text: hosts.map((h) => `${h} ${counts.get(h)}`).join(', ') };
}

/**
 * One message standing for several: every change counted, the first few quoted, the hosts named.
 * In an incident's thread its colour is the incident's state once the last of them is applied: a
 * summary posted after the link came back is not red.
 */
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
  const hosts = hostTally(entries);
  const state = last.state;
  const tone: Tone = state ?? severity;
  const message: Message = {
    title: `${first.resource === null ? '' : `${first.resource}: `}${plural(changes, 'change')}${state === 'resolved' ? ', now resolved' : ''}`,
    tone,
    ...(hosts.hosts.length === 0 ? {} : { host: hosts.hosts.join(', ') }),
    resource: first.resource,
    body: [
      ...quoted,
      ...(rest > 0 ? [`… and ${plural(rest, 'more message')}`] : []),
      `Counted: ${tally}`,
      ...(hosts.hosts.length > 1 ? [`Seen by: ${hosts.text}`] : []),
    ].join('\n'),
    ...(first.incidentKey === undefined ? {} : { incidentKey: first.incidentKey }),
    ...(last.message.at === undefined ? {} : { at: last.message.at }),
  };
  const covers = union(...entries.map((e) => e.covers));
  const refs = union(...entries.map((e) => (e.ref === undefined ? e.refs : [e.ref, ...(e.refs ?? [])])));
  const { ref: _ref, ...base } = first;
  return {
    ...base,
    key: `${first.key}+${entries.length}`,
    message,
    // What the summary's colour says is what counts for it (a resolved thread's summary is not urgent).
    severity: tone === 'resolved' || tone === 'ok' ? 'info' : tone,
    kinds,
    changes,
    attempts: 0,
    ...(covers === undefined ? {} : { covers }),
    ...(refs === undefined ? {} : { refs }),
    ...(state === undefined ? {} : { state }),
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
