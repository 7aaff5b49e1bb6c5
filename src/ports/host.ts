// The port to what a failover does on a host besides LXD containers: DRBD roles and connections
// (drbdadm), the resource's file system (mount/umount), its LXD daemon (a systemd unit or the
// recipe's wrapper), who holds the mount open, and whether the host is ready to take a resource.
// Every call reports the commands it ran (StepRun) for the audit log; a refusal throws
// ExternalCommandError with DRBD's or the tool's own message.

import type { StepRun } from './containers.js';

export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface HostOps {
  /** `drbdadm primary|secondary RES`; promoting a resource that is already Primary is success. */
  drbdRole(resource: string, role: 'primary' | 'secondary'): Promise<StepRun[]>;
  /** `drbdadm disconnect RES`. */
  drbdDisconnect(resource: string): Promise<StepRun[]>;
  /** `drbdadm connect [--discard-my-data] RES`: the split-brain victim throws its changes away. */
  drbdConnect(resource: string, options?: { readonly discardMyData?: boolean }): Promise<StepRun[]>;
  /** Mount the resource's file system at its mount point (already mounted: success). */
  mount(resource: string): Promise<StepRun[]>;
  /** Unmount it (not mounted: success). */
  umount(resource: string): Promise<StepRun[]>;
  /** Start / stop the resource's LXD daemon (LXD_DIR on the mounted file system). */
  lxdStart(resource: string): Promise<StepRun[]>;
  lxdStop(resource: string): Promise<StepRun[]>;
  /** Processes that hold the mount point or the DRBD device open ("multipathd (pid 812)"). */
  holders(
    resource: string,
  ): Promise<{ readonly holders: readonly string[]; readonly runs: readonly StepRun[] }>;
  /** Can this host take the resource: mount point, LXD daemon unit or wrapper, binaries. */
  preflight(resource: string): Promise<readonly PreflightCheck[]>;
}
