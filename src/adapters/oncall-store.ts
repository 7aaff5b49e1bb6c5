// The on-call workflow's state on disk: pages (who was called, who acknowledged), silences set by
// command and what each silence muted so far, in one file written atomically and durably on every
// change (a restart keeps acknowledgements and silences; an invalid file is moved aside with a
// warning, never a reason not to start). Every notification a silence keeps from the channels is
// also appended, whole, to a journal beside it: muted is not lost.

import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Notification } from '../core/notification.js';
import { EMPTY_ONCALL, type OnCallState } from '../core/oncall-workflow.js';
import { Journal, type JournalOptions, writeFileDurably } from './durable-journal.js';

const acknowledgement = z.looseObject({ by: z.string(), account: z.string(), at: z.number() });
const page = z.looseObject({
  id: z.string(),
  incidentKey: z.string(),
  resource: z.string(),
  startedAt: z.number(),
  lastAt: z.number(),
  repeats: z.number(),
  level: z.number(),
  paged: z.array(z.string()),
  targets: z.array(
    z.looseObject({ platform: z.string(), channel: z.string(), mode: z.enum(['oncall', 'here', 'none']) }),
  ),
  ack: acknowledgement.optional(),
  endedAt: z.number().optional(),
});
const silence = z.looseObject({
  id: z.string(),
  matches: z.array(z.string()).min(1),
  from: z.number(),
  until: z.number(),
  reason: z.string(),
  by: z.string(),
  source: z.enum(['command', 'maintenance']),
  endedAt: z.number().optional(),
  endedBy: z.string().optional(),
});
const tally = z.looseObject({
  silence,
  count: z.number(),
  kinds: z.record(z.string(), z.number()),
  worst: z.enum(['info', 'warning', 'critical']),
  first: z.array(z.looseObject({ kind: z.string(), text: z.string(), at: z.string() })),
  channels: z.array(z.string()),
});

/** What a stored state must have for the bot to page, silence and summarise from it. */
export const ONCALL_STATE = z.looseObject({
  pages: z.record(z.string(), page),
  silences: z.array(silence),
  muted: z.record(z.string(), tally),
}) as unknown as z.ZodType<OnCallState>;

/** One muted notification as the journal keeps it. */
export interface MutedRecord {
  /** When the bot muted it (ms). */
  readonly at: number;
  readonly silence: string;
  readonly notification: Notification;
}

export class OnCallStore {
  readonly path: string;
  readonly #muted: Journal<MutedRecord>;

  constructor(dir: string, options: JournalOptions = {}) {
    this.path = join(dir, 'oncall.json');
    this.#muted = new Journal(join(dir, 'muted.ndjson'), options);
  }

  /**
   * The stored state. A file that cannot be read or does not match is moved aside
   * (`oncall.json.invalid-<ms>`) and the bot starts from nothing: `problem` says why, for the log.
   */
  load(now: number = Date.now()): { state: OnCallState; problem?: string } {
    if (!existsSync(this.path)) return { state: EMPTY_ONCALL };
    let problem: string;
    try {
      const checked = ONCALL_STATE.safeParse(JSON.parse(readFileSync(this.path, 'utf8')));
      if (checked.success) return { state: checked.data };
      const issue = checked.error.issues[0];
      problem = issue === undefined ? 'invalid' : `${issue.path.join('.') || '(state)'}: ${issue.message}`;
    } catch (err) {
      problem = (err as Error).message;
    }
    const movedTo = `${this.path}.invalid-${now}`;
    renameSync(this.path, movedTo);
    return { state: EMPTY_ONCALL, problem: `${problem}; moved to ${movedTo}` };
  }

  save(state: OnCallState): void {
    writeFileDurably(this.path, `${JSON.stringify(state)}\n`);
  }

  /** Keep muted notifications whole; resolves once they are on disk. */
  recordMuted(records: readonly MutedRecord[]): Promise<void> {
    return this.#muted.append(records);
  }

  close(): Promise<void> {
    return this.#muted.close();
  }
}
