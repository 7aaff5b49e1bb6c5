// The switchover benchmark's machine: a DRBD+LXD "pair" on this one host, offline, all real parts.
// The replicated device is a btrfs file system on a loop device that only the Primary mounts, at the
// same mount point for both hosts; which host is Primary is the DRBD simulator's state
// (bin/drbdsetup-sim behind the real drbdadm and a real resource file); the resource's LXD daemon
// runs on <mount point>/lxd, started and stopped by a small script (what a systemd unit does on a
// real host); busybox containers (an image built from busybox-static) with routed addresses on a
// veth parent. The same machinery as test/system/helpers/{lxd-harness,failover-harness}.ts, cut
// down to what the benchmark needs (bench/ does not import test/).
//
// close() undoes everything in reverse order, also after a failed set-up: containers, image, the
// daemon (by its recorded PID, never by name), the veth, the mounts, the loop device, LXD's
// firewall chains of our containers, the temporary directory.

import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { execa } from 'execa';
import { run } from '../src/adapters/exec.js';
import { SimulatedPair } from '../src/sim/pair.js';

export const RESOURCE = 'r0';
const IMAGE_ALIAS = 'busybox';
const TOOLS = ['lxd', 'lxc', 'nft', 'iptables', 'ip', 'tar', 'drbdadm', 'fuser', 'losetup', 'mkfs.btrfs'];
const TOOLS_MORE = ['mountpoint', 'setsid', 'bash'];
export const RIG_INSTALL_HINT =
  'apt-get install -y lxd lxd-client busybox-static btrfs-progs nftables iptables drbd-utils psmisc';

function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin']) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this one
    }
  }
  return undefined;
}

/** Why this machine cannot run the rig (not root, a tool missing), or undefined when it can. */
export function rigMissing(): string | undefined {
  const tools = [...TOOLS, ...TOOLS_MORE].filter((t) => findBinary(t) === undefined);
  if (!existsSync('/bin/busybox')) tools.push('/bin/busybox');
  const missing = [
    ...(process.getuid?.() === 0 ? [] : ['root']),
    ...(tools.length === 0 ? [] : [`${tools.join(', ')} (${RIG_INSTALL_HINT})`]),
  ];
  return missing.length === 0 ? undefined : `needs ${missing.join(' and ')}`;
}

// The resource's LXD daemon, as its systemd unit would run it: `start` refuses on an unmounted
// mount point, starts lxd in its own session with its output in RUN_DIR, records its PID and waits
// until it is ready; `stop` is `lxd shutdown`, then waits until the process is gone and unmounts
// what the daemon left under LXD_DIR (so that the mount point can be unmounted).
const LXD_CTL = `#!/bin/sh
set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
action=$1
LXD_DIR=$2
run=$3
export LXD_DIR
pidfile=$run/lxd.pid
# Still there: a process that is not a zombie, or a zombie whose other threads are still exiting
# (the leader of a Go daemon turns Z before its threads have closed the files they share; until
# then the file system under LXD_DIR is busy). Orphaned daemons are reaped by init.
running() {
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)
  [ -n "$state" ] || return 1
  [ "$state" != Z ] || [ "$(ls "/proc/$1/task" 2>/dev/null | wc -l)" -gt 1 ]
}
alive() { [ -s "$pidfile" ] && running "$(cat "$pidfile")"; }
case $action in
start)
  if ! mountpoint -q "$(dirname "$LXD_DIR")"; then
    echo "lxd-ctl: $(dirname "$LXD_DIR") is not mounted: refusing to start LXD on it" >&2
    exit 1
  fi
  mkdir -p "$run"
  if ! alive; then
    setsid lxd --group root --logfile "$run/lxd.log" </dev/null >>"$run/lxd.console" 2>&1 &
    echo "$!" >"$pidfile"
  fi
  lxd waitready --timeout=60
  ;;
stop)
  if alive; then
    pid=$(cat "$pidfile")
    lxd shutdown --timeout=60 || kill -KILL "$pid" 2>/dev/null || true
    i=0
    while running "$pid"; do
      i=$((i + 1))
      [ "$i" -le 300 ] || { echo "lxd-ctl: LXD (pid $pid) still there after 30 s" >&2; exit 1; }
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
  awk -v prefix="$LXD_DIR/" 'index($2, prefix) == 1 { print length($2), $2 }' /proc/self/mounts |
    sort -rn | while read -r _ point; do umount -l "$point"; done
  ;;
*)
  echo "usage: $0 start|stop LXD_DIR RUN_DIR" >&2
  exit 2
  ;;
esac
`;

