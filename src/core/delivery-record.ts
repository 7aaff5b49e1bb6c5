// The pair's delivery record: what the leader has queued, posted and edited, and which
// notifications each message covers. The leader keeps it as it writes its outbox and replicates every
// record to the follower over the peer link before it acts on it (a send is recorded as started
// before it starts), so at any moment the follower knows
// - which notifications a message already covers (posted or edited, folded summaries included),
// - what is still queued, in order, and which send may have gone out just before a crash,
// - the incidents and the pair view as the channel shows them, and where their messages are.
// A follower that becomes the leader continues from it: it posts exactly what is not covered yet, in
// order, into the same threads, and never reports an incident's old news as new.
//
// Pure: records in, state out; the caller passes the time. Replication and storage are in
// src/app/delivery-replica.ts.

import type { OutboxEntry } from './delivery.js';
import type { Incidents } from './incidents.js';
import type { OnCallState } from './oncall-workflow.js';
import type { PairView } from './pair-view.js';
import type { StreamHealth } from './stream-health.js';

export type DeliveryRecord =
  /** Start from nothing (the first record of a full copy). */
  | { readonly reset: { readonly origin: string } }
  | { readonly put: OutboxEntry }
  | { readonly del: string }
  /** The platform confirmed the entry (a post or an edit): what it covers is covered now. */
  | { readonly posted: { readonly id: string; readonly messageId: string } }
  /** A message the outbox can thread under or edit: `${platform}:${channel}:${key}` → message id. */
  | { readonly parent: { readonly key: string; readonly messageId: string } }
  | { readonly incidents: Incidents }
  | { readonly pair: PairView }
  /** Acknowledgements, repeats and silences (the on-call workflow): the latest state wins. */
  | { readonly oncall: OnCallState }
  /**
   * Whether the leader sees DRBD on its own host: if it dies while blind, nobody else knows that
   * host is unseen, so the new leader continues the outage from here. The latest state wins.
   */
  | { readonly stream: LeaderStream }
  /** Notifications the leader took in (its own and the follower's), to refuse them a second time. */
  | { readonly seen: readonly string[] }
  /** Part of a full copy: what recent messages were posted with (an edit keeps it in its metadata). */
  | { readonly messages: readonly (readonly [string, PostedMessage])[] }
  /** Part of a full copy: notifications and keys already covered, with when. */
  | {
      readonly covered: readonly (readonly [string, number])[];
      readonly postedKeys: readonly (readonly [string, number])[];
    };

/** How long a covered notification is remembered: far beyond any takeover or hand-over. */
export const COVERED_RETENTION_MS = 30 * 60_000;
/** How many notifications taken in are remembered (to refuse one forwarded twice). */
const SEEN_LIMIT = 20_000;

/** A message as posted: its idempotency key and every notification it reports (edits included). */
export interface PostedMessage {
  readonly key: string;
  readonly covers: readonly string[];
}

/** The leader's own event stream as last recorded. */
export interface LeaderStream {
  readonly host: string;
  readonly health: StreamHealth;
  /** Resources the host was Primary of when last seen (a blind Primary is critical at once). */
  readonly primary: readonly string[];
}

/** How many posted messages are remembered for their metadata. */
const MESSAGES_LIMIT = 2_000;

/** What a new leader takes over. */
export interface Takeover {
  /** Queued deliveries in their order, without outbox bookkeeping; a started send stays marked. */
  readonly entries: readonly Omit<OutboxEntry, 'id' | 'attempts' | 'createdAt' | 'absorbed'>[];
  readonly parents: Readonly<Record<string, string>>;
  readonly incidents: Incidents | undefined;
  readonly pair: PairView | undefined;
  readonly messages: readonly (readonly [string, PostedMessage])[];
  readonly oncall: OnCallState | undefined;
  /** The former leader's event stream when it was last recorded. */
  readonly stream: LeaderStream | undefined;
}

export class DeliveryLedger {
  /** The instance whose outbox this record describes ('' when empty). */
  origin = '';
  readonly entries = new Map<string, OutboxEntry>();
  readonly parents = new Map<string, string>();
  incidents: Incidents | undefined;
  pair: PairView | undefined;
  oncall: OnCallState | undefined;
  stream: LeaderStream | undefined;
  /** Notification key → when a confirmed message first covered it. */
  readonly covered = new Map<string, number>();
  /** Idempotency key of a confirmed post → when. */
  readonly postedKeys = new Map<string, number>();
  readonly seen = new Set<string>();
  /** Platform message id → what it was posted with and reports now. */
  readonly messages = new Map<string, PostedMessage>();
  #applied = 0;

