// The fake Discord itself, driven by raw HTTP and WebSocket clients: the behaviour later tests rely
// on (auth, nonce window, acknowledgement window, faults, zlib-stream, RESUME replay) is checked
// here once, independently of discord.js.

import { inflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FakeDiscord, type FakeDiscordOptions } from '../fakes/discord/index.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function fakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const fake = new FakeDiscord(options);
  await fake.start();
  cleanup.push(() => fake.stop());
  return fake;
}

async function api(
  fake: FakeDiscord,
  method: string,
  path: string,
  body?: unknown,
  auth: string | null = `Bot ${fake.token}`,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${fake.apiUrl}/v10${path}`, {
    method,
    headers: { ...(auth === null ? {} : { authorization: auth }), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: res.headers,
  };
}

interface Payload {
  op: number;
  t?: string;
  s?: number;
  d?: Record<string, unknown>;
}

/** A raw gateway client: collects payloads (inflating zlib-stream when asked for). */
async function gatewayClient(fake: FakeDiscord, query = 'v=10&encoding=json') {
  const ws = new WebSocket(`${fake.gatewayUrl}?${query}`);
  const payloads: Payload[] = [];
  let closeCode: number | undefined;
  let compressed = Buffer.alloc(0);
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) {
      payloads.push(JSON.parse(data.toString('utf8')) as Payload);
      return;
    }
    // One zlib stream for the whole connection: inflate everything so far, keep the new payloads.
    compressed = Buffer.concat([compressed, data]);
    const text = inflateSync(compressed, { finishFlush: 2 }).toString('utf8');
    const all = text.split(/(?<=\})(?=\{"op")/).map((p) => JSON.parse(p) as Payload);
    payloads.splice(0, payloads.length, ...all);
  });
  ws.on('close', (code) => {
    closeCode = code;
  });
  cleanup.push(async () => ws.terminate());
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    payloads,
    closeCode: () => closeCode,
    send: (payload: unknown) => ws.send(JSON.stringify(payload)),
    next: (predicate: (p: Payload) => boolean) =>
      fake.waitFor(() => payloads.find(predicate), 'a gateway payload', 5_000),
  };
}

describe('fake Discord REST', () => {
  it('checks the bot token, except on interaction routes', async () => {
    const fake = await fakeDiscord();
    expect((await api(fake, 'GET', '/users/@me', undefined, null)).status).toBe(401);
    expect((await api(fake, 'GET', '/users/@me', undefined, 'Bot nope')).status).toBe(401);
    const me = await api(fake, 'GET', '/users/@me');
    expect(me.body).toMatchObject({ id: fake.botUser.id, bot: true });
    const gateway = await api(fake, 'GET', '/gateway/bot');
    expect(gateway.body).toMatchObject({ url: fake.gatewayUrl, shards: 1 });
    expect(fake.requests.map((r) => r.status)).toEqual([401, 401, 200, 200]);
    expect(fake.requests.every((r) => typeof r.at === 'number')).toBe(true);
  });

  it('de-duplicates a nonce with enforce_nonce only within the window', async () => {
    const fake = await fakeDiscord({ nonceWindowMs: 200 });
    const post = (nonce: string, enforce: boolean) =>
      api(fake, 'POST', `/channels/${fake.channelId}/messages`, {
        content: 'hi',
        nonce,
        enforce_nonce: enforce,
      });
    const first = await post('n1', true);
    expect((await post('n1', true)).body.id).toBe(first.body.id);
    expect((await post('n1', false)).body.id).not.toBe(first.body.id);
    await new Promise((r) => setTimeout(r, 250));
    expect((await post('n1', true)).body.id).not.toBe(first.body.id);
    expect((await post('x'.repeat(26), true)).body).toMatchObject({ code: 50035 });
    expect(fake.messagesIn(fake.channelId)).toHaveLength(3);
  });

  it('answers faults: 429 with rate-limit headers, 5xx, then normally again', async () => {
    const fake = await fakeDiscord();
    fake.failNext('POST /channels/:id/messages', { kind: 'rate-limit', retryAfterSeconds: 1.5 }, 2);
    fake.failNext(`/channels/${fake.channelId}`, { kind: 'error', status: 502 });
    const limited = await api(fake, 'POST', `/channels/${fake.channelId}/messages`, { content: 'x' });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ message: 'You are being rate limited.', retry_after: 1.5, global: false });
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('x-ratelimit-reset-after')).toBe('1.5');
    expect((await api(fake, 'POST', `/channels/${fake.channelId}/messages`, { content: 'x' })).status).toBe(
      429,
    );
    expect((await api(fake, 'POST', `/channels/${fake.channelId}/messages`, { content: 'x' })).status).toBe(
      200,
    );
    expect((await api(fake, 'GET', `/channels/${fake.channelId}`)).status).toBe(502);
    expect((await api(fake, 'GET', `/channels/${fake.channelId}`)).status).toBe(200);
    expect(fake.requests.map((r) => r.fault ?? '-')).toEqual(['rate-limit', 'rate-limit', '-', 'error', '-']);
  });

  it('refuses invalid messages and unknown channels with Discord codes', async () => {
    const fake = await fakeDiscord();
    const empty = await api(fake, 'POST', `/channels/${fake.channelId}/messages`, { embeds: [] });
    expect(empty.body).toMatchObject({ code: 50006 });
    const tooLong = await api(fake, 'POST', `/channels/${fake.channelId}/messages`, {
      embeds: [{ title: 'x'.repeat(257) }],
      components: [
        {
          type: 1,
          components: [
            { type: 2, style: 1, label: 'a', custom_id: 'same' },
            { type: 2, style: 1, label: 'b', custom_id: 'same' },
          ],
        },
      ],
    });
    expect(tooLong.status).toBe(400);
    expect(Object.keys(tooLong.body.errors as object)).toEqual([
      'embeds[0].title',
      'components[0].components[1].custom_id',
    ]);
    expect((await api(fake, 'POST', '/channels/1234567/messages', { content: 'x' })).body).toMatchObject({
      code: 10003,
    });
  });

  it('an unreachable API refuses connections and comes back on the same port', async () => {
    const fake = await fakeDiscord();
    const url = fake.apiUrl;
    await fake.restUnreachable();
    await expect(api(fake, 'GET', '/users/@me')).rejects.toThrow();
    await fake.restReachable();
    expect(fake.apiUrl).toBe(url);
    expect((await api(fake, 'GET', '/users/@me')).status).toBe(200);
  });
});

describe('fake Discord gateway', () => {
  it('HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeat ACK; refuses a wrong token and privileged intents', async () => {
    const fake = await fakeDiscord({ heartbeatIntervalMs: 1234 });
    const client = await gatewayClient(fake);
    expect((await client.next((p) => p.op === 10)).d).toEqual({ heartbeat_interval: 1234 });
    client.send({ op: 2, d: { token: fake.token, intents: 1, properties: {} } });
    const ready = await client.next((p) => p.t === 'READY');
    expect(ready.d).toMatchObject({
      application: { id: fake.applicationId },
      guilds: [{ id: fake.guildId }],
    });
    const guild = await client.next((p) => p.t === 'GUILD_CREATE');
    expect(guild.s).toBe(2);
    expect((guild.d?.roles as { id: string }[] | undefined)?.map((r) => r.id)).toContain(fake.guildId);
    client.send({ op: 1, d: 2 });
    await client.next((p) => p.op === 11);

    const wrong = await gatewayClient(fake);
    wrong.send({ op: 2, d: { token: 'nope', intents: 1, properties: {} } });
    await fake.waitFor(() => wrong.closeCode() === 4004, 'close 4004');
    const privileged = await gatewayClient(fake);
    privileged.send({ op: 2, d: { token: fake.token, intents: 1 | (1 << 15), properties: {} } });
    await fake.waitFor(() => privileged.closeCode() === 4014, 'close 4014');
    expect(fake.gateway.identifies.map((i) => i.accepted)).toEqual([true, false, false]);
  });

  it('speaks zlib-stream when the client asks for it', async () => {
    const fake = await fakeDiscord();
    const client = await gatewayClient(fake, 'v=10&encoding=json&compress=zlib-stream');
    await client.next((p) => p.op === 10);
    client.send({ op: 2, d: { token: fake.token, intents: 1, properties: {} } });
    await client.next((p) => p.t === 'GUILD_CREATE');
    expect(client.payloads.map((p) => p.t ?? p.op)).toEqual([10, 'READY', 'GUILD_CREATE']);
  });

  it('RESUME replays the events missed while disconnected; an invalidated session gets INVALID_SESSION', async () => {
    const fake = await fakeDiscord();
    const first = await gatewayClient(fake);
    first.send({ op: 2, d: { token: fake.token, intents: 1, properties: {} } });
    const ready = await first.next((p) => p.t === 'READY');
    await first.next((p) => p.t === 'GUILD_CREATE');
    fake.dropGateway();
    const session = fake.gateway.sessions[0];
    if (session === undefined) throw new Error('no session');
    fake.gateway.dispatch(session, 'GUILD_UPDATE', { id: fake.guildId });
    const second = await gatewayClient(fake);
    second.send({ op: 6, d: { token: fake.token, session_id: ready.d?.session_id, seq: 2 } });
    await second.next((p) => p.t === 'RESUMED');
    expect(second.payloads.map((p) => p.t ?? p.op)).toEqual([10, 'GUILD_UPDATE', 'RESUMED']);
    expect(fake.gateway.resumes).toMatchObject([{ accepted: true, replayed: 1 }]);

    fake.dropGateway({ invalidateSessions: true });
    const third = await gatewayClient(fake);
    third.send({ op: 6, d: { token: fake.token, session_id: ready.d?.session_id, seq: 4 } });
    expect((await third.next((p) => p.op === 9)).d).toBe(false);
  });
});
