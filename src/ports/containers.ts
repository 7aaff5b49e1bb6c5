// The port to the LXD daemons of one host: one daemon per DRBD resource (LXD_DIR=/r0/lxd …), so
// every call names the resource. Every call that runs an external command reports it as a CommandRun
// (argv, exit code, duration, output) for the audit log; a failed command throws ExternalCommandError
// carrying the same record, so chat can show the command's own error output.

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

/** A routed NIC (`nictype: routed`) as configured on the container. */
export interface RoutedNic {
  /** Device name in the container's config, e.g. "eth0". */
  readonly device: string;
  readonly parent: string | null;
  /** Configured static addresses (`ipv4.address` / `ipv6.address`, comma separated in LXD). */
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

export interface ContainerInfo {
  readonly name: string;
  readonly resource: string;
  readonly host: string;
  /** LXD's status: Running, Stopped, Frozen, Error … */
  readonly status: string;
  /** The addresses the container has right now (global scope; empty when stopped). */
  readonly addresses: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] };
  /** The routed NIC, when the container has one. */
  readonly nic: RoutedNic | null;
  /** ISO time the container last started (uptime = now − startedAt while Running). */
  readonly startedAt: string | null;
}

export interface ContainerRuntime {
  /** Every container on the resource's LXD daemon. Throws when the daemon does not answer. */
  list(resource: string): Promise<ContainerInfo[]>;
  /** Clean stop with a timeout, then forced if it is still running. */
  stop(resource: string, name: string, options?: { readonly timeoutS?: number }): Promise<CommandRun[]>;
  start(resource: string, name: string): Promise<CommandRun[]>;
  /**
   * Set the routed NIC's static addresses (an empty list removes the key). The container must be
   * stopped: LXD 5.0 accepts the change on a running container and leaves it without the NIC, so
   * adapters refuse.
   */
  setAddresses(
    resource: string,
    name: string,
    device: string,
    addresses: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] },
  ): Promise<CommandRun[]>;
}
