// A DRBD+LXD pair on one machine for the failover system tests: two real bot processes (alpha and
// beta, test/helpers/pair-harness.ts) with the DRBD simulator behind the real `drbdadm -s` and a
// real resource file; the "replicated device" is a btrfs file system on a loop device that only the
// Primary mounts, at the same mount point for both hosts; the resource's LXD daemon runs on
// <mount point>/lxd, started and stopped by fixtures/lxd-ctl.sh (the bots' lxdStart/lxdStop, as a
// systemd unit would on a real host); three busybox containers with routed addresses and a file of
// data each. Both "hosts" are this machine, so their lxc talk to the same LXD_DIR on the same file
// system: that is the point, the data moves with the mount.
//
// Chat goes through one fake Slack that both bots share (only the leader connects): slash() types a
// command, click() presses a button of a plan as it was rendered, planText() reads a plan.
// killHost() is a host crash (the bot, and on the Primary its containers, LXD and mount, without
// LXD recording the containers as stopped); restartHost() brings it back.
//
// Both hosts run their mount, umount and LXD start/stop through fixtures/host-ctl.sh, which keeps
// what would be each host's own on two machines: which host has the file system mounted. The other
// host's umount and LXD stop find nothing to do, as on a host that never mounted it (a split-brain
// victim that became Primary in DRBD only).
//
// Everything is undone by the suite cleanup passed in (run it from afterAll), bot processes first.
// Only processes started here are ended, by their PID.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { execa } from 'execa';
import { run } from '../../../src/adapters/exec.js';
import { SIMULATOR_BIN } from '../../../src/adapters/package-paths.js';
import type { ResponseUrlPost, StoredMessage } from '../../fakes/slack/index.js';
import { CHANNEL, type Host, PairHarness } from '../../helpers/pair-harness.js';
import {
  buildBusyboxImage,
  capture,
  createVethParent,
  importImage,
  launchRouted,
  lxc,
  lxcQuery,
  lxdWorkDir,
  type Register,
  removeStaleFirewallChains,
  requireLxd,
  uniqueSuffix,
  unusedAddresses,
} from './lxd-harness.js';

export const RESOURCE = 'r0';
export const LXD_CTL = resolve(import.meta.dirname, '../fixtures/lxd-ctl.sh');
export const HOST_CTL = resolve(import.meta.dirname, '../fixtures/host-ctl.sh');
export type HostAction = 'mount' | 'umount' | 'lxd-start' | 'lxd-stop' | 'lxc';
const IMAGE_ALIAS = 'busybox';
const DATA_FILE = '/root/failover-data.txt';

/** A person with a Slack id; alice and carol are in the team, bob is in the team and on call. */
export interface Person {
  readonly name: string;
  readonly slack: string;
}
export const PEOPLE = {
  alice: { name: 'alice', slack: 'U0ALICE' },
  bob: { name: 'bob', slack: 'U0BOB' },
  carol: { name: 'carol', slack: 'U0CAROL' },
} as const satisfies Record<string, Person>;

export interface TestContainer {
  readonly name: string;
  readonly ipv4: string;
  /** What DATA_FILE holds inside it. */
  readonly data: string;
}

export interface Answer {
  readonly text: string;
  /** Only the person who typed or clicked sees it. */
  readonly private: boolean;
}

export interface LiveContainer {
  readonly name: string;
  readonly status: string;
  readonly ipv4: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...SBIN]) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Every text of a Slack message or response body (text, titles, field values), one per line. */
export function textOf(value: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown, key: string | undefined): void => {
    if (typeof v === 'string') {
      if (key !== undefined && ['text', 'title', 'value', 'fallback'].includes(key)) parts.push(v);
      return;
    }
    if (Array.isArray(v)) {
      for (const item of v) walk(item, key);
      return;
    }
    if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) walk(child, k);
    }
  };
  walk(value, undefined);
  return parts.join('\n');
}

function answerOf(response: ResponseUrlPost | undefined): Answer {
  if (response === undefined) throw new Error('no answer');
  return { text: textOf(response.body), private: response.body.response_type === 'ephemeral' };
}

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

/**
 * A DRBD 9 resource file for drbdadm: r0 on alpha and beta. 127.0.0.2 is not on this machine, so
 * IP verification is off; the disk is the loop device (drbdadm only names it to drbdsetup).
 */
