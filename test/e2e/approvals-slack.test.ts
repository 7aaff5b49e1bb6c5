// Changing commands end to end on Slack: the real daemon, the real Bolt client in Socket Mode
// against the fake Slack, simulated LXD containers on r0 (Primary on alpha in the DRBD simulator).
// A person types `/drbd ip set web1 198.51.100.20`, the plan is posted with its buttons, and people
// click them (with the value the bot rendered, read from the fake's stored message): confirmation,
// approvals by the on-call person, refusals, double clicks, expiry, a restart, a leadership change,
// a failing step rolled back, and input that must never become a plan.

import { describe, expect, it } from 'vitest';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import type { Config } from '../../src/app/config.js';
import type { Daemon } from '../../src/app/daemon.js';
import { RestartablePlatform } from '../../src/app/platforms.js';
import type { ChatPlatform } from '../../src/ports/chat.js';
import {
  FAKE_APP_TOKEN,
  FAKE_BOT_TOKEN,
  FakeSlack,
  type ResponseUrlPost,
  type StoredMessage,
  slackConfig,
} from '../fakes/slack/index.js';
import { onCleanup } from '../helpers/cleanup.js';
import { commandRuns } from '../helpers/command-runs.js';
import { MemoryLockStore } from '../helpers/memory-lock.js';
import { until } from '../helpers/wait.js';
import {
  auditRecords,
  type ConfigOptions,
  daemonConfig,
  firstVersion,
  IP_SET,
  logger,
  lxcRuns,
  lxdFile,
  NEW_ADDRESS,
  OLD_ADDRESS,
  type PairEnv,
  PEOPLE,
  type Person,
  setupPair,
  simContainer,
  sleep,
  startDaemon,
  textOf,
  waitForFinished,
} from './approvals-harness.js';

const CHANNEL = 'C0OPS';
const { alice, bob, carol, mallory } = PEOPLE;
const TEAM = [alice, bob, carol];

async function startFake(): Promise<FakeSlack> {
  const fake = new FakeSlack();
  await fake.start();
  onCleanup(() => fake.stop());
  return fake;
}

function slackPlatform(fake: FakeSlack): SlackPlatform {
  return new SlackPlatform({
    config: slackConfig(fake),
    logger,
    secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
    requestTimeoutMs: 5_000,
  });
}

function configFor(env: PairEnv, fake: FakeSlack, options: Partial<ConfigOptions> = {}): Config {
  return daemonConfig(env, { team: TEAM, ...options, slack: { apiUrl: fake.apiUrl } });
}

/** A pair, the fake Slack and a started daemon connected to it. */
async function slackBot(options: Partial<ConfigOptions> = {}) {
  const env = setupPair();
  const fake = await startFake();
  const config = configFor(env, fake, options);
  const daemon = await startDaemon(env, config, new Map([['slack', slackPlatform(fake)]]));
  await fake.waitForConnection(1, 15_000);
  return { env, fake, config, daemon };
}

interface Answer {
  readonly text: string;
  /** Only the person who typed or clicked sees it. */
  readonly private: boolean;
}

function answerOf(response: ResponseUrlPost | undefined): Answer {
  if (response === undefined) throw new Error('no answer');
  return { text: textOf(response.body), private: response.body.response_type === 'ephemeral' };
}

/** `/drbd <text>` typed by `who` in CHANNEL; resolves with the bot's answer. */
async function slash(fake: FakeSlack, who: Person, text: string): Promise<Answer> {
  const { responseUrl } = await fake.sendSlashCommand({
    text,
    channelId: CHANNEL,
    userId: who.slack,
    userName: who.name,
  });
  const [response] = await fake.waitForResponses(responseUrl, 1, 15_000);
  return answerOf(response);
}

/** Plan messages: those posted by the operations machinery (metadata key `operation:<id>`). */
function planMessages(fake: FakeSlack): StoredMessage[] {
  return fake
    .messages(CHANNEL)
    .filter((m) => String(m.metadata?.event_payload.key ?? '').startsWith('operation:'));
}