// `lxd init --auto` cannot find a free subnet for a bridge here; no managed network is needed.
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

export interface RigContainer {
  readonly name: string;
  readonly ipv4: string;
}

type Step = () => Promise<unknown> | unknown;

export class LxdRig {
  readonly #undo: Step[] = [];
  #closing: Promise<void> | undefined;
  #running = new Set<string>();

  private constructor(
    readonly work: string,
    readonly drbdadm: string,
    readonly simDir: string,
    readonly resFile: string,
  ) {}

  loopDevice = '';
  mountPoint = '';
  lxdDir = '';
  /** LXD's log, console and PID file, outside the replicated file system. */
  runDir = '';
  /** The LXD start/stop script: `<lxdCtl> start|stop <lxdDir> <runDir>`. */
  lxdCtl = '';
  containers: RigContainer[] = [];

  /** Everything up: r0 Primary on alpha, mounted, LXD running on it, `count` containers created (stopped). */
  static async start(options: { readonly containers: number }): Promise<LxdRig> {
    const why = rigMissing();
    if (why !== undefined) throw new Error(`the LXD rig ${why}`);
    // Mode 0711: a container's root (uid 100000 on the host) must traverse to its rootfs.
    const work = mkdtempSync(join(tmpdir(), 'drbd-chatops-bench-'));
    chmodSync(work, 0o711);
    const rig = new LxdRig(
      work,
      findBinary('drbdadm') ?? 'drbdadm',
      join(work, 'drbd'),
      join(work, 'r0.res'),
    );
    rig.#undo.push(() => rmSync(work, { recursive: true, force: true }));
    try {
      await rig.#setUp(options.containers);
    } catch (error) {
      await rig.close();
      throw error;
    }
    return rig;
  }

