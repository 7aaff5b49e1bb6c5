// Changing commands end to end on Discord: the real daemon, the real discord.js client (gateway and
// REST) against the fake Discord, simulated LXD containers on r0 (Primary on alpha in the DRBD
// simulator). `/drbd ip-set` is typed, the plan is posted with its buttons, and people click them
// (by the custom_id the bot rendered, read from the fake's stored message), with their guild roles:
// policies may name `discord-role:` principals.

import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { DiscordPlatform } from '../../src/adapters/discord/discord-platform.js';
import {
  FakeDiscord,
  type FakeInteraction,
  type FakeMessage,
  type FakeUser,
} from '../fakes/discord/index.js';
import { onCleanup } from '../helpers/cleanup.js';
import {
  auditRecords,
  type ConfigOptions,
  daemonConfig,
  firstVersion,
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

const { alice, bob, carol, dave, mallory } = PEOPLE;
/** The fake guild's roles (FakeDiscord's defaults). */
const OPERATORS = '100000000000000101';
const APPROVERS = '100000000000000102';

/** A pair, the fake Discord with the commands registered, and a started daemon logged in to it. */
async function discordBot(options: Partial<ConfigOptions> = {}) {
  const env = setupPair();
  const fake = new FakeDiscord();
  await fake.start();
  onCleanup(() => fake.stop());
  const config = daemonConfig(env, {
    team: [alice, bob, carol],
    ...options,
    discord: { apiUrl: fake.apiUrl, applicationId: fake.applicationId, guildId: fake.guildId },
  });
  if (config.discord === undefined) throw new Error('no discord section');
  const platform = new DiscordPlatform({
    config: config.discord,
    logger,
    token: fake.token,
    commands: COMMANDS,
    requestTimeoutMs: 5_000,
  });
  await platform.registerCommands();
  const daemon = await startDaemon(env, config, new Map([['discord', platform]]));
  return { env, fake, daemon };
}

const userOf = (p: Person): FakeUser => ({ id: p.discord, username: p.name, global_name: null });

interface Answer {
  readonly text: string;
  /** Only the person who typed or clicked sees it (an ephemeral follow-up). */
  readonly private: boolean;
}

/** The bot's final answer to an interaction: an ephemeral follow-up, or the edited original. */
async function answerOf(fake: FakeDiscord, interaction: FakeInteraction): Promise<Answer> {
  const event = await fake.waitFor(
    () => interaction.events.find((e) => e.kind === 'followup' || e.kind === 'edit-original'),
    `the answer to interaction ${interaction.id}`,
    15_000,
  );
  if (event.kind !== 'followup' && event.kind !== 'edit-original') throw new Error('unexpected event');
  return {
    text: textOf(event.body),
    private: event.kind === 'followup' && (Number(event.body.flags ?? 0) & 64) !== 0,
  };
}

/** `/drbd ip-set container:… addresses:…` typed by `who` with these roles. */
async function ipSet(
  fake: FakeDiscord,
  who: Person,
  roles: readonly string[],
  container = 'web1',
  addresses = NEW_ADDRESS,
): Promise<Answer> {
  const interaction = await fake.slashCommand({
    name: 'drbd',
    subcommand: 'ip-set',
    options: { container, addresses },
    user: userOf(who),
    roles,
  });
  return answerOf(fake, interaction);
}

/** Plan messages: posted by the bot itself (not an interaction response), about ip set. */
function planMessages(fake: FakeDiscord): FakeMessage[] {
  return fake
    .messagesIn(fake.channelId)
    .filter((m) => m.interaction_metadata === undefined && textOf(m.embeds).includes('ip set'));
}

function buttonsOf(message: FakeMessage): { label: string; customId: string }[] {
  return (message.components as { components?: { label?: string; custom_id?: string }[] }[])
    .flatMap((row) => row.components ?? [])
    .map((b) => ({ label: String(b.label), customId: String(b.custom_id) }));
}

const current = (message: FakeMessage): string => textOf(message.embeds);

/** Every version of the plan message: as posted, then each edit, oldest first. */
function versionsOf(fake: FakeDiscord, plan: FakeMessage): string[] {
  const posted = fake
    .requestsTo(`POST /channels/${plan.channel_id}/messages`)
    .find((r) => r.status === 200 && textOf((r.body as { embeds?: unknown }).embeds).includes('ip set'));
  const edits = fake.requestsTo(`PATCH /channels/${plan.channel_id}/messages/${plan.id}`);
  return [posted, ...edits].map((r) => textOf((r?.body as { embeds?: unknown } | undefined)?.embeds));
}

/** Click the plan's button as `who` with these roles, by the custom_id the bot rendered. */
async function click(
  fake: FakeDiscord,
  plan: FakeMessage,
  label: 'Confirm' | 'Approve' | 'Cancel',
  who: Person,
  roles: readonly string[],
): Promise<Answer> {
  const button = buttonsOf(plan).find((b) => b.label === label);
  if (button === undefined) throw new Error(`the plan has no ${label} button`);
  const interaction = await fake.clickButton({
    customId: button.customId,
    messageId: plan.id,
    user: userOf(who),
    roles,
  });
  return answerOf(fake, interaction);
}

async function waitForText(fake: FakeDiscord, plan: FakeMessage, text: string): Promise<void> {
  await fake.waitFor(() => current(plan).includes(text), `the plan to show "${text}"`, 15_000);
}

/** `ip-set web1 NEW_ADDRESS` as `who`; checks the plan and that nothing changed yet. */
async function requestIpSet(env: PairEnv, fake: FakeDiscord, who: Person, roles: readonly string[]) {
  const before = lxdFile(env);
  const answer = await ipSet(fake, who, roles);
  expect(answer.private).toBe(true);
  expect(answer.text).toMatch(/Plan [0-9a-f]{8} posted/);
  const plan = await fake.waitFor(() => planMessages(fake)[0], 'the plan message', 15_000);
  const confirm = buttonsOf(plan).find((b) => b.label === 'Confirm')?.customId ?? '';
  const id = /^cmd:confirm ([0-9a-f]{8})$/.exec(confirm)?.[1];
  if (id === undefined) throw new Error(`unexpected Confirm custom_id ${confirm}`);
  expect(answer.text).toContain(`Plan ${id} posted`);
  expect(lxdFile(env)).toBe(before);
  return { plan, id, before };
}

describe('ip set through Discord (discord.js against the fake Discord)', () => {
  it('posts the plan, changes nothing before Confirm, then runs step by step and audits it all', async () => {
    const { env, fake } = await discordBot();
    const { plan, id } = await requestIpSet(env, fake, alice, []);
    expect(current(plan)).toContain(`ip set web1 ${NEW_ADDRESS}: waiting for confirmation`);
    expect(buttonsOf(plan)).toEqual([
      { label: 'Confirm', customId: `cmd:confirm ${id}` },
      { label: 'Cancel', customId: `cmd:cancel ${id}` },
    ]);
    expect(current(plan)).toContain('◻️ Stop web1 (alpha)');
    expect(current(plan)).toContain(`${id} · requested by alice (discord:300000000000000011) · token 0`);
    await sleep(300);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [OLD_ADDRESS] });

    const confirmed = await click(fake, plan, 'Confirm', alice, []);
    expect(confirmed.private).toBe(true);
    expect(confirmed.text).toContain(`Confirmed; running request ${id}`);
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);

    expect(planMessages(fake)).toHaveLength(1);
    const versions = versionsOf(fake, plan);
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

    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
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
    expect(records[0]?.actor).toMatchObject({ platform: 'discord', userId: alice.discord, member: 'alice' });
    expect(
      records
        .flatMap((r) => r.step?.runs ?? [])
        .map((run) => ('argv' in run ? [run.argv.join(' '), run.exitCode] : [run.lock.op, run.ok])),
    ).toEqual([
      ['lxc stop web1 --timeout 5', 0],
      [`lxc config device set web1 eth0 ipv4.address=${NEW_ADDRESS} ipv6.address=`, 0],
      ['lxc start web1', 0],
    ]);
    expect(records.at(-1)).toMatchObject({ event: 'finished', outcome: 'succeeded' });
  });

  it('approval by role and roster: self-approval, a member not on call and one without the role are refused', async () => {
    const { env, fake } = await discordBot({
      team: [alice, bob, carol, dave],
      onCall: ['carol', 'dave'],
      policy: {
        requesters: [`discord-role:${OPERATORS}`],
        approvers: [`discord-role:${APPROVERS}`],
        approvals: 1,
        approverOnCall: true,
      },
    });
    // Requesting is for the operators role: bob, in the team but without it, is refused.
    const refused = await ipSet(fake, bob, [APPROVERS]);
    expect(refused.private).toBe(true);
    expect(refused.text).toContain(`bob may not request ip-set: it is for discord-role:${OPERATORS}`);
    expect(planMessages(fake)).toEqual([]);

    const { plan, id, before } = await requestIpSet(env, fake, alice, [OPERATORS]);
    const confirmed = await click(fake, plan, 'Confirm', alice, [OPERATORS]);
    expect(confirmed.text).toContain(`Confirmed. Request ${id} now needs one approval`);
    expect(current(plan)).toContain('waiting for approval');
    expect(buttonsOf(plan)).toEqual([
      { label: 'Approve', customId: `cmd:approve ${id}` },
      { label: 'Cancel', customId: `cmd:cancel ${id}` },
    ]);

    const self = await click(fake, plan, 'Approve', alice, [OPERATORS, APPROVERS]);
    expect(self.private).toBe(true);
    expect(self.text).toContain('alice: you asked for this ip-set; someone else must approve it');
    const notOnCall = await click(fake, plan, 'Approve', bob, [APPROVERS]);
    expect(notOnCall.private).toBe(true);
    expect(notOnCall.text).toContain(
      'bob is not on call; ip-set needs the approval of the on-call person: carol, dave',
    );
    const withoutRole = await click(fake, plan, 'Approve', dave, [OPERATORS]);
    expect(withoutRole.private).toBe(true);
    expect(withoutRole.text).toContain(
      `dave may not approve ip-set: approvers are discord-role:${APPROVERS}`,
    );
    await sleep(200);
    expect(lxdFile(env)).toBe(before);
    expect(auditRecords(env).filter((r) => r.operation === id && r.event === 'step')).toEqual([]);

    const approved = await click(fake, plan, 'Approve', carol, [APPROVERS]);
    expect(approved.text).toContain(`Approved by carol; running request ${id}`);
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);
    expect(current(plan)).toContain('approved by carol (discord:300000000000000013)');
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(lxcRuns(records, 'start')).toBe(1);
    expect(records.filter((r) => r.event === 'approved').map((r) => r.actor?.member)).toEqual(['carol']);
    expect(records.filter((r) => r.event === 'refused').map((r) => r.actor?.member)).toEqual([
      'alice',
      'bob',
      'dave',
    ]);
  });

  it('runs the steps once when Confirm is clicked twice at once', async () => {
    const { env, fake } = await discordBot();
    const { plan, id } = await requestIpSet(env, fake, alice, []);
    const answers = await Promise.all([
      click(fake, plan, 'Confirm', alice, []),
      click(fake, plan, 'Confirm', alice, []),
    ]);
    const texts = answers.map((a) => a.text);
    expect(texts.filter((t) => t.includes(`Confirmed; running request ${id}`))).toHaveLength(1);
    expect(texts.filter((t) => /already running|has already run/.test(t))).toHaveLength(1);
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(records.filter((r) => r.event === 'confirmed')).toHaveLength(1);
    expect(records.filter((r) => r.event === 'step')).toHaveLength(4);
    expect(lxcRuns(records, 'stop')).toBe(1);
    expect(lxcRuns(records, 'start')).toBe(1);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
  });

  it('runs the steps once when two approvers click Approve at once', async () => {
    const { env, fake } = await discordBot({ policy: { approvals: 1 } });
    const { plan, id } = await requestIpSet(env, fake, alice, []);
    await click(fake, plan, 'Confirm', alice, []);
    expect(current(plan)).toContain('waiting for approval');
    const answers = await Promise.all([
      click(fake, plan, 'Approve', bob, []),
      click(fake, plan, 'Approve', carol, []),
    ]);
    const texts = answers.map((a) => a.text);
    expect(texts.filter((t) => /Approved by (bob|carol); running request/.test(t))).toHaveLength(1);
    expect(texts.filter((t) => /already running|has already run/.test(t))).toHaveLength(1);
    await waitForText(fake, plan, ': done');
    await waitForFinished(env, id);
    const records = auditRecords(env).filter((r) => r.operation === id);
    expect(records.filter((r) => r.event === 'approved')).toHaveLength(1);
    expect(lxcRuns(records, 'start')).toBe(1);
  });

  it('answers bad input privately and clearly; nothing is planned, posted or run', async () => {
    const { env, fake, daemon } = await discordBot();
    const before = lxdFile(env);
    const cases: [Person, string, string, string][] = [
      [alice, 'web9', NEW_ADDRESS, 'No container web9 on r0'],
      [alice, 'web1', '203.0.113.5', '203.0.113.5 is outside the allowed subnets 198.51.100.0/24'],
      [alice, 'web1;reboot', NEW_ADDRESS, 'container: unexpected characters in "web1;reboot"'],
      [alice, 'web1', `${NEW_ADDRESS};reboot`, 'addresses: unexpected characters'],
      [alice, 'web1', '$(reboot)', 'addresses: unexpected characters in "$(reboot)"'],
      [alice, 'web1 && reboot', NEW_ADDRESS, 'container: unexpected characters in "web1 && reboot"'],
      [mallory, 'web1', NEW_ADDRESS, 'mallory may not request ip-set: it is for the on-call team'],
    ];
    for (const [who, container, addresses, expected] of cases) {
      const answer = await ipSet(fake, who, [], container, addresses);
      expect(answer.private, `${container} ${addresses}`).toBe(true);
      expect(answer.text, `${container} ${addresses}`).toContain(expected);
    }
    await sleep(300);
    expect(planMessages(fake)).toEqual([]);
    expect(fake.requestsTo('POST /channels/:id/messages')).toEqual([]);
    expect(daemon.operations.list()).toEqual([]);
    expect(lxdFile(env)).toBe(before);
    expect(auditRecords(env).map((r) => [r.event, r.actor?.userId])).toEqual([['refused', mallory.discord]]);
  });

  it('takes a typed option value as a value: a container field of "--addresses=…" is refused, not re-read', async () => {
    const { env, fake, daemon } = await discordBot();
    const before = lxdFile(env);
    // The person fills in container "--addresses=198.51.100.30" and addresses "web1".
    const answer = await ipSet(fake, alice, [], '--addresses=198.51.100.30', 'web1');
    expect(answer.private).toBe(true);
    expect(answer.text).toContain('container:');
    await sleep(300);
    expect(planMessages(fake)).toEqual([]);
    expect(daemon.operations.list()).toEqual([]);
    expect(lxdFile(env)).toBe(before);
  });
});
