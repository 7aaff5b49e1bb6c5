// The port to what a failover does on a host besides LXD containers: DRBD roles and connections
// (drbdadm), the resource's file system (mount/umount), its LXD daemon (a systemd unit or the
// recipe's wrapper), who holds the mount open, and whether the host is ready to take a resource.
// Every call reports the commands it ran (CommandRun) for the audit log; a refusal throws
// ExternalCommandError with DRBD's or the tool's own message.

import type { CommandRun } from './step-run.js';

export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface HostOps {
  /** `drbdadm primary|secondary RES`; promoting a resource that is already Primary is success. */
  drbdRole(resource: string, role: 'primary' | 'secondary'): Promise<CommandRun[]>;
  /** `drbdadm disconnect RES`. */
  drbdDisconnect(resource: string): Promise<CommandRun[]>;
  /** `drbdadm connect [--discard-my-data] RES`: the split-brain victim throws its changes away. */
  drbdConnect(resource: string, options?: { readonly discardMyData?: boolean }): Promise<CommandRun[]>;
  /** Mount the resource's file system at its mount point (already mounted: success). */
  mount(resource: string): Promise<CommandRun[]>;
  /** Unmount it (not mounted: success). */
  umount(resource: string): Promise<CommandRun[]>;
  /** Start / stop the resource's LXD daemon (LXD_DIR on the mounted file system). */
  lxdStart(resource: string): Promise<CommandRun[]>;
  lxdStop(resource: string): Promise<CommandRun[]>;
  /** Processes that hold the mount point or the DRBD device open ("multipathd (pid 812)"). */
  holders(
    resource: string,
  ): Promise<{ readonly holders: readonly string[]; readonly runs: readonly CommandRun[] }>;
  /** Can this host take the resource: mount point, LXD daemon unit or wrapper, binaries. */
  preflight(resource: string): Promise<readonly PreflightCheck[]>;
}
