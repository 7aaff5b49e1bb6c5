// Real LXD for system tests, offline: a private daemon on its own LXD_DIR, a busybox image built
// from busybox-static, veth pairs as parents of routed NICs, containers with routed NICs. See
// ../shared/notes/system-tests.md for why it is done this way on these machines.
//
// Everything made here is undone by a cleanup step: per test (test/helpers/cleanup.ts, the default)
// or per suite (suiteCleanup(), run from afterAll) when a daemon or image is shared by the tests
// of a describe. Only processes this file started are ended, by their PID.
//
// Container and interface names are global on a host (LXD's firewall chains are named after the
// container, in one nftables table for every daemon), so callers name things with uniqueSuffix().

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { run } from '../../../src/adapters/exec.js';
import { type CommandRun, ExternalCommandError } from '../../../src/ports/step-run.js';
import { onCleanup } from '../../helpers/cleanup.js';

export const LXD_INSTALL_HINT =
  'apt-get install -y lxd lxd-client busybox-static btrfs-progs nftables iptables ' +
  '(nftables/iptables before the first LXD daemon starts)';

export type CleanupStep = () => Promise<void> | void;
export type Register = (step: CleanupStep) => void;

export interface SuiteCleanup {
  readonly add: Register;
  /** Every step in reverse order, also after one failed; then throws what failed. */
  run(): Promise<void>;
}

/** Cleanup for what the tests of a describe share: add from beforeAll, run from afterAll. */
export function suiteCleanup(): SuiteCleanup {
  const steps: CleanupStep[] = [];
  return {
    add: (step) => {
      steps.push(step);
    },
    async run() {
      const errors: unknown[] = [];
      for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
        try {
          await step();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'several LXD cleanup steps failed');
    },
  };
}

/** Options every creating function takes: where its undo goes (default: after the current test). */
export interface CleanupOption {
  readonly cleanup?: Register;
}

/** Lowercase letters and digits, for names that must not clash with another run on this host. */
export function uniqueSuffix(length = 6): string {
  return randomBytes(length)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0')
    .slice(0, length);
}

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function onPath(name: string): boolean {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...SBIN_DIRS]) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this one
    }
  }
  return false;
}

/** True when the ELF file has no program interpreter (PT_INTERP), i.e. is statically linked. */
function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false; // ELF64 only
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Throws (never skips) unless this machine can run the LXD system tests: root, lxd and lxc, a
 * static /bin/busybox, nft and iptables, ip and tar.
 */
export function requireLxd(): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (LXD daemons, veths and routes need it)');
  for (const tool of ['lxd', 'lxc', 'nft', 'iptables', 'ip', 'tar']) if (!onPath(tool)) missing.push(tool);
  if (!existsSync('/bin/busybox')) missing.push('/bin/busybox');
  else if (!isStaticElf('/bin/busybox')) missing.push('a static /bin/busybox (busybox-static, not busybox)');
  if (missing.length > 0) {
    throw new Error(
      `LXD system tests cannot run here: missing ${missing.join(', ')}. Install: ${LXD_INSTALL_HINT}`,
    );
  }
}

/** `lxc ARGS…` on the daemon of `lxdDir`; throws ExternalCommandError when it fails. */
export function lxc(lxdDir: string, ...args: string[]): Promise<CommandRun> {
  return run('lxc', args, { timeoutMs: 60_000, env: { LXD_DIR: lxdDir } });
}

/**
 * The whole stdout of a command (a CommandRun keeps only the last 4 KiB): for JSON and long lists.
 * Throws with the command's stderr when it fails.
 */