  async #setUp(count: number): Promise<void> {
    const sh = (file: string, ...args: string[]) => run(file, args, { timeoutMs: 120_000 });
    const suffix = randomBytes(6)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '0')
      .slice(0, 6);
    const work = this.work;

    // The replicated device.
    const image = join(work, 'r0.img');
    writeFileSync(image, '');
    await sh('truncate', '-s', '2G', image);
    this.loopDevice = (await sh('losetup', '-f', '--show', image)).stdout.trim();
    const loop = this.loopDevice;
    this.#undo.push(() => sh('losetup', '-d', loop));
    await sh('mkfs.btrfs', '-q', loop);
    this.mountPoint = join(work, RESOURCE);
    mkdirSync(this.mountPoint, { mode: 0o711 });
    await sh('mount', loop, this.mountPoint);
    this.#undo.push(() => this.#unmountAll());
    chmodSync(this.mountPoint, 0o711);
    this.lxdDir = join(this.mountPoint, 'lxd');
    mkdirSync(this.lxdDir, { mode: 0o711 });

    // DRBD: r0 Primary on alpha in the simulator, and the resource file drbdadm reads. 127.0.0.2 is
    // not on this machine, so IP verification is off; drbdadm only names the disk to drbdsetup.
    SimulatedPair.init(this.simDir, {
      hosts: ['alpha', 'beta'],
      resources: [{ name: RESOURCE, minor: 0 }],
      primary: { [RESOURCE]: 'alpha' },
    });
    writeFileSync(
      this.resFile,
      `global { disable-ip-verification; }
resource ${RESOURCE} {
  device /dev/drbd0;
  disk ${loop};
  meta-disk internal;
  on alpha { node-id 0; address 127.0.0.1:7789; }
  on beta { node-id 1; address 127.0.0.2:7789; }
}
`,
    );

    // LXD.
    this.runDir = join(work, 'lxd-run');
    this.lxdCtl = join(work, 'lxd-ctl.sh');
    writeFileSync(this.lxdCtl, LXD_CTL, { mode: 0o755 });
    this.#undo.push(() => this.#stopDaemon());
    await sh(this.lxdCtl, 'start', this.lxdDir, this.runDir);
    const init = await execa('lxd', ['init', '--preseed'], {
      input: PRESEED,
      env: { LXD_DIR: this.lxdDir },
      timeout: 60_000,
      reject: false,
    });
    if (init.failed) throw new Error(`lxd init --preseed failed: ${init.stderr}${init.stdout}`);
    await this.lxc('image', 'import', await buildBusyboxImage(work), '--alias', IMAGE_ALIAS);
    this.#undo.push(() => this.lxc('image', 'delete', IMAGE_ALIAS));

    // Routed NICs on a veth parent (this kernel has no dummy interfaces).
    const parent = `vbs${suffix}`;
    await sh('ip', 'link', 'add', parent, 'type', 'veth', 'peer', 'name', `${parent}p`);
    this.#undo.push(() => sh('ip', 'link', 'del', parent));
    await sh('ip', 'link', 'set', `${parent}p`, 'up');
    await sh('ip', 'link', 'set', parent, 'up');
    writeFileSync(`/proc/sys/net/ipv4/conf/${parent}/forwarding`, '1\n');

    const addresses = await unusedAddresses('198.51.100', count);
    this.containers = addresses.map((ipv4, i) => ({ name: `bso-${suffix}-c${i + 1}`, ipv4 }));
    for (const c of this.containers) {
      await this.lxc('init', IMAGE_ALIAS, c.name);
      this.#undo.push(() => this.#deleteContainer(c.name));
      await this.lxc(
        'config',
        'device',
        'add',
        c.name,
        'eth0',
        'nic',
        'nictype=routed',
        `parent=${parent}`,
        `ipv4.address=${c.ipv4}`,
      );
    }
  }

  /** `lxc ARGS…` on the resource's daemon. */
  lxc(...args: string[]) {
    return run('lxc', args, { timeoutMs: 120_000, env: { LXD_DIR: this.lxdDir } });
  }

  /** Exactly the first `n` containers running (set-up between the sizes, not measured). */
  async runFirst(n: number): Promise<RigContainer[]> {
    const wanted = this.containers.slice(0, n);
    for (const c of this.containers.slice(n)) {
      if (this.#running.has(c.name)) await this.lxc('stop', c.name, '--force');
      this.#running.delete(c.name);
    }
    for (const c of wanted) {
      if (!this.#running.has(c.name)) await this.lxc('start', c.name);
      this.#running.add(c.name);
    }
    return wanted;
  }

  /** Undo everything (in reverse order); every step runs even when one fails. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const problems: string[] = [];
    for (let step = this.#undo.pop(); step !== undefined; step = this.#undo.pop()) {
      try {
        await step();
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    await removeEmptyFirewallTable();
    if (problems.length > 0) console.warn(`switchover rig cleanup: ${problems.join('; ')}`);
  }

  /** `lxc delete --force`, after making sure a daemon is up to do it (a run may have left it down). */
  async #deleteContainer(name: string): Promise<void> {
    try {
      if (isMounted(this.mountPoint)) {
        await run(this.lxdCtl, ['start', this.lxdDir, this.runDir], { timeoutMs: 90_000 });
        await this.lxc('delete', '--force', name);
      }
    } finally {
      await removeFirewallChains(name);
    }
  }

  async #stopDaemon(): Promise<void> {
    try {
      await run(this.lxdCtl, ['stop', this.lxdDir, this.runDir], { timeoutMs: 90_000 });
    } catch {
      // killed below
    }
    const pidFile = join(this.runDir, 'lxd.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Whatever is mounted under the work directory (LXD's leftovers, the file system), deepest first. */
  async #unmountAll(): Promise<void> {
    const prefix = `${this.work}/`;
    const points = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((p) => p.startsWith(prefix))
      .sort((a, b) => b.length - a.length);
    for (const point of points) {
      if (isMounted(point)) await run('umount', ['-l', point], { timeoutMs: 30_000 });
    }
  }
}

