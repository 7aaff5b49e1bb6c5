import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PeerClient,
  PeerError,
  type PeerRoute,
  PeerServer,
  TokenFloor,
} from '../../src/adapters/peer-link.js';
import { createLogger } from '../../src/app/log.js';
import { NonceCache, PEER_HEADERS, signPeerRequest, verifyPeerRequest } from '../../src/core/peer-auth.js';
import { onCleanup } from '../helpers/cleanup.js';

const SECRET = 'a-shared-secret-of-the-pair-0123456789';
const logger = createLogger({ level: 'silent', format: 'json' });

async function serve() {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-peer-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const calls: { path: string; body: unknown; token?: number }[] = [];
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
  const tokens = new TokenFloor(join(dir, 'fencing-token.json'));
  const server = new PeerServer({ host: '127.0.0.1', port: 0, secret: SECRET, routes, tokens, logger });
  const address = await server.start();
  onCleanup(() => server.stop());
  const url = `http://127.0.0.1:${address.port}`;
  return { url, calls, dir, tokens };
}

describe('peer link', () => {
  it('answers signed requests', async () => {
    const { url, calls } = await serve();
    const client = new PeerClient({ url, secret: SECRET });
    expect(await client.request('GET', '/v1/state')).toEqual({ host: 'beta', resources: ['r0'] });
    expect(calls).toHaveLength(1);
  });

  it('refuses a wrong secret, a tampered body, a stale timestamp and a replay with 401', async () => {
    const { url, calls } = await serve();
    const wrong = new PeerClient({ url, secret: 'not-the-secret-0000000000' });
    await expect(wrong.request('GET', '/v1/state')).rejects.toMatchObject({ status: 401 });
    const stale = new PeerClient({ url, secret: SECRET, now: () => Date.now() - 60_000 });
    await expect(stale.request('GET', '/v1/state')).rejects.toMatchObject({ status: 401 });

    const timestampMs = Date.now();
    const nonce = 'n0nce-0123456789abcdef';
    const body = JSON.stringify({ step: 'promote', resource: 'r0' });
    const headers = {
      [PEER_HEADERS.timestamp]: String(timestampMs),
      [PEER_HEADERS.nonce]: nonce,
      [PEER_HEADERS.signature]: signPeerRequest(SECRET, {
        method: 'POST',
        path: '/v1/steps',
        timestampMs,
        nonce,
        body,
      }),
      [PEER_HEADERS.token]: '3',
      'content-type': 'application/json',
    };
    const tampered = await fetch(`${url}/v1/steps`, {
      method: 'POST',
      headers,
      body: body.replace('r0', 'r1'),
    });
    expect(tampered.status).toBe(401);
    const first = await fetch(`${url}/v1/steps`, { method: 'POST', headers, body });
    expect(first.status).toBe(200);
    const replayed = await fetch(`${url}/v1/steps`, { method: 'POST', headers, body });
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toEqual({ error: 'unauthorized' });
    expect(calls.map((c) => c.path)).toEqual(['/v1/steps']);
  });

  it('refuses a fencing token lower than the highest seen, also after a restart', async () => {
    const { url, calls, dir } = await serve();
    const client = new PeerClient({ url, secret: SECRET });
    await client.request('POST', '/v1/steps', { step: 'mount' }, { token: 42 });
    await expect(client.request('POST', '/v1/steps', { step: 'mount' }, { token: 41 })).rejects.toMatchObject(
      {
        status: 409,
        message: 'stale fencing token',
      },
    );
    await expect(client.request('POST', '/v1/steps', { step: 'mount' })).rejects.toMatchObject({
      status: 400,
    });
    expect(await client.request('POST', '/v1/steps', { step: 'mount' }, { token: 42 })).toEqual({
      done: true,
    });
    expect(calls.map((c) => c.token)).toEqual([42, 42]);
    expect(new TokenFloor(join(dir, 'fencing-token.json')).highest).toBe(42);
  });

  it('reports an unreachable peer and unknown endpoints clearly', async () => {
    const { url } = await serve();
    const client = new PeerClient({ url, secret: SECRET });
    await expect(client.request('GET', '/v1/nothing')).rejects.toMatchObject({ status: 404 });
    const nobody = new PeerClient({ url: 'http://127.0.0.1:9', secret: SECRET, timeoutMs: 1_000 });
    await expect(nobody.request('GET', '/v1/state')).rejects.toBeInstanceOf(PeerError);
  });
});

describe('verifyPeerRequest', () => {
  it('names what is wrong with a request', () => {
    const nonces = new NonceCache(30_000);
    const now = 1_000_000;
    const base = { method: 'GET', path: '/v1/state', body: '' };
    expect(verifyPeerRequest(SECRET, { ...base, headers: {} }, now, nonces)).toEqual({
      ok: false,
      reason: 'missing-headers',
    });
    const nonce = 'abcdefabcdefabcdef';
    const signature = signPeerRequest(SECRET, { ...base, timestampMs: now, nonce });
    const headers = {
      [PEER_HEADERS.timestamp]: String(now),
      [PEER_HEADERS.nonce]: nonce,
      [PEER_HEADERS.signature]: signature,
    };
    expect(verifyPeerRequest(SECRET, { ...base, headers }, now + 31_000, nonces)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyPeerRequest('other', { ...base, headers }, now, nonces)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyPeerRequest(SECRET, { ...base, headers }, now, nonces)).toEqual({ ok: true });
    expect(verifyPeerRequest(SECRET, { ...base, headers }, now, nonces)).toEqual({
      ok: false,
      reason: 'replayed',
    });
  });
});