export async function capture(
  file: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<string> {
  const result = await execa(file, args, {
    timeout: 60_000,
    reject: false,
    stdin: 'ignore',
    ...(env ? { env } : {}),
  });
  if (result.failed) throw new Error(`${[file, ...args].join(' ')}: ${result.stderr || result.message}`);
  return result.stdout;
}

/** `lxc query PATH` parsed. */
export async function lxcQuery<T = Record<string, unknown>>(lxdDir: string, path: string): Promise<T> {
  return JSON.parse(await capture('lxc', ['query', path], { LXD_DIR: lxdDir })) as T;
}

async function bestEffort(what: string, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (error) {
    // Cleanup of something already gone (a deleted container, a stopped daemon) is not a failure;
    // anything else is worth seeing, but must not stop the remaining cleanup.
    const text = error instanceof ExternalCommandError ? error.run.stderr : String(error);
    if (!/not found|cannot find|no such|does not exist|unix\.socket/i.test(text)) {
      console.warn(`LXD harness cleanup: ${what}: ${text.trim()}`);
    }
  }
}

const ARCHITECTURES: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64' };

/**
 * An LXD image tarball (unified: metadata.yaml + rootfs/) from busybox-static, so no image server
 * is needed. init keeps one process alive with a respawn line, so the container stays Running.
 */
export async function buildBusyboxImage(dir: string): Promise<string> {
  const root = join(dir, 'busybox-image');
  const rootfs = join(root, 'rootfs');
  const dirs = ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run'];
  for (const sub of dirs) mkdirSync(join(rootfs, sub), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  const applets = (await capture('/bin/busybox', ['--list-full'])).split('\n');
  for (const applet of applets.map((line) => line.trim())) {
    if (applet === '' || applet === 'bin/busybox' || existsSync(join(rootfs, applet))) continue;
    mkdirSync(dirname(join(rootfs, applet)), { recursive: true });
    symlinkSync('/bin/busybox', join(rootfs, applet));
  }
  writeFileSync(join(rootfs, 'etc/inittab'), '::respawn:/bin/sleep 2147483647\n::shutdown:/bin/sync\n');
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  const architecture = ARCHITECTURES[process.arch] ?? process.arch;
  writeFileSync(
    join(root, 'metadata.yaml'),
    [
      `architecture: ${architecture}`,
      `creation_date: ${Math.floor(Date.now() / 1000)}`,
      'properties:',
      '  description: busybox (drbd-chatops system tests)',
      '  os: busybox',
      '  release: static',
      '',
    ].join('\n'),
  );
  const tarball = join(dir, 'busybox-lxd-image.tar.gz');
  await run('tar', ['-C', root, '-czf', tarball, 'metadata.yaml', 'rootfs/'], { timeoutMs: 60_000 });
  return tarball;
}

// `lxd init --auto` cannot find a free subnet for a bridge here; the tests need no managed network.
const PRESEED = `storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
`;

export interface LxdDaemon {
  readonly lxdDir: string;
  readonly logFile: string;
  readonly pid: number;
  /** `lxd shutdown`, then SIGKILL to our PID if it is still there; unmounts what it left. Idempotent. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

function tailOf(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Mount points under `dir` (deepest first), e.g. left behind by a daemon that was killed. */
function mountsUnder(dir: string): string[] {
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((point): point is string => point?.startsWith(prefix) === true)
    .sort((a, b) => b.length - a.length);
}

/**
 * A temporary directory for daemons and images, removed afterwards. Mode 0711, not mkdtemp's 0700:
 * a container's root is uid 100000 on the host and must traverse to its rootfs, or every start
 * fails with "Failed to run: /usr/bin/lxd forkstart …: exit status 1".
 */
export function lxdWorkDir(options: CleanupOption = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-lxd-'));
  chmodSync(dir, 0o711);
  (options.cleanup ?? onCleanup)(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Fails early, and says why, where containers could never start (see lxdWorkDir). */
function checkTraversable(dir: string): void {
  for (let path = resolve(dir); ; path = dirname(path)) {
    if ((statSync(path).mode & 0o001) === 0) {
      throw new Error(
        `${path} is not traversable by others (mode ${(statSync(path).mode & 0o777).toString(8)}): ` +
          `containers under ${dir} could not start; use lxdWorkDir() or chmod o+x`,
      );
    }
    if (path === dirname(path)) return;
  }
}

/**
 * A private LXD daemon on `lxdDir` (created if needed), ready and initialised with a `dir` storage
 * pool `default` and a default profile holding only the root disk (no network).
 */
export async function startLxdDaemon(
  options: { readonly lxdDir: string; readonly logFile: string } & CleanupOption,
): Promise<LxdDaemon> {
  const { lxdDir, logFile } = options;
  const register = options.cleanup ?? onCleanup;
  mkdirSync(lxdDir, { recursive: true, mode: 0o711 });
  checkTraversable(lxdDir);
  const env = { LXD_DIR: lxdDir };
  // The daemon writes its own log to logFile; its console output (start-up failures) goes beside it.
  const consoleFile = `${logFile}.console`;
  const consoleFd = openSync(consoleFile, 'a');
  const child = spawn('lxd', ['--group', 'root', '--logfile', logFile], {
    env: { ...process.env, ...env },
    stdio: ['ignore', consoleFd, consoleFd],
  });
  closeSync(consoleFd);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await spawned;
  const pid = child.pid;
  if (pid === undefined) throw new Error('lxd did not start');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited(child)) {
        await bestEffort('lxd shutdown', () =>
          run('lxd', ['shutdown', '--timeout=30'], { timeoutMs: 40_000, env }),
        );
        if (!(await waitForExit(child, 10_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 10_000);
        }
      }
      for (const point of mountsUnder(lxdDir)) {
        await bestEffort(`umount ${point}`, () => run('umount', ['-l', point], { timeoutMs: 30_000 }));
      }
      await removeEmptyFirewallTable();
    })();
    return stopping;
  };
  register(stop);

  const describeFailure = (what: string, error: unknown) =>
    new Error(
      `${what} (LXD_DIR=${lxdDir}): ${error instanceof Error ? error.message : String(error)}\n` +
        `--- ${logFile}\n${tailOf(logFile)}\n--- ${consoleFile}\n${tailOf(consoleFile)}`,
    );
  try {
    await run('lxd', ['waitready', '--timeout=60'], { timeoutMs: 70_000, env });
  } catch (error) {
    throw describeFailure('LXD daemon did not become ready', error);
  }
  // Through execa because exec.run gives commands no standard input, and the preseed is read there.
  const init = await execa('lxd', ['init', '--preseed'], {
    input: PRESEED,
    env,
    timeout: 60_000,
    reject: false,
  });
  if (init.failed) throw describeFailure('lxd init --preseed failed', `${init.stderr}${init.stdout}`);
  return { lxdDir, logFile, pid, stop };
}

/** `lxc image import TARBALL --alias ALIAS`; the image is deleted afterwards. */
export async function importImage(
  lxdDir: string,
  tarball: string,
  alias: string,
  options: CleanupOption = {},
): Promise<void> {
  await lxc(lxdDir, 'image', 'import', tarball, '--alias', alias);
  (options.cleanup ?? onCleanup)(() =>
    bestEffort(`image ${alias}`, () => lxc(lxdDir, 'image', 'delete', alias)),
  );
}

export interface VethParent {
  /** The host end: the `parent` of routed NICs. */
  readonly name: string;
  /** The other end: in `netns` when the parent has a neighbour network, else beside it. */
  readonly peer: string;
  readonly netns: string | null;
  /**
   * Puts `address` on the neighbour's end, as another machine on the parent network using it
   * (only with `subnet`): LXD's ARP probe at start then finds it in use.
   */
  addNeighbourAddress(address: string): Promise<void>;
}

const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,12}$/;

/**
 * A veth pair to serve as the parent of routed NICs (this kernel has no dummy interfaces), both ends
 * up, IPv4 forwarding on the parent as LXD requires. With `subnet` (the parent's own address with a
 * prefix, e.g. 203.0.113.1/24) the peer end goes into its own network namespace, a neighbour on
 * that subnet; LXD's neighbour probe needs the parent to have an address in the probed subnet.
 */
export async function createVethParent(
  name: string,
  options: { readonly subnet?: string } & CleanupOption = {},
): Promise<VethParent> {
  // IFNAMSIZ is 16 with the NUL; the peer is the name plus "p".
  if (!INTERFACE_NAME.test(name)) throw new Error(`veth name must be 1–13 plain characters: ${name}`);
  const register = options.cleanup ?? onCleanup;
  const peer = `${name}p`;
  const ip = (...args: string[]) => run('ip', args, { timeoutMs: 10_000 });
  await ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
  register(() => bestEffort(`ip link del ${name}`, () => ip('link', 'del', name)));
  let netns: string | null = null;
  let prefixLength = '';
  if (options.subnet !== undefined) {
    const [, length] = options.subnet.split('/');
    if (length === undefined) throw new Error(`subnet must be ADDRESS/PREFIX: ${options.subnet}`);
    prefixLength = length;
    const namespace = `${name}-nb`;
    await ip('netns', 'add', namespace);
    netns = namespace;
    register(() => bestEffort(`ip netns del ${namespace}`, () => ip('netns', 'del', namespace)));
    await ip('link', 'set', peer, 'netns', namespace);
    await ip('-n', namespace, 'link', 'set', 'lo', 'up');
    await ip('-n', namespace, 'link', 'set', peer, 'up');
    await ip('addr', 'add', options.subnet, 'dev', name);
  } else {
    await ip('link', 'set', peer, 'up');
  }
  await ip('link', 'set', name, 'up');
  // Gone with the interface, so nothing to undo.
  writeFileSync(`/proc/sys/net/ipv4/conf/${name}/forwarding`, '1\n');
  return {
    name,
    peer,
    netns,
    async addNeighbourAddress(address: string) {
      if (netns === null) {
        throw new Error(`veth ${name} has no neighbour namespace (create it with a subnet)`);
      }
      await ip('-n', netns, 'addr', 'add', `${address}/${prefixLength}`, 'dev', peer);
    },
  };
}

interface NftTable {
  nftables?: { chain?: { name: string } }[];
}

/**
 * LXD leaves its reverse-path-filter chain (inet lxd prert.NAME.DEVICE) behind when a start fails
 * part way, and `lxc delete` does not remove it; a later container of the same name would inherit it.
 */
export async function removeStaleFirewallChains(container: string): Promise<void> {
  let table: NftTable;
  try {
    table = JSON.parse(await capture('nft', ['-j', 'list', 'table', 'inet', 'lxd']));
  } catch {
    return; // no table: nothing left behind
  }
  for (const entry of table.nftables ?? []) {
    const chain = entry.chain?.name;
    if (chain?.startsWith(`prert.${container}.`)) {
      await bestEffort(`nft delete chain ${chain}`, () =>
        run('nft', ['delete', 'chain', 'inet', 'lxd', chain], { timeoutMs: 10_000 }),
      );
    }
  }
}

/**
 * The `inet lxd` table all daemons share, once no chain is left in it. Safe beside other daemons:
 * LXD declares the table again in every rule set it loads.
 */
async function removeEmptyFirewallTable(): Promise<void> {
  let table: NftTable;
  try {
    table = JSON.parse(await capture('nft', ['-j', 'list', 'table', 'inet', 'lxd']));
  } catch {
    return;
  }
  if ((table.nftables ?? []).some((entry) => entry.chain !== undefined)) return;
  await bestEffort('nft delete table inet lxd', () =>
    run('nft', ['delete', 'table', 'inet', 'lxd'], { timeoutMs: 10_000 }),
  );
}

/**
 * `lxc delete --force NAME`, then what LXD may leave of it: when a start fails after its devices
 * started (e.g. forkstart failing), the host end of the veth and its route stay (their names are
 * still in volatile.*.host_name), and the firewall chain stays after any failed start.
 */
export async function deleteContainer(lxdDir: string, name: string): Promise<void> {
  let hostNames: string[] = [];
  try {
    const instance = await lxcQuery<{ config?: Record<string, string> }>(lxdDir, `/1.0/instances/${name}`);
    hostNames = Object.entries(instance.config ?? {})
      .filter(([key]) => /^volatile\.[^.]+\.host_name$/.test(key))
      .map(([, value]) => value);
  } catch {
    // already gone, or the daemon is: nothing to read
  }
  await bestEffort(`lxc delete ${name}`, () => lxc(lxdDir, 'delete', '--force', name));
  for (const link of hostNames) {
    if (existsSync(`/sys/class/net/${link}`)) {
      await bestEffort(`ip link del ${link}`, () => run('ip', ['link', 'del', link], { timeoutMs: 10_000 }));
    }
  }
  await removeStaleFirewallChains(name);
}

/**
 * `lxc init ALIAS NAME` with a routed NIC `eth0` on the instance itself (not from a profile), then
 * `lxc start` unless `start: false`. Deleted afterwards (deleteContainer).
 */
export async function launchRouted(
  lxdDir: string,
  name: string,
  alias: string,
  parent: string,
  ipv4: readonly string[],
  options: { readonly ipv6?: readonly string[]; readonly start?: boolean } & CleanupOption = {},
): Promise<void> {
  await lxc(lxdDir, 'init', alias, name);
  (options.cleanup ?? onCleanup)(() => deleteContainer(lxdDir, name));
  const keys = [`parent=${parent}`];
  if (ipv4.length > 0) keys.push(`ipv4.address=${ipv4.join(',')}`);
  if (options.ipv6 !== undefined && options.ipv6.length > 0) {
    keys.push(`ipv6.address=${options.ipv6.join(',')}`);
  }
  await lxc(lxdDir, 'config', 'device', 'add', name, 'eth0', 'nic', 'nictype=routed', ...keys);
  if (options.start !== false) await lxc(lxdDir, 'start', name);
}

/**
 * `count` distinct addresses of the /24 `prefix` ("198.51.100") with no host route yet, so that a
 * test running beside another on this host does not take the same ones (LXD would refuse the
 * second container with "File exists" on its host route).
 */
export async function unusedAddresses(prefix: string, count: 1): Promise<[string]>;
export async function unusedAddresses(prefix: string, count: 2): Promise<[string, string]>;
export async function unusedAddresses(prefix: string, count: 3): Promise<[string, string, string]>;
export async function unusedAddresses(prefix: string, count: number): Promise<string[]>;
export async function unusedAddresses(prefix: string, count: number): Promise<string[]> {
  const routes = await capture('ip', ['-4', 'route', 'show', 'table', 'all']);
  // Every route's destination, also `local ADDRESS …` (an address on one of this host's interfaces).
  const used = new Set<string>();
  for (const line of routes.split('\n')) {
    const destination = line.split(/\s+/).find((word) => /^\d+\.\d+\.\d+\.\d+(\/32)?$/.test(word));
    if (destination !== undefined) used.add(destination.replace(/\/32$/, ''));
  }
  const free: string[] = [];
  const start = 10 + Math.floor(Math.random() * 200);
  for (let i = 0; i < 240 && free.length < count; i++) {
    const address = `${prefix}.${10 + ((start - 10 + i) % 240)}`;
    if (!used.has(address)) free.push(address);
  }
  if (free.length < count) throw new Error(`not ${count} unused addresses left in ${prefix}.0/24`);
  return free;
}
