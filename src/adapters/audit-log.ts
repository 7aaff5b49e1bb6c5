// The audit log: one JSON object per line, appended and fsynced before the bot acts on what it
// records, never rewritten. Who asked for what, who confirmed and approved, the plan, the fencing
// token, every step with its commands' exit codes and durations, and the outcome.
// `drbd-chatops audit` reads and filters it.

import { readFileSync } from 'node:fs';
import type { Actor } from '../core/policy.js';
import { type CommandRun, describeRun, type LockRun } from '../ports/step-run.js';

/** A step's run as the audit log keeps it: the command without its output, or the lock call. */
export type AuditedRun =
  | Pick<CommandRun, 'argv' | 'exitCode' | 'durationMs' | 'timedOut'>
  | Pick<LockRun, 'lock' | 'ok' | 'token' | 'heldBy' | 'durationMs'>;

import { Journal, type JournalOptions } from './durable-journal.js';

export const AUDIT_EVENTS = [
  'requested',
  'refused',
  'confirmed',
  'approved',
  'cancelled',
  'expired',
  'aborted',
  'step',
  'rollback-step',
  'finished',
  'interrupted',
  // The on-call workflow: who took an alert, who muted what and for how long.
  'acknowledged',
  'silenced',
  'unsilenced',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditRecord {
  readonly at: string;
  readonly event: AuditEvent;
  /** The bot instance that wrote it. */
  readonly host: string;
  readonly operation: string | null;
  readonly command: string;
  readonly actor?: Pick<Actor, 'platform' | 'userId' | 'userName'> & { readonly member?: string };
  readonly token?: number;
  readonly plan?: unknown;
  readonly step?: {
    readonly id: string;
    readonly label: string;
    readonly host: string;
    readonly status: string;
    readonly durationMs?: number;
    readonly error?: string;
    readonly runs: readonly AuditedRun[];
  };
  readonly outcome?: string;
  readonly reason?: string;
}

export class AuditLog {
  readonly #journal: Journal<AuditRecord>;
  constructor(
    readonly path: string,
    options: JournalOptions = {},
  ) {
    this.#journal = new Journal(path, options);
  }
  /**
   * Open the log at start-up: a torn last line (crash or power cut mid-write) is moved aside now,
   * with a warning through `onRepair`, so the next record is readable on a line of its own.
   */
  open(): Promise<void> {
    return this.#journal.open();
  }
  append(record: AuditRecord): Promise<void> {
    return this.#journal.append([record]);
  }
  close(): Promise<void> {
    return this.#journal.close();
  }
}

export interface AuditFilter {
  readonly operation?: string;
  /** Matches the user id, user name or team member name. */
  readonly user?: string;
  readonly command?: string;
  readonly event?: string;
  readonly since?: Date;
}

/** Read the log; lines that do not parse (a torn last line after a crash) are counted, not fatal. */
export function readAudit(
  path: string,
  filter: AuditFilter = {},
): { records: AuditRecord[]; damaged: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], damaged: 0 };
    throw err;
  }
  const records: AuditRecord[] = [];
  let damaged = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      damaged++;
      continue;
    }
    if (filter.operation !== undefined && record.operation !== filter.operation) continue;
    if (filter.command !== undefined && record.command.split(' ')[0] !== filter.command) continue;
    if (filter.event !== undefined && record.event !== filter.event) continue;
    if (filter.since !== undefined && new Date(record.at) < filter.since) continue;
    if (filter.user !== undefined) {
      const a = record.actor;
      if (a === undefined || ![a.userId, a.userName, a.member].includes(filter.user)) continue;
    }
    records.push(record);
  }
  return { records, damaged };
}

/** One line per record for a terminal. */
export function formatAudit(record: AuditRecord): string {
  const who =
    record.actor === undefined
      ? ''
      : ` by ${record.actor.member ?? record.actor.userName} (${record.actor.platform}:${record.actor.userId})`;
  const parts = [
    `${record.at} ${record.host} ${record.operation ?? '-'} ${record.event}${who}: ${record.command}`,
  ];
  if (record.token !== undefined) parts.push(`token ${record.token}`);
  if (record.step !== undefined) {
    const s = record.step;
    const runs = s.runs
      .map(
        (r) =>
          `[${describeRun(r)} → ${'argv' in r ? r.exitCode : r.ok ? 'ok' : 'refused'}, ${r.durationMs} ms]`,
      )
      .join(' ');
    parts.push(
      `${s.label} on ${s.host}: ${s.status}${s.durationMs === undefined ? '' : ` in ${s.durationMs} ms`}${s.error === undefined ? '' : ` (${s.error})`} ${runs}`.trim(),
    );
  }
  if (record.outcome !== undefined) parts.push(`outcome ${record.outcome}`);
  if (record.reason !== undefined) parts.push(record.reason);
  return parts.join(' · ');
}
