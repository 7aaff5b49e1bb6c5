// Socket Mode: the real Bolt SocketModeReceiver connects to the fake's websocket; slash commands and
// button clicks are acknowledged before the handler runs, replies land where Slack shows them, and a
// dropped connection comes back on its own.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import { disconnectReason } from '../../src/adapters/slack/socket-connections.js';
import type { Message } from '../../src/core/message-tones.js';
import type { CommandContext, CommandHandler, IncomingCommand } from '../../src/ports/chat.js';
import { renderSlack } from '../../src/render/slack.js';
import {
  type CapturedLog,
  captureLog,
  type Envelope,
  FAKE_APP_TOKEN,
  FAKE_BOT_TOKEN,
  FakeSlack,
  type HandledCommand,
  type SocketConnection,
  slackConfig,
} from '../fakes/slack/index.js';
import { until } from '../helpers/wait.js';

const CHANNEL = 'C0ALERTS';

const status: Message = {
  title: 'r0 is UpToDate on both hosts',
  tone: 'info',
  resource: 'r0',
  host: 'alpha',
};
const progress = (step: string): Message => ({
  title: `Failover r0: ${step}`,
  tone: 'warning',
  resource: 'r0',
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let fake: FakeSlack;
let log: CapturedLog;
let platform: SlackPlatform | undefined;
let handled: HandledCommand[];

beforeEach(async () => {
  fake = new FakeSlack();
  await fake.start();
  log = captureLog();
  handled = [];
});

afterEach(async () => {
  await platform?.stop();
  platform = undefined;
  await fake.stop();
  expect(log.text()).not.toContain(FAKE_BOT_TOKEN);
  expect(log.text()).not.toContain(FAKE_APP_TOKEN);
});

async function startPlatform(
  reply: (
    command: IncomingCommand,
    context: CommandContext,
  ) => Promise<Message | { message: Message; private?: boolean }>,
): Promise<SlackPlatform> {
  const handler: CommandHandler = async (command, context) => {
    handled.push({ command, context, at: Date.now() });
    const answer = await reply(command, context);
    return 'message' in answer ? answer : { message: answer };
  };
  platform = new SlackPlatform({
    config: slackConfig(fake),
    logger: log.logger,
    secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
    reconnect: { initialMs: 100, maxMs: 400 },
  });
  await platform.start(handler);
  await fake.waitForConnection(1);
  return platform;
}

describe('SlackPlatform in Socket Mode', () => {
  it('connects through apps.connections.open at the configured API URL with the app token', async () => {
    await startPlatform(async () => status);
    expect(fake.callsTo('auth.test').map((c) => c.token)).toEqual([FAKE_BOT_TOKEN]);
    expect(fake.callsTo('apps.connections.open').map((c) => c.token)).toEqual([FAKE_APP_TOKEN]);
    expect(fake.openConnectionCount).toBe(1);
    expect(platform?.isConnected).toBe(true);
  });

  it('acks a slash command at once, runs a slow handler after it and answers on the response_url', async () => {
    let handlerFinishedAt = 0;
    await startPlatform(async () => {
      await sleep(4_000);
      handlerFinishedAt = Date.now();
      return { message: status, private: true };
    });
    const { envelope, responseUrl } = await fake.sendSlashCommand({
      text: '  status r0 ',
      userId: 'U0BOB',
      userName: 'bob',
      channelId: CHANNEL,
    });
    const acked = await fake.waitForAck(envelope.envelopeId, 3_000);
    expect((acked.ackedAt as number) - acked.sentAt).toBeLessThan(3_000);
    // The handler starts once the user's groups are known (usergroups.list), after the ack.
    await until(() => handled.length === 1, 'the handler to be called');
    expect(handled.map((h) => h.command)).toEqual([
      {
        platform: 'slack',
        text: 'status r0',
        userId: 'U0BOB',
        userName: 'bob',
        roles: [],
        channelId: CHANNEL,
        source: 'slash-command',
      },
    ]);

    const [response] = await fake.waitForResponses(responseUrl, 1, 10_000);
    expect(acked.ackedAt).toBeLessThan(handlerFinishedAt);
    const rendered = renderSlack(status);
    expect(response?.body).toEqual({
      response_type: 'ephemeral',
      replace_original: false,
      text: rendered.text,
      attachments: rendered.attachments,
    });
    expect(fake.ephemerals.map((e) => [e.user, e.channel, e.text])).toEqual([
      ['U0BOB', CHANNEL, rendered.text],
    ]);
    expect(fake.callsTo('chat.postMessage')).toHaveLength(0);
  }, 15_000);

  it('posts a public reply as a channel message and context.update edits that message', async () => {
    await startPlatform(async (_command, context) => {
      await context.update(progress('demoting alpha'));
      await context.update(progress('promoting beta'));
      return { title: 'Failover r0 done: beta is Primary', tone: 'resolved', resource: 'r0' };
    });
    const { envelope } = await fake.sendSlashCommand({
      text: 'failover r0 confirm 7f3a',
      channelId: CHANNEL,
    });
    await fake.waitForAck(envelope.envelopeId);
    await fake.waitFor(() => fake.messages(CHANNEL)[0]?.history.length === 2, 'the reply edited twice');
    const [reply] = fake.messages(CHANNEL);
    expect(reply?.history.map((h) => h.text)).toEqual([
      renderSlack(progress('demoting alpha')).text,
      renderSlack(progress('promoting beta')).text,
    ]);
    expect(reply?.text).toBe('✅ RESOLVED: Failover r0 done: beta is Primary (r0)');
    expect(fake.messages(CHANNEL)).toHaveLength(1);
    expect(fake.callsTo('chat.update')).toHaveLength(2);
    expect(fake.responses).toHaveLength(0);
  });

  it('replaces a private reply through its response_url', async () => {
    await startPlatform(async () => ({ message: progress('waiting for approval'), private: true }));
    const { envelope, responseUrl } = await fake.sendSlashCommand({
      text: 'failover r0',
      channelId: CHANNEL,
    });
    await fake.waitForAck(envelope.envelopeId);
    await fake.waitForResponses(responseUrl, 1);
    await handled[0]?.context.update(progress('approved by carol'));
    const responses = await fake.waitForResponses(responseUrl, 2);
    expect(responses[1]?.body).toMatchObject({
      response_type: 'ephemeral',
      replace_original: true,
      text: renderSlack(progress('approved by carol')).text,
    });
    expect(fake.ephemerals.map((e) => e.replaced)).toEqual([true, false]);
  });

  it('delivers a button click as the button’s command and replies in the alert’s thread', async () => {
    const p = await startPlatform(async (command, context) => {
      if (command.text === 'status r0') {
        void sleep(50).then(() => context.update({ ...status, title: 'r0 resync 40%' }));
      }
      return status;
    });
    const alert: Message = {
      title: 'Connection lost on r0',
      tone: 'critical',
      resource: 'r0',
      actions: [
        { id: 'status', label: 'Status', command: 'status r0' },
        { id: 'failover', label: 'Fail over', command: 'failover r0', style: 'danger' },
      ],
    };
    const { messageId } = await p.post(CHANNEL, alert, { idempotencyKey: 'alert-1' });
    const { envelope } = await fake.clickButton({
      channelId: CHANNEL,
      messageTs: messageId,
      actionId: 'drbd:status',
      userId: 'U0CAROL',
      userName: 'carol',
    });
    const acked = await fake.waitForAck(envelope.envelopeId, 3_000);
    expect((acked.ackedAt as number) - acked.sentAt).toBeLessThan(3_000);
    await fake.waitFor(() => fake.callsTo('chat.update').length === 1, 'the click reply updated');
    expect(handled[0]?.command).toEqual({
      platform: 'slack',
      text: 'status r0',
      userId: 'U0CAROL',
      userName: 'carol',
      roles: [],
      channelId: CHANNEL,
      source: 'button',
    });
    const reply = fake.messages(CHANNEL).find((m) => m.ts !== messageId);
    expect(reply?.thread_ts).toBe(messageId);
    expect(reply?.text).toBe(renderSlack({ ...status, title: 'r0 resync 40%' }).text);
    expect(reply?.history.map((h) => h.text)).toEqual([renderSlack(status).text]);
    // The alert itself is untouched.
    expect(fake.message(CHANNEL, messageId)?.history).toEqual([]);
  });

  it('answers a handler failure with a short internal error, logs it in full and keeps working', async () => {
    await startPlatform(async (command) => {
      if (command.text === 'boom') throw new Error('disk on fire at /dev/drbd0');
      return status;
    });
    const first = await fake.sendSlashCommand({ text: 'boom', channelId: CHANNEL });
    const [response] = await fake.waitForResponses(first.responseUrl, 1);
    expect(response?.body).toMatchObject({ response_type: 'ephemeral' });
    expect(JSON.stringify(response?.body)).toContain('Internal error');
    expect(JSON.stringify(response?.body)).not.toContain('disk on fire');
    const line = log.lines().find((l) => l.msg === 'slack: command handler failed');
    expect(line).toMatchObject({ level: 50, command: 'boom', userId: 'U0ALICE' });
    expect(JSON.stringify(line)).toContain('disk on fire at /dev/drbd0');

    const second = await fake.sendSlashCommand({ text: 'status', channelId: CHANNEL });
    await fake.waitForAck(second.envelope.envelopeId);
    await fake.waitFor(() => fake.messages(CHANNEL).length === 1, 'the second reply');
  });

  it('finishes a reply in progress before stop() disconnects', async () => {
    const p = await startPlatform(async () => {
      await sleep(300);
      return { message: status, private: true };
    });
    const { envelope, responseUrl } = await fake.sendSlashCommand({ text: 'status', channelId: CHANNEL });
    await fake.waitForAck(envelope.envelopeId);
    await p.stop();
    expect(fake.responsesTo(responseUrl)).toHaveLength(1);
    await fake.waitFor(() => fake.openConnectionCount === 0, 'the websocket closed');
    expect(p.isConnected).toBe(false);
  });

  it('reconnects after the websocket is dropped or Slack asks for a refresh, and commands still work', async () => {
    await startPlatform(async (command) => ({ ...status, title: `answer to ${command.text}` }));

    fake.dropConnections();
    await fake.waitForConnection(2);
    const afterDrop = await fake.sendSlashCommand({ text: 'after drop', channelId: CHANNEL });
    await fake.waitForAck(afterDrop.envelope.envelopeId);

    fake.requestReconnect();
    await fake.waitForConnection(3);
    const afterRefresh = await fake.sendSlashCommand({ text: 'after refresh', channelId: CHANNEL });
    await fake.waitForAck(afterRefresh.envelope.envelopeId);
    expect(afterRefresh.envelope.connectionId).toBe(3);

    await fake.waitFor(() => fake.messages(CHANNEL).length === 2, 'both replies');
    expect(fake.messages(CHANNEL).map((m) => m.text)).toEqual([
      renderSlack({ ...status, title: 'answer to after drop' }).text,
      renderSlack({ ...status, title: 'answer to after refresh' }).text,
    ]);
    expect(fake.callsTo('apps.connections.open')).toHaveLength(3);
  });

  it('opens the new connection on `disconnect` before closing the old one: no command is lost across a refresh', async () => {
    // Slack itself: a payload without an open connection fails at once (dispatch_failed).
    await fake.stop();
    fake = new FakeSlack({ dispatch: 'immediate' });
    await fake.start();
    await startPlatform(async (command) => ({
      message: { ...status, title: `answer to ${command.text}` },
      private: true,
    }));
    const old = fake.connections[0] as SocketConnection;

    // Commands keep arriving from before the refresh until after the old connection is gone.
    const sent: { envelope: Envelope; text: string }[] = [];
    let sending = true;
    const traffic = (async () => {
      for (let i = 0; sending; i++) {
        const text = `status ${i}`;
        sent.push({ envelope: (await fake.sendSlashCommand({ text, channelId: CHANNEL })).envelope, text });
        await sleep(40);
      }
    })();
    await sleep(300);
    fake.requestReconnect('refresh_requested');
    // Slack may still send to the connection it asked to go, until the app closes it.
    const viaOld = await fake.sendSlashCommand(
      { text: 'via the old connection', channelId: CHANNEL },
      old.id,
    );
    sent.push({ envelope: viaOld.envelope, text: 'via the old connection' });
    await fake.waitForConnection(2);
    await fake.waitFor(() => old.closedAt !== undefined, 'the app to close the old connection');
    await sleep(300);
    sending = false;
    await traffic;

    // Never without a connection, every payload acknowledged in time and handled once.
    expect(sent.filter((s) => s.envelope.failed !== undefined)).toEqual([]);
    for (const { envelope } of sent) {
      const acked = await fake.waitForAck(envelope.envelopeId, 3_000);
      expect((acked.ackedAt as number) - acked.sentAt).toBeLessThan(3_000);
    }
    await until(() => handled.length >= sent.length, 'every command handled');
    expect(handled.map((h) => h.command.text).sort()).toEqual(sent.map((s) => s.text).sort());
    await fake.waitFor(() => fake.responses.length === sent.length, 'every answer');

    // The new connection said hello before the old one began to close; both carried commands.
    const fresh = fake.connections[1] as SocketConnection;
    expect(fresh.openedAt).toBeLessThan(old.closeHandshakeAt as number);
    expect(viaOld.envelope.connectionId).toBe(old.id);
    expect(sent.some((s) => s.envelope.connectionId === fresh.id)).toBe(true);
    // The app closed the old connection itself (Slack left TCP open), not the pong watchdog.
    expect(old.closeHandshakeAt).toBeDefined();
    expect(log.text()).not.toMatch(/pong wasn't received/);
    expect(fake.connections).toHaveLength(2);
    expect(fake.socketCount).toBe(1);
    expect(fake.callsTo('apps.connections.open')).toHaveLength(2);
    expect(platform?.isConnected).toBe(true);
    expect(log.lines().some((l) => l.msg === 'slack: Socket Mode connection refreshed')).toBe(true);
  }, 30_000);

  it('stops on `disconnect` with link_disabled and says so in the log', async () => {
    await startPlatform(async () => status);
    fake.requestReconnect('link_disabled');
    await fake.waitFor(() => fake.socketCount === 0, 'the connection closed');
    expect(platform?.isConnected).toBe(false);
    const line = log.lines().find((l) => String(l.msg).includes('link_disabled'));
    expect(line).toMatchObject({ level: 50 });
    expect(String(line?.msg)).toContain('not reconnecting');
    // The reconnect backoff (100 ms) would have tried several times by now.
    await sleep(600);
    expect(fake.callsTo('apps.connections.open')).toHaveLength(1);
    expect(fake.connections).toHaveLength(1);
  });

  it('keeps trying while Slack is unreachable and reconnects when it is back', async () => {
    await startPlatform(async () => status);
    await fake.setUnreachable(true);
    await fake.waitFor(() => platform?.isConnected === false, 'the platform noticing the loss');
    await sleep(800); // several failed attempts (connection refused), none of them fatal
    expect(fake.openConnectionCount).toBe(0);
    const failures = log.lines().filter((l) => l.msg === 'slack: Socket Mode reconnect failed');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(String(failures[0]?.reason)).toMatch(/unreachable/);
    await fake.setUnreachable(false);
    await fake.waitForConnection(2);
    await fake.waitFor(() => platform?.isConnected === true, 'the platform connected again');
    const { envelope } = await fake.sendSlashCommand({ text: 'status', channelId: CHANNEL });
    await fake.waitForAck(envelope.envelopeId);
    await fake.waitFor(() => fake.messages(CHANNEL).length === 1, 'the reply');
  });

  it('starts while Slack is unreachable and connects in the background', async () => {
    const handler: CommandHandler = async () => ({ message: status });
    const p = new SlackPlatform({
      config: slackConfig(fake),
      logger: log.logger,
      secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
      reconnect: { initialMs: 100, maxMs: 200 },
    });
    platform = p;
    // auth.test passes, then apps.connections.open fails twice.
    fake.inject('apps.connections.open', { kind: 'http-error', status: 503 }, 2);
    await p.start(handler);
    expect(p.isConnected).toBe(false);
    await fake.waitForConnection(1);
    expect(fake.callsTo('apps.connections.open').length).toBe(3);
  });

  it('refuses to start with a bad app token', async () => {
    const p = new SlackPlatform({
      config: slackConfig(fake),
      logger: log.logger,
      secrets: { botToken: FAKE_BOT_TOKEN, appToken: 'xapp-1-wrong' },
    });
    platform = p;
    await expect(p.start(async () => ({ message: status }))).rejects.toMatchObject({
      name: 'DeliveryError',
      retryable: false,
    });
    expect(log.text()).not.toContain('xapp-1-wrong');
  });
});

describe('disconnectReason', () => {
  it('reads the reason of a `disconnect` control message and nothing else', () => {
    const message = (m: unknown) => JSON.stringify(m);
    expect(disconnectReason(message({ type: 'disconnect', reason: 'refresh_requested' }), false)).toBe(
      'refresh_requested',
    );
    expect(disconnectReason(message({ type: 'disconnect', reason: 'link_disabled' }), false)).toBe(
      'link_disabled',
    );
    expect(disconnectReason(message({ type: 'disconnect' }), false)).toBe('unknown');
    expect(disconnectReason(message({ type: 'hello' }), false)).toBeUndefined();
    // An envelope whose payload mentions "disconnect" is an envelope.
    expect(
      disconnectReason(message({ type: 'slash_commands', payload: { text: '"disconnect"' } }), false),
    ).toBeUndefined();
    expect(disconnectReason('{"type":"disconnect"', false)).toBeUndefined();
    expect(disconnectReason(message({ type: 'disconnect' }), true)).toBeUndefined();
  });
});