  apply(records: readonly DeliveryRecord[], now: number): void {
    for (const r of records) {
      if ('reset' in r) {
        this.origin = r.reset.origin;
        this.entries.clear();
        this.parents.clear();
        this.incidents = undefined;
        this.pair = undefined;
        this.oncall = undefined;
        this.stream = undefined;
        this.covered.clear();
        this.postedKeys.clear();
        this.seen.clear();
        this.messages.clear();
      } else if ('put' in r) {
        this.entries.set(r.put.id, r.put);
      } else if ('del' in r) {
        this.entries.delete(r.del);
      } else if ('posted' in r) {
        const entry = this.entries.get(r.posted.id);
        if (entry !== undefined) {
          for (const key of entry.covers ?? []) if (!this.covered.has(key)) this.covered.set(key, now);
          if (entry.op !== 'update-parent' && entry.op !== 'amend') this.postedKeys.set(entry.key, now);
          const known = this.messages.get(r.posted.messageId);
          if (entry.op === 'update-parent' || entry.op === 'amend') {
            if (known !== undefined && (entry.covers?.length ?? 0) > 0) {
              this.#remember(r.posted.messageId, {
                key: known.key,
                covers: [...new Set([...known.covers, ...(entry.covers ?? [])])],
              });
            }
          } else {
            this.#remember(r.posted.messageId, { key: entry.key, covers: entry.covers ?? [] });
          }
        }
      } else if ('parent' in r) {
        this.parents.set(r.parent.key, r.parent.messageId);
      } else if ('incidents' in r) {
        this.incidents = r.incidents;
      } else if ('pair' in r) {
        this.pair = r.pair;
      } else if ('oncall' in r) {
        this.oncall = r.oncall;
      } else if ('stream' in r) {
        this.stream = r.stream;
      } else if ('messages' in r) {
        for (const [id, m] of r.messages) this.#remember(id, m);
      } else if ('seen' in r) {
        for (const key of r.seen) {
          this.seen.delete(key);
          this.seen.add(key);
        }
        while (this.seen.size > SEEN_LIMIT) {
          const oldest = this.seen.values().next().value;
          if (oldest === undefined) break;
          this.seen.delete(oldest);
        }
      } else {
        for (const [key, at] of r.covered) this.covered.set(key, at);
        for (const [key, at] of r.postedKeys) this.postedKeys.set(key, at);
      }
    }
    this.#applied += records.length;
    if (this.#applied > 2_000) {
      this.#applied = 0;
      this.prune(now);
    }
  }

  #remember(messageId: string, message: PostedMessage): void {
    this.messages.delete(messageId);
    this.messages.set(messageId, message);
    if (this.messages.size > MESSAGES_LIMIT) {
      const oldest = this.messages.keys().next().value;
      if (oldest !== undefined) this.messages.delete(oldest);
    }
  }

  /** Forget what was covered longer ago than the retention. */
  prune(now: number): void {
    for (const [key, at] of this.covered) if (now - at > COVERED_RETENTION_MS) this.covered.delete(key);
    for (const [key, at] of this.postedKeys) if (now - at > COVERED_RETENTION_MS) this.postedKeys.delete(key);
  }

  /** Is the notification covered by a confirmed message, or by one still queued? */
  isCovered(notificationKey: string): boolean {
    if (this.covered.has(notificationKey)) return true;
    for (const e of this.entries.values()) if (e.covers?.includes(notificationKey) === true) return true;
    return false;
  }

  /**
   * Is a delivery handed over by a former leader already taken care of here: posted (by its key),
   * queued (by its key), or reporting only notifications that are covered or queued?
   */
  knows(entry: Pick<OutboxEntry, 'key' | 'covers' | 'op'>): boolean {
    if (this.postedKeys.has(entry.key)) return true;
    for (const e of this.entries.values()) if (e.key === entry.key) return true;
    const covers = entry.covers ?? [];
    return covers.length > 0 && covers.every((key) => this.isCovered(key));
  }

  /**
   * What a new leader continues from. `verifyAll`: the record may be behind the former leader (it
   * was not refreshed for longer than the leader could have gone on alone), so every queued post is
   * checked with the platform by its key before it is posted.
   */
  takeover(verifyAll: boolean): Takeover {
    const entries = [...this.entries.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map(({ id: _id, attempts: _a, createdAt: _c, absorbed: _ab, ...e }) =>
        verifyAll && e.op !== 'update-parent' && e.op !== 'amend' ? { ...e, sending: true } : e,
      );
    return {
      entries,
      parents: Object.fromEntries(this.parents),
      incidents: this.incidents,
      pair: this.pair,
      messages: [...this.messages],
      oncall: this.oncall,
      stream: this.stream,
    };
  }

  /**
   * The whole record as records, to copy it to an instance that has none (or an older one), as kept
   * by `origin` (the leader). Split into chunks by the caller; the covered notifications go in parts
   * of `part` keys.
   */
  snapshot(origin: string, part = 2_000): DeliveryRecord[] {
    const out: DeliveryRecord[] = [{ reset: { origin } }];
    for (const e of [...this.entries.values()].sort((a, b) => a.id.localeCompare(b.id))) out.push({ put: e });
    for (const [key, messageId] of this.parents) out.push({ parent: { key, messageId } });
    if (this.incidents !== undefined) out.push({ incidents: this.incidents });
    if (this.pair !== undefined) out.push({ pair: this.pair });
    if (this.oncall !== undefined) out.push({ oncall: this.oncall });
    if (this.stream !== undefined) out.push({ stream: this.stream });
    const covered = [...this.covered];
    const postedKeys = [...this.postedKeys];
    for (let i = 0; i < Math.max(covered.length, postedKeys.length); i += part) {
      out.push({ covered: covered.slice(i, i + part), postedKeys: postedKeys.slice(i, i + part) });
    }
    const messages = [...this.messages];
    for (let i = 0; i < messages.length; i += part) out.push({ messages: messages.slice(i, i + part) });
    const seen = [...this.seen];
    for (let i = 0; i < seen.length; i += part) out.push({ seen: seen.slice(i, i + part) });
    return out;
  }

  /**
   * This instance's own outbox and notifier after a takeover: the queued entries now have its ids.
   * What was covered and seen, and the on-call state, stay; the former leader's stream is taken
   * over (see Daemon) and this instance records its own from now on.
   */
  rebase(
    origin: string,
    state: {
      readonly entries: readonly OutboxEntry[];
      readonly parents: Readonly<Record<string, string>>;
      readonly incidents: Incidents;
      readonly pair: PairView | undefined;
    },
  ): void {
    this.origin = origin;
    this.entries.clear();
    for (const e of state.entries) this.entries.set(e.id, e);
    this.parents.clear();
    for (const [key, id] of Object.entries(state.parents)) this.parents.set(key, id);
    this.incidents = state.incidents;
    this.pair = state.pair;
    this.stream = undefined;
  }
}
