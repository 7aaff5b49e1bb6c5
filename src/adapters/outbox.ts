// The outbox: every chat delivery is on disk (fsynced) before any attempt to send it, and leaves
// only once the platform confirmed it. One sender per channel works through its entries as
// src/core/delivery.ts decides (urgent first, parent edits coalesced, bursts folded), keeps the
// channel's rate limit, and retries with exponential backoff and jitter, honouring Retry-After.
// A restart resumes where it stopped; an entry whose send may have gone through before a crash is
// checked with the platform (or re-posted idempotently) instead of being posted twice.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  type Choice,
  chooseNext,
  type OutboxEntry,
  type RefState,
  withoutAbsorbed,
} from '../core/delivery.js';
import type { DeliveryRecord, Takeover } from '../core/delivery-record.js';
import { SEVERITIES } from '../core/notification.js';
import { type ChatPlatform, DeliveryError, PLATFORM_NAMES, type PlatformName } from '../ports/chat.js';
import type { Logger } from '../ports/logger.js';
import { Journal, readJournal, writeFileDurably } from './durable-journal.js';
import { backoffDelay } from './events2-source.js';

type Record_ = { readonly put: OutboxEntry } | { readonly del: string };

/**
 * What an outbox record must have to be sent, retried or folded. A record that does not match is
 * quarantined on load (see readJournal) rather than crashing the sender at 3 a.m.
 */
const OUTBOX_RECORD = z.union([
  z.strictObject({
    put: z.looseObject({
      id: z.string().regex(/^[0-9]{12}$/),
      key: z.string().min(1),
      platform: z.enum(PLATFORM_NAMES),
      channel: z.string().min(1),
      op: z.enum(['open', 'reply', 'update-parent', 'post', 'amend']),
      incidentKey: z.string().optional(),
      message: z.looseObject({ title: z.string(), tone: z.enum([...SEVERITIES, 'resolved']) }),
      resource: z.string().nullable(),
      severity: z.enum(SEVERITIES),
      urgent: z.boolean(),
      kinds: z.record(z.string(), z.number()),
      changes: z.number(),
      createdAt: z.number(),
      attempts: z.number(),
      sending: z.boolean().optional(),
      absorbed: z.array(z.string()).optional(),
    }),
  }),
  z.strictObject({ del: z.string() }),
]) as unknown as z.ZodType<Record_>;

export interface OutboxOptions {
  readonly dir: string;
  readonly platforms: ReadonlyMap<PlatformName, ChatPlatform>;
  readonly logger: Logger;
  /** Minimum time between two messages on one channel (Slack allows about one per second). */
  readonly minIntervalMs: Readonly<Partial<Record<PlatformName, number>>>;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly random?: () => number;
  /** Called after each confirmed delivery, for metrics and benchmarks. */
  readonly onDelivered?: (entry: OutboxEntry, confirmedAt: number) => void;
  /** Called after each failed attempt (metrics). */
  readonly onFailed?: (entry: OutboxEntry, error: DeliveryError) => void;
  /**
   * Asked right before every send: only the leader of a pair sends; with no leader at all, critical
   * alerts still go out, with a note (fail open). Without a gate this instance always sends.
   */
  readonly gate?: (entry: OutboxEntry) => Gate;
  /**
   * The pair's delivery record: every change of the outbox (and every confirmed send) is handed
   * here, and awaited, before the outbox goes on. In particular a send is recorded as started before
   * it starts, so an instance that takes over knows which post may have gone out.
   */
  readonly record?: (records: readonly DeliveryRecord[]) => Promise<void>;
}

export type Gate = { readonly send: true; readonly note?: string } | { readonly send: false };

export type NewEntry = Omit<OutboxEntry, 'id' | 'attempts' | 'createdAt'>;

interface ChannelState {
  lastSentAt: number;
  /** Wakes the sender when new entries arrive. */
  wake: (() => void) | undefined;
  running: boolean;
}

const COMPACT_AFTER = 2_000;
const DEFAULT_BACKOFF = { initialMs: 1_000, maxMs: 60_000 };

function channelKey(platform: PlatformName, channel: string): string {
  return `${platform}\u0000${channel}`;
}

function parentKey(platform: PlatformName, channel: string, incidentKey: string): string {
  return `${platform}:${channel}:${incidentKey}`;
}

