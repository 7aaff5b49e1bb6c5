// Simulated LXD containers for the demo and the fast tests of the approval flow: the same port as
// the real lxc adapter (src/adapters/lxd.ts), state in one JSON file so the two simulated hosts
// (two bot processes) see the same containers, and the failures operators meet: a container that
// will not stop cleanly, a routed address the host already uses, a NIC change while running.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerInfo, ContainerRuntime } from '../ports/container-runtime.js';
import { type CommandRun, ExternalCommandError } from '../ports/step-run.js';
import { writeFileAtomically } from './state.js';

export interface SimContainer {
  readonly name: string;
  readonly resource: string;
  status: 'Running' | 'Stopped';
  readonly device: string;
  readonly parent: string;
  ipv4: string[];
  ipv6: string[];
  startedAt: string | null;
  /** Ignores a clean stop (a stuck service): only a forced stop ends it. */
  stuck?: boolean;
}

interface SimFile {
  containers: SimContainer[];
  /** Addresses the host already uses: starting a container with one fails as LXD does. */
  reserved: string[];
  /** Per resource: the host that has its file system mounted (absent: not simulated). */
  mounted?: Record<string, string | null>;
  /** Per resource: the host whose LXD daemon for it runs (absent: wherever it is asked). */
  lxd?: Record<string, string | null>;
}

/** Mounts and LXD daemons per resource, for the simulated host (src/sim/simulated-host.ts). */
export interface SimHostState {
  readonly mounted: Readonly<Record<string, string | null>>;
  readonly lxd: Readonly<Record<string, string | null>>;
}

export class SimulatedContainers implements ContainerRuntime {
  readonly path: string;
  constructor(
    dir: string,
    readonly host: string,
    readonly options: { readonly now?: () => number } = {},
  ) {
    this.path = join(dir, 'containers.json');
  }

  /** Create the file with these containers (the demo's and tests' starting point). */
  static init(
    dir: string,
    containers: readonly Omit<SimContainer, 'startedAt'>[],
    hosts?: SimHostState,
  ): void {
    const now = new Date().toISOString();
    const file: SimFile = {
      containers: containers.map((c) => ({ ...c, startedAt: c.status === 'Running' ? now : null })),
      reserved: [],
      ...(hosts === undefined ? {} : { mounted: { ...hosts.mounted }, lxd: { ...hosts.lxd } }),
    };
    writeFileAtomically(join(dir, 'containers.json'), `${JSON.stringify(file, null, 2)}\n`);
  }

