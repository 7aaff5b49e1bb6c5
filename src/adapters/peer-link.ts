// The peer link: a small HTTP API between the two instances of a pair (typically on the DRBD
// replication network). Every request is signed (src/core/peer-auth.ts) over everything acted on,
// fencing token included; requests that act on the host carry the leader's fencing token, and the
// server refuses any token lower than the highest it has seen, remembered on disk so a restart does
// not forget it. The nonces of accepted requests are remembered on disk too, so a captured request
// cannot be played again after the receiver restarted. Answers to authenticated requests are signed
// and bound to the request, and the client uses no answer that fails the check. Plain HTTP: the link
// authenticates, it does not hide (see the README's security section).
//
// The server is plain node:http rather than fastify (which the web console uses): it authenticates
// before it routes and hashes the body's exact bytes, so fastify would be one catch-all route for
// ~13 MiB more in every paired daemon (figures in http-server.ts).

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  NonceCache,
  PEER_HEADERS,
  PEER_SIGNATURE_VERSION,
  type PeerRefusal,
  signPeerRequest,
  signPeerResponse,
  verifyPeerRequest,
  verifyPeerResponse,
} from '../core/peer-auth.js';
import type { Logger } from '../ports/logger.js';
import { Journal, readJournal, writeFileDurably } from './durable-journal.js';

export interface PeerRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Acts on this host on behalf of the leader: needs a fencing token no lower than any seen. */
  readonly fenced?: boolean;
  handle(body: unknown, context: { readonly token?: number }): Promise<unknown>;
}

const MAX_BODY = 1024 * 1024;

export class PeerError extends Error {
  readonly code = 'PEER_REQUEST_FAILED';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PeerError';
  }
}

/**
 * The highest fencing token seen, kept in a file so it survives restarts. Raised only by a request
 * whose signature (which covers the token), timestamp and nonce were accepted: the floor is the one
 * thing here whose damage outlives a request, so nothing unauthenticated may move it.
 */
export class TokenFloor {
  #highest: number;
  constructor(readonly path: string) {
    const stored = readJournal<{ highest: number }>(path).records[0];
    this.#highest = typeof stored?.highest === 'number' ? stored.highest : 0;
  }
  get highest(): number {
    return this.#highest;
  }
  /** Accept `token` if it is not lower than any seen (and remember it); false if it is stale. */
  admit(token: number): boolean {
    if (token < this.#highest) return false;
    if (token > this.#highest) {
      this.#highest = token;
      writeFileDurably(this.path, `${JSON.stringify({ highest: token })}\n`);
    }
    return true;
  }
}

interface NonceRecord {
  /** The nonce. */
  readonly n: string;
  /** The timestamp the request was signed with. */
  readonly t: number;
}

function isNonceRecord(r: unknown): r is NonceRecord {
  if (typeof r !== 'object' || r === null) return false;
  const { n, t } = r as Record<string, unknown>;
  return typeof n === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(n) && Number.isSafeInteger(t);
}

/** Appended records beyond which the journal is rewritten with only the nonces still needed. */
const NONCE_COMPACT_AFTER = 1_000;

/**
 * The nonces of accepted requests, on disk: an fsynced journal of nonce and signed timestamp, loaded
 * on start and rewritten without the nonces a replay could no longer use.
 *
 * Why a journal rather than refusing every timestamp older than the process start (the other way to
 * keep a restart from reopening the replay window):
 * - the window exists to tolerate the two hosts' clock difference; with a sender whose clock is
 *   behind, "older than my start" refuses its genuine requests for up to a window after every
 *   restart, and that is exactly when a failover sends its steps (a restart is often part of one);
 * - it trusts the wall clock to never step back across a restart (a reboot before NTP has synced
 *   can come up minutes behind), and then it refuses nothing; a recorded nonce is refused whatever
 *   the clock says.
 * The cost is one fsynced append per accepted request, on a link that carries a few a minute.
 */
export class NonceJournal {
  readonly #cache: NonceCache;
  readonly #journal: Journal<NonceRecord>;

  constructor(
    readonly path: string,
    windowMs: number,
  ) {
    this.#cache = new NonceCache(windowMs);
    this.#journal = new Journal(path);
  }

  /** What verifyPeerRequest checks and reserves nonces in. */
  get cache(): NonceCache {
    return this.#cache;
  }

