// LxcCli against a real LXD 5.0 daemon (Debian's lxd) with busybox containers on routed NICs: what
// the bot reads (list), does (stop, start, addresses), and how real LXD fails, including a start
// that fails after a valid address change, and its rollback, as the bot's `ip set` must handle.
//
// One daemon, image and parent veth for the file; each test launches its own containers (well
// under a second each) so no test depends on another's leftovers.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerNotStoppedError, LxcCli, LxcStepsError } from '../../src/adapters/lxd.js';
import type { ContainerInfo } from '../../src/ports/container-runtime.js';
import { ExternalCommandError } from '../../src/ports/step-run.js';
import { onCleanup } from '../helpers/cleanup.js';
import {
  buildBusyboxImage,
  createVethParent,
  deleteContainer,
  importImage,
  type LxdDaemon,
  launchRouted,
  lxc,
  lxcQuery,
  lxdWorkDir,
  requireLxd,
  startLxdDaemon,
  suiteCleanup,
  uniqueSuffix,
  unusedAddresses,
  type VethParent,
} from './helpers/lxd-harness.js';

const ALIAS = 'busybox';
const HOST = 'alpha';
const suite = suiteCleanup();
const suffix = uniqueSuffix();

let daemon: LxdDaemon;
let parent: VethParent;
let runtime: LxcCli;
let seq = 0;

/** A container name no other run on this host uses (names are global to LXD's firewall). */
function containerName(label: string): string {
  seq++;
  return `lxa-${suffix}-${label}${seq}`;
}

async function find(name: string): Promise<ContainerInfo> {
  const found = (await runtime.list('r0')).find((container) => container.name === name);
  if (found === undefined) throw new Error(`${name} not in lxc list`);
  return found;
}

