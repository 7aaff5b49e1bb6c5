// The ContainerRuntime port on the `lxc` CLI: one LXD daemon per DRBD resource, chosen by LXD_DIR.
// Every command has an argument array, a timeout and a CommandRun record (exec.run, or exec.runForOutput
// where the JSON is longer than a CommandRun keeps); JSON output only, never the CLI's tables.
//
// What LXD 5.0.2 does that shapes this file (seen on a real daemon, see test/system/lxd-adapter):
// - `lxc stop` / `lxc start` on a container already in that state exit 1 with "The instance is
//   already stopped" / "already running"; for the bot that is success.
// - A forced stop overrides a clean stop still running in the daemon (after our client timed out).
// - Changing `ipv4.address` of a routed NIC on a RUNNING container exits 0: LXD hot-plugs the NIC and
//   the container is left with no eth0 at all. So setAddresses checks the state itself and refuses.
// - `lxc config device set C D key=` (empty value) removes the key, so set and unset are one command.

import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import type { ContainerInfo, ContainerRuntime, RoutedNic } from '../ports/container-runtime.js';
import { type CommandRun, ExternalCommandError } from '../ports/step-run.js';
import { run, runForOutput } from './exec.js';

export interface LxcTimeouts {
  /** `lxc list`, `lxc query`. */
  readonly list: number;
  /** `lxc stop --force`; a clean stop gets its own `--timeout` plus this much. */
  readonly stop: number;
  readonly start: number;
  /** `lxc config device …`. */
  readonly config: number;
}

export const DEFAULT_LXC_TIMEOUTS: LxcTimeouts = {
  list: 30_000,
  stop: 30_000,
  start: 60_000,
  config: 30_000,
};

/** How long a clean stop may take when the caller does not say (`lxc stop --timeout`). */
export const DEFAULT_STOP_TIMEOUT_S = 30;

export interface LxcCliOptions {
  /** This host's name, reported in every ContainerInfo. */
  readonly host: string;
  readonly resources: Readonly<Record<string, { readonly lxdDir: string }>>;
  /** The `lxc` binary (default: `lxc` on PATH). */
  readonly lxc?: string;
  readonly timeoutMs?: Partial<LxcTimeouts>;
}

/** Same rule as the bot's chat parser; checked again here so nothing odd ever reaches argv. */
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * A call of several commands failed part way: `run` is the failing command (as on any
 * ExternalCommandError), `runs` every command of the call in order, the failing one last, so the
 * audit log sees what already happened (e.g. a device override before a failed `device set`).
 */
export class LxcStepsError extends ExternalCommandError {
  constructor(
    message: string,
    run: CommandRun,
    readonly runs: readonly CommandRun[],
  ) {
    super(message, run);
    this.name = 'LxcStepsError';
  }
}

/** setAddresses on a container that is not stopped: refused before changing anything. */
export class ContainerNotStoppedError extends Error {
  readonly code = 'CONTAINER_NOT_STOPPED';
  constructor(
    readonly resource: string,
    readonly container: string,
    readonly status: string,
    /** The inspection that found the state. */
    readonly runs: readonly CommandRun[],
  ) {
    super(
      `${container} on ${resource} is ${status}: stop it before changing its addresses ` +
        '(LXD would hot-plug the routed NIC and leave the running container without it)',
    );
    this.name = 'ContainerNotStoppedError';
  }
}

const Address = z.looseObject({ family: z.string(), address: z.string(), scope: z.string().optional() });
const Device = z.record(z.string(), z.string());
const Devices = z.record(z.string(), Device).nullish();

const Instance = z.looseObject({
  name: z.string(),
  status: z.string(),
  devices: Devices,
  expanded_devices: Devices,
  last_used_at: z.string().nullish(),
});

const ListedInstance = Instance.extend({
  state: z
    .looseObject({
      network: z
        .record(
          z.string(),
          z.looseObject({ type: z.string().optional(), addresses: z.array(Address).nullish() }),
        )
        .nullish(),
    })
    .nullish(),
});

type ListedInstance = z.infer<typeof ListedInstance>;

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

function routedNic(
  devices: Readonly<Record<string, Record<string, string>>> | null | undefined,
): RoutedNic | null {
  // LXD (Go maps) sends device names sorted, so "first" is stable.
  for (const [device, config] of Object.entries(devices ?? {})) {
    if (config.type !== 'nic' || config.nictype !== 'routed') continue;
    return {
      device,
      parent: config.parent ?? null,
      ipv4: splitList(config['ipv4.address']),
      ipv6: splitList(config['ipv6.address']),
    };
  }
  return null;
}

