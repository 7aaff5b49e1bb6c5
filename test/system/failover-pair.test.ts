// `/failover r0` end to end on one machine: two real bot processes (alpha and beta) of one pair, the
// DRBD simulator behind the real `drbdadm -s` with a real resource file, a btrfs file system on a
// loop device that only the Primary mounts, the resource's LXD daemon on <mount point>/lxd started
// by whichever host is Primary, and three busybox containers with routed addresses
// (helpers/failover-harness.ts). Requests go through the fake Slack: alice asks and confirms, bob
// (on call) approves; carol, in the team, is the second approver of a forced failover.
//
// In order: a resync blocks the plan at its pre-flight; DRBD refuses the demotion (-12, the device
// is held open) and the refusal reaches the channel explained, with everything back on alpha; DRBD
// refuses the promotion on beta (-2, its disk failed between the demotion and the promotion) and
// everything goes back to alpha; a split-brain (beta Primary in DRBD too, with nothing mounted) is
// recovered with `splitbrain r0 victim beta` while alpha's containers keep running; then the
// switchover itself moves the containers to beta, RUNNING with the same addresses and the same data;
// a planned failover brings them back to alpha, alpha crashes (bot, LXD, containers, mount), beta
// takes the lead and `failover r0 --force` (typed confirmation, two approvals) takes the fence lock
// and brings the containers up on beta; alpha comes back as a follower. Needs root, LXD, drbd-utils
// and `npm run build`.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit } from '../../src/adapters/audit-log.js';
import { FileLockStore } from '../../src/adapters/lock/file-lock.js';
import type { StoredMessage } from '../fakes/slack/index.js';
import { commandRuns } from '../helpers/command-runs.js';
import { CHANNEL, type Host } from '../helpers/pair-harness.js';
import { FailoverPair, LXD_CTL, PEOPLE, processAlive, RESOURCE, textOf } from './helpers/failover-harness.js';
import { lxcQuery, suiteCleanup } from './helpers/lxd-harness.js';

const { alice, bob, carol } = PEOPLE;
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

function finishedOutcomes(host: Host = 'alpha'): (string | undefined)[] {
  return readAudit(join(fo.h.stateDir(host), 'audit.ndjson'), { event: 'finished' }).records.map(
    (r) => r.outcome,
  );
}

/** The step records of request `id` in the leader's audit log: [id, host, status] each. */
function auditedSteps(id: string, leader: Host = 'alpha') {
  return readAudit(join(fo.h.stateDir(leader), 'audit.ndjson'), { operation: id }).records.filter(
    (r) => r.event === 'step',
  );
}

/** The action ids of the buttons the plan shows now. */
function buttons(plan: StoredMessage): string[] {
  const blocks = [
    ...(plan.blocks ?? []),
    ...(plan.attachments ?? []).flatMap((a) => (a as { blocks?: unknown[] }).blocks ?? []),
  ] as { type?: string; elements?: { type?: string; action_id?: string }[] }[];
  return blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? [])
    .filter((e) => e.type === 'button')
    .map((e) => String(e.action_id));
}

/** The PID of each container's init process, by name (LXD's view). */
async function containerPids(): Promise<Record<string, number>> {
  const instances = await lxcQuery<{ name: string; state?: { pid?: number } }[]>(
    fo.lxdDir,
    '/1.0/instances?recursion=2',
  );
  return Object.fromEntries(instances.map((i) => [i.name, i.state?.pid ?? 0]));
}

