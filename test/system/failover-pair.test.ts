// `/failover r0` end to end on one machine: two real bot processes (alpha and beta) of one pair, the
// DRBD simulator behind the real `drbdadm -s` with a real resource file, a btrfs file system on a
// loop device that only the Primary mounts, the resource's LXD daemon on <mount point>/lxd started
// by whichever host is Primary, and three busybox containers with routed addresses
// (helpers/failover-harness.ts). Requests go through the fake Slack: alice asks and confirms, bob
// (on call) approves.
//
// In order: a resync blocks the plan at its pre-flight; DRBD refuses the demotion (-12, the device
// is held open) and the refusal reaches the channel explained, with everything back on alpha; DRBD
// refuses the promotion on beta (-2, its disk failed between the demotion and the promotion) and
// everything goes back to alpha; then the switchover itself moves the containers to beta, RUNNING
// with the same addresses and the same data. Needs root, LXD, drbd-utils and `npm run build`.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit } from '../../src/adapters/audit-log.js';
import { CHANNEL } from '../helpers/pair-harness.js';
import { FailoverPair, PEOPLE, RESOURCE, textOf } from './helpers/failover-harness.js';
import { suiteCleanup } from './helpers/lxd-harness.js';

const { alice, bob } = PEOPLE;
const suite = suiteCleanup();
let fo: FailoverPair;

beforeAll(async () => {
  fo = await FailoverPair.start({ cleanup: suite.add });
}, 180_000);

afterAll(() => suite.run(), 180_000);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** r0 is where it started: Primary on alpha, mounted, LXD up, every container Running with its address and data. */
async function expectOnAlpha(): Promise<void> {
  expect(fo.h.pair.role('alpha', RESOURCE)).toBe('Primary');
  expect(fo.h.pair.role('beta', RESOURCE)).toBe('Secondary');
  expect(fo.isMounted()).toBe(true);
  expect(fo.lxdPid()).not.toBeNull();
  expect(await fo.live()).toEqual(
    fo.containers.map((c) => ({ name: c.name, status: 'Running', ipv4: [c.ipv4] })),
  );
  for (const c of fo.containers) expect(await fo.readData(c.name)).toBe(c.data);
}

/** The plan's rollback took back these steps on alpha, in this order, each successfully. */
function expectUndone(text: string, labels: readonly string[]): void {
  const rollback = text.split('\n').filter((l) => /^\S+ Undo: /.test(l));
  expect(rollback, text).toHaveLength(labels.length);
  labels.forEach((label, i) => {
    expect(rollback[i], text).toMatch(new RegExp(`^✅ Undo: ${label}.* \\(alpha\\)`));
  });
}

function finishedOutcomes(): (string | undefined)[] {
  return readAudit(join(fo.h.stateDir('alpha'), 'audit.ndjson'), { event: 'finished' }).records.map(
    (r) => r.outcome,
  );
}