function resourceFile(disk: string): string {
  return `global { disable-ip-verification; }
resource ${RESOURCE} {
  device /dev/drbd0;
  disk ${disk};
  meta-disk internal;
  on alpha { node-id 0; address 127.0.0.1:7789; }
  on beta { node-id 1; address 127.0.0.2:7789; }
}
`;
}

export interface FailoverPairOptions {
  readonly cleanup: Register;
  /** Containers to launch on r0 (default 3). */
  readonly containers?: number;
}

export class FailoverPair {
  private constructor(
    /** The two bot processes, the fake Slack, the DRBD simulator (h.pair), the logs. */
    readonly h: PairHarness,
    readonly work: string,
    readonly mountPoint: string,
    readonly lxdDir: string,
    /** LXD's log, console output and PID file (outside the replicated file system). */
    readonly runDir: string,
    readonly loopDevice: string,
    readonly resFile: string,
    readonly containers: readonly TestContainer[],
  ) {}

  // ---- set-up -------------------------------------------------------------------------------------

  /**
   * Everything up and running: r0 Primary on alpha (in the simulator), its btrfs mounted, LXD
   * running on it with the containers Running, then alpha's bot (the leader) and beta's.
   */
  static async start(options: FailoverPairOptions): Promise<FailoverPair> {
    requireLxd();
    const drbdadm = findBinary('drbdadm');
    const missing = [
      ...(drbdadm === undefined ? ['drbdadm (drbd-utils)'] : []),
      ...['fuser', 'losetup', 'mkfs.btrfs', 'mountpoint', 'setsid'].filter(
        (b) => findBinary(b) === undefined,
      ),
    ];
    if (missing.length > 0 || drbdadm === undefined) {
      throw new Error(
        `the failover system test needs ${missing.join(', ')}: apt-get install -y drbd-utils psmisc btrfs-progs util-linux`,
      );
    }
    if (!existsSync(resolve(import.meta.dirname, '../../../dist/cli/drbd-chatops.mjs'))) {
      throw new Error('the bot is not built: run `npm run build` first');
    }
    const add = options.cleanup;
    const suffix = uniqueSuffix();
    const sh = (file: string, ...args: string[]) => run(file, args, { timeoutMs: 120_000 });

    // The replicated device: btrfs on a loop device, mounted on the Primary's behalf (alpha).
    const work = lxdWorkDir({ cleanup: add });
    const image = join(work, 'r0.img');
    writeFileSync(image, '');
    await sh('truncate', '-s', '1G', image);
    const loopDevice = (await sh('losetup', '-f', '--show', image)).stdout.trim();
    add(() => bestEffort(`losetup -d ${loopDevice}`, () => sh('losetup', '-d', loopDevice)));
    await sh('mkfs.btrfs', '-q', loopDevice);
    const mountPoint = join(work, RESOURCE);
    mkdirSync(mountPoint, { mode: 0o711 });
    await sh('mount', loopDevice, mountPoint);
    add(() => lazyUnmount(mountPoint));
    const ownerFile = join(work, 'mount-owner');
    writeFileSync(ownerFile, 'alpha\n');
    // The containers' root (uid 100000 on the host) must traverse to their rootfs.
    await sh('chmod', '0711', mountPoint);
    const lxdDir = join(mountPoint, 'lxd');
    mkdirSync(lxdDir, { mode: 0o711 });

    // LXD, started the way the bots start it.
    const runDir = join(work, 'lxd-run');
    add(() => stopLxd(lxdDir, runDir));
    await sh(LXD_CTL, 'start', lxdDir, runDir);
    const init = await execa('lxd', ['init', '--preseed'], {
      input: PRESEED,
      env: { LXD_DIR: lxdDir },
      timeout: 60_000,
      reject: false,
    });
    if (init.failed) throw new Error(`lxd init --preseed failed: ${init.stderr}${init.stdout}`);
    await importImage(lxdDir, await buildBusyboxImage(work), IMAGE_ALIAS, { cleanup: add });
    const parent = await createVethParent(`vfo${suffix}`, { cleanup: add });
    const count = options.containers ?? 3;
    const addresses = await unusedAddresses('198.51.100', count);
    const containers: TestContainer[] = addresses.map((ipv4, i) => ({
      name: `fo-${suffix}-c${i + 1}`,
      ipv4,
      data: `data of container ${i + 1} (${suffix}), written before the failover`,
    }));
    for (const c of containers) {
      await launchRouted(lxdDir, c.name, IMAGE_ALIAS, parent.name, [c.ipv4], { cleanup: add });
      const file = join(work, `${c.name}.data`);
      writeFileSync(file, c.data);
      await lxc(lxdDir, 'file', 'push', file, `${c.name}${DATA_FILE}`);
    }

    // The bots: the pair harness's configuration (lock store, peer link, Slack, leader settings)
    // with what a failover needs on top.
    const h = await PairHarness.create();
    add(() => h.close());
    const resFile = join(h.dir, 'r0.res');
    writeFileSync(resFile, resourceFile(loopDevice));
    /** A per-host `lxc`: the real client through fixtures/host-ctl.sh (lxd.lxc takes a path, no args). */
    const lxcOf = (host: Host): string => {
      const path = join(work, `lxc-${host}`);
      writeFileSync(
        path,
        `#!/bin/sh\nexec ${JSON.stringify(HOST_CTL)} ${host} ${JSON.stringify(ownerFile)} lxc lxc "$@"\n`,
        { mode: 0o755 },
      );
      return path;
    };
    for (const host of ['alpha', 'beta'] as const) {
      const base = JSON.parse(readFileSync(h.configPath(host), 'utf8')) as Record<string, unknown>;
      const drbd = base.drbd as { env: Record<string, string> } & Record<string, unknown>;
      const config = {
        ...base,
        drbd: {
          ...drbd,
          drbdsetup: SIMULATOR_BIN,
          drbdadm,
          drbdadmArgs: ['-s', SIMULATOR_BIN, '-c', resFile],
          // drbdadm pretends to be the host named by __DRBD_NODE__ (its `on NAME` section).
          env: { ...drbd.env, __DRBD_NODE__: host },
          commandTimeoutMs: 90_000,
        },
        resources: {
          [RESOURCE]: {
            lxdDir,
            mountPoint,
            device: loopDevice,
            subnets: ['198.51.100.0/24'],
            commands: {
              mount: hostCommand(host, ownerFile, 'mount', ['mount', loopDevice, mountPoint]),
              umount: hostCommand(host, ownerFile, 'umount', ['umount', mountPoint]),
              lxdStart: hostCommand(host, ownerFile, 'lxd-start', [LXD_CTL, 'start', lxdDir, runDir]),
              lxdStop: hostCommand(host, ownerFile, 'lxd-stop', [LXD_CTL, 'stop', lxdDir, runDir]),
            },
          },
        },
        // Each host's lxc reaches the resource's LXD daemon only while that host has the file system
        // mounted (one machine plays both: see fixtures/host-ctl.sh).
        lxd: { lxc: lxcOf(host), stopTimeoutS: 10, commandTimeoutMs: 60_000, verifyTimeoutMs: 30_000 },
        oncall: { team: Object.values(PEOPLE), static: ['bob'], announce: false },
        // The fence lock of r0 (taken by a forced failover), shown by `status` and checked by plans.
        fences: [RESOURCE],
        // Two bots on one machine: no status port to fight over, no scheduled jobs in the way.
        status: { enabled: false },
        schedules: { reconcile: null, digest: null },
      };
      writeFileSync(h.configPath(host), JSON.stringify(config, null, 2));
    }
    const pair = new FailoverPair(h, work, mountPoint, lxdDir, runDir, loopDevice, resFile, containers);
    await h.start('alpha');
    await h.waitForLeader('alpha', { timeoutMs: 20_000 });
    await h.start('beta');
    await h.waitForLog(
      'beta',
      (l) => l.msg === 'leader election: leader-changed' && l.leader === 'alpha',
      'beta to learn that alpha leads',
    );
    await h.slack.waitForConnection(1, 15_000);
    return pair;
  }

