// The peer link over real HTTP on loopback: the signature covers everything the receiver acts on
// (fencing token and query included), the token floor moves only for an accepted request, nonces
// survive a restart of the receiver, every refusal is logged and counted by the real metrics, and
// the client uses no answer that was altered or swapped on the way.

import { appendFileSync, readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/adapters/metrics.js';
import {
  PeerClient,
  PeerError,
  type PeerRoute,
  PeerServer,
  TokenFloor,
} from '../../src/adapters/peer-link.js';
import { createLogger } from '../../src/app/log.js';
import {
  NonceCache,
  PEER_HEADERS,
  PEER_REFUSALS,
  type PeerRefusal,
  signPeerRequest,
  verifyPeerRequest,
} from '../../src/core/peer-auth.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';

const SECRET = 'a-shared-secret-of-the-pair-0123456789';

interface Call {
  readonly path: string;
  readonly body: unknown;
  readonly token?: number;
}

/** Log lines the server wrote, parsed. */
function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'warn', format: 'json', destination }) };
}

/** A receiver over the files in `dir`; a second call with the same `dir` is the same host restarted. */
async function serve(
  dir = tempDir('drbd-chatops-peer-'),
  options: { now?: () => number; windowMs?: number } = {},
) {
  const calls: Call[] = [];
  const routes: PeerRoute[] = [
    {
      method: 'GET',
      path: '/v1/state',
      handle: async () => {
        calls.push({ path: '/v1/state', body: undefined });
        return { host: 'beta', resources: ['r0'] };
      },
    },
    {
      method: 'POST',
      path: '/v1/steps',
      fenced: true,
      handle: async (body, { token }) => {
        calls.push({ path: '/v1/steps', body, ...(token === undefined ? {} : { token }) });
        return { done: true };
      },
    },
  ];
  const tokenPath = join(dir, 'fencing-token.json');
  const tokens = new TokenFloor(tokenPath);
  const metrics = new Metrics({
    host: 'beta',
    state: () => undefined,
    leader: () => ({ leads: false, token: 0 }),
    outboxDepth: () => 0,
    processMetrics: false,
  });
  const log = captureLog();
  const server = new PeerServer({
    host: '127.0.0.1',
    port: 0,
    secret: SECRET,
    routes,
    tokens,
    nonceJournal: join(dir, 'peer-nonces.ndjson'),
    logger: log.logger,
    onRefused: (reason) => metrics.peerRefused(reason),
    ...options,
  });
  const address = await server.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
  };
  onCleanup(stop);
  const url = `http://127.0.0.1:${address.port}`;
  /** The refusal counter of every reason, as /metrics would serve it. */
  const refused = async (): Promise<Record<PeerRefusal, number>> => {
    const families = parsePromText(await metrics.metrics());
    return Object.fromEntries(
      PEER_REFUSALS.map((reason) => [
        reason,
        sampleValue(families, 'drbdchatops_peer_requests_refused_total', { reason }),
      ]),
    ) as Record<PeerRefusal, number>;
  };
  return { url, calls, dir, tokens, tokenPath, stop, refused, log: log.lines };
}

function none(): Record<PeerRefusal, number> {
  return Object.fromEntries(PEER_REFUSALS.map((r) => [r, 0])) as Record<PeerRefusal, number>;
}

/** A request as a genuine sender signs it, to send as it is or altered in transit. */
function signed(request: {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  token?: string;
  timestampMs?: number;
  nonce?: string;
}) {
  const timestampMs = request.timestampMs ?? Date.now();
  const nonce = request.nonce ?? `n0nce-${Math.random().toString(36).slice(2)}-0123456789`;
  const body = request.body ?? '';
  const token = request.token ?? '';
  const headers: Record<string, string> = {
    [PEER_HEADERS.timestamp]: String(timestampMs),
    [PEER_HEADERS.nonce]: nonce,
    [PEER_HEADERS.signature]: signPeerRequest(SECRET, {
      method: request.method,
      path: request.path,
      timestampMs,
      nonce,
      token,
      body,
    }),
  };
  if (token !== '') headers[PEER_HEADERS.token] = token;
  if (body !== '') headers['content-type'] = 'application/json';
  return { method: request.method, path: request.path, headers, body };
}