describe('/failover r0 between two bot processes, on real LXD, btrfs and drbdadm', () => {
  it('refuses during a resync, saying why, and nothing moves', async () => {
    const plansBefore = fo.plans().length;
    const resyncNews = () =>
      fo.h.messages().filter((m) => /resync (started|running)/i.test(textOf({ ...m, history: [] }))).length;
    const newsBefore = resyncNews();
    fo.h.pair.resync(RESOURCE, { seconds: 6 });
    // The bots have seen it once the leader reports it.
    await fo.h.slack.waitFor(() => resyncNews() > newsBefore, 'the resync in the channel', 5_000);
    const answer = await fo.slash('failover r0', alice);
    expect(answer.private).toBe(true);
    expect(answer.text).toContain('Failover of r0 is blocked by its pre-flight checks:');
    expect(answer.text).toMatch(/❌ no resync: a resync is running/);
    // What was fine is said too: the target answered and is ready.
    expect(answer.text).toContain('✅ target reachable: beta answers over the peer link');
    expect(answer.text).toContain('✅ beta: mount point:');
    expect(fo.plans()).toHaveLength(plansBefore);
    await expectOnAlpha();
    await fo.settled();
  }, 60_000);

  it('DRBD refuses the demotion (-12, device held open): the channel is told why, and everything comes back on alpha', async () => {
    const lxdBefore = fo.lxdPid();
    const { plan, id } = await fo.request('failover r0', alice);
    expect(plan.text).toContain('failover r0: alpha → beta: waiting for confirmation');
    // Something on alpha holds the DRBD device (not the mount: the holders check cannot see it).
    fo.h.pair.openDevice('alpha', RESOURCE, 'multipathd');
    try {
      const text = await fo.confirmAndApprove(plan, alice, bob);
      expect(plan.text).toContain('failover r0: alpha → beta: failed, rolled back');
      expect(text).toContain('Everything done before it was taken back.');
      // The failed step says why, as DRBD said it, and what to do about it (soft: the rollback
      // below is checked either way).
      const failedStep = text.split('\n').find((l) => l.startsWith('❌ drbdadm secondary r0 (alpha)')) ?? '';
      expect.soft(failedStep, text).toContain('(-12) Device is held open by someone');
      expect.soft(failedStep, text).toContain('Something still has the DRBD device open: often multipathd');
      expectUndone(text, ['Unmount', 'Stop LXD of r0', 'Stop 3 containers']);
    } finally {
      fo.h.pair.closeDevice('alpha', RESOURCE, 'multipathd');
    }
    // LXD was really stopped and started again on alpha.
    expect(fo.lxdPid()).not.toBe(lxdBefore);
    await expectOnAlpha();
    const steps = readAudit(join(fo.h.stateDir('alpha'), 'audit.ndjson'), { operation: id }).records;
    const demote = steps.find((r) => r.event === 'step' && r.step?.id === 'demote')?.step;
    expect(demote?.runs.at(-1)?.exitCode).toBe(11);
    expect(demote?.runs.at(-1)?.argv).toEqual([
      expect.stringMatching(/drbdadm$/),
      '-s',
      expect.stringMatching(/drbdsetup-sim$/),
      '-c',
      fo.resFile,
      'secondary',
      RESOURCE,
    ]);
    expect(finishedOutcomes().at(-1)).toBe('rolled-back');
    await fo.settled();
  }, 180_000);

  it("DRBD refuses the promotion on beta (-2, its disk failed after alpha's demotion): everything goes back to alpha", async () => {
    const { plan } = await fo.request('failover r0', alice);
    // beta's disk fails in the moment between alpha's demotion and beta's promotion: when the bot
    // reports the demotion done on the plan (it waits for that edit before the next step).
    let failed = false;
    fo.h.slack.callListener = (call) => {
      if (failed || call.method !== 'chat.update') return;
      if (!JSON.stringify(call.params).includes('✅ drbdadm secondary r0 (alpha)')) return;
      failed = true;
      fo.h.pair.diskFail('beta', RESOURCE);
    };
    let text: string;
    try {
      text = await fo.confirmAndApprove(plan, alice, bob);
    } finally {
      fo.h.slack.callListener = undefined;
    }
    expect(failed).toBe(true);
    expect(plan.text).toContain('failover r0: alpha → beta: failed, rolled back');
    const failedStep = text.split('\n').find((l) => l.startsWith('❌ drbdadm primary r0 (beta)')) ?? '';
    expect(failedStep, text).toContain('(-2) Need access to UpToDate data');
    expect(failedStep, text).toContain('DRBD refuses to promote without UpToDate data');
    expect(text).toContain(`◻️ Mount ${fo.mountPoint} (beta)`);
    expectUndone(text, ['drbdadm secondary r0', 'Unmount', 'Stop LXD of r0', 'Stop 3 containers']);
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Secondary');
    // beta gets its disk back and resyncs from alpha; the services never left alpha's file system.
    fo.h.pair.diskAttach('beta', RESOURCE);
    await fo.settled();
    await expectOnAlpha();
    expect(finishedOutcomes().at(-1)).toBe('rolled-back');
  }, 180_000);

  it('moves three running containers from alpha to beta: RUNNING again with the same addresses and their data', async () => {
    const lxdBefore = fo.lxdPid();
    const { plan, id, answer } = await fo.request('failover r0', alice);
    expect(answer.private).toBe(true);
    const names = fo.containers.map((c) => c.name).join(', ');
    const shown = fo.planText(plan);
    expect(shown).toContain('✅ connected: alpha → beta: Connected');
    expect(shown).toContain(`◻️ Stop 3 containers (${names}) (alpha)`);
    expect(shown).toContain(`◻️ Start ${names} (beta)`);
    // Nothing moves before the approval.
    await sleep(500);
    expect(fo.h.pair.role('alpha', RESOURCE)).toBe('Primary');

    const text = await fo.confirmAndApprove(plan, alice, bob);
    expect(plan.text, text).toMatch(/failover r0: alpha → beta: done in /);
    expect(text).toMatch(/first container stopped → last one running/);
    expect(text).toMatch(/✅ Check each is Running with its addresses \(beta\)/);

    expect(fo.h.pair.role('alpha', RESOURCE)).toBe('Secondary');
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Primary');
    expect(fo.isMounted()).toBe(true);
    // A new LXD daemon, started by beta's bot on the file system it mounted.
    const lxdAfter = fo.lxdPid();
    expect(lxdAfter).not.toBeNull();
    expect(lxdAfter).not.toBe(lxdBefore);
    expect(await fo.live()).toEqual(
      fo.containers.map((c) => ({ name: c.name, status: 'Running', ipv4: [c.ipv4] })),
    );
    for (const c of fo.containers) expect(await fo.readData(c.name)).toBe(c.data);

    // Each step ran where it belongs, with the commands of the configuration.
    const steps = readAudit(join(fo.h.stateDir('alpha'), 'audit.ndjson'), { operation: id }).records.filter(
      (r) => r.event === 'step',
    );
    expect(steps.map((r) => [r.step?.id, r.step?.host, r.step?.status])).toEqual([
      ['stop-containers', 'alpha', 'done'],
      ['stop-lxd', 'alpha', 'done'],
      ['holders', 'alpha', 'done'],
      ['umount', 'alpha', 'done'],
      ['demote', 'alpha', 'done'],
      ['promote', 'beta', 'done'],
      ['mount', 'beta', 'done'],
      ['start-lxd', 'beta', 'done'],
      ['start-containers', 'beta', 'done'],
      ['verify', 'beta', 'done'],
    ]);
    const argv = (id: string) => steps.find((r) => r.step?.id === id)?.step?.runs.map((r) => r.argv);
    expect(argv('umount')).toEqual([['umount', fo.mountPoint]]);
    expect(argv('mount')).toEqual([['mount', fo.loopDevice, fo.mountPoint]]);
    expect(argv('start-lxd')?.[0]?.slice(1)).toEqual(['start', fo.lxdDir, fo.runDir]);
    expect(finishedOutcomes().at(-1)).toBe('succeeded');
    // The channel heard it from the leader only.
    expect(fo.h.chatCalls().every((c) => c.by === 'alpha')).toBe(true);
    expect(fo.h.messages().every((m) => m.channel === CHANNEL)).toBe(true);
  }, 180_000);
});
