// What a plan step did, for the audit log and the step's message: the external commands it ran
// (argv, exit code, duration, the tail of their output) and the lock-store calls it made (a
// resource's fence lock), in order. A failed command throws ExternalCommandError carrying its record,
// so chat can show the command's own error output.

/** An external command a step ran, as the audit log and a failed step's message show it. */
export interface CommandRun {
  /** The command as run, for the audit log: ["lxc", "stop", "web1", "--timeout", "30"]. */
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly durationMs: number;
  /** The tail of stdout/stderr (a few KiB at most). */
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command was ended because it ran past its timeout. */
  readonly timedOut?: boolean;
}

/** A call to the lock store a step made (a resource's fence lock): no process, so a record of its own. */
export interface LockRun {
  readonly lock: {
    readonly key: string;
    readonly op: 'acquire' | 'release';
    readonly holder: string;
  };
  /** Taken (acquire) or given back (release). */
  readonly ok: boolean;
  /** The fencing token of a lock taken. */
  readonly token?: number;
  /** Who holds the lock when it could not be taken (null: nobody could be read). */
  readonly heldBy?: string | null;
  readonly durationMs: number;
}

/** What a step did: the commands it ran and the locks it took, in order. */
export type StepRun = CommandRun | LockRun;

/** A step run as one line: the command, or the lock call. */
export function describeRun(run: Pick<CommandRun, 'argv'> | Pick<LockRun, 'lock'>): string {
  if ('argv' in run) return run.argv.join(' ');
  return `${run.lock.op} the fence lock ${run.lock.key} for ${run.lock.holder}`;
}

export class ExternalCommandError extends Error {
  readonly code = 'EXTERNAL_COMMAND_FAILED';
  constructor(
    message: string,
    readonly run: CommandRun,
  ) {
    super(message);
    this.name = 'ExternalCommandError';
  }
}