type Signed = ReturnType<typeof signed>;

/** Send a captured request, with whatever an attacker changed on the way. */
function send(
  url: string,
  request: Signed,
  changed: { path?: string; headers?: object; body?: string } = {},
) {
  const body = changed.body ?? request.body;
  return fetch(`${url}${changed.path ?? request.path}`, {
    method: request.method,
    headers: { ...request.headers, ...changed.headers },
    ...(body === '' ? {} : { body }),
  });
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A machine in the middle, on loopback: forwards every request unchanged to `target` and hands the
 * answer (and the number of the request, from 0) to `alter` before passing it on.
 */
async function middle(target: string, alter: (answer: Answer, n: number) => Answer) {
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          (e): e is [string, string] =>
            typeof e[1] === 'string' && !['host', 'connection', 'content-length'].includes(e[0]),
        ),
      );
      const body = Buffer.concat(chunks).toString('utf8');
      fetch(`${target}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body === '' ? {} : { body }),
      })
        .then(async (response) => {
          const signature = response.headers.get(PEER_HEADERS.signature);
          const answer = alter(
            {
              status: response.status,
              headers: signature === null ? {} : { [PEER_HEADERS.signature]: signature },
              body: await response.text(),
            },
            n++,
          );
          res.writeHead(answer.status, { ...answer.headers, 'content-type': 'application/json' });
          res.end(answer.body);
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  onCleanup(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('peer link', () => {
  it('answers signed requests, query strings included', async () => {
    const { url, calls, refused } = await serve();
    const client = new PeerClient({ url, secret: SECRET });
    expect(await client.request('GET', '/v1/state')).toEqual({ host: 'beta', resources: ['r0'] });
    expect(await client.request('GET', '/v1/state?resource=r0&x=a%20b')).toEqual({
      host: 'beta',
      resources: ['r0'],
    });
    expect(calls).toHaveLength(2);
    expect(await refused()).toEqual(none());
  });

  it('refuses a wrong secret, a tampered body, a stale timestamp and a replay with 401', async () => {
    const { url, calls, refused } = await serve();
    const wrong = new PeerClient({ url, secret: 'not-the-secret-0000000000' });
    await expect(wrong.request('GET', '/v1/state')).rejects.toMatchObject({
      status: 401,
      message: expect.stringContaining('same secret'),
    });
    const stale = new PeerClient({ url, secret: SECRET, now: () => Date.now() - 60_000 });
    await expect(stale.request('GET', '/v1/state')).rejects.toMatchObject({ status: 401 });

    const request = signed({
      method: 'POST',
      path: '/v1/steps',
      token: '3',
      body: JSON.stringify({ step: 'promote', resource: 'r0' }),
    });
    const tampered = await send(url, request, { body: request.body.replace('r0', 'r1') });
    expect(tampered.status).toBe(401);
    const first = await send(url, request);
    expect(first.status).toBe(200);
    const replayed = await send(url, request);
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toEqual({ error: 'unauthorized' });
    expect(calls).toEqual([{ path: '/v1/steps', body: { step: 'promote', resource: 'r0' }, token: 3 }]);
    expect(await refused()).toEqual({ ...none(), 'bad-signature': 2, stale: 1, replayed: 1 });
  });

  it('refuses a tampered fencing token and leaves the floor unchanged, in memory and on disk', async () => {
    const { url, calls, tokens, tokenPath, refused, log } = await serve();
    const client = new PeerClient({ url, secret: SECRET });
    await client.request('POST', '/v1/steps', { step: 'mount' }, { token: 5 });
    expect(tokens.highest).toBe(5);
    const onDisk = readFileSync(tokenPath, 'utf8');

    // The leader's next request, signed over token 6; on the way, the token becomes 999999999999.
    const request = signed({ method: 'POST', path: '/v1/steps', token: '6', body: '{"step":"umount"}' });
    const forged = await send(url, request, { headers: { [PEER_HEADERS.token]: '999999999999' } });
    expect(forged.status).toBe(401);
    // Adding a token to a request that was signed without one is the same forgery.
    const bare = signed({ method: 'POST', path: '/v1/steps', body: '{"step":"umount"}' });
    const added = await send(url, bare, { headers: { [PEER_HEADERS.token]: '999999999999' } });
    expect(added.status).toBe(401);
    expect(tokens.highest).toBe(5);
    expect(readFileSync(tokenPath, 'utf8')).toBe(onDisk);
    expect(new TokenFloor(tokenPath).highest).toBe(5);
    expect(calls.map((c) => c.token)).toEqual([5]);

    // The forgery consumed nothing: the genuine request still goes through, and the real leader
    // keeps working.
    expect((await send(url, request)).status).toBe(200);
    expect(new TokenFloor(tokenPath).highest).toBe(6);
    expect(calls.map((c) => c.token)).toEqual([5, 6]);
    expect(await refused()).toEqual({ ...none(), 'bad-signature': 2 });

    // One warning per refusal, with what an operator needs and nothing secret.
    const warnings = log.filter((l) => l.msg === 'peer link request refused');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({
      level: 40,
      reason: 'bad-signature',
      method: 'POST',
      path: '/v1/steps',
      from: '127.0.0.1',
    });
    const text = JSON.stringify(log);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(request.headers[PEER_HEADERS.signature]);
  });

  it('refuses a tampered query string', async () => {
    const { url, calls, refused, log } = await serve();
    const request = signed({ method: 'GET', path: '/v1/state?resource=r0' });
    expect((await send(url, request, { path: '/v1/state?resource=r1' })).status).toBe(401);
    expect((await send(url, request, { path: '/v1/state' })).status).toBe(401);
    expect(calls).toHaveLength(0);
    expect((await send(url, request)).status).toBe(200);
    expect(calls).toHaveLength(1);
    expect(await refused()).toEqual({ ...none(), 'bad-signature': 2 });
    // The query stays out of the log line.
    expect(log[0]).toMatchObject({ reason: 'bad-signature', path: '/v1/state' });
  });

  it('refuses a captured request replayed after the receiver restarted; the handler does not run again', async () => {
    const first = await serve();
    const step = signed({
      method: 'POST',
      path: '/v1/steps',
      token: '7',
      body: JSON.stringify({ step: 'drbd-role', resource: 'r0', role: 'secondary' }),
    });
    expect((await send(first.url, step)).status).toBe(200);
    expect(first.calls).toHaveLength(1);
    await first.stop();

    // The same host, restarted: a new server over the same files, well within the time window.
    const restarted = await serve(first.dir);
    const replayed = await send(restarted.url, step);
    expect(replayed.status).toBe(401);
    expect(restarted.calls).toHaveLength(0);
    expect(await restarted.refused()).toEqual({ ...none(), replayed: 1 });
    expect(restarted.log[0]).toMatchObject({ reason: 'replayed', method: 'POST', path: '/v1/steps' });

    // Fresh requests are accepted as before.
    const client = new PeerClient({ url: restarted.url, secret: SECRET });
    expect(await client.request('POST', '/v1/steps', { step: 'mount' }, { token: 7 })).toEqual({
      done: true,
    });
    expect(restarted.calls.map((c) => c.token)).toEqual([7]);
  });

  it('keeps the nonce journal readable after a torn write and forgets nonces past the window', async () => {
    let now = 1_700_000_000_000;
    const clock = { now: () => now, windowMs: 30_000 };
    const first = await serve(undefined, clock);
    const old = signed({ method: 'GET', path: '/v1/state', timestampMs: now, nonce: 'old-nonce-0123456789' });
    expect((await send(first.url, old)).status).toBe(200);
    await first.stop();
    const journal = join(first.dir, 'peer-nonces.ndjson');
    // A crash in the middle of an append: the last line is torn.
    appendFileSync(journal, '{"n":"torn-nonce-01234');

    now += 20_000;
    const second = await serve(first.dir, clock);
    expect((await send(second.url, old)).status).toBe(401);
    expect(await second.refused()).toEqual({ ...none(), replayed: 1 });
    expect(second.log).toContainEqual(
      expect.objectContaining({ msg: 'peer link nonce journal: unreadable lines dropped', damaged: 1 }),
    );
    const fresh = signed({
      method: 'GET',
      path: '/v1/state',
      timestampMs: now,
      nonce: 'new-nonce-0123456789',
    });
    expect((await send(second.url, fresh)).status).toBe(200);
    // Each record on a line of its own: the torn bytes were dropped when the journal was loaded.
    expect(readFileSync(journal, 'utf8')).toBe(
      `${JSON.stringify({ n: 'old-nonce-0123456789', t: now - 20_000 })}\n${JSON.stringify({ n: 'new-nonce-0123456789', t: now })}\n`,
    );
    await second.stop();

    // Two windows later the old nonce could only come back as a stale request: it is forgotten.
    now += 45_000;
    const third = await serve(first.dir, clock);
    expect(readFileSync(journal, 'utf8')).toBe(
      `${JSON.stringify({ n: 'new-nonce-0123456789', t: now - 45_000 })}\n`,
    );
    expect((await send(third.url, old)).status).toBe(401);
    expect(await third.refused()).toEqual({ ...none(), stale: 1 });
  });

  it('refuses a fencing token lower than the highest seen with 409, also after a restart', async () => {
    const { url, calls, dir, tokenPath, refused, log } = await serve();
    const client = new PeerClient({ url, secret: SECRET });
    await client.request('POST', '/v1/steps', { step: 'mount' }, { token: 42 });
    await expect(client.request('POST', '/v1/steps', { step: 'mount' }, { token: 41 })).rejects.toMatchObject(
      { status: 409, message: 'stale fencing token' },
    );
    await expect(client.request('POST', '/v1/steps', { step: 'mount' })).rejects.toMatchObject({
      status: 400,
    });
    expect(await client.request('POST', '/v1/steps', { step: 'mount' }, { token: 42 })).toEqual({
      done: true,
    });
    expect(calls.map((c) => c.token)).toEqual([42, 42]);
    expect(new TokenFloor(tokenPath).highest).toBe(42);
    expect(await refused()).toEqual({ ...none(), 'stale-token': 1, 'bad-request': 1 });
    expect(log[0]).toMatchObject({ reason: 'stale-token', fencingToken: 41, highest: 42 });

    const restarted = await serve(dir);
    const after = new PeerClient({ url: restarted.url, secret: SECRET });
    await expect(after.request('POST', '/v1/steps', { step: 'mount' }, { token: 41 })).rejects.toMatchObject({
      status: 409,
    });
    expect(restarted.calls).toHaveLength(0);
    expect(await restarted.refused()).toEqual({ ...none(), 'stale-token': 1 });
  });

  it('does not move the floor for a signed request it turns away', async () => {
    const { url, calls, tokenPath, refused } = await serve();
    const client = new PeerClient({ url, secret: SECRET });
    await client.request('POST', '/v1/steps', { step: 'mount' }, { token: 5 });
    const broken = signed({ method: 'POST', path: '/v1/steps', token: '9', body: '{"step":' });
    const answer = await send(url, broken);
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: 'the body is not JSON' });
    expect(new TokenFloor(tokenPath).highest).toBe(5);
    expect(calls).toHaveLength(1);
    expect(await refused()).toEqual({ ...none(), 'bad-request': 1 });
  });

  it('tells a peer signing with the previous scheme which version it expects', async () => {
    const { url, calls, refused, log } = await serve();
    const request = signed({ method: 'GET', path: '/v1/state' });
    const v1 = request.headers[PEER_HEADERS.signature]?.replace(/^v2=/, 'v1=');
    const answer = await send(url, request, { headers: { [PEER_HEADERS.signature]: v1 } });
    expect(answer.status).toBe(401);
    expect(((await answer.json()) as { error: string }).error).toContain('expects peer-link signatures v2');
    expect(calls).toHaveLength(0);
    expect(await refused()).toEqual({ ...none(), 'bad-version': 1 });
    expect(log[0]).toMatchObject({ reason: 'bad-version' });
  });

  it('refuses an oversized body before reading further, and counts it', async () => {
    const { url, refused, log } = await serve();
    const answer = await fetch(`${url}/v1/steps`, {
      method: 'POST',
      body: 'x'.repeat(1024 * 1024 + 1),
    }).catch((err: Error) => err);
    // The server stops reading and drops the connection while the client still sends, so the
    // client may see the 413 or a reset; either way the request was refused, logged and counted.
    if (!(answer instanceof Error)) expect(answer.status).toBe(413);
    expect(await refused()).toEqual({ ...none(), 'too-large': 1 });
    expect(log).toEqual([expect.objectContaining({ reason: 'too-large', from: '127.0.0.1' })]);
  });

  it('refuses an oversized body sent without a length, counted while reading', async () => {
    const { url, refused, log, calls } = await serve();
    const { port } = new URL(url);
    const status = await new Promise<number | Error>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/steps',
          method: 'POST',
          headers: { 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', resolve);
      const chunk = 'x'.repeat(64 * 1024);
      // 1 MiB and a chunk more, in pieces: the server counts them as they come.
      for (let i = 0; i <= 16; i++) req.write(chunk);
      req.end();
    });
    if (!(status instanceof Error)) expect(status).toBe(413);
    expect(await refused()).toEqual({ ...none(), 'too-large': 1 });
    expect(log).toEqual([
      expect.objectContaining({ reason: 'too-large', method: 'POST', path: '/v1/steps' }),
    ]);
    expect(calls).toEqual([]);
  });

  it('checks the signature over the body bytes as sent, whatever the declared type', async () => {
    const { url, calls } = await serve();
    const body = '{"step":"mount"}';
    // The same JSON with other spacing is other bytes: refused, nothing parsed it first.
    const respaced = signed({ method: 'POST', path: '/v1/steps', body, token: '3' });
    expect((await send(url, respaced, { body: '{ "step": "mount" }' })).status).toBe(401);
    // The signed bytes under another Content-Type, or none: the signature holds, the JSON is read.
    for (const type of ['text/plain', 'application/octet-stream']) {
      const typed = signed({ method: 'POST', path: '/v1/steps', body, token: '3' });
      const res = await send(url, typed, { headers: { 'content-type': type } });
      expect(res.status, type).toBe(200);
    }
    // Non-ASCII text is signed and checked as its UTF-8 bytes.
    const accented = signed({ method: 'POST', path: '/v1/steps', body: '{"step":"démarrer ✓"}', token: '3' });
    expect((await send(url, accented)).status).toBe(200);
    expect(calls.map((c) => c.body)).toEqual([{ step: 'mount' }, { step: 'mount' }, { step: 'démarrer ✓' }]);
  });

  it('uses no answer that was altered, stripped of its signature or taken from another request', async () => {
    const { url, calls } = await serve();
    const faithful = new PeerClient({ url: await middle(url, (a) => a), secret: SECRET });
    expect(await faithful.request('GET', '/v1/state')).toEqual({ host: 'beta', resources: ['r0'] });

    // The peer's state, rewritten on the way (e.g. to hide that it is Primary).
    const altered = new PeerClient({
      url: await middle(url, (a) => ({ ...a, body: a.body.replace('beta', 'gamma') })),
      secret: SECRET,
    });
    await expect(altered.request('GET', '/v1/state')).rejects.toThrow(/failed its signature check/);
    const stripped = new PeerClient({
      url: await middle(url, (a) => ({ ...a, headers: {} })),
      secret: SECRET,
    });
    await expect(stripped.request('GET', '/v1/state')).rejects.toThrow(/failed its signature check/);

    // A step said to have run, with the peer's genuine signature from an earlier answer.
    let first: Answer | undefined;
    const swapped = new PeerClient({
      url: await middle(url, (a, n) => {
        if (n === 0) first = a;
        return first ?? a;
      }),
      secret: SECRET,
    });
    expect(await swapped.request('POST', '/v1/steps', { step: 'mount' }, { token: 1 })).toEqual({
      done: true,
    });
    await expect(swapped.request('POST', '/v1/steps', { step: 'umount' }, { token: 1 })).rejects.toThrow(
      /failed its signature check/,
    );

    // An error made up on the way: its status is reported, its text is not repeated.
    const madeUp = new PeerClient({
      url: await middle(url, () => ({ status: 409, headers: {}, body: '{"error":"run rm -rf / to fix"}' })),
      secret: SECRET,
    });
    const error = await madeUp.request('GET', '/v1/state').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(PeerError);
    expect(error).toMatchObject({ status: 409, message: 'peer answered 409' });
    // The server did answer every request the middle forwarded.
    expect(calls.map((c) => c.path)).toEqual([
      '/v1/state',
      '/v1/state',
      '/v1/state',
      '/v1/steps',
      '/v1/steps',
      '/v1/state',
    ]);
  });

  it('reports an unreachable peer and unknown endpoints clearly', async () => {
    const { url } = await serve();
    const client = new PeerClient({ url, secret: SECRET });
    await expect(client.request('GET', '/v1/nothing')).rejects.toMatchObject({
      status: 404,
      message: 'no such peer endpoint GET /v1/nothing',
    });
    const nobody = new PeerClient({ url: 'http://127.0.0.1:9', secret: SECRET, timeoutMs: 1_000 });
    await expect(nobody.request('GET', '/v1/state')).rejects.toBeInstanceOf(PeerError);
  });
});

describe('verifyPeerRequest', () => {
  const now = 1_000_000;
  const nonce = 'abcdefabcdefabcdef';
  const base = { method: 'POST', path: '/v1/steps?x=1', body: '{"a":1}' };
  const headersFor = (token: string) => ({
    [PEER_HEADERS.timestamp]: String(now),
    [PEER_HEADERS.nonce]: nonce,
    [PEER_HEADERS.signature]: signPeerRequest(SECRET, { ...base, timestampMs: now, nonce, token }),
    ...(token === '' ? {} : { [PEER_HEADERS.token]: token }),
  });

  it('names what is wrong with a request', () => {
    const nonces = new NonceCache(30_000);
    const headers = headersFor('4');
    expect(verifyPeerRequest(SECRET, { ...base, headers: {} }, now, nonces)).toEqual({
      ok: false,
      reason: 'missing-headers',
    });
    expect(verifyPeerRequest(SECRET, { ...base, headers }, now + 31_000, nonces)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyPeerRequest('other', { ...base, headers }, now, nonces)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    const v1 = { ...headers, [PEER_HEADERS.signature]: `v1=${'0'.repeat(64)}` };
    expect(verifyPeerRequest(SECRET, { ...base, headers: v1 }, now, nonces)).toEqual({
      ok: false,
      reason: 'bad-version',
    });
    expect(verifyPeerRequest(SECRET, { ...base, headers }, now, nonces)).toEqual({
      ok: true,
      nonce,
      timestampMs: now,
    });
    expect(verifyPeerRequest(SECRET, { ...base, headers }, now, nonces)).toEqual({
      ok: false,
      reason: 'replayed',
    });
  });

  it('covers the method, the path with its query and the fencing token', () => {
    const headers = headersFor('4');
    const bad = { ok: false, reason: 'bad-signature' };
    const check = (request: typeof base, h: Record<string, string>) =>
      verifyPeerRequest(SECRET, { ...request, headers: h }, now, new NonceCache(30_000));
    expect(check({ ...base, method: 'GET' }, headers)).toEqual(bad);
    expect(check({ ...base, path: '/v1/steps?x=2' }, headers)).toEqual(bad);
    expect(check({ ...base, path: '/v1/steps' }, headers)).toEqual(bad);
    expect(check(base, { ...headers, [PEER_HEADERS.token]: '5' })).toEqual(bad);
    const { [PEER_HEADERS.token]: _dropped, ...withoutToken } = headers;
    expect(check(base, withoutToken)).toEqual(bad);
    expect(check(base, headersFor(''))).toMatchObject({ ok: true });
  });

  it('forgets a nonce only once a replay would be refused as stale', () => {
    const nonces = new NonceCache(30_000);
    expect(nonces.add(nonce, now, now)).toBe(true);
    expect(nonces.add(nonce, now, now + 60_000)).toBe(false);
    nonces.forget(now + 60_001);
    expect(nonces.size).toBe(0);
  });
});
