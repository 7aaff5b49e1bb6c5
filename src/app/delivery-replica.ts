// The pair's delivery record (src/core/delivery-record.ts), kept by both instances. The leader
// applies every record of its outbox and notifier to its own copy and pushes it to the follower over
// the peer link, in order, before it acts on it (the outbox awaits each record; a send is recorded
// as started before it starts). The follower applies the pushes to its copy; when it becomes the
// leader it continues from there. A follower that missed records (it restarted, or the link was
// down) gets a full copy; while it does not answer, the leader does not wait for it.

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DeliveryLedger, type DeliveryRecord } from '../core/delivery-record.js';
import type { Logger } from './log.js';

/** One push: `records` continue the copy at `seq` of the leader's term `epoch`. */
export interface LedgerPush {
  readonly epoch: string;
  readonly seq: number;
  readonly records: readonly DeliveryRecord[];
}

export type LedgerAnswer = { readonly next: number } | { readonly need: 'reset' };

/** A push stays well below the peer link's 1 MiB body limit. */
const PUSH_BYTES = 384 * 1024;

export interface DeliveryReplicaOptions {
  readonly self: string;
  /** Push records to the other instance (the peer link). */
  readonly send: (push: LedgerPush) => Promise<LedgerAnswer>;
  readonly logger: Logger;
  /** Monotonic milliseconds (tests inject). */
  readonly now?: () => number;
  /** Wall-clock milliseconds, for how long covered notifications are remembered. */
  readonly clock?: () => number;
}

export class DeliveryReplica {
  readonly ledger = new DeliveryLedger();
  readonly #o: DeliveryReplicaOptions;
  readonly #now: () => number;
  readonly #clock: () => number;
  // The leader's side.
  #leading = false;
  /** Leading, and the record is this instance's own (see lead()). */
  #ready = false;
  #epoch = '';
  /** The next sequence number to send in this term. */
  #seq = 0;
  /** The follower's copy cannot be continued (never sent, or a push failed): send a full copy. */
  #needReset = true;
  #queue: DeliveryRecord[] = [];
  /** Sequence number up to which the follower confirmed. */
  #acked = 0;
  #waiters: { readonly upto: number; readonly resolve: () => void }[] = [];
  #pumping: Promise<void> | undefined;
  #lastPushAt = Number.NEGATIVE_INFINITY;
  // The follower's side.
  #mirrorEpoch = '';
  #mirrorNext = 0;
  #mirroredAt: number | undefined;

  constructor(options: DeliveryReplicaOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * This instance leads: a new term. Nothing is pushed until `ready()`: the record is first made
   * this instance's own (the former leader's queued entries taken over, see Daemon), then the
   * follower gets a full copy.
   */
  lead(): void {
    this.#leading = true;
    this.#ready = false;
    this.#epoch = `${this.#o.self}:${randomBytes(6).toString('hex')}`;
    this.#seq = 0;
    this.#acked = 0;
    this.#needReset = true;
    this.#queue = [];
    this.#release();
  }

