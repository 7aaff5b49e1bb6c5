// The web console platform: a small page served by the bot, showing the channel (alerts with their
// severity colours, incident threads, plan messages edited in place), a command line with the same
// commands as Slack and Discord, the plans' buttons, and a live status panel of both hosts. Meant
// for development and, in production, as an out-of-band console on the management network when
// Slack or Discord cannot be reached.
//
// Access needs a token (one per user, from the environment or a file). Signing in is a same-origin
// POST of the token from the console's own sign-in page; it gives an HttpOnly SameSite=Strict session
// cookie. A sign-in link (/login#token=…) only fills in that page, which asks "Sign in as alice?":
// following a link, or a form on another site, never signs a browser in by itself (no login CSRF).
// Failed sign-ins are throttled per presented token, never per client address (sign-in-throttle.ts).
// It listens on loopback unless told otherwise. Updates reach the page over server-sent events.
// The server is fastify (cookies through @fastify/cookie); the page's scripts and style sheet are
// real files in ./browser/ (assets.ts).
// Everything is kept in memory: a restart starts an empty channel (the notifier's incident parents
// come back when they are next edited).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import fastifyCookie from '@fastify/cookie';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Message } from '../../core/message-tones.js';
import type {
  ChatPlatform,
  CommandHandler,
  CommandReply,
  IncomingCommand,
  Posted,
  PostOptions,
} from '../../ports/chat.js';
import type { Logger } from '../../ports/logger.js';
import { httpApp, listen } from '../http-server.js';
import { withTimeout } from '../with-timeout.js';
import { type ConsoleAssets, consoleAssets } from './assets.js';
import { consolePage, FAVICON_SVG, loginPage } from './page.js';
import { SignInThrottle } from './sign-in-throttle.js';
import { webUserProblems } from './users.js';
import type { CommandAnswer, ConsoleEntry, ConsoleSnapshot, ConsoleStatus, StatusPayload } from './wire.js';

export { hostStatus } from './console-status.js';
export { parseWebUsers, WebUsersError } from './users.js';
export type {
  CommandAnswer,
  ConsoleEntry,
  ConsoleHostStatus,
  ConsoleResourceStatus,
  ConsoleSnapshot,
  ConsoleStatus,
  StatusPayload,
} from './wire.js';

export interface WebConsoleOptions {
  /** Where to listen (default 127.0.0.1: loopback only). */
  readonly host?: string;
  /** 0: any free port (see `address`). */
  readonly port: number;
  /** Access token → user name (parseWebUsers). The name is the command's userId (`web:NAME`). */
  readonly users: ReadonlyMap<string, string>;
  /** Shown in the page header (default "DRBD chat-ops"). */
  readonly title?: string;
  /** The channel the page shows and commands run in (the routes' `channel`; default "web"). */
  readonly channel?: string;
  /** The status panel's source; none: the panel says so. */
  readonly status?: () => Promise<ConsoleStatus>;
  /** How often `status` is asked while someone is connected (default 2000 ms). */
  readonly statusIntervalMs?: number;
  readonly logger: Logger;
  /** Messages kept for the page, oldest dropped first (default 1000). */
  readonly maxMessages?: number;
  /** A session ends after this long without use (default 12 h). */
  readonly sessionIdleMs?: number;
  /** stop(): how long to wait for commands still running (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** Mark the cookie Secure (when a TLS proxy is in front). */
  readonly secureCookie?: boolean;
  /** Origins besides the console's own that may post commands (a TLS proxy's https://name). */
  readonly allowedOrigins?: readonly string[];
}

export const SESSION_COOKIE = 'drbd_console';
const MAX_COMMAND_BODY = 16 * 1024;
const MAX_LOGIN_BODY = 4 * 1024;
const MAX_COMMAND_TEXT = 2_000;
const MAX_PRIVATE_REPLIES = 50;
const MAX_SESSIONS = 1_000;
const HEARTBEAT_MS = 15_000;
const STATUS_TIMEOUT_MS = 10_000;
/** A client that does not read its stream (this much unsent) is dropped; it reconnects to a snapshot. */
const MAX_STREAM_BACKLOG = 4 * 1024 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // A sign-in link's token (?token=… in older links) must never leave in a Referer. The page's own
  // requests are sent with fetch(), which keeps its real Origin under no-referrer; a plain form post
  // says `Origin: null` instead, which #checkOrigin accepts only beside Sec-Fetch-Site: same-origin.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

