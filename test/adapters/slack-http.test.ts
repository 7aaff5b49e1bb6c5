// HTTP mode: Bolt's HTTPReceiver behind the adapter's listener. Slack's signed requests are handled;
// anything unsigned, mis-signed or outside the five-minute window gets 401 and never reaches the
// command handler.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import type { Message } from '../../src/core/message.js';
import type { IncomingCommand } from '../../src/ports/chat.js';
import { renderSlack } from '../../src/render/slack.js';
import {
  captureLog,
  encodeForm,
  encodeInteractivePayload,
  FAKE_BOT_TOKEN,
  FakeSlack,
  postSignedForm,
  slackConfig,
} from '../fakes/slack/index.js';

const SECRET = 'fake-signing-secret-0123456789abcdef';
const CHANNEL = 'C0ALERTS';
const status: Message = { title: 'r0 is UpToDate on both hosts', tone: 'info', resource: 'r0' };

const fake = new FakeSlack();
const log = captureLog();
let platform: SlackPlatform;
let handled: IncomingCommand[];
let url: string;

beforeAll(() => fake.start());
afterAll(async () => {
  await fake.stop();
  expect(log.text()).not.toContain(SECRET);
  expect(log.text()).not.toContain(FAKE_BOT_TOKEN);
});

beforeEach(async () => {
  handled = [];
  platform = new SlackPlatform({
    config: slackConfig(fake, { mode: 'http', listen: { host: '127.0.0.1', port: 0 } }),
    logger: log.logger,
    secrets: { botToken: FAKE_BOT_TOKEN, signingSecret: SECRET },
  });
  await platform.start(async (command) => {
    handled.push(command);
    return { message: status, private: true };
  });
  const address = platform.httpAddress;
  if (address === undefined) throw new Error('not listening');
  url = `http://127.0.0.1:${address.port}/slack/events`;
});
afterEach(() => platform.stop());

describe('SlackPlatform in HTTP mode', () => {
  it('handles a correctly signed slash command: empty 200 at once, reply on the response_url', async () => {
    const payload = fake.slashCommandPayload({
      text: 'status r0',
      userId: 'U0DAVE',
      userName: 'dave',
      channelId: CHANNEL,
    });
    const started = Date.now();
    const answer = await postSignedForm(url, encodeForm(payload), { signingSecret: SECRET });
    expect(answer).toEqual({ status: 200, text: '' });
    expect(Date.now() - started).toBeLessThan(3_000);
    const [response] = await fake.waitForResponses(payload.response_url as string);
    expect(response?.body).toMatchObject({ response_type: 'ephemeral', text: renderSlack(status).text });
    expect(handled).toEqual([
      {
        platform: 'slack',
        text: 'status r0',
        userId: 'U0DAVE',
        userName: 'dave',
        roles: [],
        channelId: CHANNEL,
        source: 'slash-command',
      },
    ]);
  });

  it('handles a signed button click', async () => {
    const { messageId } = await platform.post(
      CHANNEL,
      { ...status, actions: [{ id: 'status', label: 'Status', command: 'status r0' }] },
      { idempotencyKey: 'http-click' },
    );
    const payload = fake.blockActionPayload({
      channelId: CHANNEL,
      messageTs: messageId,
      actionId: 'drbd:status',
    });
    const answer = await postSignedForm(url, encodeInteractivePayload(payload), { signingSecret: SECRET });
    expect(answer.status).toBe(200);
    await fake.waitForResponses(payload.response_url as string);
    expect(handled.map((c) => [c.text, c.source])).toEqual([['status r0', 'button']]);
  });

  it.each([
    ['a bad signature', { tamper: true }],
    ['a stale timestamp (6 minutes old)', { timestampSec: Math.floor(Date.now() / 1000) - 360 }],
    ['a timestamp 6 minutes in the future', { timestampSec: Math.floor(Date.now() / 1000) + 360 }],
    ['no signature headers', { unsigned: true }],
  ])('refuses %s with 401 and does not run the handler', async (_what, options) => {
    const payload = fake.slashCommandPayload({ text: 'failover r0 confirm 7f3a', channelId: CHANNEL });
    const answer = await postSignedForm(url, encodeForm(payload), { signingSecret: SECRET, ...options });
    expect(answer.status).toBe(401);
    // Give a wrongly accepted request every chance to reach the handler.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(handled).toEqual([]);
    expect(fake.responsesTo(payload.response_url as string)).toEqual([]);
  });

  it('accepts a timestamp a few minutes old, inside the window', async () => {
    const payload = fake.slashCommandPayload({ text: 'status', channelId: CHANNEL });
    const answer = await postSignedForm(url, encodeForm(payload), {
      signingSecret: SECRET,
      timestampSec: Math.floor(Date.now() / 1000) - 240,
    });
    expect(answer.status).toBe(200);
    await fake.waitForResponses(payload.response_url as string);
  });

  it('answers 404 outside the events path', async () => {
    const response = await fetch(url.replace('/slack/events', '/elsewhere'), { method: 'POST', body: 'x=1' });
    expect(response.status).toBe(404);
  });
});
