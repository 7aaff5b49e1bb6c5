// The port to the LXD daemons of one host: one daemon per DRBD resource (LXD_DIR=/r0/lxd …), so
// every call names the resource. Every call reports the commands it ran (CommandRun, ports/step-run.ts)
// for the audit log; a failed command throws ExternalCommandError carrying the same record, so chat
// can show the command's own error output.

import type { CommandRun } from './step-run.js';

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
