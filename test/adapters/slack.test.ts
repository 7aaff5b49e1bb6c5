// The Slack adapter's Web API side (post, update, findPosted, error mapping) with the real Bolt and
// Web API client against the fake Slack on loopback.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import type { Message } from '../../src/core/message-tones.js';
import { DeliveryError } from '../../src/ports/chat.js';
import { renderSlack } from '../../src/render/slack.js';
import { captureLog, FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, slackConfig } from '../fakes/slack/index.js';

const CHANNEL = 'C0ALERTS';

const splitBrain: Message = {
  title: 'Split-brain on r0',
  tone: 'critical',
  host: 'alpha',
  resource: 'r0',
  body: 'Both sides changed data while disconnected.',
  fields: [{ label: 'Peer', value: 'beta', short: true }],
  actions: [{ id: 'status', label: 'Status', command: 'status r0' }],
  incidentKey: 'alpha/r0/split-brain',
};

const fake = new FakeSlack();
const log = captureLog();
let platforms: SlackPlatform[] = [];

function platform(options: { botToken?: string; requestTimeoutMs?: number } = {}): SlackPlatform {
  const p = new SlackPlatform({
    config: slackConfig(fake),
    logger: log.logger,
    secrets: { botToken: options.botToken ?? FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
  });
  platforms.push(p);
  return p;
}

async function deliveryError(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

beforeAll(() => fake.start());
afterEach(async () => {
  fake.clearFaults();
  await fake.setUnreachable(false);
  for (const p of platforms) await p.stop();
  platforms = [];
});
afterAll(async () => {
  await fake.stop();
  // Tokens never reach a log line, whatever happened in these tests.
  expect(log.text()).not.toContain(FAKE_BOT_TOKEN);
  expect(log.text()).not.toContain(FAKE_APP_TOKEN);
});

describe('SlackPlatform posting', () => {
  it('posts the rendered message with the idempotency key in the metadata', async () => {
    const posted = await platform().post(CHANNEL, splitBrain, { idempotencyKey: 'n-1' });
    const stored = fake.message(CHANNEL, posted.messageId);
    const rendered = renderSlack(splitBrain);
    expect(stored?.text).toBe(rendered.text);
    expect(stored?.attachments).toEqual(rendered.attachments);
    expect(stored?.blocks).toBeUndefined(); // the renderer puts every block in the attachment
    expect(stored?.metadata).toEqual({
      event_type: 'drbd_chatops_notification',
      event_payload: { key: 'n-1' },
    });
    const call = fake.callsTo('chat.postMessage').at(-1);
    expect(call?.token).toBe(FAKE_BOT_TOKEN);
    // The button carries the serialised command.
    expect(JSON.stringify(stored?.attachments)).toContain('"action_id":"drbd:status"');
    expect(JSON.stringify(stored?.attachments)).toContain('"value":"status r0"');
  });

  it('posts a reply in the thread of a parent message', async () => {
    const p = platform();
    const parent = await p.post(CHANNEL, splitBrain, { idempotencyKey: 'parent' });
    const reply = await p.post(
      CHANNEL,
      { title: 'Recovered', tone: 'resolved', resource: 'r0' },
      { threadOf: parent.messageId, idempotencyKey: 'child' },
    );
    expect(fake.message(CHANNEL, reply.messageId)?.thread_ts).toBe(parent.messageId);
    expect(fake.message(CHANNEL, parent.messageId)?.thread_ts).toBeUndefined();
  });

  it('updates a message in place', async () => {
    const p = platform();
    const { messageId } = await p.post(CHANNEL, splitBrain, { idempotencyKey: 'upd' });
    const resolved: Message = {
      ...splitBrain,
      tone: 'resolved',
      title: 'Split-brain on r0 resolved',
      actions: [],
    };
    await p.update(CHANNEL, messageId, resolved);
    const stored = fake.message(CHANNEL, messageId);
    expect(stored?.text).toBe(renderSlack(resolved).text);
    expect(stored?.attachments).toEqual(renderSlack(resolved).attachments);
    expect(stored?.history).toHaveLength(1);
    expect(fake.callsTo('chat.update').at(-1)?.params).toMatchObject({ channel: CHANNEL, ts: messageId });
  });

  it('finds a posted message by its idempotency key after the fact, in the channel or in a thread', async () => {
    const p = platform();
    const channel = 'C0FIND';
    const first = await p.post(channel, splitBrain, { idempotencyKey: 'key-a' });
    for (let i = 0; i < 5; i++) await p.post(channel, splitBrain, { idempotencyKey: `other-${i}` });
    const inThread = await p.post(channel, splitBrain, {
      threadOf: first.messageId,
      idempotencyKey: 'key-thread',
    });

    // A new instance (after a crash) knows nothing but the key.
    const after = platform();
    expect(await after.findPosted(channel, 'key-a')).toEqual({ messageId: first.messageId });
    expect(await after.findPosted(channel, 'key-thread')).toEqual({ messageId: inThread.messageId });
    expect(await after.findPosted(channel, 'never-posted')).toBeUndefined();
    const history = fake.callsTo('conversations.history').at(-1);
    expect(history?.params).toMatchObject({ channel, limit: '100', include_all_metadata: 'true' });
  });
});

describe('SlackPlatform delivery errors', () => {
  it('maps 429 with Retry-After to a retryable error carrying the delay, without retrying itself', async () => {
    fake.inject('chat.postMessage', { kind: 'rate-limited', retryAfterSec: 7 });
    const before = fake.callsTo('chat.postMessage').length;
    const err = await deliveryError(platform().post(CHANNEL, splitBrain, { idempotencyKey: 'rl' }));
    expect(err).toMatchObject({ retryable: true, retryAfterMs: 7_000, status: 429 });
    expect(fake.callsTo('chat.postMessage').length).toBe(before + 1);
  });

  it('maps a 429 without Retry-After to retryable', async () => {
    fake.inject('chat.postMessage', { kind: 'rate-limited', retryAfterSec: null });
    const err = await deliveryError(platform().post(CHANNEL, splitBrain, { idempotencyKey: 'rl2' }));
    expect(err).toMatchObject({ retryable: true, retryAfterMs: undefined, status: 429 });
  });

  it('maps 500 and 503 to retryable, once each', async () => {
    const p = platform();
    for (const status of [500, 503]) {
      fake.inject('chat.update', { kind: 'http-error', status });
      const before = fake.callsTo('chat.update').length;
      const err = await deliveryError(p.update(CHANNEL, '1.000001', splitBrain));
      expect(err).toMatchObject({ retryable: true, status });
      expect(fake.callsTo('chat.update').length).toBe(before + 1);
    }
  });

  it('maps a destroyed connection, connection refused and a timeout to retryable', async () => {
    const p = platform({ requestTimeoutMs: 300 });
    fake.inject('chat.postMessage', { kind: 'destroy' });
    expect(await deliveryError(p.post(CHANNEL, splitBrain, { idempotencyKey: 'x' }))).toMatchObject({
      retryable: true,
    });

    fake.inject('chat.postMessage', { kind: 'delay', ms: 1_000 });
    const slow = await deliveryError(p.post(CHANNEL, splitBrain, { idempotencyKey: 'slow' }));
    expect(slow.retryable).toBe(true);
    expect(slow.message).toMatch(/unreachable/);

    await fake.setUnreachable(true);
    const refused = await deliveryError(p.findPosted(CHANNEL, 'k'));
    expect(refused.retryable).toBe(true);
    expect(refused.message).toMatch(/unreachable/);
    await fake.setUnreachable(false);
    await expect(p.post(CHANNEL, splitBrain, { idempotencyKey: 'back' })).resolves.toHaveProperty(
      'messageId',
    );
  });

  it('maps invalid_auth, channel_not_found and other ok:false errors to not retryable', async () => {
    const bad = await deliveryError(
      platform({ botToken: 'xoxb-wrong' }).post(CHANNEL, splitBrain, { idempotencyKey: 'a' }),
    );
    expect(bad).toMatchObject({ retryable: false });
    expect(bad.message).toContain('invalid_auth');
    expect(bad.message).not.toContain('xoxb-wrong');

    fake.setChannels([CHANNEL]);
    try {
      const missing = await deliveryError(platform().post('C0GONE', splitBrain, { idempotencyKey: 'b' }));
      expect(missing).toMatchObject({ retryable: false });
      expect(missing.message).toContain('channel_not_found');
    } finally {
      fake.setChannels(null);
    }

    fake.inject('chat.postMessage', { kind: 'slack-error', error: 'msg_too_long' });
    expect(await deliveryError(platform().post(CHANNEL, splitBrain, { idempotencyKey: 'c' }))).toMatchObject({
      retryable: false,
    });
    fake.inject('chat.postMessage', { kind: 'slack-error', error: 'internal_error' });
    expect(await deliveryError(platform().post(CHANNEL, splitBrain, { idempotencyKey: 'd' }))).toMatchObject({
      retryable: true,
    });
  });

  it('fails start() with a retryable error while Slack is down, and can be started again', async () => {
    const p = platform();
    fake.inject('auth.test', { kind: 'http-error', status: 503 });
    const err = await deliveryError(p.start(async () => ({ message: splitBrain })));
    expect(err).toMatchObject({ retryable: true, status: 503 });
    await p.start(async () => ({ message: splitBrain }));
    await fake.waitFor(() => fake.openConnectionCount === 1, 'the Socket Mode connection');
  });

  it('refuses to start with a bad bot token', async () => {
    const err = await deliveryError(
      platform({ botToken: 'xoxb-wrong' }).start(async () => ({ message: splitBrain })),
    );
    expect(err).toMatchObject({ retryable: false });
    expect(err.message).toContain('invalid_auth');
  });
});
