// The Discord adapter with the real discord.js against the fake Discord (real HTTP + WebSocket
// servers on loopback): delivery and its error mapping, then the gateway side (interactions).

import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandDefinition } from '../../src/adapters/discord/commands.js';
import {
  DiscordPlatform,
  type DiscordPlatformOptions,
  nonceFor,
} from '../../src/adapters/discord/discord-platform.js';
import { createLogger, type Logger } from '../../src/app/log.js';
import type { Message } from '../../src/core/message-tones.js';
import {
  type CommandContext,
  type CommandHandler,
  type CommandReply,
  DeliveryError,
  type IncomingCommand,
} from '../../src/ports/chat.js';
import { renderDiscord } from '../../src/render/discord.js';
import { FakeDiscord, type FakeDiscordOptions, type FakeMessage } from '../fakes/discord/index.js';

const COMMANDS: CommandDefinition[] = [
  {
    name: 'status',
    description: 'Show the state of the pair',
    options: [{ name: 'resource', description: 'DRBD resource', type: 'string', required: false }],
  },
  {
    name: 'failover',
    description: 'Move a resource to the other host',
    options: [
      { name: 'resource', description: 'DRBD resource', type: 'string', required: true },
      { name: 'force', description: 'Skip the health checks', type: 'boolean' },
    ],
  },
  { name: 'whoami', description: 'Your roles, only for you', private: true },
];

const ALERT: Message = {
  title: 'r0: alpha lost its connection to beta',
  tone: 'critical',
  host: 'alpha',
  resource: 'r0',
  body: 'Writes on `r0` are not replicated.',
  fields: [{ label: 'peer', value: 'beta', short: true }],
  actions: [{ id: 'failover', label: 'Fail over r0', command: 'failover r0 confirm 7f3a', style: 'danger' }],
  at: '2026-11-29T18:57:10.000Z',
};

const OPERATORS = '100000000000000101';
const APPROVERS = '100000000000000102';

interface Harness {
  readonly fake: FakeDiscord;
  readonly platform: DiscordPlatform;
  readonly logs: () => string;
  readonly received: IncomingCommand[];
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function captureLogger(): { logger: Logger; logs: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination: stream }), logs: () => text };
}

async function setup(
  options: { fake?: FakeDiscordOptions; platform?: Partial<DiscordPlatformOptions> } = {},
): Promise<Harness> {
  const fake = new FakeDiscord(options.fake);
  await fake.start();
  cleanup.push(() => fake.stop());
  const { logger, logs } = captureLogger();
  const platform = new DiscordPlatform({
    config: {
      apiUrl: fake.apiUrl,
      applicationId: fake.applicationId,
      guildId: fake.guildId,
    },
    token: fake.token,
    logger,
    commands: COMMANDS,
    requestTimeoutMs: 2_000,
    ...options.platform,
  });
  cleanup.push(() => platform.stop());
  return { fake, platform, logs, received: [] };
}

/** Start the gateway with the commands registered, answering with `reply`. */
async function started(
  reply: (command: IncomingCommand, context: CommandContext) => Promise<CommandReply>,
  options: { fake?: FakeDiscordOptions; platform?: Partial<DiscordPlatformOptions> } = {},
): Promise<Harness> {
  const harness = await setup(options);
  await harness.platform.registerCommands();
  const handler: CommandHandler = async (command, context) => {
    harness.received.push(command);
    return reply(command, context);
  };
  await harness.platform.start(handler);
  return harness;
}

const answer = (title: string): CommandReply => ({ message: { title, tone: 'info', body: 'ok' } });

