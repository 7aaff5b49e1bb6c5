// HTTP mode: Bolt's HTTPReceiver behind the adapter's listener. Slack's signed requests are handled;
// anything unsigned, mis-signed or outside the five-minute window gets 401 and never reaches the
// command handler, and a signed request already accepted is refused when it comes again (409), also
// after a restart over the same state directory.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { quarantinePath } from '../../src/adapters/durable-journal.js';
import { REPLAY_JOURNAL_FILE } from '../../src/adapters/slack/replay-guard.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import type { Message } from '../../src/core/message-tones.js';
import type { IncomingCommand } from '../../src/ports/chat.js';
import { renderSlack } from '../../src/render/slack.js';
import {
  captureLog,
  encodeForm,
  encodeInteractivePayload,
  FAKE_BOT_TOKEN,
  FakeSlack,
  postSignedForm,
  signSlackRequest,
  slackConfig,
} from '../fakes/slack/index.js';
import { tempDir } from '../helpers/cleanup.js';

const SECRET = 'fake-signing-secret-0123456789abcdef';
const CHANNEL = 'C0ALERTS';
const status: Message = { title: 'r0 is UpToDate on both hosts', tone: 'info', resource: 'r0' };
const plan: Message = { title: 'Plan: failover r0 from alpha to beta', tone: 'warning', resource: 'r0' };

const fake = new FakeSlack();
const log = captureLog();
let platform: SlackPlatform;
let handled: IncomingCommand[];
let url: string;
let stateDir: string;

/** A platform in HTTP mode over `stateDir`: a failover gets a public plan, anything else a private status. */
async function startPlatform(): Promise<SlackPlatform> {
  const started = new SlackPlatform({
    config: slackConfig(fake, { mode: 'http', listen: { host: '127.0.0.1', port: 0 } }),
    logger: log.logger,
    secrets: { botToken: FAKE_BOT_TOKEN, signingSecret: SECRET },
    stateDir,
  });
  await started.start(async (command) => {
    handled.push(command);
    return command.text.startsWith('failover') ? { message: plan } : { message: status, private: true };
  });
  const address = started.httpAddress;
  if (address === undefined) throw new Error('not listening');
  url = `http://127.0.0.1:${address.port}/slack/events`;
  return started;
}

let plansBefore = 0;

function allPlans(): number {
  return fake.messages(CHANNEL).filter((m) => m.text.includes(plan.title)).length;
}

/** The plans posted in the channel during this test. */
function plans(): number {
  return allPlans() - plansBefore;
}

/** POST exactly these bytes with exactly these headers, as a captured request would be replayed. */
async function replay(body: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  await response.text();
  return response.status;
}

function settle(): Promise<void> {
  // Give a wrongly accepted request every chance to reach the handler.
  return new Promise((resolve) => setTimeout(resolve, 200));
}

beforeAll(() => fake.start());
afterAll(async () => {
  await fake.stop();
  expect(log.text()).not.toContain(SECRET);
  expect(log.text()).not.toContain(FAKE_BOT_TOKEN);
});

