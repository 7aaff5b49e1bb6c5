// Pending and recent operations, on disk. Every transition is written (fsynced) before the bot acts
// on it: a restart finds open requests where they were, and a request that was running when the
// process died is found and reported as interrupted, never continued. Each stored record is checked
// on load: one that is incomplete (a bug of an older version, a hand edit, damage) is quarantined
// beside the journal with a warning, so it can neither break start-up nor be acted on.

import { z } from 'zod';
import { isOpen, OPERATION_STATES, type Operation } from '../core/operation.js';
import { PLATFORM_NAMES } from '../ports/chat.js';
import { Journal, type JournalOptions, readJournal } from './durable-journal.js';

/** Finished operations kept so a late click gets "already ran" rather than "unknown". */
const KEEP_FINISHED = 200;

const actor = z.object({
  platform: z.enum(PLATFORM_NAMES),
  userId: z.string(),
  userName: z.string(),
  roles: z.array(z.string()),
});
const signed = z.object({ actor, at: z.number() });
// A step's action is checked for what every reader of a stored record relies on (its kind and
// resource); the kind-specific fields are only used by a fresh plan, which is made again from
// `args` just before anything runs.
const action = z.looseObject({ kind: z.string(), resource: z.string() });
const field = z.object({ label: z.string(), value: z.string(), short: z.boolean().optional() });
const run = z.union([
  z.looseObject({
    argv: z.array(z.string()),
    exitCode: z.number(),
    durationMs: z.number(),
    stdout: z.string(),
    stderr: z.string(),
  }),
  z.looseObject({
    lock: z.object({ key: z.string(), op: z.enum(['acquire', 'release']), holder: z.string() }),
    ok: z.boolean(),
    durationMs: z.number(),
  }),
]);
const stepRecord = z.looseObject({
  id: z.string(),
  label: z.string(),
  host: z.string(),
  status: z.enum(['running', 'done', 'failed']),
  startedAt: z.number(),
  durationMs: z.number().optional(),
  runs: z.array(run),
  error: z.string().optional(),
});
const policy = z.looseObject({
  requesters: z.array(z.string()),
  approvers: z.array(z.string()),
  confirm: z.boolean(),
  approvals: z.number().int().min(0),
  approverDiffers: z.boolean(),
  approverOnCall: z.boolean(),
  expireAfterMs: z.number(),
});

/** What a stored operation must have for the bot to show, expire, recover or decide on it. */
export const OPERATION_RECORD = z.looseObject({
  id: z.string().regex(/^[0-9a-f]{8}$/),
  plan: z.looseObject({
    command: z.string(),
    name: z.string(),
    title: z.string(),
    resource: z.string().nullable(),
    summary: z.string(),
    fields: z.array(field),
    facts: z.record(z.string(), z.string()),
    steps: z.array(
      z.looseObject({
        id: z.string(),
        host: z.string(),
        label: z.string(),
        action,
        undo: z.array(action).optional(),
      }),
    ),
    typedConfirmation: z.string().optional(),
    downtime: z.object({ from: z.string(), to: z.string() }).optional(),
  }),
  args: z.record(z.string(), z.string()),
  requester: actor,
  requestedAt: z.number(),
  expiresAt: z.number(),
  token: z.number(),
  policy,
  channel: z.object({ platform: z.enum(PLATFORM_NAMES), channelId: z.string() }),
  messageId: z.string().nullable(),
  state: z.enum(OPERATION_STATES),
  confirmedBy: signed.optional(),
  approvals: z.array(signed),
  closedBy: signed.optional(),
  reason: z.string().optional(),
  steps: z.array(stepRecord),
  rollback: z.array(stepRecord),
  finishedAt: z.number().optional(),
}) as unknown as z.ZodType<Operation>;

export class OperationStore {
  readonly #journal: Journal<Operation>;
  readonly #operations = new Map<string, Operation>();

  constructor(
    readonly path: string,
    options: JournalOptions = {},
  ) {
    this.#journal = new Journal(path, options);
  }

  /**
   * Load what is on disk (the last record of each id wins) and compact the file. Records that do
   * not match OPERATION_RECORD are moved to `<path>.quarantine` and counted.
   */
  async open(): Promise<{ damaged: number; quarantined: number }> {
    const { records, damaged, quarantined } = readJournal<Operation>(this.path, {
      schema: OPERATION_RECORD,
    });
    for (const op of records) this.#operations.set(op.id, op);
    await this.#compact();
    return { damaged, quarantined };
  }

  get(id: string): Operation | undefined {
    return this.#operations.get(id);
  }

  all(): Operation[] {
    return [...this.#operations.values()];
  }

  async put(op: Operation): Promise<void> {
    await this.#journal.append([op]);
    this.#operations.set(op.id, op);
    if (this.#journal.appended > 1_000) await this.#compact();
  }

  async #compact(): Promise<void> {
    const all = [...this.#operations.values()];
    const live = all.filter((op) => isOpen(op.state) || op.state === 'running');
    const finished = all
      .filter((op) => !isOpen(op.state) && op.state !== 'running')
      .sort((a, b) => (a.finishedAt ?? a.requestedAt) - (b.finishedAt ?? b.requestedAt))
      .slice(-KEEP_FINISHED);
    const keep = [...finished, ...live];
    this.#operations.clear();
    for (const op of keep) this.#operations.set(op.id, op);
    await this.#journal.compact(keep);
  }

  close(): Promise<void> {
    return this.#journal.close();
  }
}