  /** The file naming the host that has r0's file system mounted (fixtures/host-ctl.sh). */
  get ownerFile(): string {
    return join(this.work, 'mount-owner');
  }

  /** The host that has r0's file system mounted, as far as host-ctl.sh knows, or null. */
  mountOwner(): string | null {
    if (!existsSync(this.ownerFile)) return null;
    return readFileSync(this.ownerFile, 'utf8').trim() || null;
  }

  /** The argv a host's bot runs for `action` (fixtures/host-ctl.sh around the real command). */
  hostCommand(host: Host, action: HostAction, argv: readonly string[]): string[] {
    return hostCommand(host, this.ownerFile, action, argv);
  }

  // ---- chat -------------------------------------------------------------------------------------

  /**
   * `/drbd <text>` typed by `who` in the channel; it reaches the leader (the only bot connected to
   * Slack). Resolves with the bot's answer.
   */
  async slash(text: string, who: Person): Promise<Answer> {
    const { responseUrl } = await this.h.slack.sendSlashCommand({
      text,
      channelId: CHANNEL,
      userId: who.slack,
      userName: who.name,
    });
    const [response] = await this.h.slack.waitForResponses(responseUrl, 1, 60_000);
    return answerOf(response);
  }

  /**
   * `/drbd <text>` whose answer the bot posts in the channel for everyone (status …): resolves with
   * the text of the first new channel message whose title matches `title`.
   */
  async slashPublic(text: string, who: Person, title: RegExp): Promise<string> {
    const before = new Set(this.h.messages().map((m) => m.ts));
    const answer = () => this.h.messages().find((m) => !before.has(m.ts) && title.test(m.text));
    await this.h.slack.sendSlashCommand({ text, channelId: CHANNEL, userId: who.slack, userName: who.name });
    await this.h.slack.waitFor(
      () => answer() !== undefined,
      `the answer to "${text}" in the channel`,
      30_000,
    );
    const message = answer() as StoredMessage;
    return textOf({
      text: message.text,
      attachments: message.attachments ?? [],
      blocks: message.blocks ?? [],
    });
  }

