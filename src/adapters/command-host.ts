// The HostOps port on a real host: drbdadm for roles, mount/umount, systemctl for the resource's
// LXD daemon (or the commands the configuration names), fuser for what holds the mount or the
// device. Every command through exec.run: an argument array, a timeout, a CommandRun for the audit.

import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import type { HostOps, PreflightCheck } from '../ports/host-ops.js';
import { type CommandRun, ExternalCommandError } from '../ports/step-run.js';
import { run } from './exec.js';

export interface HostResource {
  readonly mountPoint: string;
  readonly device: string;
  readonly lxdUnit: string;
  readonly commands: {
    readonly mount?: readonly string[] | undefined;
    readonly umount?: readonly string[] | undefined;
    readonly lxdStart?: readonly string[] | undefined;
    readonly lxdStop?: readonly string[] | undefined;
  };
}

export interface CommandHostOptions {
  readonly drbdadm: string;
  readonly drbdadmArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly resources: Readonly<Record<string, HostResource>>;
  /** drbdadm's time limit. */
  readonly timeoutMs: number;
  /** mount, umount, the LXD daemon's start and stop (slower: LXD stops its containers). */
  readonly serviceTimeoutMs?: number;
  /** Where mounts are listed (tests point it elsewhere). */
  readonly mountsFile?: string;
}

/** Is `point` a mount point now? /proc/self/mounts escapes spaces as \040. */
export function isMounted(point: string, mountsFile = '/proc/self/mounts'): boolean {
  const escaped = point.replace(/ /g, '\\040');
  return readFileSync(mountsFile, 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === escaped);
}

function onPath(binary: string): boolean {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').map((d) => `${d}/${binary}`);
  return candidates.some((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export class CommandHost implements HostOps {
  readonly #options: CommandHostOptions;
  constructor(options: CommandHostOptions) {
    this.#options = options;
  }

  #resource(name: string): HostResource {
    const found = this.#options.resources[name];
    if (found === undefined)
      throw new Error(
        `unknown resource ${name} (configured: ${Object.keys(this.#options.resources).join(', ')})`,
      );
    return found;
  }

  async #run(
    argv: readonly string[],
    env?: Readonly<Record<string, string>>,
    timeoutMs = this.#options.serviceTimeoutMs ?? this.#options.timeoutMs,
  ): Promise<CommandRun[]> {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('empty command');
    return [await run(file, args, { timeoutMs, ...(env === undefined ? {} : { env }) })];
  }

  /**
   * drbdadm, with DRBD's own reason in the error: drbdadm prints "State change failed: (-12) …"
   * before several more lines, so the last lines alone would hide it.
   */
  async #drbdadm(args: readonly string[]): Promise<CommandRun[]> {
    const argv = [this.#options.drbdadm, ...this.#options.drbdadmArgs, ...args];
    try {
      return await this.#run(argv, this.#options.env, this.#options.timeoutMs);
    } catch (err) {
      if (!(err instanceof ExternalCommandError)) throw err;
      const reason = err.run.stderr
        .split('\n')
        .find((line) => /State change failed: \(-?\d+\)|Failure: \(\d+\)/.test(line));
      if (reason === undefined) throw err;
      throw new ExternalCommandError(
        `drbdadm ${args.join(' ')}: ${reason.trim()} (exit ${err.run.exitCode})`,
        err.run,
      );
    }
  }

  drbdRole(resource: string, role: 'primary' | 'secondary'): Promise<CommandRun[]> {
    this.#resource(resource);
    return this.#drbdadm([role, resource]);
  }

  drbdDisconnect(resource: string): Promise<CommandRun[]> {
    this.#resource(resource);
    return this.#drbdadm(['disconnect', resource]);
  }

  drbdConnect(resource: string, options: { readonly discardMyData?: boolean } = {}): Promise<CommandRun[]> {
    this.#resource(resource);
    return this.#drbdadm([
      'connect',
      ...(options.discardMyData === true ? ['--discard-my-data'] : []),
      resource,
    ]);
  }

  async mount(resource: string): Promise<CommandRun[]> {
    const r = this.#resource(resource);
    if (isMounted(r.mountPoint, this.#options.mountsFile)) return [];
    return this.#run(r.commands.mount ?? ['mount', r.device, r.mountPoint]);
  }

  async umount(resource: string): Promise<CommandRun[]> {
    const r = this.#resource(resource);
    if (!isMounted(r.mountPoint, this.#options.mountsFile)) return [];
    return this.#run(r.commands.umount ?? ['umount', r.mountPoint]);
  }

  lxdStart(resource: string): Promise<CommandRun[]> {
    const r = this.#resource(resource);
    return this.#run(r.commands.lxdStart ?? ['systemctl', 'start', r.lxdUnit]);
  }

  lxdStop(resource: string): Promise<CommandRun[]> {
    const r = this.#resource(resource);
    return this.#run(r.commands.lxdStop ?? ['systemctl', 'stop', r.lxdUnit]);
  }

  async holders(resource: string) {
    const r = this.#resource(resource);
    const holders: string[] = [];
    const runs: CommandRun[] = [];
    for (const args of [
      ['-vm', r.mountPoint],
      ['-v', r.device],
    ]) {
      if (!existsSync(args[1] ?? '')) continue;
      try {
        runs.push(...(await this.#run(['fuser', ...args], undefined, this.#options.timeoutMs)));
      } catch (err) {
        // fuser exits 1 when nobody holds it: that is the good answer.
        if (!(err instanceof ExternalCommandError)) throw err;
        runs.push(err.run);
        if (err.run.exitCode === 1) continue;
      }
      // "  /r0:  root  812 F.... multipathd" (the list is on stderr).
      for (const line of (runs.at(-1)?.stderr ?? '').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        const pid = fields.find((f) => /^\d+$/.test(f));
        const command = fields.at(-1);
        if (pid !== undefined && command !== undefined)
          holders.push(`${command} (pid ${pid}) holds ${args[1]}`);
      }
    }
    return { holders, runs };
  }

  async preflight(resource: string): Promise<readonly PreflightCheck[]> {
    const r = this.#resource(resource);
    const directory = (() => {
      try {
        return statSync(r.mountPoint).isDirectory();
      } catch {
        return false;
      }
    })();
    const lxdCommand = r.commands.lxdStart?.[0];
    let lxd: PreflightCheck;
    if (lxdCommand !== undefined) {
      lxd = { name: 'LXD daemon', ok: onPath(lxdCommand), detail: `${lxdCommand} (configured)` };
    } else {
      try {
        await this.#run(['systemctl', 'cat', `${r.lxdUnit}.service`], undefined, this.#options.timeoutMs);
        lxd = { name: 'LXD daemon', ok: true, detail: `${r.lxdUnit}.service` };
      } catch {
        lxd = { name: 'LXD daemon', ok: false, detail: `no systemd unit ${r.lxdUnit}.service` };
      }
    }
    const binaries = [this.#options.drbdadm, 'mount', 'umount', 'lxc'];
    const missing = binaries.filter((b) => !onPath(b));
    return [
      {
        name: 'mount point',
        ok: directory,
        detail: directory ? `${r.mountPoint} exists` : `${r.mountPoint} is not a directory`,
      },
      lxd,
      {
        name: 'binaries',
        ok: missing.length === 0,
        detail: missing.length === 0 ? binaries.join(', ') : `missing: ${missing.join(', ')}`,
      },
    ];
  }
}
