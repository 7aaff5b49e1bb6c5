// A simulated host for failovers in the demo and the fast tests: DRBD roles through the DRBD
// simulator (its real refusals: "(-12) Device is held open by someone", "(-2) Need access to
// UpToDate data"), and the resource's mount and LXD daemon as state in the simulated containers'
// file, with the rules a real host enforces: only a Primary mounts, nothing unmounts under a
// running LXD daemon, LXD never starts on an unmounted mount point.

import type { HostOps, PreflightCheck } from '../ports/host-ops.js';
import { type CommandRun, ExternalCommandError } from '../ports/step-run.js';
import type { SimulatedPair } from './pair.js';
import type { SimulatedContainers } from './simulated-containers.js';

export class SimulatedHost implements HostOps {
  constructor(
    readonly pair: SimulatedPair,
    readonly containers: SimulatedContainers,
    readonly host: string,
  ) {}

  #result(argv: string[], outcome: { exitCode: number; stdout?: string; stderr?: string }): CommandRun[] {
    const run: CommandRun = {
      argv,
      exitCode: outcome.exitCode,
      durationMs: 1,
      stdout: outcome.stdout ?? '',
      stderr: outcome.stderr ?? '',
    };
    if (outcome.exitCode !== 0) {
      const output = run.stderr.trim().split('\n').slice(-3).join(' | ');
      throw new ExternalCommandError(`${argv.join(' ')}: exit ${outcome.exitCode}: ${output}`, run);
    }
    return [run];
  }

  async drbdRole(resource: string, role: 'primary' | 'secondary'): Promise<CommandRun[]> {
    const result =
      role === 'primary' ? this.pair.primary(this.host, resource) : this.pair.secondary(this.host, resource);
    return this.#result(['drbdadm', role, resource], result);
  }

  async drbdDisconnect(resource: string): Promise<CommandRun[]> {
    return this.#result(['drbdadm', 'disconnect', resource], this.pair.disconnect(this.host, resource));
  }

  async drbdConnect(
    resource: string,
    options: { readonly discardMyData?: boolean } = {},
  ): Promise<CommandRun[]> {
    const discard = options.discardMyData === true;
    return this.#result(
      ['drbdadm', 'connect', ...(discard ? ['--discard-my-data'] : []), resource],
      this.pair.connect(this.host, resource, { discardMyData: discard }),
    );
  }

  async mount(resource: string): Promise<CommandRun[]> {
    const argv = ['mount', `/dev/drbd/by-res/${resource}/0`, `/${resource}`];
    const mounts = this.containers.hostState();
    if (mounts.mounted[resource] === this.host) return this.#result(argv, { exitCode: 0 });
    if (this.pair.role(this.host, resource) !== 'Primary') {
      return this.#result(argv, {
        exitCode: 32,
        stderr: `mount: /${resource}: wrong fs type, bad option, bad superblock on /dev/drbd/by-res/${resource}/0, missing codepage or helper program, or other error.\n`,
      });
    }
    this.containers.setHostState({ mounted: { [resource]: this.host } });
    return this.#result(argv, { exitCode: 0 });
  }

  async umount(resource: string): Promise<CommandRun[]> {
    const argv = ['umount', `/${resource}`];
    const state = this.containers.hostState();
    if (state.mounted[resource] !== this.host) return [];
    if (state.lxd[resource] === this.host) {
      return this.#result(argv, { exitCode: 32, stderr: `umount: /${resource}: target is busy.\n` });
    }
    this.containers.setHostState({ mounted: { [resource]: null } });
    return this.#result(argv, { exitCode: 0 });
  }

  async lxdStart(resource: string): Promise<CommandRun[]> {
    const argv = ['systemctl', 'start', `${resource}lxd`];
    const state = this.containers.hostState();
    if (state.mounted[resource] !== this.host) {
      return this.#result(argv, {
        exitCode: 1,
        stderr: `Job for ${resource}lxd.service failed: /${resource}/lxd is not on the mounted file system.\n`,
      });
    }
    this.containers.setHostState({ lxd: { [resource]: this.host } });
    return this.#result(argv, { exitCode: 0 });
  }

  async lxdStop(resource: string): Promise<CommandRun[]> {
    const argv = ['systemctl', 'stop', `${resource}lxd`];
    if (this.containers.hostState().lxd[resource] !== this.host) return this.#result(argv, { exitCode: 0 });
    this.containers.setHostState({ lxd: { [resource]: null } });
    return this.#result(argv, { exitCode: 0 });
  }

  async holders(resource: string) {
    const replica = this.pair.state().replicas[this.host]?.[resource];
    return {
      holders: (replica?.holders ?? []).map((h) => `${h} (holds /dev/drbd/by-res/${resource}/0)`),
      runs: [
        {
          argv: ['fuser', '-vm', `/${resource}`],
          exitCode: replica?.holders.length ? 0 : 1,
          durationMs: 1,
          stdout: '',
          stderr: '',
        },
      ],
    };
  }

  async preflight(resource: string): Promise<readonly PreflightCheck[]> {
    return [
      { name: 'mount point', ok: true, detail: `/${resource} exists` },
      { name: 'LXD daemon', ok: true, detail: `${resource}lxd.service (simulated)` },
      { name: 'binaries', ok: true, detail: 'drbdadm, mount, lxc (simulated)' },
    ];
  }
}