beforeEach(async () => {
  handled = [];
  stateDir = tempDir();
  plansBefore = allPlans();
  platform = await startPlatform();
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
    await settle();
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

  it('refuses a byte-identical replay within the window: 409, no second plan', async () => {
    const body = encodeForm(fake.slashCommandPayload({ text: 'failover r0', channelId: CHANNEL }));
    const headers = { ...signSlackRequest(SECRET, body) };
    expect(await replay(body, headers)).toBe(200);
    await fake.waitFor(() => plans() === 1, 'the plan');
    expect(await replay(body, headers)).toBe(409);
    expect(await replay(body, headers)).toBe(409);
    await settle();
    expect(plans()).toBe(1);
    expect(handled.map((c) => c.text)).toEqual(['failover r0']);
    expect(log.lines().filter((l) => String(l.msg).includes('replayed'))).toHaveLength(2);
    // A new request of the same person, signed anew, is of course taken.
    const again = encodeForm(fake.slashCommandPayload({ text: 'failover r0', channelId: CHANNEL }));
    expect(await replay(again, { ...signSlackRequest(SECRET, again) })).toBe(200);
    await fake.waitFor(() => plans() === 2, 'the second plan');
  });

  it('refuses the replay after a restart over the same state directory', async () => {
    const body = encodeForm(fake.slashCommandPayload({ text: 'failover r0', channelId: CHANNEL }));
    const headers = { ...signSlackRequest(SECRET, body) };
    expect(await replay(body, headers)).toBe(200);
    await fake.waitFor(() => plans() === 1, 'the plan');
    await platform.stop();
    platform = await startPlatform();
    expect(await replay(body, headers)).toBe(409);
    await settle();
    expect(plans()).toBe(1);
    expect(handled).toHaveLength(1);
    // The new listener takes new requests.
    const fresh = fake.slashCommandPayload({ text: 'status', channelId: CHANNEL });
    const answer = await postSignedForm(url, encodeForm(fresh), { signingSecret: SECRET });
    expect(answer.status).toBe(200);
    await fake.waitForResponses(fresh.response_url as string);
  });

  it('refuses a replayed button click after a restart: the approval does not run twice', async () => {
    const { messageId } = await platform.post(
      CHANNEL,
      { ...status, actions: [{ id: 'approve', label: 'Approve', command: 'approve 7f3a' }] },
      { idempotencyKey: 'replayed-click' },
    );
    const body = encodeInteractivePayload(
      fake.blockActionPayload({ channelId: CHANNEL, messageTs: messageId, actionId: 'drbd:approve' }),
    );
    const headers = { ...signSlackRequest(SECRET, body) };
    expect(await replay(body, headers)).toBe(200);
    await platform.stop();
    platform = await startPlatform();
    expect(await replay(body, headers)).toBe(409);
    await settle();
    expect(handled.map((c) => [c.text, c.source])).toEqual([['approve 7f3a', 'button']]);
  });

  it('takes only one of two identical requests arriving together', async () => {
    const body = encodeForm(fake.slashCommandPayload({ text: 'failover r0', channelId: CHANNEL }));
    const headers = { ...signSlackRequest(SECRET, body) };
    const statuses = await Promise.all([replay(body, headers), replay(body, headers), replay(body, headers)]);
    expect(statuses.sort()).toEqual([200, 409, 409]);
    await fake.waitFor(() => plans() === 1, 'the plan');
    await settle();
    expect(plans()).toBe(1);
  });

  it('refuses a replay whose signature header was decorated to look new', async () => {
    const body = encodeForm(fake.slashCommandPayload({ text: 'failover r0', channelId: CHANNEL }));
    const headers = { ...signSlackRequest(SECRET, body) };
    expect(await replay(body, headers)).toBe(200);
    const signature = headers['X-Slack-Signature'];
    for (const decorated of [`${signature}=x`, `${signature},${signature}`, signature.toUpperCase()]) {
      expect(await replay(body, { ...headers, 'X-Slack-Signature': decorated })).toBe(401);
    }
    const timestamp = headers['X-Slack-Request-Timestamp'];
    // The same number written differently signs the same text: it is recognised as the same request.
    expect(await replay(body, { ...headers, 'X-Slack-Request-Timestamp': `0${timestamp}` })).toBe(409);
    expect(await replay(body, { ...headers, 'X-Slack-Request-Timestamp': `${timestamp}.0` })).toBe(401);
    await settle();
    expect(plans()).toBe(1);
  });

  it('keeps the journal to the window: expired entries are dropped when it is opened again', async () => {
    const old = Math.floor(Date.now() / 1000) - 400;
    const path = join(stateDir, REPLAY_JOURNAL_FILE);
    await platform.stop();
    writeFileSync(
      path,
      [
        JSON.stringify({ s: `v0=${'a'.repeat(64)}`, t: old }),
        'not json',
        JSON.stringify({ s: 'v0=short', t: old }),
        '{"s":"v0=torn', // a crash in the middle of an append
      ].join('\n'),
    );
    platform = await startPlatform();
    expect(readFileSync(path, 'utf8')).toBe('');
    const payload = fake.slashCommandPayload({ text: 'status', channelId: CHANNEL });
    const body = encodeForm(payload);
    expect(await replay(body, { ...signSlackRequest(SECRET, body) })).toBe(200);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ s: expect.stringMatching(/^v0=[0-9a-f]{64}$/) });
    // Nothing vanishes silently: the bad lines are kept beside the journal, with a warning each.
    const quarantined = readFileSync(quarantinePath(path), 'utf8');
    expect(quarantined).toContain('not json');
    expect(quarantined).toContain('v0=short');
    expect(readdirSync(stateDir).filter((f) => f.startsWith(`${REPLAY_JOURNAL_FILE}.torn-`))).toHaveLength(1);
    expect(log.lines().some((l) => String(l.msg).includes('unreadable lines'))).toBe(true);
    expect(log.lines().some((l) => String(l.msg).includes('torn last line'))).toBe(true);
  });

  it('refuses to start in HTTP mode without a state directory', () => {
    expect(
      () =>
        new SlackPlatform({
          config: slackConfig(fake, { mode: 'http', listen: { host: '127.0.0.1', port: 0 } }),
          logger: log.logger,
          secrets: { botToken: FAKE_BOT_TOKEN, signingSecret: SECRET },
        }),
    ).toThrow(/state directory/);
  });

  it('answers 404 outside the events path', async () => {
    const response = await fetch(url.replace('/slack/events', '/elsewhere'), { method: 'POST', body: 'x=1' });
    expect(response.status).toBe(404);
  });
});
