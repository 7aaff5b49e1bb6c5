// A step's runs in the audit log are commands or lock calls; most tests look at the commands.
import type { AuditedRun } from '../../src/adapters/audit-log.js';

export type AuditedCommand = Extract<AuditedRun, { readonly argv: readonly string[] }>;

/** The commands among a step's runs, in order. */
export function commandRuns(runs: readonly AuditedRun[] | undefined): AuditedCommand[] {
  return (runs ?? []).filter((run): run is AuditedCommand => 'argv' in run);
}