  /**
   * Load the nonces an earlier run accepted and rewrite the file with those still needed; the
   * rewrite also drops a torn last line, so the next record starts on a line of its own.
   */
  async open(now: number): Promise<{ readonly remembered: number; readonly damaged: number }> {
    const loaded = readJournal<unknown>(this.path);
    let damaged = loaded.damaged;
    for (const record of loaded.records) {
      if (isNonceRecord(record)) this.#cache.add(record.n, record.t, now);
      else damaged++;
    }
    this.#cache.forget(now);
    await this.#rewrite();
    return { remembered: this.#cache.size, damaged };
  }

  /** Make the acceptance of a nonce durable; resolves once it is on disk. */
  async record(nonce: string, timestampMs: number, now: number): Promise<void> {
    await this.#journal.append([{ n: nonce, t: timestampMs }]);
    if (this.#journal.appended > NONCE_COMPACT_AFTER) {
      this.#cache.forget(now);
      await this.#rewrite();
    }
  }

  close(): Promise<void> {
    return this.#journal.close();
  }

  #rewrite(): Promise<void> {
    // Taken now, after the appends already queued: a nonce reserved later is appended after the
    // rewrite, so none is lost.
    return this.#journal.compact(this.#cache.entries().map(([n, t]) => ({ n, t })));
  }
}

export interface PeerServerOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly routes: readonly PeerRoute[];
  readonly tokens: TokenFloor;
  /** The file of accepted nonces (see NonceJournal). */
  readonly nonceJournal: string;
  readonly logger: Logger;
  /** Accepted clock difference between the hosts, and how long nonces are remembered. */
  readonly windowMs?: number;
  readonly now?: () => number;
  /** Called once for every refused request (the metric); the log line is written here. */
  readonly onRefused?: (reason: PeerRefusal) => void;
}

/** Answer with JSON; `sign` gives the signature header for an answer to an authenticated request. */
function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  sign?: (status: number, text: string) => string,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(sign === undefined ? {} : { [PEER_HEADERS.signature]: sign(status, text) }),
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What the sender of a refused request is told: the reason goes to the log only, except for a
 * version mismatch, which names the (public) version so the other host's log says what to fix. */
const UNAUTHORIZED = { error: 'unauthorized' } as const;
const BAD_VERSION = {
  error: `unauthorized: this peer expects peer-link signatures ${PEER_SIGNATURE_VERSION}; run the same drbd-chatops version on both hosts`,
} as const;

export class PeerServer {
  readonly #options: PeerServerOptions;
  readonly #nonces: NonceJournal;
  readonly #server: Server;

  constructor(options: PeerServerOptions) {
    this.#options = options;
    this.#nonces = new NonceJournal(options.nonceJournal, options.windowMs ?? 30_000);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: Error) => {
        options.logger.error({ err }, 'peer link request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
      });
    });
  }

  async start(): Promise<AddressInfo> {
    const { remembered, damaged } = await this.#nonces.open(this.#now());
    if (damaged > 0)
      this.#options.logger.warn(
        { path: this.#nonces.path, damaged },
        'peer link nonce journal: unreadable lines dropped',
      );
    this.#options.logger.debug({ remembered }, 'peer link nonces of the replay window loaded');
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => resolve());
    });
    return this.#server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await this.#nonces.close();
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { logger, tokens } = this.#options;
    const method = req.method ?? 'GET';
    // The request target as sent, query included, is what the signature covers; routes match the
    // path alone.
    const target = req.url ?? '/';
    const path = target.split('?')[0] ?? '/';
    // Read now: the socket is gone once an oversized body was abandoned.
    const from = req.socket.remoteAddress;
    // Set once the request is authenticated: from then on every answer is signed, bound to it.
    let nonce: string | undefined;
    const reply = (status: number, answer: unknown) =>
      send(
        res,
        status,
        answer,
        nonce === undefined
          ? undefined
          : (st, text) =>
              signPeerResponse(this.#options.secret, { nonce: nonce as string, status: st, body: text }),
      );
    const refuse = (reason: PeerRefusal, status: number, answer: unknown, details: object = {}) => {
      // Method, path and address identify the attempt; the query, headers and body stay out of the
      // log (the body of a genuine request is the leader's business, not the log's).
      logger.warn(
        { reason, method, path: path.slice(0, 200), from, ...details },
        'peer link request refused',
      );
      this.#options.onRefused?.(reason);
      reply(status, answer);
    };

    const body = await readBody(req);
    if (body === undefined) {
      refuse('too-large', 413, { error: 'request too large' });
      return;
    }
    const now = this.#now();
    const auth = verifyPeerRequest(
      this.#options.secret,
      { method, path: target, body, headers: req.headers },
      now,
      this.#nonces.cache,
    );
    if (!auth.ok) {
      refuse(auth.reason, 401, auth.reason === 'bad-version' ? BAD_VERSION : UNAUTHORIZED);
      return;
    }
    // On disk before anything is acted on: a crash after this line leaves the nonce refused after
    // the restart; a crash before it leaves nothing done.
    await this.#nonces.record(auth.nonce, auth.timestampMs, now);
    nonce = auth.nonce;

    const route = this.#options.routes.find((r) => r.method === method && r.path === path);
    if (route === undefined) {
      reply(404, { error: `no such peer endpoint ${method} ${path}` });
      return;
    }
    // Everything that can refuse the request is checked before the token floor moves: a request
    // that is turned away changes nothing.
    let parsed: unknown;
    try {
      parsed = body === '' ? undefined : JSON.parse(body);
    } catch {
      refuse('bad-request', 400, { error: 'the body is not JSON' });
      return;
    }
    let token: number | undefined;
    if (route.fenced === true) {
      const header = req.headers[PEER_HEADERS.token];
      const value = Array.isArray(header) ? header[0] : header;
      token = value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
      if (token === undefined) {
        refuse('bad-request', 400, { error: 'a fencing token is required' });
        return;
      }
      // The signature, the timestamp and the nonce were accepted above, and the signature covers
      // this header: only the real leader's token reaches the floor. Raised before the handler
      // runs, so that from now on the former leader's requests are refused.
      if (!tokens.admit(token)) {
        refuse(
          'stale-token',
          409,
          { error: 'stale fencing token', highest: tokens.highest },
          { fencingToken: token, highest: tokens.highest },
        );
        return;
      }
    }
    try {
      const result = await route.handle(parsed, token === undefined ? {} : { token });
      reply(200, result ?? {});
    } catch (err) {
      // A handler refuses with a PeerError and a status (e.g. 409: not the leader); anything else is ours.
      if (err instanceof PeerError && err.status !== undefined) {
        reply(err.status, { error: err.message });
        return;
      }
      throw err;
    }
  }
}

