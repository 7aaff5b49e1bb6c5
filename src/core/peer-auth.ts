// Authentication of the peer link between the two instances: every request is signed with
// HMAC-SHA256, with a secret both hosts share, over everything the receiver acts on: the method, the
// path with its query, the timestamp, the nonce, the fencing-token header and a hash of the body. A
// field left out of the signature is a field anyone on the replication network may rewrite (the
// fencing token was such a field in v1: one altered packet raised the receiver's token floor to a
// value the real leader never reaches). A request is accepted only with a valid signature, a
// timestamp within the window and a nonce not seen within that window (no replays). The answer to
// an accepted request is signed as well, bound to the request's nonce. Pure apart from the hash
// functions: the clock and the record of nonces are passed in.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const PEER_HEADERS = {
  timestamp: 'x-peer-timestamp',
  nonce: 'x-peer-nonce',
  signature: 'x-peer-signature',
  token: 'x-fencing-token',
} as const;

/**
 * The signature scheme's version, the prefix of every signature. Bumped whenever the signed string
 * changes, so a pair running two versions refuses each other with a reason that names the version
 * (`bad-version`) instead of a puzzling `bad-signature` or, worse, a weaker check passing silently.
 */
export const PEER_SIGNATURE_VERSION = 'v2';
const SIGNATURE_PREFIX = `${PEER_SIGNATURE_VERSION}=`;

/** Why the peer link refused a request: the `reason` of the log line and of the metric. */
export const PEER_REFUSALS = [
  // Authentication (401): nothing of the request was acted on.
  'missing-headers',
  'bad-version',
  'stale',
  'bad-signature',
  'replayed',
  // Before authentication: a body over the size limit (413).
  'too-large',
  // Authenticated, but unusable: a fenced request without a token, a body that is not JSON (400).
  'bad-request',
  // Authenticated, but its fencing token is lower than one already seen: a former leader (409).
  'stale-token',
] as const;
export type PeerRefusal = (typeof PEER_REFUSALS)[number];

export type PeerAuthFailure = Extract<
  PeerRefusal,
  'missing-headers' | 'bad-version' | 'stale' | 'bad-signature' | 'replayed'
>;

export interface PeerRequestParts {
  readonly method: string;
  /** The request target as sent: path and query (`/v1/state?x=1`). */
  readonly path: string;
  readonly timestampMs: number;
  readonly nonce: string;
  /** The fencing-token header as sent; '' when the request carries none. */
  readonly token: string;
  readonly body: string;
}

function canonical(request: PeerRequestParts): string {
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  // One field per line. None can contain a newline: HTTP forbids it in the request target and in
  // header values, the nonce is checked against a strict pattern, and the body is hashed. The
  // leading scheme name keeps this MAC from ever being valid for another message format.
  return [
    `drbd-chatops-peer-${PEER_SIGNATURE_VERSION}`,
    request.method.toUpperCase(),
    request.path,
    String(request.timestampMs),
    request.nonce,
    request.token,
    bodyHash,
  ].join('\n');
}

export function signPeerRequest(secret: string, request: PeerRequestParts): string {
  const mac = createHmac('sha256', secret).update(canonical(request)).digest('hex');
  return `${SIGNATURE_PREFIX}${mac}`;
}

function canonicalResponse(response: PeerResponseParts): string {
  const bodyHash = createHash('sha256').update(response.body).digest('hex');
  // A domain of its own (a response MAC is never a valid request MAC), and the request's nonce: an
  // answer belongs to the one request it answers and cannot be replayed for another.
  return [
    `drbd-chatops-peer-${PEER_SIGNATURE_VERSION}-response`,
    response.nonce,
    String(response.status),
    bodyHash,
  ].join('\n');
}

export interface PeerResponseParts {
  /** The nonce of the request this answers. */
  readonly nonce: string;
  readonly status: number;
  readonly body: string;
}

/**
 * The answer is signed too: the sender acts on it (the peer's DRBD role before a forced failover,
 * its pre-flight checks, whether a step ran), so a forged answer must not pass for the peer's.
 */
export function signPeerResponse(secret: string, response: PeerResponseParts): string {
  const mac = createHmac('sha256', secret).update(canonicalResponse(response)).digest('hex');
  return `${SIGNATURE_PREFIX}${mac}`;
}

export function verifyPeerResponse(
  secret: string,
  response: PeerResponseParts & { readonly signature: string | undefined },
): boolean {
  if (response.signature === undefined) return false;
  const expected = Buffer.from(signPeerResponse(secret, response));
  const given = Buffer.from(response.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * Nonces of accepted requests, with the timestamps those requests were signed with. A nonce can be
 * forgotten once its timestamp is so far in the past that a replay would be refused as stale anyway;
 * it is kept for twice the window, so a receiver clock stepped back by up to a window does not revive
 * a forgotten nonce. Only correctly signed requests get here, so nobody without the secret can fill it.
 */
export class NonceCache {
  readonly #seen = new Map<string, number>();
  constructor(readonly windowMs: number) {}

  /** Remember the nonce; false if it was already seen. */
  add(nonce: string, timestampMs: number, now: number): boolean {
    this.forget(now);
    if (this.#seen.has(nonce)) return false;
    this.#seen.set(nonce, timestampMs);
    return true;
  }

  /**
   * Drop what a replay could no longer use. Stops at the first nonce still needed: entries are in
   * arrival order, which is nearly timestamp order, and one kept a little longer costs nothing.
   */
  forget(now: number): void {
    for (const [nonce, timestampMs] of this.#seen) {
      if (now - timestampMs <= this.windowMs * 2) break;
      this.#seen.delete(nonce);
    }
  }

  /** The nonces still remembered, oldest first, to write them out again. */
  entries(): [nonce: string, timestampMs: number][] {
    return [...this.#seen];
  }

  get size(): number {
    return this.#seen.size;
  }
}

export type PeerVerdict =
  | { readonly ok: true; readonly nonce: string; readonly timestampMs: number }
  | { readonly ok: false; readonly reason: PeerAuthFailure };

/**
 * Check a received request. On success the nonce is already in `nonces` (so a copy arriving at the
 * same moment is refused as a replay); making that record durable is the caller's job, before it
 * acts on the request.
 */
export function verifyPeerRequest(
  secret: string,
  request: {
    readonly method: string;
    /** The request target as received, query included. */
    readonly path: string;
    readonly body: string;
    readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  },
  now: number,
  nonces: NonceCache,
): PeerVerdict {
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
    !/^\d{1,16}$/.test(timestamp) ||
    !/^[A-Za-z0-9_-]{16,128}$/.test(nonce)
  ) {
    return { ok: false, reason: 'missing-headers' };
  }
  if (!signature.startsWith(SIGNATURE_PREFIX)) return { ok: false, reason: 'bad-version' };
  const timestampMs = Number(timestamp);
  // The signature first: then `stale` and `replayed` name genuine requests out of their time or seen
  // before (clock drift, a held-back or copied request), and anything made up is `bad-signature`.
  const expected = Buffer.from(
    signPeerRequest(secret, {
      method: request.method,
      path: request.path,
      timestampMs,
      nonce,
      token: header(PEER_HEADERS.token) ?? '',
      body: request.body,
    }),
  );
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'bad-signature' };
  if (Math.abs(now - timestampMs) > nonces.windowMs) return { ok: false, reason: 'stale' };
  // Only a correctly signed request may consume a nonce, so nobody can burn the peer's nonces.
  if (!nonces.add(nonce, timestampMs, now)) return { ok: false, reason: 'replayed' };
  return { ok: true, nonce, timestampMs };
}
