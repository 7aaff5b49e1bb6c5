// HTTP mode: a signed Slack request is accepted once. Slack's v0 signature proves who sent a request
// and when (the timestamp is signed), and requests older than five minutes are refused; within those
// five minutes a captured request (a proxy's log, a debugging dump, a compromised hop between the
// TLS terminator and the bot) would otherwise run again each time it is sent: a second plan, a
// second approval click. So the signature of every accepted request is remembered until its
// timestamp leaves the window, in a small journal in the state directory, fsynced before the request
// is handed on, so that a restart of the bot (or a new leadership term) does not forget it.
//
// The journal holds one line per accepted request; it is read and rewritten without the expired
// entries when the guard opens (a torn last line moved aside, invalid records quarantined), and
// compacted again as entries expire.

import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../ports/logger.js';
import { Journal, readJournal, repairTornTail } from '../durable-journal.js';

/** Slack's window: a request whose timestamp is further than this from now is refused anyway. */
export const SIGNATURE_WINDOW_SEC = 5 * 60;

export const REPLAY_JOURNAL_FILE = 'slack-requests.ndjson';

const recordSchema = z.strictObject({
  /** The request's X-Slack-Signature (v0=<hex>). */
  s: z.string().regex(/^v0=[0-9a-f]{64}$/),
  /** Its X-Slack-Request-Timestamp, in seconds. */
  t: z.int(),
});
type AcceptedRequest = z.infer<typeof recordSchema>;

export type Claim = 'accepted' | 'replay';

export interface ReplayGuardOptions {
  readonly stateDir: string;
  readonly logger: Logger;
  /** Seconds since the epoch (tests). */
  readonly nowSec?: () => number;
}

export class ReplayGuard {
  /** Signature → request timestamp, for every request accepted within the window. */
  readonly #accepted = new Map<string, number>();
  readonly #journal: Journal<AcceptedRequest>;
  readonly #log: Logger;
  readonly #nowSec: () => number;
  #compacting = false;

  private constructor(journal: Journal<AcceptedRequest>, log: Logger, nowSec: () => number) {
    this.#journal = journal;
    this.#log = log;
    this.#nowSec = nowSec;
  }

  /** Read what was accepted before (another run of the bot), drop what expired, and rewrite the file. */
  static async open(options: ReplayGuardOptions): Promise<ReplayGuard> {
    const path = join(options.stateDir, REPLAY_JOURNAL_FILE);
    const nowSec = options.nowSec ?? (() => Math.floor(Date.now() / 1000));
    const guard = new ReplayGuard(new Journal<AcceptedRequest>(path), options.logger, nowSec);
    // A torn last line is a request whose acceptance was never fsynced, so it never ran: it is
    // moved aside. Records that do not match the schema go to the quarantine file beside it.
    const torn = repairTornTail(path);
    if (torn !== undefined) {
      options.logger.warn({ path, ...torn }, 'slack: moved a torn last line of the request journal aside');
    }
    const loaded = readJournal(path, { schema: recordSchema });
    for (const record of loaded.records) guard.#accepted.set(record.s, record.t);
    if (loaded.damaged + loaded.quarantined > 0) {
      options.logger.warn(
        { path, unreadable: loaded.damaged, quarantined: loaded.quarantined },
        'slack: skipped unreadable lines of the request journal',
      );
    }
    guard.#prune();
    // Rewriting also cuts a torn last line, so the next record starts on a line of its own.
    await guard.#journal.compact(guard.#records());
    return guard;
  }

  get size(): number {
    return this.#accepted.size;
  }

  /**
   * Claim a signature. `replay` when it was accepted before; otherwise it is recorded, and the
   * promise resolves once the record is on disk (rejects when it cannot be written: the caller
   * must then refuse the request, as it could be replayed after a restart). The check and the
   * in-memory record happen at once, so two copies arriving together cannot both pass.
   */
  async claim(signature: string, timestampSec: number): Promise<Claim> {
    if (this.#accepted.has(signature)) return 'replay';
    this.#accepted.set(signature, timestampSec);
    await this.#journal.append([{ s: signature, t: timestampSec }]);
    this.#prune();
    if (!this.#compacting && this.#journal.appended > 2 * this.#accepted.size + 64) {
      // Expired lines outnumber the live ones: rewrite the file with the live ones only.
      this.#compacting = true;
      this.#journal
        .compact(this.#records())
        .catch((err: unknown) => this.#log.warn({ err }, 'slack: could not compact the request journal'))
        .finally(() => {
          this.#compacting = false;
        });
    }
    return 'accepted';
  }

  close(): Promise<void> {
    return this.#journal.close();
  }

  /** Forget requests whose timestamp left the window: the timestamp check refuses them anyway. */
  #prune(): void {
    const oldest = this.#nowSec() - SIGNATURE_WINDOW_SEC - 1;
    for (const [signature, timestamp] of this.#accepted) {
      if (timestamp < oldest) this.#accepted.delete(signature);
    }
  }

  #records(): AcceptedRequest[] {
    return [...this.#accepted].map(([s, t]) => ({ s, t }));
  }
}