async function deliveryError(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

function embedTitle(message: FakeMessage | undefined): unknown {
  return (message?.embeds[0] as { title?: unknown } | undefined)?.title;
}

describe('DiscordPlatform delivery (REST)', () => {
  it('posts the rendered embed and buttons with a nonce derived from the idempotency key', async () => {
    const { fake, platform } = await setup();
    const posted = await platform.post(fake.channelId, ALERT, {
      idempotencyKey: 'alpha/r0/connection-lost/1',
    });
    const [stored] = fake.messagesIn(fake.channelId);
    expect(stored?.id).toBe(posted.messageId);
    const rendered = renderDiscord(ALERT);
    expect(stored?.embeds).toEqual(rendered.embeds);
    expect(stored?.components).toEqual(rendered.components);
    const [request] = fake.requestsTo('POST /channels/:id/messages');
    expect(request?.headers.authorization).toBe(`Bot ${fake.token}`);
    expect(request?.body).toMatchObject({
      nonce: nonceFor('alpha/r0/connection-lost/1'),
      enforce_nonce: true,
    });
    expect(nonceFor('alpha/r0/connection-lost/1')).toHaveLength(25);
    // Posting needs no gateway login.
    expect(fake.gateway.connections).toBe(0);
  });

  it('a retried post with the same idempotency key does not create a second message', async () => {
    const { fake, platform } = await setup();
    const first = await platform.post(fake.channelId, ALERT, { idempotencyKey: 'key-1' });
    const again = await platform.post(fake.channelId, ALERT, { idempotencyKey: 'key-1' });
    expect(again.messageId).toBe(first.messageId);
    expect(fake.messagesIn(fake.channelId)).toHaveLength(1);
    const other = await platform.post(fake.channelId, ALERT, { idempotencyKey: 'key-2' });
    expect(other.messageId).not.toBe(first.messageId);
    expect(fake.messagesIn(fake.channelId)).toHaveLength(2);
    expect(await platform.findPosted(fake.channelId, 'key-1')).toBeUndefined();
  });

  it('a post whose answer was lost is not duplicated by the retry', async () => {
    const { fake, platform } = await setup();
    fake.failNext('POST /channels/:id/messages', { kind: 'destroy', afterProcessing: true });
    const lost = await deliveryError(platform.post(fake.channelId, ALERT, { idempotencyKey: 'lost-answer' }));
    expect(lost.retryable).toBe(true);
    expect(fake.messagesIn(fake.channelId)).toHaveLength(1);
    const retried = await platform.post(fake.channelId, ALERT, { idempotencyKey: 'lost-answer' });
    expect(fake.messagesIn(fake.channelId)).toHaveLength(1);
    expect(retried.messageId).toBe(fake.messagesIn(fake.channelId)[0]?.id);
  });

  it('replies land in one thread started from the parent message, named after its title', async () => {
    const { fake, platform } = await setup();
    const parent = await platform.post(fake.channelId, ALERT, { idempotencyKey: 'parent' });
    const reply = (n: number): Message => ({ title: `update ${n}`, tone: 'info', body: `step ${n}` });
    const one = await platform.post(fake.channelId, reply(1), {
      threadOf: parent.messageId,
      idempotencyKey: 'r1',
    });
    const two = await platform.post(fake.channelId, reply(2), {
      threadOf: parent.messageId,
      idempotencyKey: 'r2',
    });
    const threads = fake.threadsOf(fake.channelId);
    expect(threads).toHaveLength(1);
    expect(threads[0]?.id).toBe(parent.messageId);
    expect(threads[0]?.name).toBe('update 1');
    expect(fake.messagesIn(parent.messageId).map((m) => m.id)).toEqual([one.messageId, two.messageId]);
    expect(fake.messagesIn(fake.channelId)).toHaveLength(1);
    expect(fake.requestsTo('POST /channels/:id/messages/:id/threads')).toHaveLength(1);

    // A restarted adapter does not know the thread: Discord says it exists, the reply still goes there.
    const { logger } = captureLogger();
    const restarted = new DiscordPlatform({
      config: {
        apiUrl: fake.apiUrl,
        applicationId: fake.applicationId,
        guildId: fake.guildId,
      },
      token: fake.token,
      logger,
    });
    cleanup.push(() => restarted.stop());
    const three = await restarted.post(fake.channelId, reply(3), {
      threadOf: parent.messageId,
      idempotencyKey: 'r3',
    });
    expect(fake.threadsOf(fake.channelId)).toHaveLength(1);
    expect(fake.messagesIn(parent.messageId).at(-1)?.id).toBe(three.messageId);

    // Someone deleted the thread: the next reply starts a new one instead of failing for good.
    const deleted = await fetch(`${fake.apiUrl}/v10/channels/${parent.messageId}`, {
      method: 'DELETE',
      headers: { authorization: `Bot ${fake.token}` },
    });
    expect(deleted.status).toBe(200);
    const four = await restarted.post(fake.channelId, reply(4), {
      threadOf: parent.messageId,
      idempotencyKey: 'r4',
    });
    expect(fake.threadsOf(fake.channelId)).toHaveLength(1);
    expect(fake.messagesIn(parent.messageId).map((m) => m.id)).toEqual([four.messageId]);
    expect(fake.requestsTo('POST /channels/:id/messages/:id/threads').map((r) => r.status)).toEqual([
      201, 400, 201,
    ]);
  });

  it('update edits the message, also a reply that went into a thread', async () => {
    const { fake, platform } = await setup();
    const parent = await platform.post(fake.channelId, ALERT, { idempotencyKey: 'u-parent' });
    await platform.update(fake.channelId, parent.messageId, { ...ALERT, tone: 'resolved', actions: [] });
    const edited = fake.message(parent.messageId);
    expect(edited?.embeds).toEqual(renderDiscord({ ...ALERT, tone: 'resolved', actions: [] }).embeds);
    expect(edited?.components).toEqual([]);
    expect(edited?.edited_timestamp).not.toBeNull();

    const progress = await platform.post(
      fake.channelId,
      { title: 'failover 10%', tone: 'info' },
      { threadOf: parent.messageId, idempotencyKey: 'u-progress' },
    );
    await platform.update(fake.channelId, progress.messageId, { title: 'failover 100%', tone: 'resolved' });
    expect(embedTitle(fake.message(progress.messageId))).toContain('failover 100%');
  });

  it('429 → retryable with the retry-after, at once and without a silent retry', async () => {
    const { fake, platform } = await setup();
    // A first post teaches discord.js the route's bucket, as in real life.
    await platform.post(fake.channelId, ALERT, { idempotencyKey: 'before' });
    fake.failNext('POST /channels/:id/messages', { kind: 'rate-limit', retryAfterSeconds: 2 });
    const started = Date.now();
    const err = await deliveryError(platform.post(fake.channelId, ALERT, { idempotencyKey: 'rl' }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(2_000);
    expect(err.retryAfterMs).toBeLessThan(2_200);
    expect(fake.requestsTo('POST /channels/:id/messages')).toHaveLength(2);
    expect(fake.messagesIn(fake.channelId)).toHaveLength(1);

    // Still inside the window: refused without a request, with the time that is left.
    const early = await deliveryError(platform.post(fake.channelId, ALERT, { idempotencyKey: 'rl' }));
    expect(early.retryable).toBe(true);
    expect(early.retryAfterMs).toBeGreaterThan(0);
    expect(early.retryAfterMs).toBeLessThanOrEqual(2_200);
    expect(fake.requestsTo('POST /channels/:id/messages')).toHaveLength(2);
  });

  it('500 → retryable, one request only', async () => {
    const { fake, platform } = await setup();
    fake.failNext('POST /channels/:id/messages', { kind: 'error', status: 500 });
    const err = await deliveryError(platform.post(fake.channelId, ALERT, { idempotencyKey: 'e500' }));
    expect(err).toMatchObject({ retryable: true, status: 500 });
    expect(fake.requestsTo('POST /channels/:id/messages')).toHaveLength(1);
    fake.failNext('PATCH /channels/:id/messages/:id', { kind: 'error', status: 503 });
    const posted = await platform.post(fake.channelId, ALERT, { idempotencyKey: 'e500' });
    const editErr = await deliveryError(platform.update(fake.channelId, posted.messageId, ALERT));
    expect(editErr).toMatchObject({ retryable: true, status: 503 });
  });

  it('API unreachable → retryable; works again once it is back', async () => {
    const { fake, platform } = await setup();
    await platform.post(fake.channelId, ALERT, { idempotencyKey: 'before' });
    await fake.restUnreachable();
    const err = await deliveryError(platform.post(fake.channelId, ALERT, { idempotencyKey: 'during' }));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/cannot reach Discord/);
    await fake.restReachable();
    await platform.post(fake.channelId, ALERT, { idempotencyKey: 'during' });
    expect(fake.messagesIn(fake.channelId)).toHaveLength(2);
  });

  it('a slow answer times out as retryable; the retry finds the message the slow request created', async () => {
    const { fake, platform } = await setup({ platform: { requestTimeoutMs: 300 } });
    fake.failNext('POST /channels/:id/messages', { kind: 'delay', ms: 800 });
    const err = await deliveryError(platform.post(fake.channelId, ALERT, { idempotencyKey: 'slow' }));
    expect(err.retryable).toBe(true);
    await fake.waitFor(() => fake.messagesIn(fake.channelId).length === 1, 'the slow post to take effect');
    const retried = await platform.post(fake.channelId, ALERT, { idempotencyKey: 'slow' });
    expect(fake.messagesIn(fake.channelId)).toHaveLength(1);
    expect(retried.messageId).toBe(fake.messagesIn(fake.channelId)[0]?.id);
  });

  it('unknown channel (10003) and missing access (50001) are not retryable', async () => {
    const { fake, platform } = await setup();
    const unknown = await deliveryError(platform.post('999999999999999999', ALERT, { idempotencyKey: 'x' }));
    expect(unknown).toMatchObject({ retryable: false, status: 404 });
    expect(unknown.message).toMatch(/10003/);
    fake.denyAccess(fake.channelId);
    const denied = await deliveryError(platform.post(fake.channelId, ALERT, { idempotencyKey: 'y' }));
    expect(denied).toMatchObject({ retryable: false, status: 403 });
    expect(denied.message).toMatch(/Missing Access/);
  });

  it('registerCommands bulk-overwrites /drbd with one subcommand per definition, without a gateway login', async () => {
    const { fake, platform } = await setup();
    const result = await platform.registerCommands();
    const [put] = fake.requestsTo(`PUT /applications/${fake.applicationId}/guilds/${fake.guildId}/commands`);
    expect(put?.headers.authorization).toBe(`Bot ${fake.token}`);
    expect(fake.guildCommands).toHaveLength(1);
    expect(result.map((c) => c.id)).toEqual(fake.guildCommands.map((c) => c.id));
    const [drbd] = fake.guildCommands;
    expect(drbd).toMatchObject({ name: 'drbd', type: 1 });
    expect(drbd?.options).toEqual([
      {
        type: 1,
        name: 'status',
        description: 'Show the state of the pair',
        options: [{ type: 3, name: 'resource', description: 'DRBD resource', required: false }],
      },
      {
        type: 1,
        name: 'failover',
        description: 'Move a resource to the other host',
        options: [
          { type: 3, name: 'resource', description: 'DRBD resource', required: true },
          { type: 5, name: 'force', description: 'Skip the health checks', required: false },
        ],
      },
      { type: 1, name: 'whoami', description: 'Your roles, only for you', options: [] },
    ]);
    // A second registration replaces the first (bulk overwrite), keeping the command's id.
    const id = drbd?.id;
    await platform.registerCommands([{ name: 'status', description: 'Status' }]);
    expect(fake.guildCommands).toHaveLength(1);
    expect(fake.guildCommands[0]?.id).toBe(id);
    expect(fake.guildCommands[0]?.options).toEqual([
      { type: 1, name: 'status', description: 'Status', options: [] },
    ]);
    expect(fake.gateway.connections).toBe(0);
  });

  it('a wrong token is refused and not retryable', async () => {
    const { fake } = await setup();
    const { logger } = captureLogger();
    const wrong = new DiscordPlatform({
      config: {
        apiUrl: fake.apiUrl,
        applicationId: fake.applicationId,
        guildId: fake.guildId,
      },
      token: 'not-the-token',
      logger,
    });
    cleanup.push(() => wrong.stop());
    const err = await deliveryError(wrong.post(fake.channelId, ALERT, { idempotencyKey: 'k' }));
    expect(err).toMatchObject({ retryable: false, status: 401 });
  });
});

describe('DiscordPlatform commands (gateway)', () => {
  it('becomes ready against the fake: IDENTIFY with the token and the Guilds intent only, heartbeats acked', async () => {
    const { fake } = await started(async () => answer('x'), { fake: { heartbeatIntervalMs: 300 } });
    expect(fake.gateway.identifies).toHaveLength(1);
    const [identify] = fake.gateway.identifies;
    expect(identify).toMatchObject({ accepted: true, token: fake.token, intents: 1, compress: false });
    await fake.waitFor(() => fake.gateway.received.filter((p) => p.op === 1).length >= 2, 'two heartbeats');
    expect(fake.requestsTo('GET /gateway/bot')).not.toHaveLength(0);
  });

  it('defers a slash command within 3 s, then edits the original reply with the result', async () => {
    const h = await started(async (command) => {
      await new Promise((r) => setTimeout(r, 4_000));
      return answer(`status of ${command.text}`);
    });
    const interaction = await h.fake.slashCommand({
      name: 'drbd',
      subcommand: 'status',
      options: { resource: 'r0' },
      user: { id: '300000000000000007', username: 'ana', global_name: 'Ana' },
      roles: [OPERATORS, APPROVERS],
    });
    const edit = await h.fake.waitForInteractionEvent(interaction, 'edit-original', 10_000);
    const callback = await h.fake.waitForInteractionEvent(interaction, 'callback');
    expect(callback.type).toBe(5);
    expect(callback.at - interaction.dispatchedAt).toBeLessThan(3_000);
    expect(edit.at).toBeGreaterThan(callback.at);
    expect(edit.at - interaction.dispatchedAt).toBeGreaterThanOrEqual(4_000);
    expect(edit.body.embeds).toEqual(renderDiscord(answer('status of status r0').message).embeds);
    expect(interaction.events.filter((e) => e.kind === 'refused')).toEqual([]);
    expect(h.received).toEqual([
      {
        platform: 'discord',
        text: 'status r0',
        userId: '300000000000000007',
        userName: 'Ana',
        roles: [OPERATORS, APPROVERS],
        channelId: h.fake.channelId,
        source: 'slash-command',
      },
    ]);
    // The reply is a real message in the channel, no longer "thinking".
    const original = h.fake.message(interaction.originalMessageId ?? '');
    expect(original?.flags).toBe(0);
    expect(embedTitle(original)).toContain('status of status r0');
  });

  it('serialises options as typed: required first, booleans as flags', async () => {
    const h = await started(async () => answer('ok'));
    const one = await h.fake.slashCommand({
      name: 'drbd',
      subcommand: 'failover',
      options: { resource: 'r1', force: true },
    });
    await h.fake.waitForInteractionEvent(one, 'edit-original');
    const two = await h.fake.slashCommand({ name: 'drbd', subcommand: 'status' });
    await h.fake.waitForInteractionEvent(two, 'edit-original');
    expect(h.received.map((c) => c.text)).toEqual(['failover r1 --force', 'status']);
    expect(h.received[1]?.roles).toEqual([]);
  });

  it('a button click delivers its command; context.update edits the reply before the final answer', async () => {
    const h = await started(async (_command, context) => {
      await context.update({ title: 'failover r0: demoting alpha', tone: 'info' });
      return { message: { title: 'failover r0 done', tone: 'resolved' } };
    });
    const alert = await h.platform.post(h.fake.channelId, ALERT, { idempotencyKey: 'alert-with-button' });
    const interaction = await h.fake.clickButton({
      customId: 'cmd:failover r0 confirm 7f3a',
      roles: [APPROVERS],
    });
    expect(interaction.componentMessageId).toBe(alert.messageId);
    const final = await h.fake.waitForInteractionEvent(interaction, 'edit-original', 10_000, 2);
    const first = await h.fake.waitForInteractionEvent(interaction, 'edit-original', 10_000, 1);
    const callback = await h.fake.waitForInteractionEvent(interaction, 'callback');
    expect(callback.type).toBe(5);
    expect(callback.at).toBeLessThanOrEqual(first.at);
    expect(JSON.stringify(first.body.embeds)).toContain('demoting alpha');
    expect(JSON.stringify(final.body.embeds)).toContain('failover r0 done');
    expect(h.received).toEqual([
      {
        platform: 'discord',
        text: 'failover r0 confirm 7f3a',
        userId: '300000000000000001',
        userName: 'On Call',
        roles: [APPROVERS],
        channelId: h.fake.channelId,
        source: 'button',
      },
    ]);
    // The alert with its button stays as it was; the answer is a new message.
    expect(h.fake.message(alert.messageId)?.components).toEqual(renderDiscord(ALERT).components);
    expect(interaction.originalMessageId).not.toBe(alert.messageId);
  });

  it('private commands are deferred ephemeral; a private reply to a public command replaces the placeholder', async () => {
    const h = await started(async (command) => ({ ...answer(`for ${command.userName}`), private: true }));
    const whoami = await h.fake.slashCommand({ name: 'drbd', subcommand: 'whoami' });
    const edit = await h.fake.waitForInteractionEvent(whoami, 'edit-original');
    const callback = await h.fake.waitForInteractionEvent(whoami, 'callback');
    expect(callback.data).toEqual({ flags: 64 });
    expect(JSON.stringify(edit.body.embeds)).toContain('for On Call');
    expect(h.fake.message(whoami.originalMessageId ?? '')?.flags).toBe(64);

    const status = await h.fake.slashCommand({ name: 'drbd', subcommand: 'status' });
    const followup = await h.fake.waitForInteractionEvent(status, 'followup');
    expect(status.events.map((e) => e.kind)).toEqual(['callback', 'delete-original', 'followup']);
    expect(followup.body.flags).toBe(64);
    expect(h.fake.message(followup.messageId)?.flags).toBe(64);
    expect(h.fake.message(status.originalMessageId ?? '')).toBeUndefined();
  });

  it('a failing handler gives "internal error" in chat and a full log line; the bot keeps working', async () => {
    let calls = 0;
    const h = await started(async () => {
      calls++;
      if (calls === 1) throw new Error('lxd exploded at /r0/lxd');
      return answer('second works');
    });
    const failing = await h.fake.slashCommand({
      name: 'drbd',
      subcommand: 'status',
      options: { resource: 'r0' },
    });
    const edit = await h.fake.waitForInteractionEvent(failing, 'edit-original');
    expect(JSON.stringify(edit.body.embeds)).toContain('Internal error');
    expect(JSON.stringify(edit.body.embeds)).not.toContain('lxd exploded');
    const line = h
      .logs()
      .split('\n')
      .find((l) => l.includes('command handler failed'));
    expect(line).toBeDefined();
    expect(line).toContain('lxd exploded at /r0/lxd');
    expect(line).toContain('"command":"status r0"');
    expect(line).toMatch(/"stack":"Error: lxd exploded/);

    const next = await h.fake.slashCommand({ name: 'drbd', subcommand: 'status' });
    const ok = await h.fake.waitForInteractionEvent(next, 'edit-original');
    expect(JSON.stringify(ok.body.embeds)).toContain('second works');
    expect(h.logs()).not.toContain(h.fake.token);
  });

  it('survives a dropped gateway connection: resumes and still handles an interaction', async () => {
    const h = await started(async (command) => answer(`after drop: ${command.text}`));
    expect(h.fake.dropGateway()).toBe(1);
    await h.fake.waitFor(() => h.fake.gateway.resumes.find((r) => r.accepted), 'a RESUME');
    const interaction = await h.fake.slashCommand({
      name: 'drbd',
      subcommand: 'status',
      options: { resource: 'r1' },
    });
    const edit = await h.fake.waitForInteractionEvent(interaction, 'edit-original');
    expect(JSON.stringify(edit.body.embeds)).toContain('after drop: status r1');
    expect(h.fake.gateway.identifies).toHaveLength(1);
    expect(h.logs()).toContain('Discord gateway resumed');
    expect(h.logs()).not.toContain(h.fake.token);
  });

  it('identifies again when the session cannot be resumed, then handles interactions', async () => {
    const h = await started(async (command) => answer(`again: ${command.text}`));
    h.fake.dropGateway({ invalidateSessions: true });
    await h.fake.waitFor(() => h.fake.gateway.identifies.length === 2, 'a second IDENTIFY', 15_000);
    const interaction = await h.fake.slashCommand({ name: 'drbd', subcommand: 'status' });
    const edit = await h.fake.waitForInteractionEvent(interaction, 'edit-original');
    expect(JSON.stringify(edit.body.embeds)).toContain('again: status');
    expect(h.fake.gateway.resumes.filter((r) => !r.accepted)).toHaveLength(1);
  }, 30_000);

  it('stop() lets a running command finish its reply before disconnecting', async () => {
    const h = await started(async () => {
      await new Promise((r) => setTimeout(r, 500));
      return answer('finished before stop');
    });
    const interaction = await h.fake.slashCommand({ name: 'drbd', subcommand: 'status' });
    await h.fake.waitForInteractionEvent(interaction, 'callback');
    await h.platform.stop();
    expect(interaction.events.map((e) => e.kind)).toEqual(['callback', 'edit-original']);
    await h.fake.waitFor(() => h.fake.gateway.openConnections() === 0, 'the gateway connection to close');
  });

  it('start() fails clearly with a wrong token, without the token in the error', async () => {
    const { fake } = await setup();
    const { logger } = captureLogger();
    const wrong = new DiscordPlatform({
      config: {
        apiUrl: fake.apiUrl,
        applicationId: fake.applicationId,
        guildId: fake.guildId,
      },
      token: 'wrong-token-value',
      logger,
    });
    cleanup.push(() => wrong.stop());
    const err = await wrong
      .start(async () => answer('never'))
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.message).toMatch(/^Discord login failed/);
    expect(err?.message).not.toContain('wrong-token-value');
  });
});