interface Stream {
  readonly res: ServerResponse;
  readonly session: Session;
}

interface Session {
  /** sha256 of the cookie value: the map key; the value itself is not kept. */
  readonly key: string;
  readonly user: string;
  lastSeen: number;
  readonly streams: Set<Stream>;
  /** This session's private command replies, oldest first. */
  readonly privateReplies: Map<string, ConsoleEntry>;
}

interface Reply {
  readonly id: string;
  readonly session: Session;
  readonly command: string;
  readonly user: string;
  readonly source: IncomingCommand['source'];
  readonly threadOf: string | undefined;
  entry: ConsoleEntry | undefined;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function internalErrorMessage(): Message {
  return {
    title: 'Internal error',
    tone: 'critical',
    body: 'The command failed unexpectedly. The details are in the bot’s log.',
  };
}

/** "/drbd status r0", "/status r0" and "status r0" all mean the same. */
export function normaliseCommand(text: string): string {
  return text
    .trim()
    .replace(/^\/drbd(\s+|$)/, '')
    .replace(/^\//, '')
    .trim();
}

/**
 * A sign-in link for a console at `consoleUrl` (its page's address): the token in the fragment, which
 * browsers send to no server (no proxy log, no Referer). Following it shows "Sign in as NAME" and signs
 * in only when that is clicked.
 */
export function signInLink(consoleUrl: string, token: string): string {
  return `${new URL('/login', consoleUrl).href}#token=${encodeURIComponent(token)}`;
}

/** The request's media type, lower case, without parameters ('' when it has none). */
function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

export class WebConsolePlatform implements ChatPlatform {
  readonly name = 'web' as const;

  readonly #host: string;
  readonly #port: number;
  readonly #users: readonly { readonly digest: Buffer; readonly user: string }[];
  readonly #title: string;
  readonly #channel: string;
  readonly #status: (() => Promise<ConsoleStatus>) | undefined;
  readonly #statusIntervalMs: number;
  readonly #log: Logger;
  readonly #maxMessages: number;
  readonly #sessionIdleMs: number;
  readonly #stopTimeoutMs: number;
  readonly #secureCookie: boolean;
  readonly #allowedOrigins: ReadonlySet<string>;
  /** Ids differ from one run to the next, so an id from before a restart never names a new message. */
  readonly #run = randomBytes(3).toString('hex');

  #state: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  #app: FastifyInstance | undefined;
  #handler: CommandHandler | undefined;
  #seq = 0;
  #next = 0;
  /** The channel, in order of first appearance (Map order). */
  readonly #entries = new Map<string, ConsoleEntry>();
  /** idempotencyKey → message id; kept longer than the messages so a late retry still finds its post. */
  readonly #keys = new Map<string, string>();
  readonly #sessions = new Map<string, Session>();
  readonly #streams = new Set<Stream>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #sockets = new Set<Socket>();
  readonly #throttle = new SignInThrottle();
  /** The session a command's onRequest hook found, for its handler. */
  readonly #requestSessions = new WeakMap<FastifyRequest, Session>();
  #loadedAssets: ConsoleAssets | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #statusRunning = false;
  #statusPayload: StatusPayload = { status: null, at: null };
  #statusJson = '';

  constructor(options: WebConsoleOptions) {
    if (options.users.size === 0) throw new Error('web console: no users, so nobody could sign in');
    for (const [token, user] of options.users) {
      const problems = webUserProblems(user, token);
      if (problems.length > 0) throw new Error(`web console: ${problems.join('; ')}`);
    }
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port;
    this.#users = [...options.users].map(([token, user]) => ({ digest: digest(token), user }));
    this.#title = options.title ?? 'DRBD chat-ops';
    this.#channel = options.channel ?? 'web';
    this.#status = options.status;
    this.#statusIntervalMs = options.statusIntervalMs ?? 2_000;
    this.#log = options.logger.child({ component: 'web-console' });
    this.#maxMessages = Math.max(1, options.maxMessages ?? 1_000);
    this.#sessionIdleMs = options.sessionIdleMs ?? 12 * 3_600_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.#secureCookie = options.secureCookie ?? false;
    this.#allowedOrigins = new Set(options.allowedOrigins ?? []);
  }

  /** Where the server listens (the real port when 0 was asked for); undefined when not started. */
  get address(): { host: string; port: number } | undefined {
    const address = this.#app?.server.address();
    if (address === null || address === undefined || typeof address === 'string') return undefined;
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port };
  }

  /** The page's address, e.g. http://127.0.0.1:8080/. */
  get url(): string | undefined {
    const address = this.address;
    if (address === undefined) return undefined;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    return `http://${host}:${address.port}/`;
  }

  /** The channel the page shows. */
  get channel(): string {
    return this.#channel;
  }

  /** Open event streams (connected pages). */
  get connections(): number {
    return this.#streams.size;
  }

  async start(handler: CommandHandler): Promise<void> {
    if (this.#state === 'started' || this.#state === 'stopping')
      throw new Error(`WebConsolePlatform.start: already ${this.#state}`);
    // The page's files are read before listening: a console without them fails here, by name.
    this.#loadedAssets = consoleAssets();
    this.#handler = handler;
    // A new app each time: a fastify app that was closed cannot listen again.
    const app = await this.#buildApp();
    app.server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    try {
      await listen(app, this.#host, this.#port);
    } catch (err) {
      await app.close();
      throw err;
    }
    app.server.on('error', (err) => this.#log.error({ err }, 'web console: server error'));
    this.#app = app;
    this.#state = 'started';
    this.#heartbeat = setInterval(() => this.#ping(), HEARTBEAT_MS);
    this.#heartbeat.unref();
    this.#sweeper = setInterval(() => this.#sweep(), 60_000);
    this.#sweeper.unref();
    this.#log.info({ url: this.url, users: this.#users.length }, 'web console: listening');
  }

  async stop(): Promise<void> {
    if (this.#state !== 'started') return;
    this.#state = 'stopping';
    clearInterval(this.#heartbeat);
    clearInterval(this.#sweeper);
    this.#stopStatusTimer();
    for (const stream of [...this.#streams]) this.#closeStream(stream);
    const app = this.#app;
    // No new connections from here on; a request on a kept-alive one is answered 503.
    const closed = app === undefined ? Promise.resolve() : app.close();
    if (this.#inflight.size > 0) {
      const finished = await withTimeout(Promise.allSettled([...this.#inflight]), this.#stopTimeoutMs);
      if (finished === 'timeout')
        this.#log.warn({ pending: this.#inflight.size }, 'web console: stopping with commands still running');
    }
    if (app !== undefined) {
      // Every answer has been written: end the connections (after what is still buffered goes out),
      // kept-alive ones and ones that never sent a request included.
      for (const socket of this.#sockets) socket.end();
      if ((await withTimeout(closed, 1_000)) === 'timeout') {
        app.server.closeAllConnections();
        await closed;
      }
    }
    this.#app = undefined;
    this.#state = 'stopped';
  }

  // ---- ChatPlatform: the channel ---------------------------------------------------------------

  async post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    const existing = this.#keys.get(options.idempotencyKey);
    if (existing !== undefined) return { messageId: existing };
    const messageId = `m-${this.#run}-${++this.#next}`;
    const threadOf = this.#rootOf(options.threadOf);
    const entry: ConsoleEntry = {
      id: messageId,
      seq: ++this.#seq,
      channel,
      ...(threadOf === undefined ? {} : { threadOf }),
      message,
      postedAt: new Date().toISOString(),
    };
    this.#remember(options.idempotencyKey, messageId);
    this.#store(entry);
    this.#broadcast('post', entry);
    return { messageId };
  }

  async update(channel: string, messageId: string, message: Message): Promise<void> {
    const now = new Date().toISOString();
    const before = this.#entries.get(messageId);
    // Unknown (from before a restart, or dropped as old): shown again, as an edited message.
    const entry: ConsoleEntry =
      before === undefined
        ? { id: messageId, seq: ++this.#seq, channel, message, postedAt: now, editedAt: now }
        : { ...before, channel, message, editedAt: now };
    this.#store(entry);
    this.#broadcast('update', entry);
  }

  async findPosted(_channel: string, idempotencyKey: string): Promise<Posted | undefined> {
    const messageId = this.#keys.get(idempotencyKey);
    return messageId === undefined ? undefined : { messageId };
  }

  /** The channel as the page shows it to everyone (private replies left out), oldest first. */
  messages(): ConsoleEntry[] {
    return [...this.#entries.values()];
  }

  /** Ask for the status now and push it to the pages if it changed. */
  async refreshStatus(): Promise<void> {
    const status = this.#status;
    if (status === undefined || this.#statusRunning) return;
    this.#statusRunning = true;
    try {
      const result = await withTimeout(status(), STATUS_TIMEOUT_MS);
      if (result === 'timeout') throw new Error(`no answer within ${STATUS_TIMEOUT_MS / 1000} s`);
      this.#setStatus({ status: result, at: new Date().toISOString() });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (this.#statusPayload.error !== error)
        this.#log.warn({ err }, 'web console: the status could not be read');
      this.#setStatus({ status: this.#statusPayload.status, error, at: this.#statusPayload.at });
    } finally {
      this.#statusRunning = false;
    }
  }

  #setStatus(payload: StatusPayload): void {
    const json = JSON.stringify({ status: payload.status, error: payload.error });
    this.#statusPayload = payload;
    if (json === this.#statusJson) return;
    this.#statusJson = json;
    this.#broadcast('status', payload);
  }

  #rootOf(threadOf: string | undefined): string | undefined {
    if (threadOf === undefined) return undefined;
    return this.#entries.get(threadOf)?.threadOf ?? threadOf;
  }

  #remember(key: string, messageId: string): void {
    this.#keys.set(key, messageId);
    const limit = this.#maxMessages * 4;
    for (const oldest of this.#keys.keys()) {
      if (this.#keys.size <= limit) break;
      this.#keys.delete(oldest);
    }
  }

  #store(entry: ConsoleEntry): void {
    this.#entries.set(entry.id, entry);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxMessages) break;
      this.#entries.delete(oldest);
    }
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  /**
   * The console's routes on fastify (src/adapters/http-server.ts says why fastify): every answer
   * carries the security headers; the checks that can refuse a state-changing request (session,
   * Content-Type, same origin) run in each route's onRequest hook, before its body is read; a body
   * over the route's limit is refused with 413 without being read to its end.
   */
  async #buildApp(): Promise<FastifyInstance> {
    const app = httpApp({ bodyLimit: MAX_COMMAND_BODY, headersTimeoutMs: 20_000, requestTimeoutMs: 60_000 });
    await app.register(fastifyCookie);
    // JSON (fastify's parser, which refuses __proto__ keys) and the sign-in form; nothing else.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: MAX_LOGIN_BODY },
      (_request, body, done) => done(null, new URLSearchParams(String(body))),
    );
    // Which methods each path answers, for the 405's Allow header (collected as routes are added).
    const allowed = new Map<string, Set<string>>();
    app.addHook('onRoute', (route) => {
      const methods = allowed.get(route.url) ?? new Set<string>();
      for (const method of [route.method].flat()) methods.add(method);
      allowed.set(route.url, methods);
    });
    app.addHook('onRequest', async (_request, reply) => {
      reply.headers(SECURITY_HEADERS);
    });
    app.setErrorHandler((err: FastifyError, request, reply) => this.#failed(err, request, reply));
    app.setNotFoundHandler((request, reply) => {
      const methods = allowed.get(request.url.split('?')[0] ?? '/');
      if (methods === undefined) return reply.code(404).send({ error: 'not found' });
      reply.header('Allow', [...methods].join(', '));
      return reply.code(405).send({ error: 'method not allowed' });
    });

    app.get<{ Querystring: Record<string, unknown> }>('/', async (request, reply) => {
      const session = this.#session(request);
      // An older sign-in link (/?token=…): the sign-in page, whose script asks before signing in.
      // The server never signs in on a GET, whatever the query says.
      if (Object.hasOwn(request.query, 'token'))
        return html(reply, 200, loginPage(this.#title, { as: session?.user }));
      if (session === undefined) return html(reply, 401, loginPage(this.#title));
      return html(reply, 200, consolePage(this.#title));
    });
    app.get('/login', async (request, reply) =>
      html(reply, 200, loginPage(this.#title, { as: this.#session(request)?.user })),
    );
    app.post(
      '/login',
      { bodyLimit: MAX_LOGIN_BODY, onRequest: this.#signInGate('sign-in') },
      async (request, reply) => this.#signIn(request, reply, 'sign-in'),
    );
    app.post(
      '/login/check',
      { bodyLimit: MAX_LOGIN_BODY, onRequest: this.#signInGate('check') },
      async (request, reply) => this.#signIn(request, reply, 'check'),
    );
    const file = (path: string, type: string, body: () => string) =>
      app.get(path, async (_request, reply) => reply.type(type).send(body()));
    file('/login.js', 'text/javascript; charset=utf-8', () => this.#assets().loginJs);
    file('/app.js', 'text/javascript; charset=utf-8', () => this.#assets().appJs);
    file('/app.css', 'text/css; charset=utf-8', () => this.#assets().appCss);
    file('/favicon.svg', 'image/svg+xml', () => FAVICON_SVG);
    file('/favicon.ico', 'image/svg+xml', () => FAVICON_SVG);

    app.get('/api/session', { exposeHeadRoute: false }, async (request) => {
      const session = this.#session(request);
      if (session === undefined) throw new HttpError(401, 'not signed in');
      return { user: session.user };
    });
    app.get('/api/events', { exposeHeadRoute: false }, (request, reply) => {
      const session = this.#session(request);
      if (session === undefined) throw new HttpError(401, 'not signed in');
      this.#openStream(request, reply, session);
    });
    app.post('/api/command', { onRequest: this.#commandGate() }, async (request, reply) =>
      this.#command(request, reply),
    );
    app.post(
      '/api/logout',
      { onRequest: async (request) => this.#checkPost(request) },
      async (request, reply) => {
        const session = this.#session(request);
        if (session !== undefined) this.#endSession(session);
        this.#setCookie(reply, '', 0);
        return { ok: true };
      },
    );
    return app;
  }

  /** Every refusal and failure as `{ error }`; fastify's own (body too large, not JSON …) in our words. */
  #failed(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (reply.raw.headersSent) {
      reply.raw.destroy();
      return undefined;
    }
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.code(413).send({ error: `request body over ${request.routeOptions.bodyLimit} bytes` });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.code(415).send({ error: 'Content-Type must be application/json' });
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return reply.code(400).send({ error: 'the body is not JSON' });
    }
    // Another refusal of fastify's (a malformed request, the server closing): its status, its words.
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
    if (status === 503) return reply.code(503).send({ error: 'the console is stopping' });
    this.#log.error({ err, path: request.url.split('?')[0] }, 'web console: request failed');
    return reply.code(500).send({ error: 'internal error' });
  }

  #assets(): ConsoleAssets {
    this.#loadedAssets ??= consoleAssets();
    return this.#loadedAssets;
  }

  /** The console's own origin as the browser sees it (from Host), and any configured ones. */
  #originAllowed(request: FastifyRequest, origin: string): boolean {
    if (this.#allowedOrigins.has(origin)) return true;
    const host = request.headers.host;
    return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
  }

  /**
   * Refuse a state-changing request another site makes the browser send (a sign-in, a command, a
   * sign-out). Sec-Fetch-Site, which no page can set, must say same-origin when the browser sends it
   * (another port of the same host is same-site, not same-origin); an Origin must be the console's own
   * or a configured one. `Origin: null` is what a plain form post of the console's own pages sends
   * under Referrer-Policy: no-referrer, and also what a sandboxed frame on any site sends, so it passes
   * only beside Sec-Fetch-Site: same-origin. Neither header: not a browser (curl, a script), which
   * carries nobody else's cookie and signs in as itself.
   */
  #checkOrigin(request: FastifyRequest): void {
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    if (origin !== undefined && origin !== 'null' && this.#allowedOrigins.has(origin)) return;
    if (site !== undefined && site !== 'same-origin') throw new HttpError(403, 'cross-site request refused');
    if (origin === undefined) return;
    if (origin === 'null' ? site === 'same-origin' : this.#originAllowed(request, origin)) return;
    throw new HttpError(403, 'cross-origin request refused');
  }

  /** An API POST: JSON only (a cross-site form cannot send it without a CORS preflight), same origin. */
  #checkPost(request: FastifyRequest): void {
    if (mediaType(request) !== 'application/json')
      throw new HttpError(415, 'Content-Type must be application/json');
    this.#checkOrigin(request);
  }

  // ---- sessions --------------------------------------------------------------------------------

  /** The user whose token this is (its sha256); every configured token is compared, in constant time. */
  #userOf(presented: Buffer): string | undefined {
    let found: string | undefined;
    for (const candidate of this.#users) {
      if (timingSafeEqual(presented, candidate.digest) && found === undefined) found = candidate.user;
    }
    return found;
  }

  /**
   * What must hold before a sign-in's body is read: JSON from the page's script, or (for /login
   * only) the form of the page without it; and the console's own origin.
   */
  #signInGate(mode: 'sign-in' | 'check') {
    return async (request: FastifyRequest): Promise<void> => {
      const type = mediaType(request);
      if (type !== 'application/json' && (mode === 'check' || type !== 'application/x-www-form-urlencoded'))
        throw new HttpError(415, 'Content-Type must be application/json');
      try {
        this.#checkOrigin(request);
      } catch (err) {
        this.#log.warn(
          {
            remote: request.ip,
            origin: request.headers.origin?.slice(0, 200),
            site: request.headers['sec-fetch-site']?.slice(0, 40),
          },
          'web console: cross-site sign-in refused',
        );
        throw err;
      }
    };
  }

  /**
   * POST /login (sign in) and POST /login/check (whose token is this? for the link's "Sign in as
   * alice" page; no session). JSON from the page's script, or a form post from the page without it.
   */
  #signIn(request: FastifyRequest, reply: FastifyReply, mode: 'sign-in' | 'check'): FastifyReply {
    const json = mediaType(request) === 'application/json';
    const body: unknown = request.body;
    const token: unknown =
      body instanceof URLSearchParams
        ? (body.get('token') ?? '')
        : typeof body === 'object' && body !== null
          ? (body as Record<string, unknown>).token
          : undefined;
    if (typeof token !== 'string') throw new HttpError(400, 'token must be a string');
    const remote = request.ip;
    const refuse = (status: number, problem: string): FastifyReply =>
      json
        ? reply.code(status).send({ error: problem })
        : html(reply, status, loginPage(this.#title, { problem }));
    if (token.trim() === '') return refuse(400, 'Enter your access token.');
    const now = Date.now();
    const presented = digest(token.trim());
    const user = this.#userOf(presented);
    if (user === undefined) {
      const verdict = this.#throttle.failed(presented.toString('hex'), now);
      this.#reportSuppressed(now);
      if (verdict.kind === 'counted') {
        this.#log.warn({ remote }, 'web console: sign-in with an unknown token refused');
        return refuse(401, 'Unknown token.');
      }
      const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
      reply.header('Retry-After', String(seconds));
      return refuse(
        429,
        verdict.reason === 'token'
          ? `This token was refused too often; try again in ${Math.ceil(seconds / 60)} min.`
          : `Too many failed sign-ins on this console; try again in ${seconds} s.`,
      );
    }
    if (mode === 'check') return reply.send({ user });
    const value = randomBytes(32).toString('base64url');
    const session: Session = {
      key: digest(value).toString('hex'),
      user,
      lastSeen: now,
      streams: new Set(),
      privateReplies: new Map(),
    };
    this.#sessions.set(session.key, session);
    for (const oldest of this.#sessions.values()) {
      if (this.#sessions.size <= MAX_SESSIONS) break;
      this.#endSession(oldest);
    }
    this.#log.info({ user, remote }, 'web console: signed in');
    this.#setCookie(reply, value, Math.floor(this.#sessionIdleMs / 1000));
    if (json) return reply.send({ user });
    // The form post came from the console's own page, so the Strict cookie goes along with the redirect.
    return reply.redirect('/', 303);
  }

  /** One line a minute for the failed sign-ins the global limit answered without a line each. */
  #reportSuppressed(now: number): void {
    const suppressed = this.#throttle.takeSuppressed(now);
    if (suppressed !== undefined && suppressed > 0)
      this.#log.warn(
        { suppressed },
        'web console: more failed sign-ins than the limit (answered 429, not logged one by one)',
      );
  }

  /** The session cookie (an empty value with max age 0 ends it in the browser). */
  #setCookie(reply: FastifyReply, value: string, maxAgeS: number): void {
    reply.setCookie(SESSION_COOKIE, value, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      maxAge: maxAgeS,
      secure: this.#secureCookie,
    });
  }

  #session(request: FastifyRequest): Session | undefined {
    const value = request.cookies[SESSION_COOKIE];
    if (value === undefined || value === '' || value.length > 100) return undefined;
    const session = this.#sessions.get(digest(value).toString('hex'));
    if (session === undefined) return undefined;
    const now = Date.now();
    if (now - session.lastSeen > this.#sessionIdleMs && session.streams.size === 0) {
      this.#endSession(session);
      return undefined;
    }
    session.lastSeen = now;
    return session;
  }

  #endSession(session: Session): void {
    this.#sessions.delete(session.key);
    for (const stream of [...session.streams]) this.#closeStream(stream);
  }

  #sweep(): void {
    const now = Date.now();
    for (const session of [...this.#sessions.values()]) {
      if (session.streams.size > 0) session.lastSeen = now;
      else if (now - session.lastSeen > this.#sessionIdleMs) this.#endSession(session);
    }
    this.#throttle.sweep(now);
    this.#reportSuppressed(now);
  }

  // ---- the event stream ------------------------------------------------------------------------

  /**
   * The event stream, written by hand on the raw response (the reply is hijacked: fastify no longer
   * touches it). An SSE plugin would add a dependency for what is a header and `event:`/`data:`
   * lines, and this stream needs its own guard: a client that stops reading is dropped (#write).
   */
  #openStream(request: FastifyRequest, reply: FastifyReply, session: Session): void {
    if (this.#state !== 'started') throw new HttpError(503, 'the console is stopping');
    reply.hijack();
    const res = reply.raw;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(reply.getHeaders()))
      if (typeof value === 'string') headers[name] = value;
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    request.raw.socket.setNoDelay(true);
    request.raw.socket.setKeepAlive(true, HEARTBEAT_MS);
    const stream: Stream = { res, session };
    res.write('retry: 2000\n\n');
    this.#write(stream, 'snapshot', this.#snapshot(session));
    this.#streams.add(stream);
    session.streams.add(stream);
    res.on('close', () => this.#forgetStream(stream));
    if (this.#streams.size === 1) this.#startStatusTimer();
  }

  #snapshot(session: Session): ConsoleSnapshot {
    const entries = [...this.#entries.values(), ...session.privateReplies.values()].sort(
      (a, b) => a.seq - b.seq,
    );
    return {
      you: { user: session.user },
      title: this.#title,
      channel: this.#channel,
      maxMessages: this.#maxMessages,
      entries,
      status: this.#statusPayload,
    };
  }

  #write(stream: Stream, event: string, data: unknown): void {
    const res = stream.res;
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > MAX_STREAM_BACKLOG) {
      this.#log.warn({ user: stream.session.user }, 'web console: dropping a stream that does not keep up');
      res.destroy();
      return;
    }
    // JSON has no raw line breaks, so the data is one `data:` line.
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #broadcast(event: string, data: unknown, except?: Session): void {
    for (const stream of this.#streams) if (stream.session !== except) this.#write(stream, event, data);
  }

  #toSession(session: Session, event: string, data: unknown): void {
    for (const stream of session.streams) this.#write(stream, event, data);
  }

  #ping(): void {
    for (const stream of this.#streams) {
      if (!stream.res.destroyed && !stream.res.writableEnded) stream.res.write(': ping\n\n');
    }
  }

  #closeStream(stream: Stream): void {
    this.#forgetStream(stream);
    if (!stream.res.writableEnded) stream.res.end();
  }

  #forgetStream(stream: Stream): void {
    this.#streams.delete(stream);
    stream.session.streams.delete(stream);
    stream.session.lastSeen = Date.now();
    if (this.#streams.size === 0) this.#stopStatusTimer();
  }

  #startStatusTimer(): void {
    if (this.#status === undefined || this.#statusTimer !== undefined) return;
    void this.refreshStatus();
    this.#statusTimer = setInterval(() => void this.refreshStatus(), this.#statusIntervalMs);
    this.#statusTimer.unref();
  }

  #stopStatusTimer(): void {
    clearInterval(this.#statusTimer);
    this.#statusTimer = undefined;
  }

  // ---- commands --------------------------------------------------------------------------------

  /** What must hold before a command's body is read: a session, JSON, the console's own origin. */
  #commandGate() {
    return async (request: FastifyRequest): Promise<void> => {
      const session = this.#session(request);
      if (session === undefined) throw new HttpError(401, 'not signed in');
      this.#checkPost(request);
      this.#requestSessions.set(request, session);
    };
  }

  async #command(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const session = this.#requestSessions.get(request);
    if (session === undefined) throw new HttpError(401, 'not signed in');
    const { text: rawText, source, messageId } = (request.body ?? {}) as Record<string, unknown>;
    if (typeof rawText !== 'string') throw new HttpError(400, 'text must be a string');
    if (source !== 'slash-command' && source !== 'button')
      throw new HttpError(400, "source must be 'slash-command' or 'button'");
    if (messageId !== undefined && typeof messageId !== 'string')
      throw new HttpError(400, 'messageId must be a string');
    const text = normaliseCommand(rawText);
    if (text === '') throw new HttpError(400, 'empty command');
    if (text.length > MAX_COMMAND_TEXT)
      throw new HttpError(400, `the command is longer than ${MAX_COMMAND_TEXT} characters`);
    const handler = this.#handler;
    if (this.#state !== 'started' || handler === undefined)
      throw new HttpError(503, 'the console is stopping');
    // A click's public answer goes to the clicked message's thread, as on Slack.
    const clicked = messageId === undefined ? undefined : this.#entries.get(messageId);
    const pending: Reply = {
      id: `r-${this.#run}-${++this.#next}`,
      session,
      command: text,
      user: session.user,
      source,
      threadOf: source === 'button' && clicked !== undefined ? (clicked.threadOf ?? clicked.id) : undefined,
      entry: undefined,
    };
    const run = this.#runHandler(handler, pending);
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
    const entry = await run;
    const answer: CommandAnswer = {
      id: entry.id,
      private: entry.reply?.private === true,
      message: entry.message,
      entry,
    };
    return reply.send(answer);
  }

  async #runHandler(handler: CommandHandler, reply: Reply): Promise<ConsoleEntry> {
    const command: IncomingCommand = {
      platform: 'web',
      text: reply.command,
      userId: reply.user,
      userName: reply.user,
      roles: [],
      channelId: this.#channel,
      source: reply.source,
    };
    this.#log.info(
      { user: reply.user, source: reply.source, command: reply.command },
      'web console: command',
    );
    let answer: CommandReply;
    try {
      answer = await handler(command, {
        update: async (message) => {
          this.#putReply(reply, message, undefined);
        },
      });
    } catch (err) {
      this.#log.error(
        { user: reply.user, command: reply.command, err },
        'web console: command handler failed',
      );
      answer = { message: internalErrorMessage(), private: true };
    }
    return this.#putReply(reply, answer.message, answer.private === true);
  }

  /**
   * Show or replace a command's reply. `privately` undefined keeps the reply's visibility (public
   * when there is none yet, as on Slack). A private reply reaches only the session that asked.
   */
  #putReply(reply: Reply, message: Message, privately: boolean | undefined): ConsoleEntry {
    const before = reply.entry;
    const isPrivate = privately ?? before?.reply?.private ?? false;
    const now = new Date().toISOString();
    const details = { command: reply.command, user: reply.user, source: reply.source, private: isPrivate };
    const entry: ConsoleEntry =
      before === undefined
        ? {
            id: reply.id,
            seq: ++this.#seq,
            channel: this.#channel,
            ...(reply.threadOf === undefined ? {} : { threadOf: reply.threadOf }),
            message,
            postedAt: now,
            reply: details,
          }
        : { ...before, message, editedAt: now, reply: details };
    reply.entry = entry;
    const wasPrivate = before?.reply?.private;
    const session = reply.session;
    if (isPrivate) {
      if (wasPrivate === false) {
        // Was public (progress), is private now: the others no longer see it.
        this.#entries.delete(reply.id);
        this.#broadcast('remove', { id: reply.id }, session);
      }
      session.privateReplies.delete(reply.id);
      session.privateReplies.set(reply.id, entry);
      for (const oldest of session.privateReplies.keys()) {
        if (session.privateReplies.size <= MAX_PRIVATE_REPLIES) break;
        session.privateReplies.delete(oldest);
      }
      this.#toSession(session, 'reply', entry);
    } else {
      if (wasPrivate === true) session.privateReplies.delete(reply.id);
      this.#store(entry);
      this.#broadcast('reply', entry);
    }
    return entry;
  }
}