export class PeerClient {
  constructor(
    readonly options: {
      readonly url: string;
      readonly secret: string;
      readonly timeoutMs?: number;
      readonly now?: () => number;
    },
  ) {}

  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    extra: { token?: number; timeoutMs?: number } = {},
  ): Promise<T> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const url = new URL(path, this.options.url);
    const timestampMs = (this.options.now ?? Date.now)();
    const nonce = randomBytes(16).toString('hex');
    const token = extra.token === undefined ? '' : String(extra.token);
    const headers: Record<string, string> = {
      [PEER_HEADERS.timestamp]: String(timestampMs),
      [PEER_HEADERS.nonce]: nonce,
      // Signed as it goes on the wire: the URL's own encoding of the path and query.
      [PEER_HEADERS.signature]: signPeerRequest(this.options.secret, {
        method,
        path: `${url.pathname}${url.search}`,
        timestampMs,
        nonce,
        token,
        body: text,
      }),
    };
    if (text !== '') headers['content-type'] = 'application/json';
    if (token !== '') headers[PEER_HEADERS.token] = token;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(text === '' ? {} : { body: text }),
        signal: AbortSignal.timeout(extra.timeoutMs ?? this.options.timeoutMs ?? 5_000),
      });
    } catch (err) {
      throw new PeerError(`peer unreachable: ${(err as Error).message}`);
    }
    let received: string;
    try {
      received = await response.text();
    } catch (err) {
      throw new PeerError(`peer unreachable: ${(err as Error).message}`);
    }
    const authentic = verifyPeerResponse(this.options.secret, {
      nonce,
      status: response.status,
      body: received,
      signature: response.headers.get(PEER_HEADERS.signature) ?? undefined,
    });
    let answer: (T & { error?: unknown }) | undefined;
    try {
      answer = received === '' ? undefined : (JSON.parse(received) as T & { error?: unknown });
    } catch {
      answer = undefined;
    }
    if (response.ok) {
      // Acted on by the caller: only the peer's own answer to this very request will do.
      if (!authentic || answer === undefined)
        throw new PeerError(
          "the peer's answer failed its signature check (altered on the way, or the peer runs another version or has another secret); it was not used",
        );
      return answer;
    }
    if (response.status === 401)
      throw new PeerError(
        'the peer refused the request as unauthorized: check that both hosts share the same secret, run the same drbd-chatops version, and that their clocks agree within the window (its log says which)',
        401,
      );
    // An error the peer signed tells why; an unsigned one (refused before authentication, or made
    // up on the way) gives its status only, its text is not repeated anywhere.
    const reason =
      authentic && typeof answer?.error === 'string' ? answer.error : `peer answered ${response.status}`;
    throw new PeerError(reason, response.status);
  }
}