/** Messages whose key and covers are remembered, so an edit can carry them in its metadata. */
const REMEMBERED_MESSAGES = 2_000;
/** Named messages (pair changes, folded ones) whose location is kept for amendments. */
const MAX_NAMED = 2_000;

export class Outbox {
  readonly #options: OutboxOptions;
  readonly #journal: Journal<Record_>;
  readonly #statePath: string;
  readonly #entries = new Map<string, OutboxEntry>();
  readonly #channels = new Map<string, ChannelState>();
  readonly #senders = new Set<Promise<void>>();
  /** Incident parent message ids per platform channel. */
  #parents: Record<string, string> = {};
  #seq = 0;
  /** Deliveries the platform refused for good, each kept as dead-letter-<id>.json for a person. */
  #deadLetters = 0;
  #stopping = false;
  /** Sends in progress (a planned hand-over waits for them). */
  #inflight = 0;
  /** While paused no send starts (a planned hand-over to the other instance). */
  #paused = false;
  /** Platform message id → the key it was posted with and the notifications it covers. */
  readonly #messages = new Map<string, { readonly key: string; readonly covers: readonly string[] }>();
  #sleepers = new Set<() => void>();

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#journal = new Journal(join(options.dir, 'outbox.ndjson'), {
      onRepair: (torn) =>
        options.logger.warn({ ...torn }, 'outbox: torn last line (crash mid-write) moved aside'),
    });
    this.#statePath = join(options.dir, 'parents.json');
  }

  /** Re-check the gates now (e.g. this instance just became the leader). */
  wake(): void {
    for (const wake of this.#sleepers) wake();
    for (const state of this.#channels.values()) state.wake?.();
  }

  /** Entries waiting to be delivered. */
  get depth(): number {
    return this.#entries.size;
  }

  /** Deliveries the platform refused for good (kept beside the journal as dead-letter-<id>.json). */
  get deadLetters(): number {
    return this.#deadLetters;
  }

  entries(): OutboxEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  parentOf(platform: PlatformName, channel: string, incidentKey: string): string | undefined {
    return this.#parents[parentKey(platform, channel, incidentKey)];
  }

  /** Where incident parents, operation plans and named messages are (for the delivery record). */
  get parents(): Readonly<Record<string, string>> {
    return this.#parents;
  }

  /** The thread a reply of this incident goes to: an operation's, when its parent is inside one. */
  #threadOf(platform: PlatformName, channel: string, incidentKey: string): string | undefined {
    return (
      this.parentOf(platform, channel, `thread:${incidentKey}`) ??
      this.parentOf(platform, channel, incidentKey)
    );
  }

  #refState(platform: PlatformName, channel: string, ref: string): RefState {
    if (this.parentOf(platform, channel, ref) !== undefined) return 'posted';
    if (this.parentOf(platform, channel, `summary:${ref}`) !== undefined) return 'posted-summary';
    return undefined;
  }

  /** Name a message that exists (an operation's plan message) so replies can be threaded under it. */
  async setParent(platform: PlatformName, channel: string, key: string, messageId: string): Promise<void> {
    if (this.parentOf(platform, channel, key) === messageId) return;
    await this.#setParents({ [parentKey(platform, channel, key)]: messageId });
  }

  async #setParents(added: Readonly<Record<string, string>>): Promise<void> {
    let parents = { ...this.#parents, ...added };
    // Named pair changes and summaries are only amended for a while: keep the newest few thousand.
    const named = Object.keys(parents).filter((k) => k.includes(':pair:') || k.includes(':summary:'));
    if (named.length > MAX_NAMED) {
      const drop = new Set(named.slice(0, named.length - MAX_NAMED / 2));
      parents = Object.fromEntries(Object.entries(parents).filter(([k]) => !drop.has(k)));
    }
    this.#parents = parents;
    writeFileDurably(this.#statePath, `${JSON.stringify(this.#parents)}\n`);
    await this.#options.record?.(
      Object.entries(added).map(([key, messageId]) => ({ parent: { key, messageId } })),
    );
  }

  /**
   * Continue a former leader's deliveries (the pair's delivery record): its message locations, then
   * its queued entries in their order, behind whatever is queued here.
   */
  async adopt(takeover: Pick<Takeover, 'entries' | 'parents' | 'messages'>): Promise<void> {
    for (const [id, m] of takeover.messages) if (!this.#messages.has(id)) this.#remember(id, m.key, m.covers);
    const added = Object.fromEntries(
      Object.entries(takeover.parents).filter(([key]) => this.#parents[key] === undefined),
    );
    if (Object.keys(added).length > 0) await this.#setParents(added);
    await this.enqueue(takeover.entries);
  }

  /**
   * Stop starting sends and wait for those in progress (a planned hand-over: the other instance
   * continues from the delivery record). `resume()` undoes it.
   */
  async pause(timeoutMs: number): Promise<void> {
    this.#paused = true;
    const deadline = Date.now() + timeoutMs;
    while (this.#inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  resume(): void {
    this.#paused = false;
    this.wake();
  }

  /**
   * Forget every queued entry without sending it: the other instance, which has them in its copy of
   * the delivery record, sends them now. Not recorded (the copy must keep them).
   */
  async release(): Promise<number> {
    const entries = this.entries();
    if (entries.length === 0) return 0;
    await this.#journal.append(entries.map((e) => ({ del: e.id })));
    for (const e of entries) this.#entries.delete(e.id);
    return entries.length;
  }

  /** Load what a previous run left and start sending it. */
  async open(): Promise<void> {
    try {
      this.#deadLetters = readdirSync(this.#options.dir).filter((f) => f.startsWith('dead-letter-')).length;
    } catch {
      this.#deadLetters = 0; // no directory yet: nothing was ever refused
    }
    const { records, damaged, quarantined } = readJournal<Record_>(this.#journal.path, {
      schema: OUTBOX_RECORD,
    });
    if (damaged > 0)
      this.#options.logger.warn({ damaged }, 'outbox journal had unreadable lines (torn write?)');
    if (quarantined > 0) {
      this.#options.logger.warn(
        { quarantined, file: `${this.#journal.path}.quarantine` },
        'outbox: invalid records moved to the quarantine file',
      );
    }
    const live = new Map<string, OutboxEntry>();
    for (const r of records) {
      if ('put' in r) live.set(r.put.id, r.put);
      else live.delete(r.del);
    }
    const { keep, stale } = withoutAbsorbed([...live.values()]);
    for (const e of keep) this.#entries.set(e.id, e);
    this.#seq = Math.max(0, ...[...live.keys()].map((id) => Number.parseInt(id, 10) || 0));
    const parents = readJournal<Record<string, string>>(this.#statePath).records[0];
    this.#parents = parents ?? {};
    await this.#journal.compact(this.entries().map((put) => ({ put })));
    if (keep.length > 0 || stale.length > 0) {
      this.#options.logger.info({ pending: keep.length, dropped: stale.length }, 'outbox resumed');
    }
    for (const e of keep) this.#ensureSender(e.platform, e.channel);
  }

  /** Write new deliveries durably, then hand them to their channels' senders. */
  async enqueue(entries: readonly NewEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const now = Date.now();
    const written = entries.map((e) => {
      this.#seq += 1;
      return { ...e, id: String(this.#seq).padStart(12, '0'), attempts: 0, createdAt: now } as OutboxEntry;
    });
    await this.#write(written.map((put) => ({ put })));
    for (const e of written) {
      this.#entries.set(e.id, e);
      this.#ensureSender(e.platform, e.channel);
    }
  }

  /**
   * Give up to `limit` waiting entries to `take` (e.g. a new leader over the peer link) and forget
   * them once it has them. They stay here if `take` fails.
   */
  async handOver(take: (entries: readonly OutboxEntry[]) => Promise<void>, limit = 200): Promise<number> {
    const entries = this.entries().slice(0, limit);
    if (entries.length === 0) return 0;
    await take(entries);
    await this.#write(entries.map((e) => ({ del: e.id })));
    for (const e of entries) this.#entries.delete(e.id);
    return entries.length;
  }

  /** Stop sending. Waits up to `flushMs` for the queues to drain first; what is left stays on disk. */
  async stop(flushMs = 0): Promise<void> {
    const deadline = Date.now() + flushMs;
    while (this.#entries.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.#stopping = true;
    for (const wake of this.#sleepers) wake();
    for (const state of this.#channels.values()) state.wake?.();
    await Promise.all(this.#senders);
    await this.#journal.close();
  }

  async #write(records: readonly Record_[]): Promise<void> {
    await this.#journal.append(records);
    // Applied here, before a compaction can rewrite the journal from memory: compacting from the
    // state before these records would bring deleted entries back on the next start.
    for (const r of records) {
      if ('put' in r) this.#entries.set(r.put.id, r.put);
      else this.#entries.delete(r.del);
    }
    if (this.#journal.appended > COMPACT_AFTER && this.#journal.appended > this.#entries.size * 4) {
      await this.#journal.compact(this.entries().map((put) => ({ put })));
    }
    await this.#options.record?.(records);
  }

  #ensureSender(platform: PlatformName, channel: string): void {
    const key = channelKey(platform, channel);
    let state = this.#channels.get(key);
    if (state === undefined) {
      state = { lastSentAt: 0, wake: undefined, running: false };
      this.#channels.set(key, state);
    }
    if (state.running) {
      state.wake?.();
      return;
    }
    state.running = true;
    const sender = this.#run(platform, channel, state).finally(() => {
      state.running = false;
      this.#senders.delete(sender);
    });
    this.#senders.add(sender);
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#sleepers.add(done);
    });
  }

  #channelEntries(platform: PlatformName, channel: string): OutboxEntry[] {
    return this.entries().filter((e) => e.platform === platform && e.channel === channel);
  }

  #choose(platform: PlatformName, channel: string): Choice {
    return chooseNext(
      this.#channelEntries(platform, channel),
      (incidentKey) => this.parentOf(platform, channel, incidentKey) !== undefined,
      (ref) => this.#refState(platform, channel, ref),
    );
  }

  async #run(platform: PlatformName, channel: string, state: ChannelState): Promise<void> {
    const log = this.#options.logger.child({ platform, channel });
    const chat = this.#options.platforms.get(platform);
    const interval = this.#options.minIntervalMs[platform] ?? 0;
    let failures = 0;
    while (!this.#stopping) {
      let choice = this.#choose(platform, channel);
      if (choice.type === 'idle') {
        await new Promise<void>((resolve) => {
          state.wake = resolve;
        });
        state.wake = undefined;
        continue;
      }
      // Keep the channel's pace; whatever arrives meanwhile can be folded into one message.
      await this.#sleep(state.lastSentAt + interval - Date.now());
      if (this.#stopping) break;
      choice = this.#choose(platform, channel);

      if (choice.type === 'idle') continue;
      if (choice.type === 'rewrite') {
        await this.#write(choice.entries.map((put) => ({ put })));
        for (const e of choice.entries) this.#entries.set(e.id, e);
        continue;
      }
      if (choice.type === 'fold') {
        const [first, ...rest] = choice.merged;
        if (first === undefined) continue;
        const summary = { ...choice.summary, id: first.id };
        await this.#write([{ put: summary }, ...rest.map((e) => ({ del: e.id }))]);
        this.#entries.set(summary.id, summary);
        for (const e of rest) this.#entries.delete(e.id);
        continue;
      }
      if (choice.type === 'orphan') {
        // Its incident's parent never made it to this channel (filtered by a route, or refused).
        const entry = choice.entry;
        if (entry.op === 'reply') {
          const { incidentKey: _i, ...loose } = entry;
          const posted: OutboxEntry = { ...loose, op: 'post' };
          await this.#write([{ put: posted }]);
          this.#entries.set(posted.id, posted);
        } else {
          await this.#write([{ del: entry.id }]);
          this.#entries.delete(entry.id);
        }
        continue;
      }

      const { entry, drop } = choice;
      if (drop.length > 0) {
        await this.#write(drop.map((e) => ({ del: e.id })));
        for (const e of drop) this.#entries.delete(e.id);
      }
      if (chat === undefined) {
        log.error({ entry: entry.id }, 'no such chat platform configured; dropping the delivery');
        await this.#finish(entry);
        continue;
      }
      const gate = this.#paused
        ? ({ send: false } as const)
        : (this.#options.gate?.(entry) ?? { send: true });
      if (!gate.send) {
        // Not ours to send now (a follower): look again when woken or a little later.
        await this.#sleep(250);
        continue;
      }
      const toSend =
        gate.note === undefined
          ? entry
          : {
              ...entry,
              message: { ...entry.message, body: `${entry.message.body ?? ''}\n\n${gate.note}`.trim() },
            };
      this.#inflight += 1;
      try {
        const resumed = entry.sending === true;
        if (!resumed) {
          const marked = { ...entry, sending: true };
          await this.#write([{ put: marked }]);
          this.#entries.set(marked.id, marked);
        }
        const messageId = await this.#deliver(chat, channel, toSend, resumed);
        state.lastSentAt = Date.now();
        failures = 0;
        if (messageId !== undefined) await this.#options.record?.([{ posted: { id: entry.id, messageId } }]);
        await this.#finish(entry);
        this.#options.onDelivered?.(entry, Date.now());
      } catch (err) {
        const error =
          err instanceof DeliveryError
            ? err
            : new DeliveryError(`unexpected: ${(err as Error).message}`, true);
        this.#options.onFailed?.(entry, error);
        if (!error.retryable) {
          log.error(
            { entry: entry.id, op: entry.op, err: error, status: error.status },
            'delivery refused; dropped',
          );
          writeFileDurably(
            join(this.#options.dir, `dead-letter-${entry.id}.json`),
            JSON.stringify({ entry, error: error.message }),
          );
          this.#deadLetters += 1;
          await this.#finish(entry);
          continue;
        }
        const current = this.#entries.get(entry.id) ?? entry;
        const retried = { ...current, attempts: current.attempts + 1 };
        await this.#write([{ put: retried }]);
        this.#entries.set(retried.id, retried);
        const delay = Math.max(
          error.retryAfterMs ?? 0,
          backoffDelay(
            failures,
            this.#options.backoff ?? DEFAULT_BACKOFF,
            this.#options.random ?? Math.random,
          ),
        );
        failures += 1;
        log.warn(
          { entry: entry.id, attempts: retried.attempts, retryInMs: delay, err: error },
          'delivery failed; will retry',
        );
        await this.#sleep(delay);
      } finally {
        this.#inflight -= 1;
      }
    }
  }

  /** Sends one entry; returns the message it posted or edited (undefined: nothing to edit). */
  async #deliver(
    chat: ChatPlatform,
    channel: string,
    entry: OutboxEntry,
    resumed: boolean,
  ): Promise<string | undefined> {
    const platform = entry.platform;
    if (entry.op === 'update-parent' || entry.op === 'amend') {
      const target =
        entry.op === 'amend'
          ? this.parentOf(platform, channel, entry.ref ?? '')
          : this.parentOf(platform, channel, entry.incidentKey ?? '');
      if (target === undefined) return undefined;
      const known = this.#messages.get(target);
      const covers = entry.covers ?? [];
      if (known !== undefined && covers.length > 0) {
        const all = [...new Set([...known.covers, ...covers])];
        this.#remember(target, known.key, all);
        await chat.update(channel, target, entry.message, { idempotencyKey: known.key, covers: all });
      } else {
        await chat.update(channel, target, entry.message);
      }
      return target;
    }
    // After a crash mid-send, ask the platform before posting again.
    const already = resumed ? await chat.findPosted(channel, entry.key) : undefined;
    const threadOf =
      entry.op === 'reply'
        ? this.#threadOf(platform, channel, entry.incidentKey ?? '')
        : entry.op === 'open' && entry.threadKey !== undefined
          ? this.parentOf(platform, channel, entry.threadKey)
          : undefined;
    const posted =
      already ??
      (await chat.post(channel, entry.message, {
        idempotencyKey: entry.key,
        ...(threadOf === undefined ? {} : { threadOf }),
        ...(entry.covers === undefined ? {} : { covers: entry.covers }),
      }));
    this.#remember(posted.messageId, entry.key, entry.covers ?? []);
    const named: Record<string, string> = {};
    if (entry.op === 'open' && entry.incidentKey !== undefined) {
      named[parentKey(platform, channel, entry.incidentKey)] = posted.messageId;
      // A parent inside an operation's thread: its replies go to that thread.
      if (threadOf !== undefined)
        named[parentKey(platform, channel, `thread:${entry.incidentKey}`)] = threadOf;
    }
    if (entry.ref !== undefined) named[parentKey(platform, channel, entry.ref)] = posted.messageId;
    for (const ref of entry.refs ?? [])
      named[parentKey(platform, channel, `summary:${ref}`)] = posted.messageId;
    if (Object.keys(named).length > 0) await this.#setParents(named);
    return posted.messageId;
  }

  #remember(messageId: string, key: string, covers: readonly string[]): void {
    this.#messages.delete(messageId);
    this.#messages.set(messageId, { key, covers });
    if (this.#messages.size > REMEMBERED_MESSAGES) {
      const oldest = this.#messages.keys().next().value;
      if (oldest !== undefined) this.#messages.delete(oldest);
    }
  }

  async #finish(entry: OutboxEntry): Promise<void> {
    await this.#write([{ del: entry.id }]);
    this.#entries.delete(entry.id);
  }
}