  #read(): SimFile {
    if (!existsSync(this.path)) return { containers: [], reserved: [] };
    return JSON.parse(readFileSync(this.path, 'utf8')) as SimFile;
  }

  #write(file: SimFile): void {
    writeFileAtomically(this.path, `${JSON.stringify(file, null, 2)}\n`);
  }

  hostState(): SimHostState {
    const file = this.#read();
    return { mounted: file.mounted ?? {}, lxd: file.lxd ?? {} };
  }

  setHostState(change: {
    mounted?: Record<string, string | null>;
    lxd?: Record<string, string | null>;
  }): void {
    const file = this.#read();
    file.mounted = { ...(file.mounted ?? {}), ...(change.mounted ?? {}) };
    file.lxd = { ...(file.lxd ?? {}), ...(change.lxd ?? {}) };
    this.#write(file);
  }

  /** LXD answers for a resource only on the host whose daemon for it runs. */
  #daemonHere(file: SimFile, resource: string): string | undefined {
    const on = file.lxd?.[resource];
    if (file.lxd === undefined || !(resource in file.lxd) || on === this.host) return undefined;
    return `LXD of ${resource} (LXD_DIR=/${resource}/lxd) did not answer: Get "http://unix.socket/1.0": dial unix /${resource}/lxd/unix.socket: connect: no such file or directory`;
  }

  /** A host went down: the containers of these resources are not running any more. */
  stopAll(resources: readonly string[]): void {
    const file = this.#read();
    for (const c of file.containers) {
      if (resources.includes(c.resource) && c.status === 'Running') {
        c.status = 'Stopped';
        c.startedAt = null;
      }
    }
    this.#write(file);
  }

  /** Make this host use an address (so a container routed to it cannot start here). */
  reserve(address: string): void {
    const file = this.#read();
    file.reserved.push(`${this.host}/${address}`);
    this.#write(file);
  }

  release(address: string): void {
    const file = this.#read();
    file.reserved = file.reserved.filter((a) => a !== `${this.host}/${address}`);
    this.#write(file);
  }

  update(name: string, change: Partial<SimContainer>): void {
    const file = this.#read();
    const c = file.containers.find((x) => x.name === name);
    if (c === undefined) throw new Error(`no simulated container ${name}`);
    Object.assign(c, change);
    this.#write(file);
  }

  async list(resource: string): Promise<ContainerInfo[]> {
    const file = this.#read();
    const down = this.#daemonHere(file, resource);
    if (down !== undefined) throw new Error(down);
    return file.containers
      .filter((c) => c.resource === resource)
      .map((c) => ({
        name: c.name,
        resource: c.resource,
        host: this.host,
        status: c.status,
        addresses: c.status === 'Running' ? { ipv4: [...c.ipv4], ipv6: [...c.ipv6] } : { ipv4: [], ipv6: [] },
        nic: { device: c.device, parent: c.parent, ipv4: [...c.ipv4], ipv6: [...c.ipv6] },
        startedAt: c.startedAt,
      }));
  }

  #run(argv: string[], fn: (file: SimFile) => string | undefined): CommandRun {
    const file = this.#read();
    const error = fn(file);
    const run: CommandRun = {
      argv: ['lxc', ...argv],
      exitCode: error === undefined ? 0 : 1,
      durationMs: 1,
      stdout: '',
      stderr: error === undefined ? '' : `Error: ${error}\n`,
    };
    if (error !== undefined)
      throw new ExternalCommandError(`lxc ${argv.join(' ')}: exit 1: Error: ${error}`, run);
    this.#write(file);
    return run;
  }

  #find(file: SimFile, resource: string, name: string): SimContainer | string {
    return (
      this.#daemonHere(file, resource) ??
      file.containers.find((c) => c.name === name && c.resource === resource) ??
      'Instance not found'
    );
  }

  async stop(resource: string, name: string, options: { timeoutS?: number } = {}): Promise<CommandRun[]> {
    const runs: CommandRun[] = [];
    try {
      runs.push(
        this.#run(['stop', name, '--timeout', String(options.timeoutS ?? 30)], (file) => {
          const c = this.#find(file, resource, name);
          if (typeof c === 'string') return c;
          if (c.stuck === true)
            return 'Failed shutting down instance, status is "Running": context deadline exceeded';
          c.status = 'Stopped';
          c.startedAt = null;
          return undefined;
        }),
      );
      return runs;
    } catch (err) {
      if (!(err instanceof ExternalCommandError) || err.run.stderr.includes('not found')) throw err;
      runs.push(err.run);
    }
    runs.push(
      this.#run(['stop', name, '--force'], (file) => {
        const c = this.#find(file, resource, name);
        if (typeof c === 'string') return c;
        c.status = 'Stopped';
        c.startedAt = null;
        return undefined;
      }),
    );
    return runs;
  }

  async start(resource: string, name: string): Promise<CommandRun[]> {
    return [
      this.#run(['start', name], (file) => {
        const c = this.#find(file, resource, name);
        if (typeof c === 'string') return c;
        if (c.status === 'Running') return undefined;
        const taken = [...c.ipv4, ...c.ipv6].find((a) => file.reserved.includes(`${this.host}/${a}`));
        if (taken !== undefined) {
          return `Failed to start device "${c.device}": Failed adding host route "${taken}": File exists`;
        }
        c.status = 'Running';
        c.startedAt = new Date(this.options.now?.() ?? Date.now()).toISOString();
        return undefined;
      }),
    ];
  }

  async setAddresses(
    resource: string,
    name: string,
    device: string,
    addresses: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] },
  ): Promise<CommandRun[]> {
    return [
      this.#run(
        [
          'config',
          'device',
          'set',
          name,
          device,
          `ipv4.address=${addresses.ipv4.join(',')}`,
          `ipv6.address=${addresses.ipv6.join(',')}`,
        ],
        (file) => {
          const c = this.#find(file, resource, name);
          if (typeof c === 'string') return c;
          if (c.status === 'Running')
            return 'Failed to update device "eth0": Cannot update routed NIC while running';
          c.ipv4 = [...addresses.ipv4];
          c.ipv6 = [...addresses.ipv6];
          return undefined;
        },
      ),
    ];
  }
}