async function waitForPlan(fake: FakeSlack): Promise<StoredMessage> {
  await fake.waitFor(() => planMessages(fake).length > 0, 'the plan message', 15_000);
  const [plan] = planMessages(fake);
  if (plan === undefined) throw new Error('no plan');
  return plan;
}

interface Button {
  readonly actionId: string;
  readonly label: string;
  readonly value: string;
}

function buttonsOf(message: { blocks?: unknown[]; attachments?: unknown[] }): Button[] {
  const blocks = [
    ...(message.blocks ?? []),
    ...(message.attachments ?? []).flatMap((a) => (a as { blocks?: unknown[] }).blocks ?? []),
  ] as { type?: string; elements?: Record<string, unknown>[] }[];
  return blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? [])
    .filter((e) => e.type === 'button')
    .map((e) => ({
      actionId: String(e.action_id),
      label: String((e.text as { text?: string } | undefined)?.text),
      value: String(e.value),
    }));
}

/** The value of a button as the bot rendered it on the plan. */
function buttonValue(plan: StoredMessage, actionId: string): string {
  const button = buttonsOf(plan).find((b) => b.actionId === actionId);
  if (button === undefined) throw new Error(`the plan has no ${actionId} button`);
  return button.value;
}

/** Every version of a message's visible text (the buttons' values left out), oldest first. */
function versionsOf(message: StoredMessage): string[] {
  const visible = (v: { text: string; attachments?: unknown[] }) =>
    textOf({
      text: v.text,
      attachments: JSON.parse(JSON.stringify(v.attachments ?? []), (key, value) =>
        key === 'value' ? undefined : value,
      ),
    });
  return [...message.history, message].map(visible);
}

const current = (message: StoredMessage): string => versionsOf(message).at(-1) ?? '';

/** Click a button of the plan as `who`; `value` overrides the button's (a stale button). */
async function click(
  fake: FakeSlack,
  plan: StoredMessage,
  action: 'confirm' | 'approve' | 'cancel',
  who: Person,
  value?: string,
): Promise<Answer> {
  const { responseUrl } = await fake.clickButton({
    channelId: CHANNEL,
    messageTs: plan.ts,
    actionId: `drbd:${action}`,
    userId: who.slack,
    userName: who.name,
    ...(value === undefined ? {} : { value }),
  });
  const [response] = await fake.waitForResponses(responseUrl, 1, 15_000);
  return answerOf(response);
}

async function waitForText(fake: FakeSlack, plan: StoredMessage, text: string, timeoutMs = 15_000) {
  await fake.waitFor(() => current(plan).includes(text), `the plan to show "${text}"`, timeoutMs);
}

/** Request ip set as alice; checks the plan and that nothing changed yet. */
async function requestIpSet(env: PairEnv, fake: FakeSlack, who: Person = alice) {
  const before = lxdFile(env);
  const answer = await slash(fake, who, IP_SET);
  expect(answer.private).toBe(true);
  expect(answer.text).toMatch(/Plan [0-9a-f]{8} posted/);
  const plan = await waitForPlan(fake);
  const confirm = buttonValue(plan, 'drbd:confirm');
  const id = /^confirm ([0-9a-f]{8})$/.exec(confirm)?.[1];
  if (id === undefined) throw new Error(`unexpected Confirm value ${confirm}`);
  expect(answer.text).toContain(`Plan ${id} posted`);
  // Nothing ran: the simulated LXD's state is exactly as it was.
  expect(lxdFile(env)).toBe(before);
  return { plan, id, confirm, before };
}

function stepEvents(env: PairEnv, id: string) {
  return auditRecords(env).filter((r) => r.operation === id && r.event === 'step');
}

