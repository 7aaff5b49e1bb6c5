// Authentication of the peer link between the two instances: every request is signed with
// HMAC-SHA256 over method, path, timestamp, nonce and a hash of the body, with a secret both hosts
// share. A request is accepted only with a valid signature, a timestamp within the window and a
// nonce not seen within that window (no replays). Pure apart from the hash functions.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const PEER_HEADERS = {
  timestamp: 'x-peer-timestamp',
  nonce: 'x-peer-nonce',
  signature: 'x-peer-signature',
  token: 'x-fencing-token',
} as const;

const SIGNATURE_PREFIX = 'v1=';

function canonical(method: string, path: string, timestampMs: number, nonce: string, body: string): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return `${method.toUpperCase()}\n${path}\n${timestampMs}\n${nonce}\n${bodyHash}`;
}

export function signPeerRequest(
  secret: string,
  request: { method: string; path: string; timestampMs: number; nonce: string; body: string },
): string {
  const mac = createHmac('sha256', secret)
    .update(canonical(request.method, request.path, request.timestampMs, request.nonce, request.body))
    .digest('hex');
  return `${SIGNATURE_PREFIX}${mac}`;
}

export type PeerAuthFailure = 'missing-headers' | 'stale' | 'bad-signature' | 'replayed';

/**
 * Nonces seen within the window, oldest first. Kept bounded: a nonce older than the window can be
 * forgotten because its timestamp would be refused anyway.
 */
export class NonceCache {
  readonly #seen = new Map<string, number>();
  constructor(readonly windowMs: number) {}

  /** Remember the nonce; false if it was already seen. */
  add(nonce: string, now: number): boolean {
    for (const [old, at] of this.#seen) {
      if (now - at <= this.windowMs * 2) break;
      this.#seen.delete(old);
    }
    if (this.#seen.has(nonce)) return false;
    this.#seen.set(nonce, now);
    return true;
  }
}

export function verifyPeerRequest(
  secret: string,
  request: {
    method: string;
    path: string;
    body: string;
    headers: Readonly<Record<string, string | string[] | undefined>>;
  },
  now: number,
  nonces: NonceCache,
): { ok: true } | { ok: false; reason: PeerAuthFailure } {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const timestamp = header(PEER_HEADERS.timestamp);
  const nonce = header(PEER_HEADERS.nonce);
  const signature = header(PEER_HEADERS.signature);
  if (
    timestamp === undefined ||
    nonce === undefined ||
    signature === undefined ||
    !/^\d{1,16}$/.test(timestamp)
  ) {
    return { ok: false, reason: 'missing-headers' };
  }
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(nonce)) return { ok: false, reason: 'missing-headers' };
  const timestampMs = Number(timestamp);
  if (Math.abs(now - timestampMs) > nonces.windowMs) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signPeerRequest(secret, { ...request, timestampMs, nonce }));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'bad-signature' };
  // Only a correctly signed request may consume a nonce, so nobody can burn the peer's nonces.
  if (!nonces.add(nonce, now)) return { ok: false, reason: 'replayed' };
  return { ok: true };
}