  /** The record is this instance's own now: copy it to the follower. */
  ready(): void {
    if (!this.#leading) return;
    this.#ready = true;
    this.#kick(true);
  }

  /** This instance follows: its copy is the leader's from now on. */
  follow(): void {
    this.#leading = false;
    this.#ready = false;
    this.#queue = [];
    this.#release();
  }

  /** The follower has everything recorded so far (and nothing is queued for it). */
  get inSync(): boolean {
    return this.#leading && !this.#needReset && this.#queue.length === 0 && this.#acked === this.#seq;
  }

  /**
   * Record changes of this instance's outbox and notifier. Resolves once the follower has them, or
   * at once when it cannot be reached (it gets a full copy later) or this instance does not lead.
   */
  record(records: readonly DeliveryRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    this.ledger.apply(records, this.#clock());
    if (!this.#leading) return Promise.resolve();
    if (this.#needReset) {
      this.#kick();
      return Promise.resolve();
    }
    this.#queue.push(...records);
    const upto = this.#seq + this.#queue.length;
    const done = new Promise<void>((resolve) => this.#waiters.push({ upto, resolve }));
    this.#kick();
    return done;
  }

  /** Now and then (every retry period): bring a follower that missed records up to date. */
  heartbeat(): void {
    if (!this.#leading) return;
    // An empty push tells whether the follower still has this term's copy (it may have restarted).
    if (this.#needReset || this.#now() - this.#lastPushAt > 1_000) this.#kick(true);
  }

  /** A planned hand-over: push everything now; true when the follower has it all. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = this.#now() + timeoutMs;
    while (this.#leading && !this.inSync && this.#now() < deadline) {
      this.#kick();
      await (this.#pumping ?? new Promise((r) => setTimeout(r, 20)));
      if (!this.inSync) await new Promise((r) => setTimeout(r, 20));
    }
    return this.inSync;
  }

  #kick(probe = false): void {
    if (this.#pumping !== undefined || !this.#ready) return;
    if (!probe && !this.#needReset && this.#queue.length === 0) return;
    this.#pumping = this.#pump(probe).finally(() => {
      this.#pumping = undefined;
      if (this.#leading && !this.#needReset && this.#queue.length > 0) this.#kick();
    });
  }

  async #pump(probe: boolean): Promise<void> {
    try {
      if (this.#needReset) {
        // Everything recorded so far is in the snapshot.
        this.#queue = [];
        this.#needReset = false;
        const records = this.ledger.snapshot(this.#o.self);
        const start = this.#seq;
        this.#seq += records.length;
        await this.#sendAll(start, records);
        this.#settle(this.#seq);
        return;
      }
      if (this.#queue.length === 0) {
        if (probe) await this.#send(this.#seq, []);
        return;
      }
      while (this.#queue.length > 0 && this.#leading) {
        const batch = this.#queue;
        this.#queue = [];
        const start = this.#seq;
        this.#seq += batch.length;
        await this.#sendAll(start, batch);
        this.#settle(start + batch.length);
      }
    } catch (err) {
      this.#needReset = true;
      this.#queue = [];
      this.#release();
      this.#o.logger.debug(
        { err },
        'the follower did not take the delivery record; it gets a full copy when it answers',
      );
    }
  }

  async #sendAll(start: number, records: readonly DeliveryRecord[]): Promise<void> {
    let seq = start;
    let chunk: DeliveryRecord[] = [];
    let bytes = 0;
    for (const r of records) {
      const size = JSON.stringify(r).length;
      if (chunk.length > 0 && bytes + size > PUSH_BYTES) {
        await this.#send(seq, chunk);
        seq += chunk.length;
        chunk = [];
        bytes = 0;
      }
      chunk.push(r);
      bytes += size;
    }
    if (chunk.length > 0) await this.#send(seq, chunk);
  }

  async #send(seq: number, records: readonly DeliveryRecord[]): Promise<void> {
    const answer = await this.#o.send({ epoch: this.#epoch, seq, records });
    this.#lastPushAt = this.#now();
    if ('need' in answer) throw new Error('the follower needs a full copy');
  }

  #settle(upto: number): void {
    this.#acked = Math.max(this.#acked, upto);
    const ready = this.#waiters.filter((w) => w.upto <= this.#acked);
    this.#waiters = this.#waiters.filter((w) => w.upto > this.#acked);
    for (const w of ready) w.resolve();
  }

  /** Nobody waits for a follower that does not answer. */
  #release(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
  }

  // ---- the follower's side -------------------------------------------------------------------

  /** A push from the leader. Out of sequence (this instance restarted, or missed one): ask for a copy. */
  receive(push: LedgerPush): LedgerAnswer {
    const first = push.records[0];
    if (first !== undefined && 'reset' in first) {
      this.#mirrorEpoch = push.epoch;
      this.#mirrorNext = push.seq;
    } else if (push.epoch !== this.#mirrorEpoch || push.seq !== this.#mirrorNext) {
      return { need: 'reset' };
    }
    this.ledger.apply(push.records, this.#clock());
    this.#mirrorNext += push.records.length;
    this.#mirroredAt = this.#now();
    return { next: this.#mirrorNext };
  }

  /** How long ago the leader last pushed (undefined: never). */
  mirrorAgeMs(): number | undefined {
    return this.#mirroredAt === undefined ? undefined : this.#now() - this.#mirroredAt;
  }
}