describe('ip set through Slack (Bolt Socket Mode against the fake Slack)', () => {
  it('posts the plan, changes nothing before Confirm, then runs step by step and audits it all', async () => {
    const { env, fake } = await slackBot();
    const { plan, id } = await requestIpSet(env, fake);

    expect(plan.text).toContain(`ip set web1 ${NEW_ADDRESS}: waiting for confirmation`);
    expect(buttonsOf(plan).map((b) => [b.label, b.value])).toEqual([
      ['Confirm', `confirm ${id}`],
      ['Cancel', `cancel ${id}`],
    ]);
    const shown = current(plan);
    for (const line of [
      OLD_ADDRESS,
      NEW_ADDRESS,
      '◻️ Stop web1 (alpha)',
      `◻️ Set eth0 to ${NEW_ADDRESS} (alpha)`,
      '◻️ Start web1 (alpha)',
      `◻️ Check ${NEW_ADDRESS} is up (alpha)`,
      `${id} · requested by alice (slack:U0ALICE) · token 0`,
    ]) {
      expect(shown).toContain(line);
    }
    // Give a wrongly eager bot the chance to act: still nothing.
    await sleep(300);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [OLD_ADDRESS] });

    const confirmed = await click(fake, plan, 'confirm', alice);
    expect(confirmed).toEqual({
      private: true,
      text: expect.stringContaining(`Confirmed; running request ${id}`),
    });
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);

    // The same message was edited step by step.
    expect(planMessages(fake)).toHaveLength(1);
    const versions = versionsOf(plan);
    const order = [
      firstVersion(versions, 'waiting for confirmation'),
      firstVersion(versions, ': running', '⏳ Stop web1 (alpha)'),
      firstVersion(versions, '✅ Stop web1 (alpha)', `⏳ Set eth0 to ${NEW_ADDRESS}`),
      firstVersion(versions, `✅ Set eth0 to ${NEW_ADDRESS}`, '⏳ Start web1 (alpha)'),
      firstVersion(versions, '✅ Start web1 (alpha)', `⏳ Check ${NEW_ADDRESS} is up`),
      firstVersion(versions, ': done', `✅ Check ${NEW_ADDRESS} is up`),
    ];
    for (const index of order) expect(index).toBeGreaterThanOrEqual(0);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(new Set(order).size).toBe(order.length);
    expect(buttonsOf(plan)).toEqual([]);
    expect(current(plan)).toContain(`${id} · requested by alice (slack:U0ALICE) · confirmed · token 0`);

    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
    expect(simContainer(env, 'web2')).toMatchObject({ status: 'Running', ipv4: ['198.51.100.11'] });

    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(records.map((r) => r.event)).toEqual([
      'requested',
      'confirmed',
      'step',
      'step',
      'step',
      'step',
      'finished',
    ]);
    expect(records[0]).toMatchObject({
      host: 'alpha',
      command: `ip-set web1 ${NEW_ADDRESS}`,
      token: 0,
      actor: { platform: 'slack', userId: alice.slack, member: 'alice' },
    });
    expect(records[1]?.actor).toMatchObject({ userId: alice.slack, member: 'alice' });
    expect(records.filter((r) => r.event === 'step').map((r) => [r.step?.id, r.step?.status])).toEqual([
      ['stop', 'done'],
      ['set', 'done'],
      ['start', 'done'],
      ['verify', 'done'],
    ]);
    expect(
      records
        .flatMap((r) => r.step?.runs ?? [])
        .map((run) => ('argv' in run ? [run.argv, run.exitCode] : run.lock)),
    ).toEqual([
      [['lxc', 'stop', 'web1', '--timeout', '5'], 0],
      [['lxc', 'config', 'device', 'set', 'web1', 'eth0', `ipv4.address=${NEW_ADDRESS}`, 'ipv6.address='], 0],
      [['lxc', 'start', 'web1'], 0],
    ]);
    expect(records.at(-1)).toMatchObject({ event: 'finished', outcome: 'succeeded' });
  });

  it('refuses a Confirm by someone other than the requester, privately, and runs nothing', async () => {
    const { env, fake, daemon } = await slackBot();
    const { plan, id, before } = await requestIpSet(env, fake);

    const refused = await click(fake, plan, 'confirm', bob);
    expect(refused.private).toBe(true);
    expect(refused.text).toContain(`Only alice, who asked for it, can confirm request ${id}`);
    await sleep(300);
    expect(lxdFile(env)).toBe(before);
    expect(stepEvents(env, id)).toEqual([]);
    expect(daemon.operations.list().find((o) => o.id === id)?.state).toBe('awaiting-confirmation');
    expect(current(plan)).toContain('waiting for confirmation');
    expect(buttonsOf(plan).map((b) => b.label)).toEqual(['Confirm', 'Cancel']);
    expect(auditRecords(env).filter((r) => r.operation === id && r.event === 'refused')).toEqual([
      expect.objectContaining({ actor: expect.objectContaining({ userId: bob.slack, member: 'bob' }) }),
    ]);

    // The requester may still call it off.
    const cancelled = await click(fake, plan, 'cancel', alice);
    expect(cancelled.text).toContain(`Request ${id} cancelled; nothing was run`);
    expect(current(plan)).toContain('cancelled by alice');
    expect(buttonsOf(plan)).toEqual([]);
    expect(lxdFile(env)).toBe(before);
  });

  it('needs the on-call approval: self-approval and a member not on call are refused; it runs once', async () => {
    const { env, fake } = await slackBot({
      onCall: ['carol'],
      policy: { approvals: 1, approverOnCall: true },
    });
    const { plan, id, before } = await requestIpSet(env, fake);

    const confirmed = await click(fake, plan, 'confirm', alice);
    expect(confirmed.text).toContain(`Confirmed. Request ${id} now needs one approval`);
    expect(current(plan)).toContain('waiting for approval');
    expect(buttonsOf(plan).map((b) => [b.label, b.value])).toEqual([
      ['Approve', `approve ${id}`],
      ['Cancel', `cancel ${id}`],
    ]);

    const self = await click(fake, plan, 'approve', alice);
    expect(self.private).toBe(true);
    expect(self.text).toContain('alice: you asked for this ip-set; someone else must approve it');
    const notOnCall = await click(fake, plan, 'approve', bob);
    expect(notOnCall.private).toBe(true);
    expect(notOnCall.text).toContain(
      'bob is not on call; ip-set needs the approval of the on-call person: carol',
    );
    const outsider = await click(fake, plan, 'approve', mallory);
    expect(outsider.text).toContain('mallory may not approve ip-set');
    expect(lxdFile(env)).toBe(before);
    expect(stepEvents(env, id)).toEqual([]);

    const approved = await click(fake, plan, 'approve', carol);
    expect(approved.text).toContain(`Approved by carol; running request ${id}`);
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);
    expect(current(plan)).toContain('approved by carol (slack:U0CAROL)');
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(lxcRuns(records, 'start')).toBe(1);
    expect(lxcRuns(records, 'stop')).toBe(1);
    expect(records.filter((r) => r.event === 'approved').map((r) => r.actor?.member)).toEqual(['carol']);
    expect(records.filter((r) => r.event === 'refused').map((r) => r.actor?.userId)).toEqual([
      alice.slack,
      bob.slack,
      mallory.slack,
    ]);
  });

  it('runs the steps once when Confirm is clicked twice at once', async () => {
    const { env, fake } = await slackBot();
    const { plan, id, confirm } = await requestIpSet(env, fake);

    const answers = await Promise.all([
      click(fake, plan, 'confirm', alice),
      click(fake, plan, 'confirm', alice),
    ]);
    const texts = answers.map((a) => a.text);
    expect(texts.filter((t) => t.includes(`Confirmed; running request ${id}`))).toHaveLength(1);
    expect(texts.filter((t) => /already running|has already run/.test(t))).toHaveLength(1);
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);

    // A late click on the button as it was shown is told it ran already.
    const late = await click(fake, plan, 'confirm', alice, confirm);
    expect(late.text).toContain(`Request ${id} has already run; nothing was run`);
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(records.filter((r) => r.event === 'confirmed')).toHaveLength(1);
    expect(records.filter((r) => r.event === 'step')).toHaveLength(4);
    expect(lxcRuns(records, 'stop')).toBe(1);
    expect(lxcRuns(records, 'start')).toBe(1);
    expect(records.filter((r) => r.event === 'finished')).toHaveLength(1);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
  });

  it('runs the steps once when two approvers click Approve at once', async () => {
    const { env, fake } = await slackBot({ policy: { approvals: 1 } });
    const { plan, id } = await requestIpSet(env, fake);
    await click(fake, plan, 'confirm', alice);
    expect(current(plan)).toContain('waiting for approval');

    const answers = await Promise.all([
      click(fake, plan, 'approve', bob),
      click(fake, plan, 'approve', carol),
    ]);
    const texts = answers.map((a) => a.text);
    expect(texts.filter((t) => /Approved by (bob|carol); running request/.test(t))).toHaveLength(1);
    expect(texts.filter((t) => /already running|has already run/.test(t))).toHaveLength(1);
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(records.filter((r) => r.event === 'approved')).toHaveLength(1);
    expect(lxcRuns(records, 'stop')).toBe(1);
    expect(lxcRuns(records, 'start')).toBe(1);
    expect(records.filter((r) => r.event === 'finished')).toHaveLength(1);
  });

  it('expires a request nobody finished in time (expireAfterMs: 10 s, the minimum)', async () => {
    const { env, fake, daemon } = await slackBot({ policy: { expireAfterMs: 10_000 } });
    const { plan, id, before } = await requestIpSet(env, fake);
    const op = daemon.operations.list().find((o) => o.id === id);
    if (op === undefined) throw new Error('no operation');
    expect(op.expiresAt - op.requestedAt).toBe(10_000);
    // The daemon takes no clock: wait out the real time.
    await until(() => Date.now() > op.expiresAt + 50, 'the request to be due', 12_000);

    const late = await click(fake, plan, 'confirm', alice);
    expect(late.private).toBe(true);
    expect(late.text).toContain(`Request ${id} expired: nobody finished it within 10s`);
    expect(late.text).toContain('Nothing was run');
    expect(current(plan)).toContain(': expired');
    expect(buttonsOf(plan)).toEqual([]);
    expect(lxdFile(env)).toBe(before);
    expect(
      auditRecords(env)
        .filter((r) => r.operation === id)
        .map((r) => r.event),
    ).toEqual(['requested', 'expired']);
  }, 30_000);

  it('keeps a pending request across a restart: the old Confirm button works and runs once', async () => {
    const env = setupPair();
    const fake = await startFake();
    const config = configFor(env, fake);
    const first = await startDaemon(env, config, new Map([['slack', slackPlatform(fake)]]));
    await fake.waitForConnection(1, 15_000);
    const { plan, id, confirm } = await requestIpSet(env, fake);
    await first.stop();
    await fake.waitFor(() => fake.openConnectionCount === 0, 'the old connection to close');

    await startDaemon(env, config, new Map([['slack', slackPlatform(fake)]]));
    await fake.waitForConnection(2, 15_000);
    expect(buttonValue(plan, 'drbd:confirm')).toBe(confirm);
    const confirmed = await click(fake, plan, 'confirm', alice);
    expect(confirmed.text).toContain(`Confirmed; running request ${id}`);
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(records.filter((r) => r.event === 'requested')).toHaveLength(1);
    expect(records.filter((r) => r.event === 'confirmed')).toHaveLength(1);
    expect(lxcRuns(records, 'start')).toBe(1);
    expect(records.at(-1)).toMatchObject({ event: 'finished', outcome: 'succeeded' });
  });

  it('does not run a request made under another leader: the lease changed hands, Confirm says so', async () => {
    const env = setupPair();
    const fake = await startFake();
    const store = new MemoryLockStore();
    const config = configFor(env, fake, { leader: { leaseMs: 1_500, renewDeadlineMs: 1_000, retryMs: 200 } });
    const platform: ChatPlatform = new RestartablePlatform('slack', () => slackPlatform(fake));
    const daemon: Daemon = await startDaemon(env, config, new Map([['slack', platform]]), store);
    await until(() => daemon.elector?.mayAct() === true, 'alpha to lead');
    await fake.waitForConnection(1, 15_000);
    const { plan, id, confirm, before } = await requestIpSet(env, fake);
    const token = daemon.elector?.state.token;
    expect(current(plan)).toContain(`token ${token}`);

    // The lock store goes away long enough for alpha's lease to run out; beta takes it, then lets
    // it lapse, and alpha leads again with a newer fencing token.
    store.down = true;
    await until(() => daemon.elector?.mayAct() === false, 'alpha to step down');
    await sleep(1_700);
    store.down = false;
    const beta = await store.acquireOrRenew(config.leader.key, 'beta', 800);
    expect(beta.held).toBe(true);
    await until(
      () => daemon.elector?.mayAct() === true && daemon.elector.state.token > beta.token,
      'alpha to lead again with a newer token',
    );
    const newToken = daemon.elector?.state.token;
    await fake.waitForConnection(2, 15_000);
    // Back as leader, the daemon closes requests from the old term on their messages.
    await waitForText(fake, plan, ': expired');
    expect(buttonsOf(plan)).toEqual([]);

    // A click on the Confirm button as it was shown.
    const late = await click(fake, plan, 'confirm', alice, confirm);
    expect(late.private).toBe(true);
    expect(late.text).toContain(`Request ${id} has expired; nothing was run`);
    expect(late.text).toContain(`leadership changed since it was requested (token ${token} → ${newToken})`);
    await sleep(300);
    expect(lxdFile(env)).toBe(before);
    expect(stepEvents(env, id)).toEqual([]);
    expect(auditRecords(env).filter((r) => r.operation === id && r.event === 'expired')).toHaveLength(1);
  });

  it('rolls back when a step fails: LXD refuses to start web1 on an address the host uses', async () => {
    const { env, fake } = await slackBot();
    const { plan, id } = await requestIpSet(env, fake);
    env.containers.reserve(NEW_ADDRESS);

    await click(fake, plan, 'confirm', alice);
    await waitForText(fake, plan, 'failed, rolled back');
    await waitForFinished(env, id);
    const shown = current(plan);
    expect(shown).toContain('✅ Stop web1 (alpha)');
    expect(shown).toContain(`✅ Set eth0 to ${NEW_ADDRESS} (alpha)`);
    expect(shown).toMatch(/❌ Start web1 \(alpha\) — [^\n]*: lxc start web1: exit 1/);
    expect(shown).toContain(`◻️ Check ${NEW_ADDRESS} is up (alpha)`);
    expect(shown).toContain('Output of lxc start web1 (exit 1)');
    expect(shown).toContain(`Failed adding host route "${NEW_ADDRESS}": File exists`);
    expect(shown).toContain('Rollback');
    expect(shown).toContain(`✅ Undo: Set eth0 to ${NEW_ADDRESS} (alpha)`);
    expect(shown).toContain('✅ Undo: Stop web1 (alpha)');
    expect(shown).toContain('Everything done before it was taken back');

    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [OLD_ADDRESS] });
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(records.filter((r) => r.event === 'step').map((r) => [r.step?.id, r.step?.status])).toEqual([
      ['stop', 'done'],
      ['set', 'done'],
      ['start', 'failed'],
    ]);
    const failed = records.find((r) => r.step?.id === 'start');
    expect(commandRuns(failed?.step?.runs).map((run) => [run.argv.join(' '), run.exitCode])).toEqual([
      ['lxc start web1', 1],
    ]);
    expect(
      records
        .filter((r) => r.event === 'rollback-step')
        .map((r) => [commandRuns(r.step?.runs)[0]?.argv[1], r.step?.status]),
    ).toEqual([
      ['config', 'done'],
      ['start', 'done'],
    ]);
    expect(records.at(-1)).toMatchObject({ event: 'finished', outcome: 'rolled-back' });
  });

  it('does not run a plan whose facts changed before Confirm (web1 was stopped meanwhile)', async () => {
    const { env, fake } = await slackBot();
    const { plan, id } = await requestIpSet(env, fake);
    env.containers.update('web1', { status: 'Stopped', startedAt: null });
    const before = lxdFile(env);

    const confirmed = await click(fake, plan, 'confirm', alice);
    expect(confirmed.text).toContain(`Confirmed; running request ${id}`);
    await waitForText(fake, plan, ': not run');
    expect(current(plan)).toContain(
      'the situation changed since the plan (web1 status: was Running, now Stopped)',
    );
    expect(lxdFile(env)).toBe(before);
    await until(
      () => auditRecords(env).some((r) => r.operation === id && r.event === 'aborted'),
      'the aborted record',
    );
    expect(stepEvents(env, id)).toEqual([]);
  });

  it('a Confirm clicked while the plan is still being posted (slow chat.postMessage answer) runs once, shown on the plan', async () => {
    const { env, fake, daemon } = await slackBot();
    // Slack stores the plan at once (everyone sees it and its buttons), but its answer to the bot is slow.
    fake.inject('chat.postMessage', { kind: 'slow-answer', ms: 1_500 });
    const { responseUrl } = await fake.sendSlashCommand({
      text: IP_SET,
      channelId: CHANNEL,
      userId: alice.slack,
      userName: alice.name,
    });
    const plan = await waitForPlan(fake);
    const confirm = buttonValue(plan, 'drbd:confirm');
    const id = confirm.slice('confirm '.length);
    // alice is quick: she confirms before the bot has heard back from Slack.
    await click(fake, plan, 'confirm', alice);
    const [posted] = await fake.waitForResponses(responseUrl, 1, 15_000);
    expect(answerOf(posted).text).toContain(`Plan ${id} posted`);
    await sleep(500);
    // Whether the early click ran it or was told to wait, a second click settles it.
    const op = () => daemon.operations.list().find((o) => o.id === id);
    if (op()?.state === 'awaiting-confirmation') await click(fake, plan, 'confirm', alice, confirm);

    const story = () =>
      `audit: ${auditRecords(env)
        .filter((r) => r.operation === id)
        .map((r) => r.event)
        .join(', ')}; state: ${op()?.state}; plan: ${current(plan).split('\n')[0]}`;
    await waitForText(fake, plan, ': done', 5_000).catch((err: Error) => {
      throw new Error(`${err.message} (${story()})`);
    });
    await waitForFinished(env, id);
    expect(op()?.state, story()).toBe('succeeded');
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(lxcRuns(records, 'start')).toBe(1);
    expect(records.filter((r) => r.event === 'finished')).toHaveLength(1);
    expect(records.filter((r) => ['aborted', 'expired'].includes(r.event))).toEqual([]);
  });

  it('answers bad input privately and clearly; nothing is planned, posted or run', async () => {
    const { env, fake, daemon } = await slackBot();
    const before = lxdFile(env);
    const cases: [Person, string, string][] = [
      [alice, `ip set web9 ${NEW_ADDRESS}`, 'No container web9 on r0'],
      [alice, 'ip set web1 203.0.113.5', '203.0.113.5 is outside the allowed subnets 198.51.100.0/24'],
      [alice, 'ip set web1 198.51.100.11', '198.51.100.11 is already used by web2 on alpha'],
      [alice, `ip set web1;reboot ${NEW_ADDRESS}`, 'container: unexpected characters in "web1;reboot"'],
      [alice, `ip set web1 ${NEW_ADDRESS};reboot`, 'addresses: unexpected characters'],
      [alice, 'ip set web1 $(reboot)', 'addresses: unexpected characters in "$(reboot)"'],
      [alice, 'ip set web1 `reboot`', 'addresses: unexpected characters in "`reboot`"'],
      [mallory, IP_SET, 'mallory may not request ip-set: it is for the on-call team'],
    ];
    for (const [who, text, expected] of cases) {
      const answer = await slash(fake, who, text);
      expect(answer.private, text).toBe(true);
      expect(answer.text, text).toContain(expected);
    }
    await sleep(300);
    expect(planMessages(fake)).toEqual([]);
    expect(fake.callsTo('chat.postMessage')).toEqual([]);
    expect(daemon.operations.list()).toEqual([]);
    expect(lxdFile(env)).toBe(before);
    const records = auditRecords(env);
    expect(records.filter((r) => r.event !== 'refused')).toEqual([]);
    expect(records.map((r) => r.actor?.userId)).toEqual([mallory.slack]);
  });
});