export function isMounted(point: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === point);
}

/**
 * An LXD image tarball (metadata.yaml + rootfs/) from busybox-static, so no image server is needed;
 * init keeps one process alive with a respawn line, so the container stays Running.
 */
async function buildBusyboxImage(dir: string): Promise<string> {
  const root = join(dir, 'busybox-image');
  const rootfs = join(root, 'rootfs');
  for (const sub of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc',
    'proc',
    'sys',
    'dev',
    'tmp',
    'root',
    'run',
  ]) {
    mkdirSync(join(rootfs, sub), { recursive: true });
  }
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  const applets = (await run('/bin/busybox', ['--list-full'], { timeoutMs: 10_000 })).stdout.split('\n');
  for (const applet of applets.map((line) => line.trim())) {
    if (applet === '' || existsSync(join(rootfs, applet))) continue;
    mkdirSync(dirname(join(rootfs, applet)), { recursive: true });
    symlinkSync('/bin/busybox', join(rootfs, applet));
  }
  writeFileSync(join(rootfs, 'etc/inittab'), '::respawn:/bin/sleep 2147483647\n::shutdown:/bin/sync\n');
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  const architecture = ({ x64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[process.arch];
  writeFileSync(
    join(root, 'metadata.yaml'),
    `architecture: ${architecture ?? process.arch}\ncreation_date: ${Math.floor(Date.now() / 1000)}\n` +
      'properties:\n  description: busybox (drbd-chatops bench)\n  os: busybox\n  release: static\n',
  );
  const tarball = join(dir, 'busybox-lxd-image.tar.gz');
  await run('tar', ['-C', root, '-czf', tarball, 'metadata.yaml', 'rootfs/'], { timeoutMs: 60_000 });
  return tarball;
}

/**
 * `count` addresses of the /24 `prefix` with no route on this host yet (another test's containers
 * may be using some: LXD would refuse a second host route to the same address).
 */
async function unusedAddresses(prefix: string, count: number): Promise<string[]> {
  const routes = (await run('ip', ['-4', 'route', 'show', 'table', 'all'], { timeoutMs: 10_000 })).stdout;
  const used = new Set<string>();
  for (const line of routes.split('\n')) {
    const destination = line.split(/\s+/).find((word) => /^\d+\.\d+\.\d+\.\d+(\/32)?$/.test(word));
    if (destination !== undefined) used.add(destination.replace(/\/32$/, ''));
  }
  const free: string[] = [];
  const start = Math.floor(Math.random() * 200);
  for (let i = 0; i < 240 && free.length < count; i++) {
    const address = `${prefix}.${10 + ((start + i) % 240)}`;
    if (!used.has(address)) free.push(address);
  }
  if (free.length < count) throw new Error(`not ${count} unused addresses left in ${prefix}.0/24`);
  return free;
}

async function nftChains(): Promise<string[] | undefined> {
  try {
    const { stdout } = await run('nft', ['-j', 'list', 'table', 'inet', 'lxd'], { timeoutMs: 10_000 });
    const table = JSON.parse(stdout) as { nftables?: { chain?: { name: string } }[] };
    return (table.nftables ?? []).flatMap((e) => (e.chain === undefined ? [] : [e.chain.name]));
  } catch {
    return undefined; // no table
  }
}

/** LXD can leave a container's reverse-path-filter chain behind (inet lxd prert.NAME.DEVICE). */
async function removeFirewallChains(container: string): Promise<void> {
  for (const chain of (await nftChains()) ?? []) {
    if (chain.startsWith(`prert.${container}.`)) {
      await run('nft', ['delete', 'chain', 'inet', 'lxd', chain], { timeoutMs: 10_000 });
    }
  }
}

/** The `inet lxd` table every daemon shares, once no chain is left in it (another daemon may use it). */
async function removeEmptyFirewallTable(): Promise<void> {
  const chains = await nftChains();
  if (chains === undefined || chains.length > 0) return;
  try {
    await run('nft', ['delete', 'table', 'inet', 'lxd'], { timeoutMs: 10_000 });
  } catch {
    // another daemon may have declared it again meanwhile
  }
}