function isLinkLocal(family: 'inet' | 'inet6', address: string): boolean {
  return family === 'inet' ? address.startsWith('169.254.') : /^fe[89ab]/i.test(address);
}

function liveAddresses(instance: ListedInstance): { ipv4: string[]; ipv6: string[] } {
  const ipv4: string[] = [];
  const ipv6: string[] = [];
  for (const [name, nic] of Object.entries(instance.state?.network ?? {})) {
    if (name === 'lo' || nic.type === 'loopback') continue;
    for (const entry of nic.addresses ?? []) {
      if (entry.scope !== 'global') continue;
      if (entry.family !== 'inet' && entry.family !== 'inet6') continue;
      if (isLinkLocal(entry.family, entry.address)) continue;
      const list = entry.family === 'inet' ? ipv4 : ipv6;
      if (!list.includes(entry.address)) list.push(entry.address);
    }
  }
  return { ipv4, ipv6 };
}

/**
 * LXD 5.0 has no "started at" field; `last_used_at` is it: set when the instance starts (checked:
 * it moves on every `lxc start`, not on stop, exec, file pull or config changes, nor on a start
 * that fails). A never-started instance has 1970-01-01T00:00:00Z (0001-01-01 in older LXD): null.
 */
function startedAt(lastUsedAt: string | null | undefined): string | null {
  if (!lastUsedAt) return null;
  const time = Date.parse(lastUsedAt);
  if (Number.isNaN(time) || time <= 0) return null;
  return new Date(time).toISOString();
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what}: not JSON (${(error as Error).message}): ${text.slice(0, 200)}`);
  }
}

function stderrSays(error: ExternalCommandError, pattern: RegExp): boolean {
  return pattern.test(error.run.stderr);
}

export class LxcCli implements ContainerRuntime {
  readonly #lxc: string;
  readonly #timeouts: LxcTimeouts;

  readonly #options: LxcCliOptions;
  constructor(options: LxcCliOptions) {
    this.#options = options;
    this.#lxc = options.lxc ?? 'lxc';
    this.#timeouts = { ...DEFAULT_LXC_TIMEOUTS, ...options.timeoutMs };
  }

  async list(resource: string): Promise<ContainerInfo[]> {
    const env = this.#env(resource);
    let listed: { stdout: string };
    try {
      listed = await runForOutput(this.#lxc, ['list', '--format', 'json'], {
        timeoutMs: this.#timeouts.list,
        env,
      });
    } catch (error) {
      if (!(error instanceof ExternalCommandError)) throw error;
      throw new ExternalCommandError(
        `LXD of ${resource} (LXD_DIR=${env.LXD_DIR}) did not answer: ${error.message}`,
        error.run,
      );
    }
    const parsed = z.array(ListedInstance).nullable().safeParse(parseJson(listed.stdout, 'lxc list'));
    if (!parsed.success) throw new Error(`lxc list of ${resource}: unexpected JSON: ${parsed.error.message}`);
    return (parsed.data ?? []).map((instance) => ({
      name: instance.name,
      resource,
      host: this.#options.host,
      status: instance.status,
      addresses: liveAddresses(instance),
      nic: routedNic(instance.expanded_devices),
      startedAt: startedAt(instance.last_used_at),
    }));
  }

  async stop(
    resource: string,
    name: string,
    options?: { readonly timeoutS?: number },
  ): Promise<CommandRun[]> {
    const env = this.#env(resource);
    checkName(name);
    const timeoutS = options?.timeoutS ?? DEFAULT_STOP_TIMEOUT_S;
    if (!Number.isInteger(timeoutS) || timeoutS < 1) {
      throw new Error(`stop timeout must be a whole number of seconds ≥ 1: ${timeoutS}`);
    }
    const runs: CommandRun[] = [];
    try {
      runs.push(
        await run(this.#lxc, ['stop', name, '--timeout', String(timeoutS)], {
          timeoutMs: timeoutS * 1000 + this.#timeouts.stop,
          env,
        }),
      );
      return runs;
    } catch (error) {
      if (!(error instanceof ExternalCommandError)) throw error;
      runs.push(error.run);
      if (stderrSays(error, /already stopped/i)) return runs;
      // Forcing cannot help a container that does not exist, a daemon that does not answer or an
      // lxc that cannot be run; it is what a clean stop past its time needs.
      const cannotRun = error.run.exitCode === -1 && error.run.timedOut !== true;
      if (stderrSays(error, /not found|unix\.socket/i) || cannotRun) {
        throw new LxcStepsError(error.message, error.run, runs);
      }
    }
    try {
      runs.push(await run(this.#lxc, ['stop', name, '--force'], { timeoutMs: this.#timeouts.stop, env }));
      return runs;
    } catch (error) {
      if (!(error instanceof ExternalCommandError)) throw error;
      runs.push(error.run);
      // The clean stop may have finished after our client gave up on it.
      if (stderrSays(error, /already stopped/i)) return runs;
      throw new LxcStepsError(error.message, error.run, runs);
    }
  }

  async start(resource: string, name: string): Promise<CommandRun[]> {
    const env = this.#env(resource);
    checkName(name);
    try {
      return [await run(this.#lxc, ['start', name], { timeoutMs: this.#timeouts.start, env })];
    } catch (error) {
      if (error instanceof ExternalCommandError && stderrSays(error, /already running/i)) return [error.run];
      throw error;
    }
  }

  async setAddresses(
    resource: string,
    name: string,
    device: string,
    addresses: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] },
  ): Promise<CommandRun[]> {
    const env = this.#env(resource);
    checkName(name);
    if (!DEVICE_NAME.test(device)) throw new Error(`refusing device name ${JSON.stringify(device)}`);
    for (const address of addresses.ipv4) {
      if (!isIPv4(address)) throw new Error(`refusing IPv4 address ${JSON.stringify(address)}`);
    }
    for (const address of addresses.ipv6) {
      if (!isIPv6(address)) throw new Error(`refusing IPv6 address ${JSON.stringify(address)}`);
    }

    const runs: CommandRun[] = [];
    const step = async (args: string[], timeoutMs: number): Promise<string> => {
      try {
        const done = await runForOutput(this.#lxc, args, { timeoutMs, env });
        runs.push(done.run);
        return done.stdout;
      } catch (error) {
        if (!(error instanceof ExternalCommandError)) throw error;
        runs.push(error.run);
        throw new LxcStepsError(error.message, error.run, runs);
      }
    };

    // `lxc query` gives one instance by exact name; `lxc list NAME` would match by prefix.
    const inspected = await step(['query', `/1.0/instances/${name}`], this.#timeouts.list);
    const parsed = Instance.safeParse(parseJson(inspected, `lxc query ${name}`));
    if (!parsed.success) {
      throw new Error(`lxc query ${name} on ${resource}: unexpected JSON: ${parsed.error.message}`);
    }
    const instance = parsed.data;
    if (instance.status !== 'Stopped') {
      throw new ContainerNotStoppedError(resource, name, instance.status, runs);
    }
    const expanded = instance.expanded_devices?.[device];
    if (expanded?.type !== 'nic' || expanded.nictype !== 'routed') {
      throw new Error(`${name} on ${resource} has no routed NIC ${JSON.stringify(device)}`);
    }
    if (instance.devices?.[device] === undefined) {
      // Inherited from a profile: give the instance its own copy, or the change would hit every
      // container using that profile.
      await step(['config', 'device', 'override', name, device], this.#timeouts.config);
    }
    await step(
      [
        'config',
        'device',
        'set',
        name,
        device,
        `ipv4.address=${addresses.ipv4.join(',')}`,
        `ipv6.address=${addresses.ipv6.join(',')}`,
      ],
      this.#timeouts.config,
    );
    return runs;
  }

  #env(resource: string): { LXD_DIR: string } {
    const known = Object.hasOwn(this.#options.resources, resource)
      ? this.#options.resources[resource]
      : undefined;
    if (known === undefined) {
      const names = Object.keys(this.#options.resources).join(', ') || 'none';
      throw new Error(
        `unknown resource ${JSON.stringify(resource)} on ${this.#options.host} (known: ${names})`,
      );
    }
    return { LXD_DIR: known.lxdDir };
  }
}

function checkName(name: string): void {
  if (!CONTAINER_NAME.test(name)) throw new Error(`refusing container name ${JSON.stringify(name)}`);
}