  /** The plan message of request `id` (its metadata key is `operation:<id>`). */
  async plan(id: string): Promise<StoredMessage> {
    const find = () =>
      this.h.messages().find((m) => String(m.metadata?.event_payload.key ?? '') === `operation:${id}`);
    await this.h.slack.waitFor(() => find() !== undefined, `the plan message of ${id}`, 15_000);
    return find() as StoredMessage;
  }

  /** Plan messages in the channel (of any request). */
  plans(): StoredMessage[] {
    return this.h
      .messages()
      .filter((m) => String(m.metadata?.event_payload.key ?? '').startsWith('operation:'));
  }

  /** `/drbd <text>` that must post a plan: the plan message and its request id. */
  async request(text: string, who: Person): Promise<{ plan: StoredMessage; id: string; answer: Answer }> {
    const answer = await this.slash(text, who);
    const id = /Plan ([0-9a-f]{8}) posted/.exec(answer.text)?.[1];
    if (id === undefined) throw new Error(`"${text}" posted no plan; the bot answered: ${answer.text}`);
    return { plan: await this.plan(id), id, answer };
  }

  /**
   * Press a button of the plan as `who`, with the value the bot rendered on it now; `value` sends
   * that instead (a button the plan does not show, e.g. a Confirm of a plan to be confirmed by typing).
   */
  async click(
    plan: StoredMessage,
    action: 'confirm' | 'approve' | 'cancel',
    who: Person,
    value?: string,
  ): Promise<Answer> {
    const { responseUrl } = await this.h.slack.clickButton({
      channelId: CHANNEL,
      messageTs: plan.ts,
      actionId: `drbd:${action}`,
      userId: who.slack,
      userName: who.name,
      ...(value === undefined ? {} : { value }),
    });
    const [response] = await this.h.slack.waitForResponses(responseUrl, 1, 30_000);
    return answerOf(response);
  }

  /** The plan as it reads now (title, body, fields). */
  planText(plan: StoredMessage): string {
    return textOf({ text: plan.text, attachments: plan.attachments ?? [], blocks: plan.blocks ?? [] });
  }

