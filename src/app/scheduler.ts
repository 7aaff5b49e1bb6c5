// Scheduled work (node-cron, the host's time zone): the reconciliation, the daily digest, the
// on-call hand-over announcement. Only the leader runs them. Each run is identified by its slot (the
// cron time it belongs to), written to disk and told to the peer; a new leader runs once a slot the
// old one missed (it died or was changing hands at that minute), and not a slot it already ran.
// Posts of a slot carry the slot in their key and are checked with the platform before sending,
// so even a slot run on both sides of a leadership change appears once.

import { join } from 'node:path';
import { every, handoverClock } from '../adapters/cron.js';
import { readJournal, writeFileDurably } from '../adapters/durable-journal.js';
import type { Logger } from './log.js';

export interface ScheduledJob {
  readonly name: string;
  /** A cron expression (5 or 6 fields). */
  readonly cron: string;
  /** Run a slot missed while nobody led (within `catchUpMs`) when this instance becomes leader. */
  readonly catchUpMs?: number;
  run(slot: Date): Promise<void>;
}

/**
 * Work that runs every few seconds rather than at cron times (the on-call workflow's repeats,
 * escalations and silence expiries): only on the leader, one run at a time, no slots recorded (each
 * run looks at the state and does what is due; the state says what was done).
 */
export interface Ticker {
  readonly name: string;
  readonly everyMs: number;
  run(now: Date): Promise<void>;
}

export interface SchedulerOptions {
  readonly jobs: readonly ScheduledJob[];
  readonly tickers?: readonly Ticker[];
  readonly stateDir: string;
  readonly leading: () => boolean;
  readonly logger: Logger;
  /** Tell the other instance a slot is done (best effort). */
  readonly tellPeer?: (job: string, slot: string) => Promise<void>;
  readonly now?: () => Date;
}

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #path: string;
  #done: Record<string, string>;
  #tasks: { stop(): void }[] = [];
  #running = new Map<string, Promise<void>>();
  // One clock per job: node-cron keeps every task it creates in a registry, so none per run.
  readonly #clocks = new Map<string, ReturnType<typeof handoverClock>>();

  #clock(job: ScheduledJob): ReturnType<typeof handoverClock> {
    let clock = this.#clocks.get(job.name);
    if (clock === undefined) {
      clock = handoverClock(job.cron);
      this.#clocks.set(job.name, clock);
    }
    return clock;
  }

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#path = join(options.stateDir, 'schedule.json');
    const stored = readJournal<Record<string, string>>(this.#path).records[0];
    this.#done = stored !== undefined && typeof stored === 'object' ? { ...stored } : {};
  }

  /** The last slot done per job (ISO times). */
  get done(): Readonly<Record<string, string>> {
    return this.#done;
  }

  start(): void {
    for (const ticker of this.#o.tickers ?? []) {
      let busy = false;
      const timer = setInterval(() => {
        if (busy || !this.#o.leading()) return;
        busy = true;
        const run = ticker
          .run(this.#now())
          .catch((err: Error) => this.#o.logger.error({ err, ticker: ticker.name }, 'periodic work failed'))
          .finally(() => {
            busy = false;
            this.#running.delete(`tick:${ticker.name}`);
          });
        this.#running.set(`tick:${ticker.name}`, run);
      }, ticker.everyMs);
      this.#tasks.push({ stop: () => clearInterval(timer) });
    }
    for (const job of this.#o.jobs) {
      this.#tasks.push(
        every(job.cron, job.name, async () => {
          if (!this.#o.leading()) return;
          const slot = this.#clock(job).previous(this.#now());
          if (slot !== null) await this.runSlot(job, slot);
        }),
      );
    }
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  /** Run a job's slot unless it is done already (here or, as the peer told us, there). */
  runSlot(job: ScheduledJob, slot: Date): Promise<void> {
    const key = slot.toISOString();
    const last = this.#done[job.name];
    if (last !== undefined && last >= key) return Promise.resolve();
    const inflight = this.#running.get(job.name);
    if (inflight !== undefined) return inflight;
    const run = (async () => {
      try {
        await job.run(slot);
        await this.record(job.name, key);
        await this.#o
          .tellPeer?.(job.name, key)
          .catch((err: Error) =>
            this.#o.logger.debug({ err, job: job.name }, 'could not tell the peer a job ran'),
          );
      } catch (err) {
        this.#o.logger.error({ err, job: job.name, slot: key }, 'scheduled job failed');
      } finally {
        this.#running.delete(job.name);
      }
    })();
    this.#running.set(job.name, run);
    return run;
  }

  /** A slot is done (by us, or by the peer while it led). */
  async record(job: string, slot: string): Promise<void> {
    const last = this.#done[job];
    if (last !== undefined && last >= slot) return;
    this.#done = { ...this.#done, [job]: slot };
    writeFileDurably(this.#path, `${JSON.stringify(this.#done)}\n`);
  }

  /** This instance just became the leader: run each job's latest slot if nobody ran it. */
  async catchUp(): Promise<void> {
    const now = this.#now();
    for (const job of this.#o.jobs) {
      if (job.catchUpMs === undefined) continue;
      const slot = this.#clock(job).previous(now);
      if (slot === null || now.getTime() - slot.getTime() > job.catchUpMs) continue;
      await this.runSlot(job, slot);
    }
  }

  async stop(): Promise<void> {
    for (const task of this.#tasks) task.stop();
    this.#tasks = [];
    await Promise.all(this.#running.values());
  }
}
