// The fake Slack itself, through plain fetch: later tests rely on it answering like Slack.

import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, signSlackRequest } from '../fakes/slack/index.js';

const fake = new FakeSlack();
beforeAll(() => fake.start());
afterAll(() => fake.stop());

async function call(method: string, params: Record<string, unknown>, token = FAKE_BOT_TOKEN, json = false) {
  const response = await fetch(`${fake.apiUrl}${method}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': json ? 'application/json; charset=utf-8' : 'application/x-www-form-urlencoded',
    },
    body: json
      ? JSON.stringify(params)
      : new URLSearchParams(
          Object.entries(params).map(([k, v]): [string, string] => [
            k,
            typeof v === 'string' ? v : JSON.stringify(v),
          ]),
        ).toString(),
  });
  const text = await response.text();
  const body = (
    response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : { text }
  ) as Record<string, unknown>;
  return { status: response.status, headers: response.headers, body };
}

describe('FakeSlack', () => {
  it('answers invalid_auth for unknown tokens and not_allowed_token_type for the wrong kind', async () => {
    expect((await call('auth.test', {}, 'xoxb-nope')).body).toEqual({ ok: false, error: 'invalid_auth' });
    expect((await call('apps.connections.open', {})).body).toEqual({
      ok: false,
      error: 'not_allowed_token_type',
    });
    expect((await call('chat.postMessage', { channel: 'C1', text: 'x' }, FAKE_APP_TOKEN)).body.error).toBe(
      'not_allowed_token_type',
    );
    const open = await call('apps.connections.open', {}, FAKE_APP_TOKEN);
    expect(open.body.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/socket\?ticket=/);
  });

  it('stores form and JSON posts alike and lists history newest first with limit, cursor and metadata', async () => {
    const metadata = { event_type: 't', event_payload: { key: 'k1' } };
    const a = await call('chat.postMessage', { channel: 'CHIST', text: 'a', metadata });
    const b = await call(
      'chat.postMessage',
      { channel: 'CHIST', text: 'b', blocks: [{ type: 'divider' }] },
      FAKE_BOT_TOKEN,
      true,
    );
    await call('chat.postMessage', { channel: 'CHIST', text: 'reply', thread_ts: a.body.ts });
    const c = await call('chat.postMessage', { channel: 'CHIST', text: 'c' });
    expect(fake.messages('CHIST').map((m) => m.text)).toEqual(['a', 'b', 'reply', 'c']);
    expect(fake.message('CHIST', b.body.ts as string)?.blocks).toEqual([{ type: 'divider' }]);

    const page1 = await call('conversations.history', { channel: 'CHIST', limit: '2' });
    expect((page1.body.messages as { text: string }[]).map((m) => m.text)).toEqual(['c', 'b']);
    expect(page1.body.has_more).toBe(true);
    const cursor = (page1.body.response_metadata as { next_cursor: string }).next_cursor;
    const page2 = await call('conversations.history', {
      channel: 'CHIST',
      limit: '2',
      cursor,
      include_all_metadata: 'true',
    });
    const [first] = page2.body.messages as Record<string, unknown>[];
    expect(first).toMatchObject({ text: 'a', ts: a.body.ts, reply_count: 1, metadata });
    const noMetadata = await call('conversations.history', { channel: 'CHIST' });
    expect(
      (noMetadata.body.messages as Record<string, unknown>[]).every((m) => m.metadata === undefined),
    ).toBe(true);
    expect((c.body.ts as string) > (b.body.ts as string)).toBe(true);
  });

  it('injects 429 with Retry-After, HTTP errors and Slack errors for the next N calls only', async () => {
    fake.inject('chat.postMessage', { kind: 'rate-limited', retryAfterSec: 3 }, 2);
    const limited = await call('chat.postMessage', { channel: 'C1', text: 'x' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect((await call('chat.postMessage', { channel: 'C1', text: 'x' })).status).toBe(429);
    expect((await call('chat.postMessage', { channel: 'C1', text: 'x' })).body.ok).toBe(true);
    fake.inject('*', { kind: 'http-error', status: 502 });
    expect((await call('auth.test', {})).status).toBe(502);
    expect(fake.callsTo('auth.test').at(-1)?.fault).toBe('http-error');
  });

  it('signs like Slack: v0 HMAC-SHA256 over v0:timestamp:body', () => {
    const headers = signSlackRequest('secret', 'a=1', 1_700_000_000);
    const expected = createHmac('sha256', 'secret').update('v0:1700000000:a=1').digest('hex');
    expect(headers).toEqual({
      'X-Slack-Signature': `v0=${expected}`,
      'X-Slack-Request-Timestamp': '1700000000',
    });
  });
});