  /** Waits until the plan's title says it finished (done, rolled back, failed, aborted …). */
  async finished(plan: StoredMessage, timeoutMs = 150_000): Promise<string> {
    const done = /: (done in |failed|aborted|expired|cancelled|interrupted)/;
    try {
      await this.h.slack.waitFor(() => done.test(plan.text), 'the plan to finish', timeoutMs);
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\n--- plan:\n${this.planText(plan)}\n--- alpha:\n${this.h.tail('alpha', 20)}\n--- beta:\n${this.h.tail('beta', 20)}`,
      );
    }
    return this.planText(plan);
  }

  /** confirm by the requester, approve by the on-call person: the request runs; resolves when it ended. */
  async confirmAndApprove(plan: StoredMessage, requester: Person, approver: Person): Promise<string> {
    const confirmed = await this.click(plan, 'confirm', requester);
    if (!/needs one approval/.test(confirmed.text)) throw new Error(`confirm: ${confirmed.text}`);
    const approved = await this.click(plan, 'approve', approver);
    if (!/Approved by /.test(approved.text)) throw new Error(`approve: ${approved.text}`);
    return this.finished(plan);
  }

  // ---- the live state ---------------------------------------------------------------------------

  /** The containers as `lxc list` reports them now (throws when LXD does not answer). */
  async live(): Promise<LiveContainer[]> {
    const instances = await lxcQuery<
      { name: string; status: string; state?: { network?: Record<string, { addresses?: Address[] }> } }[]
    >(this.lxdDir, '/1.0/instances?recursion=2');
    return instances
      .map((i) => ({
        name: i.name,
        status: i.status,
        ipv4: Object.entries(i.state?.network ?? {})
          .filter(([nic]) => nic !== 'lo')
          .flatMap(([, n]) => (n.addresses ?? []).filter((a) => a.family === 'inet').map((a) => a.address)),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** What DATA_FILE holds in the container, read from inside it (`lxc exec`). */
  async readData(name: string): Promise<string> {
    return (await lxc(this.lxdDir, 'exec', name, '--', 'cat', DATA_FILE)).stdout;
  }

  /** The PID of the running LXD daemon of r0, or null. */
  lxdPid(): number | null {
    const file = join(this.runDir, 'lxd.pid');
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && processState(pid) !== null && processState(pid) !== 'Z' ? pid : null;
  }

  isMounted(): boolean {
    return mountedAt(this.mountPoint);
  }

  /**
   * Waits until DRBD in the simulator is quiet (Connected, both UpToDate, no resync), then gives
   * both bots' event streams a moment to have read it.
   */
  async settled(timeoutMs = 30_000): Promise<void> {
    const pair = this.h.pair;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const quiet = ['alpha', 'beta'].every(
        (host) =>
          pair.cstate(host, RESOURCE) === 'Connected' && pair.dstate(host, RESOURCE) === 'UpToDate/UpToDate',
      );
      if (quiet && Object.keys(pair.state().resyncs).length === 0) break;
      if (Date.now() > deadline) throw new Error(`DRBD did not settle: ${pair.status('alpha').stdout}`);
      await sleep(100);
    }
    await sleep(1_000);
  }

  // ---- faults -----------------------------------------------------------------------------------

  /**
   * The host crashes: its bot (and the bot's process group) is killed; when it has r0's file system
   * mounted, its LXD daemon and the containers' processes are SIGKILLed (LXD records nothing, so
   * each container's last state stays RUNNING, as after a power cut) and what the crash takes with
   * the host's kernel goes too: the containers' proxy neighbours and firewall chains, their cgroups,
   * the mounts (lazily); then DRBD on it goes down in the simulator.
   */
  async killHost(host: Host): Promise<void> {
    const owner = this.mountOwner() ?? (this.h.pair.role(host, RESOURCE) === 'Primary' ? host : null);
    if (this.h.isRunning(host)) await this.h.kill9(host);
    if (owner === host) {
      await this.crashLxd();
      for (const point of mountsUnder(this.lxdDir)) await lazyUnmount(point);
      await lazyUnmount(this.mountPoint);
      rmSync(this.ownerFile, { force: true });
    }
    this.h.pair.crash(host);
  }

  /** r0's LXD daemon and its containers die at once (SIGKILL), as in a power cut. */
  private async crashLxd(): Promise<void> {
    const pid = this.lxdPid();
    if (pid === null) return;
    let inits: number[] = [];
    try {
      inits = (await lxcQuery<{ state?: { pid?: number } }[]>(this.lxdDir, '/1.0/instances?recursion=2'))
        .map((i) => i.state?.pid ?? 0)
        .filter((p) => p > 1);
    } catch (error) {
      console.warn(`failover harness: could not list the containers' processes: ${(error as Error).message}`);
    }
    // liblxc's monitor of each container: "[lxc monitor] <LXD_DIR>/containers <name>".
    const monitorPrefix = `[lxc monitor] ${join(this.lxdDir, 'containers')} `;
    const monitors = processesWhere((cmdline) => cmdline.startsWith(monitorPrefix));
    await killAndWait([pid]);
    await killAndWait([...monitors, ...inits]);
    const names = this.containers.map((c) => c.name);
    for (const c of this.containers) {
      await bestEffort(`ip neigh del proxy ${c.ipv4}`, async () => {
        const parents = (await capture('ip', ['-4', 'neigh', 'show', 'proxy', c.ipv4]))
          .split('\n')
          .map((line) => /\bdev (\S+)/.exec(line)?.[1])
          .filter((dev) => dev !== undefined);
        for (const dev of parents) {
          await run('ip', ['neigh', 'del', 'proxy', c.ipv4, 'dev', dev], { timeoutMs: 10_000 });
        }
      });
    }
    for (const name of names) {
      await removeStaleFirewallChains(name);
      for (const group of [`lxc.payload.${name}`, `lxc.monitor.${name}`]) removeCgroups(group);
    }
  }