/** Waits until every container is Running with its address (LXD starts them in the background). */
async function allRunning(timeoutMs = 90_000): Promise<void> {
  const wanted = fo.containers.map((c) => ({ name: c.name, status: 'Running', ipv4: [c.ipv4] }));
  const deadline = Date.now() + timeoutMs;
  let seen: unknown = 'nothing';
  for (;;) {
    try {
      seen = await fo.live();
      if (JSON.stringify(seen) === JSON.stringify(wanted)) return;
    } catch (error) {
      seen = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`the containers are not all Running with their addresses: ${JSON.stringify(seen)}`);
    }
    await sleep(500);
  }
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
    expect(answer.text).toContain('Failover r0 blocked: a resync is running');
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
    expect(commandRuns(demote?.runs).at(-1)?.exitCode).toBe(11);
    expect(commandRuns(demote?.runs).at(-1)?.argv).toEqual([
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

  it("recovers a split-brain with beta as the victim: beta (Primary in DRBD only) discards its changes and resyncs, alpha's containers never stop", async () => {
    await expectOnAlpha();
    const lxdBefore = fo.lxdPid();
    const pidsBefore = await containerPids();
    expect(Object.values(pidsBefore).every((pid) => pid > 1)).toBe(true);
    const splitBrainAlerts = () =>
      fo.h
        .messages()
        .filter((m) => /Split-brain on .*both sides changed data/.test(textOf({ ...m, history: [] })));
    expect(splitBrainAlerts()).toHaveLength(0);

    // Both sides become Primary while disconnected, then refuse each other: StandAlone. beta is
    // Primary in DRBD only: nothing is mounted on it and no LXD runs there.
    fo.h.pair.splitBrain(RESOURCE);
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Primary');
    expect(fo.h.pair.cstate('alpha', RESOURCE)).toBe('StandAlone');
    expect(fo.h.pair.cstate('beta', RESOURCE)).toBe('StandAlone');
    expect(fo.mountOwner()).toBe('alpha');
    await fo.h.slack.waitFor(() => splitBrainAlerts().length > 0, 'the split-brain alert', 15_000);
    const alert = splitBrainAlerts()[0] as StoredMessage;
    expect(textOf({ ...alert, history: [] })).toMatch(/CRITICAL|🚨/);

    const { plan, id, answer } = await fo.request('splitbrain r0 victim beta', alice);
    expect(answer.private).toBe(true);
    expect(plan.text).toContain(
      'split-brain recovery r0: beta discards its changes: waiting for confirmation',
    );
    const shown = fo.planText(plan);
    // Both sides, and who loses what.
    expect(shown).toContain('*alpha (survivor: keeps its data)*\nPrimary, disk UpToDate, StandAlone');
    expect(shown).toContain('*beta (victim: loses its changes)*\nPrimary, disk UpToDate, StandAlone');
    // beta has no containers: nothing to stop; its (absent) LXD and mount are taken care of.
    expect(shown).not.toMatch(/◻️ Stop .*fo-/);
    expect(shown).toContain('◻️ Stop LXD of r0 (beta)');
    expect(shown).toContain(`◻️ Unmount ${fo.mountPoint} (beta)`);
    expect(shown).toContain('◻️ drbdadm connect --discard-my-data r0 (beta)');
    expect(shown).toContain('◻️ drbdadm connect r0 (alpha)');
    // Discarding data is confirmed by typing the victim's name; there is no Confirm button.
    expect(shown).toContain(`type \`confirm ${id} beta\``);
    expect(buttons(plan)).toEqual(['drbd:cancel']);
    const clicked = await fo.click(plan, 'confirm', alice, `confirm ${id}`);
    expect(clicked.text).toContain(`This cannot be confirmed with a click: type \`confirm ${id} beta\``);
    const wrongName = await fo.slash(`confirm ${id} alpha`, alice);
    expect(wrongName.text).toContain(`type \`confirm ${id} beta\``);
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Primary');

    const confirmed = await fo.slash(`confirm ${id} beta`, alice);
    expect(confirmed.text).toContain(`Confirmed. Request ${id} now needs one approval.`);
    // One approval, by whoever is on call: carol is in the team but not on call.
    const notOnCall = await fo.click(plan, 'approve', carol);
    expect(notOnCall.text).toContain('carol is not on call');
    const approved = await fo.click(plan, 'approve', bob);
    expect(approved.text).toContain(`Approved by bob; running request ${id}.`);
    const text = await fo.finished(plan);
    expect(plan.text, text).toMatch(/split-brain recovery r0: beta discards its changes: done in /);

    expect(fo.h.pair.role('alpha', RESOURCE)).toBe('Primary');
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Secondary');
    expect(fo.h.pair.cstate('beta', RESOURCE)).toBe('Connected');
    expect(fo.h.pair.dstate('beta', RESOURCE)).toBe('UpToDate/UpToDate');
    const steps = auditedSteps(id);
    expect(steps.map((r) => [r.step?.id, r.step?.host, r.step?.status])).toEqual([
      ['stop-lxd', 'beta', 'done'],
      ['umount', 'beta', 'done'],
      ['disconnect', 'beta', 'done'],
      ['secondary', 'beta', 'done'],
      ['discard', 'beta', 'done'],
      ['connect', 'alpha', 'done'],
      ['resync', 'beta', 'done'],
    ]);
    const runs = (step: string) => commandRuns(steps.find((r) => r.step?.id === step)?.step?.runs);
    expect(runs('discard').map((r) => r.argv.slice(-3))).toEqual([
      ['connect', '--discard-my-data', RESOURCE],
    ]);
    // beta's own LXD stop and umount (host-ctl.sh found nothing of beta's to stop or unmount).
    expect(runs('stop-lxd').map((r) => [r.argv, r.exitCode])).toEqual([
      [fo.hostCommand('beta', 'lxd-stop', [LXD_CTL, 'stop', fo.lxdDir, fo.runDir]), 0],
    ]);
    expect(runs('umount').map((r) => [r.argv, r.exitCode])).toEqual([
      [fo.hostCommand('beta', 'umount', ['umount', fo.mountPoint]), 0],
    ]);

    // alpha's services never moved: same LXD daemon, same container processes, same file system.
    expect(fo.lxdPid()).toBe(lxdBefore);
    expect(await containerPids()).toEqual(pidsBefore);
    expect(fo.mountOwner()).toBe('alpha');
    await fo.settled();
    await expectOnAlpha();
    expect(finishedOutcomes().at(-1)).toBe('succeeded');
  }, 120_000);

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
    const argv = (id: string) =>
      commandRuns(steps.find((r) => r.step?.id === id)?.step?.runs).map((r) => r.argv);
    expect(argv('umount')).toEqual([fo.hostCommand('alpha', 'umount', ['umount', fo.mountPoint])]);
    expect(argv('mount')).toEqual([fo.hostCommand('beta', 'mount', ['mount', fo.loopDevice, fo.mountPoint])]);
    expect(argv('start-lxd')).toEqual([
      fo.hostCommand('beta', 'lxd-start', [LXD_CTL, 'start', fo.lxdDir, fo.runDir]),
    ]);
    expect(fo.mountOwner()).toBe('beta');
    expect(finishedOutcomes().at(-1)).toBe('succeeded');
    // The role swap, reported by both hosts (each its own role and its peer's: four notifications),
    // is one message about the pair, in the plan's thread, not top-level "Role changed" alerts.
    const roleMessages = () =>
      fo.h
        .messages()
        .filter((m) => Number(m.ts) > Number(plan.ts) && /Role changed|moved to|no Primary/.test(m.text));
    await fo.h.slack.waitFor(
      () => roleMessages().some((m) => m.text.includes('r0 moved to beta: beta Primary, alpha Secondary')),
      'the pair-level role message',
      20_000,
    );
    expect(roleMessages().map((m) => m.text)).toHaveLength(1);
    expect(roleMessages()[0]?.thread_ts).toBe(plan.ts);
    // The channel heard it from the leader only.
    expect(fo.h.chatCalls().every((c) => c.by === 'alpha')).toBe(true);
    expect(fo.h.messages().every((m) => m.channel === CHANNEL)).toBe(true);
  }, 180_000);
  it('forced failover after alpha crashes: beta takes the lead, then, typed and approved twice, the fence lock, r0 and the containers', async () => {
    // From beta (the switchover above) back to alpha, by a planned failover.
    if (fo.h.pair.role('beta', RESOURCE) === 'Primary') {
      const back = await fo.request('failover r0', alice);
      expect(back.plan.text).toContain('failover r0: beta → alpha: waiting for confirmation');
      const backText = await fo.confirmAndApprove(back.plan, alice, bob);
      expect(back.plan.text, backText).toMatch(/failover r0: beta → alpha: done in /);
      await fo.settled();
    }
    await expectOnAlpha();
    expect(fo.mountOwner()).toBe('alpha');
    const store = new FileLockStore({ dir: fo.h.lockDir });
    expect((await store.read(RESOURCE)).holder).toBeNull();
    const lxdBefore = fo.lxdPid();
    const pidsBefore = await containerPids();

    // alpha crashes: its bot, its LXD daemon and containers, its mount; DRBD on it goes down.
    const crashedAt = Date.now();
    await fo.killHost('alpha');
    expect(fo.h.pair.state().up.alpha).toBe(false);
    expect(fo.isMounted()).toBe(false);
    expect(fo.lxdPid()).toBeNull();
    expect(Object.keys(pidsBefore).sort()).toEqual(fo.containers.map((c) => c.name));
    for (const pid of Object.values(pidsBefore)) {
      expect(pid).toBeGreaterThan(1);
      expect(processAlive(pid)).toBe(false);
    }
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Secondary');
    const takeover = await fo.h.waitForLeader('beta', { since: crashedAt, timeoutMs: 30_000 });
    expect(takeover.postedBy).toBe('beta');
    expect(takeover.previous).toBe('alpha');

    const { plan, id, answer } = await fo.request('failover r0 --force', alice);
    expect(answer.private).toBe(true);
    expect(plan.text).toContain('FORCED failover r0 → beta: waiting for confirmation');
    const shown = fo.planText(plan);
    expect(shown).toMatch(/✅ peer not connected: beta → alpha: (?!Connected)\w+/);
    expect(shown).toContain('✅ peer not Primary: alpha does not answer over the peer link');
    expect(shown).toContain('✅ UpToDate data: beta: UpToDate');
    expect(shown).toContain('✅ fence lock: free: it will be taken');
    expect(shown).toContain('◻️ Take the fence lock of r0 for beta (beta)');
    expect(shown).toContain('◻️ drbdadm primary r0 (beta)');
    // Typed, not clicked: no Confirm button, and a click (or the id alone) is refused.
    expect(shown).toContain(`type \`confirm ${id} r0\``);
    expect(buttons(plan)).toEqual(['drbd:cancel']);
    const clicked = await fo.click(plan, 'confirm', alice, `confirm ${id}`);
    expect(clicked.text).toContain(`This cannot be confirmed with a click: type \`confirm ${id} r0\``);
    const bare = await fo.slash(`confirm ${id}`, alice);
    expect(bare.text).toContain(`type \`confirm ${id} r0\``);
    const notRequester = await fo.slash(`confirm ${id} r0`, bob);
    expect(notRequester.text).toContain(`Only alice, who asked for it, can confirm request ${id}.`);
    await sleep(300);
    expect(plan.text).toContain('waiting for confirmation');
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Secondary');

    const confirmed = await fo.slash(`confirm ${id} r0`, alice);
    expect(confirmed.text).toContain(`Confirmed. Request ${id} now needs 2 approvals.`);
    expect(buttons(plan)).toEqual(['drbd:approve', 'drbd:cancel']);
    // Two different people, neither the requester; on call or not (approverOnCall: false).
    const own = await fo.click(plan, 'approve', alice);
    expect(own.text).toContain('someone else must approve it');
    const first = await fo.click(plan, 'approve', bob);
    expect(first.text).toContain(`Approved by bob; request ${id} needs one approval more.`);
    const again = await fo.click(plan, 'approve', bob);
    expect(again.text).toContain('bob has already approved it; it needs another person.');
    await sleep(300);
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Secondary');
    const second = await fo.click(plan, 'approve', carol);
    expect(second.text).toContain(`Approved by carol; running request ${id}.`);
    const text = await fo.finished(plan);
    expect(plan.text, text).toMatch(/FORCED failover r0 → beta: done in /);
    expect(text).toContain('approved by bob (slack:U0BOB), carol (slack:U0CAROL)');

    expect(auditedSteps(id, 'beta').map((r) => [r.step?.id, r.step?.host, r.step?.status])).toEqual([
      ['fence', 'beta', 'done'],
      ['promote', 'beta', 'done'],
      ['mount', 'beta', 'done'],
      ['start-lxd', 'beta', 'done'],
      ['list', 'beta', 'done'],
    ]);
    // The fence lock is a call to the lock store, audited as such (not as a command).
    expect(auditedSteps(id, 'beta').find((r) => r.step?.id === 'fence')?.step?.runs).toEqual([
      {
        lock: { key: RESOURCE, op: 'acquire', holder: 'beta' },
        ok: true,
        token: expect.any(Number),
        durationMs: expect.any(Number),
      },
    ]);
    expect(finishedOutcomes('beta').at(-1)).toBe('succeeded');
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Primary');
    expect(fo.isMounted()).toBe(true);
    expect(fo.mountOwner()).toBe('beta');
    const lxdAfter = fo.lxdPid();
    expect(lxdAfter).not.toBeNull();
    expect(lxdAfter).not.toBe(lxdBefore);
    // LXD restarted what was running when alpha died: every container, its address, its data.
    await allRunning();
    for (const c of fo.containers) expect(await fo.readData(c.name)).toBe(c.data);
    // New processes: started again by LXD, not survivors of the crash.
    const pidsAfter = await containerPids();
    for (const c of fo.containers) {
      expect(pidsAfter[c.name]).toBeGreaterThan(1);
      expect(pidsAfter[c.name]).not.toBe(pidsBefore[c.name]);
    }

    // The fence lock of r0 is beta's, in the lock store and as the bot reports it.
    const fence = await store.read(RESOURCE);
    expect(fence.holder).toBe('beta');
    expect(fence.expiresAt ?? 0).toBeGreaterThan(Date.now() + 30 * 60_000);
    const status = await fo.slashPublic('status', alice, /DRBD status/);
    expect(status).toMatch(/Fence r0\*?\nheld by beta until /);
    expect(status).toMatch(/Leader\*?\nbeta \(token \d+\)/);

    // alpha comes back: DRBD resyncs it from beta, and its bot follows beta's lead.
    const callsBefore = fo.h.chatCalls().length;
    const logMark = fo.h.logs('alpha').length;
    await fo.restartHost('alpha');
    await fo.h.waitForLog(
      'alpha',
      (l) => l.msg === 'leader election: leader-changed' && l.leader === 'beta',
      'alpha to follow beta',
      20_000,
      logMark,
    );
    await fo.settled();
    expect(fo.h.pair.role('alpha', RESOURCE)).toBe('Secondary');
    expect(fo.h.pair.role('beta', RESOURCE)).toBe('Primary');
    expect(fo.h.elections('alpha').slice(-1)[0]?.msg).not.toBe('leader election: became-leader');
    expect(
      fo.h
        .chatCalls()
        .slice(callsBefore)
        .every((c) => c.by === 'beta'),
    ).toBe(true);
    await allRunning();
    await store.close();
  }, 180_000);
});