/** Polls list() until `check` holds for the container; LXD reports addresses a moment after start. */
async function eventually(
  name: string,
  check: (container: ContainerInfo) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<ContainerInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const container = await find(name);
    if (check(container)) return container;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${name}: ${what}: ${JSON.stringify(container)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const liveIpv4 = (addresses: readonly string[]) => (container: ContainerInfo) =>
  container.status === 'Running' && addresses.every((address) => container.addresses.ipv4.includes(address));

/** Expects `promise` to reject with an ExternalCommandError and returns it. */
async function commandFailure(promise: Promise<unknown>): Promise<ExternalCommandError> {
  const error = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  expect(error).toBeInstanceOf(ExternalCommandError);
  return error as ExternalCommandError;
}

beforeAll(async () => {
  requireLxd();
  const dir = lxdWorkDir({ cleanup: suite.add });
  const tarball = await buildBusyboxImage(dir);
  daemon = await startLxdDaemon({
    lxdDir: join(dir, 'lxd'),
    logFile: join(dir, 'lxd.log'),
    cleanup: suite.add,
  });
  await importImage(daemon.lxdDir, tarball, ALIAS, { cleanup: suite.add });
  parent = await createVethParent(`vla${suffix}`, { cleanup: suite.add });
  runtime = new LxcCli({
    host: HOST,
    resources: { r0: { lxdDir: daemon.lxdDir }, r1: { lxdDir: join(dir, 'no-daemon') } },
  });
}, 120_000);

afterAll(() => suite.run(), 120_000);

describe('LxcCli on a real LXD daemon', () => {
  it('lists containers with status, routed NIC, live addresses and start time', async () => {
    const [a, b1, b2] = await unusedAddresses('198.51.100', 3);
    const web = containerName('web');
    const db = containerName('db');
    const spare = containerName('spare');
    const before = Date.now();
    await launchRouted(daemon.lxdDir, web, ALIAS, parent.name, [a]);
    await launchRouted(daemon.lxdDir, db, ALIAS, parent.name, [b1, b2]);
    // Never started, with a hand-written list as an admin would type it (spaces after commas).
    await launchRouted(daemon.lxdDir, spare, ALIAS, parent.name, [], { start: false });
    await lxc(
      daemon.lxdDir,
      'config',
      'device',
      'set',
      spare,
      'eth0',
      'ipv6.address=2001:db8::5, 2001:db8::6 ',
    );

    const webInfo = await eventually(web, liveIpv4([a]), 'address live');
    const dbInfo = await eventually(db, liveIpv4([b1, b2]), 'addresses live');
    expect(webInfo).toEqual({
      name: web,
      resource: 'r0',
      host: HOST,
      status: 'Running',
      addresses: { ipv4: [a], ipv6: [] },
      nic: { device: 'eth0', parent: parent.name, ipv4: [a], ipv6: [] },
      startedAt: expect.any(String),
    });
    expect(dbInfo.nic).toEqual({ device: 'eth0', parent: parent.name, ipv4: [b1, b2], ipv6: [] });
    expect([...dbInfo.addresses.ipv4].sort()).toEqual([b1, b2].sort());
    // Only global addresses: not lo's 127.0.0.1/::1, not eth0's fe80:: link-local one.
    expect(dbInfo.addresses.ipv6).toEqual([]);
    for (const info of [webInfo, dbInfo]) {
      const started = Date.parse(info.startedAt ?? '');
      expect(started).toBeGreaterThanOrEqual(before - 2_000);
      expect(started).toBeLessThanOrEqual(Date.now());
    }

    const spareInfo = await find(spare);
    expect(spareInfo).toMatchObject({
      status: 'Stopped',
      addresses: { ipv4: [], ipv6: [] },
      nic: { device: 'eth0', ipv4: [], ipv6: ['2001:db8::5', '2001:db8::6'] },
      startedAt: null,
    });
  });

  it('stops cleanly and starts again; repeating either is not an error', async () => {
    const [address] = await unusedAddresses('198.51.100', 1);
    const name = containerName('stop');
    await launchRouted(daemon.lxdDir, name, ALIAS, parent.name, [address]);
    const first = await eventually(name, liveIpv4([address]), 'address live');

    const stopped = await runtime.stop('r0', name, { timeoutS: 20 });
    expect(stopped.map((step) => [step.argv, step.exitCode])).toEqual([
      [['lxc', 'stop', name, '--timeout', '20'], 0],
    ]);
    expect(await find(name)).toMatchObject({
      status: 'Stopped',
      addresses: { ipv4: [], ipv6: [] },
      startedAt: first.startedAt,
    });

    const again = await runtime.stop('r0', name, { timeoutS: 20 });
    expect(again).toHaveLength(1);
    expect(again[0]?.stderr).toMatch(/already stopped/);

    const started = await runtime.start('r0', name);
    expect(started.map((step) => [step.argv, step.exitCode])).toEqual([[['lxc', 'start', name], 0]]);
    const second = await eventually(name, liveIpv4([address]), 'address live again');
    expect(Date.parse(second.startedAt ?? '')).toBeGreaterThan(Date.parse(first.startedAt ?? ''));

    const startedAgain = await runtime.start('r0', name);
    expect(startedAgain[0]?.stderr).toMatch(/already running/);
  });

  it('forces the stop when the container ignores the clean one, and reports both commands', async () => {
    const [address] = await unusedAddresses('198.51.100', 1);
    const name = containerName('stuck');
    await launchRouted(daemon.lxdDir, name, ALIAS, parent.name, [address], { start: false });
    // The halt signal LXD sends for a clean stop, changed to one busybox init ignores.
    await lxc(daemon.lxdDir, 'config', 'set', name, 'raw.lxc', 'lxc.signal.halt = SIGURG');
    await lxc(daemon.lxdDir, 'start', name);

    const runs = await runtime.stop('r0', name, { timeoutS: 1 });
    expect(runs.map((step) => step.argv)).toEqual([
      ['lxc', 'stop', name, '--timeout', '1'],
      ['lxc', 'stop', name, '--force'],
    ]);
    expect(runs[0]?.exitCode).not.toBe(0);
    expect(runs[0]?.stderr).toMatch(/Failed shutting down instance/);
    expect(runs[1]?.exitCode).toBe(0);
    expect((await find(name)).status).toBe('Stopped');
  });

  it('changes the addresses of a stopped container; the new one is live after start', async () => {
    const [old, fresh] = await unusedAddresses('198.51.100', 2);
    const name = containerName('move');
    await launchRouted(daemon.lxdDir, name, ALIAS, parent.name, [old]);
    await eventually(name, liveIpv4([old]), 'old address live');
    await runtime.stop('r0', name);

    const runs = await runtime.setAddresses('r0', name, 'eth0', { ipv4: [fresh], ipv6: [] });
    expect(runs.map((step) => step.argv)).toEqual([
      ['lxc', 'query', `/1.0/instances/${name}`],
      ['lxc', 'config', 'device', 'set', name, 'eth0', `ipv4.address=${fresh}`, 'ipv6.address='],
    ]);
    expect((await find(name)).nic?.ipv4).toEqual([fresh]);

    await runtime.start('r0', name);
    const moved = await eventually(name, liveIpv4([fresh]), 'new address live');
    expect(moved.addresses.ipv4).toEqual([fresh]);
  });

  it('overrides a routed NIC inherited from a profile instead of changing the profile', async () => {
    const [shared, own] = await unusedAddresses('198.51.100', 2);
    const profile = `lxa-${suffix}-routed`;
    await lxc(daemon.lxdDir, 'profile', 'create', profile);
    onCleanup(async () => {
      await lxc(daemon.lxdDir, 'profile', 'delete', profile);
    });
    await lxc(daemon.lxdDir, 'profile', 'device', 'add', profile, 'eth0', 'nic', 'nictype=routed');
    await lxc(daemon.lxdDir, 'profile', 'device', 'set', profile, 'eth0', `parent=${parent.name}`);
    await lxc(daemon.lxdDir, 'profile', 'device', 'set', profile, 'eth0', `ipv4.address=${shared}`);
    const name = containerName('prof');
    await lxc(daemon.lxdDir, 'init', ALIAS, name, '--profile', 'default', '--profile', profile);
    onCleanup(() => deleteContainer(daemon.lxdDir, name));
    expect((await find(name)).nic?.ipv4).toEqual([shared]);

    const runs = await runtime.setAddresses('r0', name, 'eth0', { ipv4: [own], ipv6: [] });
    expect(runs.map((step) => step.argv.slice(1, 4))).toEqual([
      ['query', `/1.0/instances/${name}`],
      ['config', 'device', 'override'],
      ['config', 'device', 'set'],
    ]);
    const instance = await lxcQuery<{ devices: Record<string, Record<string, string>> }>(
      daemon.lxdDir,
      `/1.0/instances/${name}`,
    );
    expect(instance.devices.eth0).toMatchObject({
      nictype: 'routed',
      parent: parent.name,
      'ipv4.address': own,
    });
    const profileNow = await lxcQuery<{ devices: Record<string, Record<string, string>> }>(
      daemon.lxdDir,
      `/1.0/profiles/${profile}`,
    );
    expect(profileNow.devices.eth0?.['ipv4.address']).toBe(shared);

    await runtime.start('r0', name);
    await eventually(name, liveIpv4([own]), 'own address live');
  });

  it('refuses to change the addresses of a running container, which LXD itself would break', async () => {
    const [address, other] = await unusedAddresses('198.51.100', 2);
    const name = containerName('run');
    await launchRouted(daemon.lxdDir, name, ALIAS, parent.name, [address]);
    await eventually(name, liveIpv4([address]), 'address live');

    const refused = await runtime.setAddresses('r0', name, 'eth0', { ipv4: [other], ipv6: [] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ContainerNotStoppedError);
    expect((refused as ContainerNotStoppedError).message).toMatch(/is Running: stop it/);
    expect(await find(name)).toMatchObject({ nic: { ipv4: [address] }, addresses: { ipv4: [address] } });

    // Why the adapter checks: LXD 5.0 accepts the change (exit 0), hot-plugs the routed NIC, and the
    // running container is left with no eth0 at all until it restarts.
    const accepted = await lxc(
      daemon.lxdDir,
      'config',
      'device',
      'set',
      name,
      'eth0',
      `ipv4.address=${other}`,
    );
    expect(accepted.exitCode).toBe(0);
    const broken = await eventually(name, (c) => c.addresses.ipv4.length === 0, 'eth0 gone');
    expect(broken).toMatchObject({ status: 'Running', nic: { ipv4: [other] } });
  });

  describe('a start that fails after a valid address change, and its rollback', () => {
    it('the address is already used by another container on this host', async () => {
      const [taken, own] = await unusedAddresses('198.51.100', 2);
      const holder = containerName('hold');
      const mover = containerName('clash');
      await launchRouted(daemon.lxdDir, holder, ALIAS, parent.name, [taken]);
      await launchRouted(daemon.lxdDir, mover, ALIAS, parent.name, [own]);
      await eventually(holder, liveIpv4([taken]), 'holder live');
      const startedBefore = (await eventually(mover, liveIpv4([own]), 'mover live')).startedAt;
      await runtime.stop('r0', mover);

      await runtime.setAddresses('r0', mover, 'eth0', { ipv4: [taken], ipv6: [] });
      const failed = await commandFailure(runtime.start('r0', mover));
      expect(failed.run.argv).toEqual(['lxc', 'start', mover]);
      expect(failed.run.exitCode).toBe(1);
      expect(failed.run.stderr).toContain(
        `Error: Failed to start device "eth0": Failed adding host route "${taken}/32": ` +
          `Failed to run: ip -4 route add table main ${taken}/32 dev veth`,
      );
      expect(failed.run.stderr).toContain('(RTNETLINK answers: File exists)');
      expect(failed.message).toContain('Failed adding host route');
      // Nothing half-done: the mover is stopped, its failed start is not a start, the holder is intact.
      expect(await find(mover)).toMatchObject({ status: 'Stopped', startedAt: startedBefore });
      expect((await find(holder)).addresses.ipv4).toEqual([taken]);

      await runtime.setAddresses('r0', mover, 'eth0', { ipv4: [own], ipv6: [] });
      await runtime.start('r0', mover);
      await eventually(mover, liveIpv4([own]), 'mover live again');
    });

    it('the address answers ARP on the parent network (another machine uses it)', async () => {
      // Documentation range, and a parent of its own: LXD probes only if the parent has an address
      // in the probed subnet (otherwise it logs "can't reach ip" and starts anyway).
      const neighbourParent = await createVethParent(`vlb${suffix}`, { subnet: '203.0.113.1/24' });
      const [own, taken] = await unusedAddresses('203.0.113', 2);
      await neighbourParent.addNeighbourAddress(taken);
      const name = containerName('arp');
      await launchRouted(daemon.lxdDir, name, ALIAS, neighbourParent.name, [own]);
      await eventually(name, liveIpv4([own]), 'address live');
      await runtime.stop('r0', name);

      await runtime.setAddresses('r0', name, 'eth0', { ipv4: [taken], ipv6: [] });
      const failed = await commandFailure(runtime.start('r0', name));
      expect(failed.run.exitCode).toBe(1);
      expect(failed.run.stderr).toContain(
        `Error: Failed to start device "eth0": IP address "${taken}" in use on parent network "${neighbourParent.name}"`,
      );
      expect((await find(name)).status).toBe('Stopped');

      await runtime.setAddresses('r0', name, 'eth0', { ipv4: [own], ipv6: [] });
      await runtime.start('r0', name);
      await eventually(name, liveIpv4([own]), 'address live again');
    });
  });

  it('says which resource is unknown, and checks names before running anything', async () => {
    await expect(runtime.list('r9')).rejects.toThrow(/unknown resource "r9" on alpha \(known: r0, r1\)/);
    await expect(runtime.stop('r9', 'web1')).rejects.toThrow(/unknown resource "r9"/);
    // An lxc that cannot run would fail differently: the refusal comes first.
    const nothingRuns = new LxcCli({
      host: HOST,
      resources: { r0: { lxdDir: daemon.lxdDir } },
      lxc: '/nonexistent',
    });
    await expect(nothingRuns.stop('r0', 'web1;reboot')).rejects.toThrow(/refusing container name/);
    await expect(nothingRuns.start('r0', '-web')).rejects.toThrow(/refusing container name/);
    await expect(
      nothingRuns.setAddresses('r0', 'web1', 'eth0', { ipv4: ['198.51.100.1/24'], ipv6: [] }),
    ).rejects.toThrow(/refusing IPv4 address/);
    await expect(
      nothingRuns.setAddresses('r0', 'web1', 'eth0', { ipv4: [], ipv6: ['2001:db8::1,2001:db8::2'] }),
    ).rejects.toThrow(/refusing IPv6 address/);
  });

  it('reports a daemon that is not running clearly', async () => {
    const failed = await commandFailure(runtime.list('r1'));
    expect(failed.message).toMatch(/^LXD of r1 \(LXD_DIR=.*no-daemon\) did not answer: /);
    expect(failed.run.exitCode).toBe(1);
    expect(failed.run.stderr).toMatch(/unix\.socket: connect: no such file or directory/);

    const stop = await commandFailure(runtime.stop('r1', 'web1'));
    // No forced stop after the daemon did not answer the clean one.
    expect(stop).toBeInstanceOf(LxcStepsError);
    expect((stop as LxcStepsError).runs.map((step) => step.argv.slice(1, 3))).toEqual([['stop', 'web1']]);
  });

  it("reports a container that does not exist with LXD's message", async () => {
    const name = containerName('ghost');
    const start = await commandFailure(runtime.start('r0', name));
    expect(start.run.stderr).toMatch(/Instance not found/);
    const set = await commandFailure(runtime.setAddresses('r0', name, 'eth0', { ipv4: [], ipv6: [] }));
    expect(set.run.argv).toEqual(['lxc', 'query', `/1.0/instances/${name}`]);
    expect(set.run.stderr).toMatch(/Instance not found/);
  });
});
