// The peer link: a small HTTP API between the two instances of a pair (typically on the DRBD
// replication network). Every request is signed (src/core/peer-auth.ts); requests that act on the
// host carry the leader's fencing token, and the server refuses any token lower than the highest it
// has seen, remembered on disk so a restart does not forget it.

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../app/log.js';
import { NonceCache, PEER_HEADERS, signPeerRequest, verifyPeerRequest } from '../core/peer-auth.js';
import { readJournal, writeFileDurably } from './journal.js';

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

/** The highest fencing token seen, kept in a file so it survives restarts. */
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

export interface PeerServerOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly routes: readonly PeerRoute[];
  readonly tokens: TokenFloor;
  readonly logger: Logger;
  /** Accepted clock difference between the hosts, and how long nonces are remembered. */
  readonly windowMs?: number;
  readonly now?: () => number;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
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

export class PeerServer {
  readonly #options: PeerServerOptions;
  readonly #nonces: NonceCache;
  readonly #server: Server;

  constructor(options: PeerServerOptions) {
    this.#options = options;
    this.#nonces = new NonceCache(options.windowMs ?? 30_000);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: Error) => {
        options.logger.error({ err }, 'peer link request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
      });
    });
  }

  async start(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => resolve());
    });
    return this.#server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { logger } = this.#options;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = await readBody(req);
    if (body === undefined) {
      send(res, 413, { error: 'request too large' });
      return;
    }
    const now = (this.#options.now ?? Date.now)();
    const auth = verifyPeerRequest(
      this.#options.secret,
      { method: req.method ?? 'GET', path, body, headers: req.headers },
      now,
      this.#nonces,
    );
    if (!auth.ok) {
      // The reason goes to the log only: a prober learns nothing from the answer.
      logger.warn({ reason: auth.reason, path, from: req.socket.remoteAddress }, 'peer link request refused');
      send(res, 401, { error: 'unauthorized' });
      return;
    }
    const route = this.#options.routes.find((r) => r.method === req.method && r.path === path);
    if (route === undefined) {
      send(res, 404, { error: `no such peer endpoint ${req.method} ${path}` });
      return;
    }
    let token: number | undefined;
    if (route.fenced === true) {
      const header = req.headers[PEER_HEADERS.token];
      const value = Array.isArray(header) ? header[0] : header;
      token = value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
      if (token === undefined) {
        send(res, 400, { error: 'a fencing token is required' });
        return;
      }
      if (!this.#options.tokens.admit(token)) {
        logger.warn({ token, highest: this.#options.tokens.highest, path }, 'stale fencing token refused');
        send(res, 409, { error: 'stale fencing token', highest: this.#options.tokens.highest });
        return;
      }
    }
    let parsed: unknown;
    try {
      parsed = body === '' ? undefined : JSON.parse(body);
    } catch {
      send(res, 400, { error: 'the body is not JSON' });
      return;
    }
    try {
      const result = await route.handle(parsed, token === undefined ? {} : { token });
      send(res, 200, result ?? {});
    } catch (err) {
      // A handler refuses with a PeerError and a status (e.g. 409: not the leader); anything else is ours.
      if (err instanceof PeerError && err.status !== undefined) {
        send(res, err.status, { error: err.message });
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
    const timestampMs = (this.options.now ?? Date.now)();
    const nonce = randomBytes(16).toString('hex');
    const headers: Record<string, string> = {
      [PEER_HEADERS.timestamp]: String(timestampMs),
      [PEER_HEADERS.nonce]: nonce,
      [PEER_HEADERS.signature]: signPeerRequest(this.options.secret, {
        method,
        path,
        timestampMs,
        nonce,
        body: text,
      }),
    };
    if (text !== '') headers['content-type'] = 'application/json';
    if (extra.token !== undefined) headers[PEER_HEADERS.token] = String(extra.token);
    let response: Response;
    try {
      response = await fetch(new URL(path, this.options.url), {
        method,
        headers,
        ...(text === '' ? {} : { body: text }),
        signal: AbortSignal.timeout(extra.timeoutMs ?? this.options.timeoutMs ?? 5_000),
      });
    } catch (err) {
      throw new PeerError(`peer unreachable: ${(err as Error).message}`);
    }
    const answer = (await response.json().catch(() => ({}))) as T & { error?: string };
    if (!response.ok)
      throw new PeerError(answer.error ?? `peer answered ${response.status}`, response.status);
    return answer;
  }
}