  /** The host is back after killHost(): DRBD on it boots (in the simulator), then its bot starts. */
  async restartHost(host: Host): Promise<void> {
    if (this.h.pair.state().up[host] !== true) this.h.pair.boot(host);
    if (!this.h.isRunning(host)) await this.h.start(host);
  }
}

/** The pair, up and running (FailoverPair.start). */
export function startPair(options: FailoverPairOptions): Promise<FailoverPair> {
  return FailoverPair.start(options);
}

/** [fixtures/host-ctl.sh, host, owner file, action, ...the real command]. */
function hostCommand(host: Host, ownerFile: string, action: HostAction, argv: readonly string[]): string[] {
  return [HOST_CTL, host, ownerFile, action, ...argv];
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The cgroup `name` in every hierarchy (cgroup v1 controllers, the unified one, or plain v2). */
function removeCgroups(name: string): void {
  const roots = [CGROUP_ROOT, ...readdirSync(CGROUP_ROOT).map((entry) => join(CGROUP_ROOT, entry))];
  for (const root of roots) removeCgroup(join(root, name));
}

/** An empty cgroup and its empty children, deepest first (best effort: one still in use stays). */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
  }
  try {
    rmdirSync(dir);
  } catch (error) {
    console.warn(`failover harness: rmdir ${dir}: ${(error as Error).message}`);
  }
}

/** PIDs of the processes whose command line (NULs as spaces) matches. */
function processesWhere(match: (cmdline: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue; // gone
    }
    if (match(cmdline)) pids.push(Number(entry));
  }
  return pids;
}

/** SIGKILL to each PID, then wait (up to 10 s) until each is gone or a zombie. */
async function killAndWait(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (pids.some((pid) => ![null, 'Z'].includes(processState(pid)))) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} are still there after SIGKILL`);
    await sleep(100);
  }
}

interface Address {
  readonly family: string;
  readonly address: string;
}

/** Is the process there and not a zombie? */
export function processAlive(pid: number): boolean {
  return ![null, 'Z'].includes(processState(pid));
}

/** The state letter of a process (R, S, Z …), or null when there is none. */
function processState(pid: number): string | null {
  try {
    return (
      readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ')[0] ?? null
    );
  } catch {
    return null;
  }
}

function mountedAt(point: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === point);
}

/** Mount points under `dir` (deepest first). */
function mountsUnder(dir: string): string[] {
  const prefix = `${dir}/`;
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

async function lazyUnmount(point: string): Promise<void> {
  if (!mountedAt(point)) return;
  await bestEffort(`umount -l ${point}`, () => run('umount', ['-l', point], { timeoutMs: 30_000 }));
}

/** The daemon down (fixtures/lxd-ctl.sh stop, SIGKILL to its PID if that fails) and its mounts gone. */
async function stopLxd(lxdDir: string, runDir: string): Promise<void> {
  await bestEffort('lxd-ctl.sh stop', () => run(LXD_CTL, ['stop', lxdDir, runDir], { timeoutMs: 90_000 }));
  const file = join(runDir, 'lxd.pid');
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1 && ![null, 'Z'].includes(processState(pid))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const point of mountsUnder(lxdDir)) await lazyUnmount(point);
  await removeEmptyFirewallTable();
}

/**
 * LXD's `inet lxd` table, shared by every daemon on this machine, once no chain is left in it
 * (another test's daemon may still use it; LXD declares it again whenever it loads rules).
 */
async function removeEmptyFirewallTable(): Promise<void> {
  let table: { nftables?: { chain?: unknown }[] };
  try {
    table = JSON.parse(await capture('nft', ['-j', 'list', 'table', 'inet', 'lxd']));
  } catch {
    return; // no table
  }
  if ((table.nftables ?? []).some((entry) => entry.chain !== undefined)) return;
  await bestEffort('nft delete table inet lxd', () =>
    run('nft', ['delete', 'table', 'inet', 'lxd'], { timeoutMs: 10_000 }),
  );
}

async function bestEffort(what: string, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (error) {
    console.warn(`failover harness cleanup: ${what}: ${(error as Error).message}`);
  }
}
