// The web console platform over plain HTTP on 127.0.0.1: signing in with a token (a same-origin POST;
// a sign-in link or another site's form never signs in by itself), the throttle on failed sign-ins
// (per presented token, never per address), the session cookie, the API refusing requests without a
// session or from another site, commands and their
// public, private and progressively updated replies, the server-sent event stream (snapshot, then
// posts, edits, replies and status), and stopping. The page in a real browser is in
// test/system/web-console-browser.test.ts.

import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { consolePage, loginPage } from '../../src/adapters/web-console/page.js';
import {
  FAILURES_PER_TOKEN,
  GLOBAL_FAILURES_PER_MINUTE,
  MAX_TRACKED_TOKENS,
  SignInThrottle,
  TOKEN_WINDOW_MS,
} from '../../src/adapters/web-console/sign-in-throttle.js';
import {
  type CommandAnswer,
  type ConsoleEntry,
  type ConsoleStatus,
  hostStatus,
  normaliseCommand,
  parseWebUsers,
  SESSION_COOKIE,
  signInLink,
  type WebConsoleOptions,
  WebConsolePlatform,
  WebUsersError,
} from '../../src/adapters/web-console/web-console.js';
import { createLogger } from '../../src/app/log.js';
import { emptyHostState } from '../../src/core/host-state.js';
import { hexColour, type Message, TONE_EMOJI, TONE_LABELS } from '../../src/core/message-tones.js';
import type { CommandHandler, IncomingCommand } from '../../src/ports/chat.js';
import { onCleanup } from '../helpers/cleanup.js';
import { until } from '../helpers/wait.js';

/** The page's files as they are in the repository (served as they are). */
const browserFile = (name: string) =>
  readFileSync(new URL(`../../src/adapters/web-console/browser/${name}`, import.meta.url), 'utf8');
const APP_JS = browserFile('app.js');
const LOGIN_JS = browserFile('login.js');

const ALICE_TOKEN = 'alice-token-0123456789abcdef';
const BOB_TOKEN = 'bob-token-fedcba9876543210xyz';
const USERS = new Map([
  [ALICE_TOKEN, 'alice'],
  [BOB_TOKEN, 'bob'],
]);

const alert: Message = {
  title: 'r0: Split-brain',
  tone: 'critical',
  host: 'alpha',
  resource: 'r0',
  body: 'Split-brain on r0 with `beta`: *both sides changed*',
};

function capturedLog() {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return {
    logger: createLogger({ level: 'debug', format: 'json', destination }),
    text: () => chunks.join(''),
  };
}

interface Console {
  readonly platform: WebConsolePlatform;
  readonly base: string;
  readonly log: () => string;
  readonly commands: IncomingCommand[];
}

async function startConsole(
  handler?: CommandHandler,
  options: Partial<WebConsoleOptions> = {},
): Promise<Console> {
  const log = capturedLog();
  const platform = new WebConsolePlatform({ port: 0, users: USERS, logger: log.logger, ...options });
  const commands: IncomingCommand[] = [];
  await platform.start(async (command, context) => {
    commands.push(command);
    if (handler !== undefined) return handler(command, context);
    return { message: { title: `ran ${command.text}`, tone: 'info' }, private: true };
  });
  onCleanup(() => platform.stop());
  const base = platform.url;
  if (base === undefined) throw new Error('not listening');
  return { platform, base, log: log.text, commands };
}

/** POST /login (or /login/check) as the sign-in page's script sends it: JSON, the page's Origin. */
function signInPost(
  base: string,
  token: string,
  headers: Record<string, string> = { origin: base.slice(0, -1), 'sec-fetch-site': 'same-origin' },
  path = 'login',
): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ token }),
  });
}

/** Sign in with a token; answers the session cookie ("name=value"). */
async function login(base: string, token: string): Promise<string> {
  const res = await signInPost(base, token);
  expect(res.status).toBe(200);
  const [cookie] = res.headers.getSetCookie();
  if (cookie === undefined) throw new Error('no cookie');
  return cookie.split(';')[0] as string;
}

/** Every Set-Cookie that would start a session (a sign-out's empty cookie is none). */
function sessionCookies(res: Response): string[] {
  return res.headers.getSetCookie().filter((c) => new RegExp(`^${SESSION_COOKIE}=[^;]`).test(c));
}

async function answerOf(res: Response | Promise<Response>): Promise<CommandAnswer> {
  const response = await res;
  expect(response.status).toBe(200);
  return (await response.json()) as CommandAnswer;
}

function command(
  base: string,
  cookie: string | undefined,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}api/command`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(cookie === undefined ? {} : { cookie }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

interface SseEvent {
  readonly event: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, checked by the tests
  readonly data: any;
}

/** A text/event-stream reader: every event as it arrives, and `next` to take them in order. */
class EventReader {
  readonly events: SseEvent[] = [];
  ended = false;
  #taken = 0;
  readonly #abort = new AbortController();

  static async open(base: string, cookie: string): Promise<EventReader> {
    const reader = new EventReader();
    const res = await fetch(`${base}api/events`, { headers: { cookie }, signal: reader.#abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = res.body;
    if (body === null) throw new Error('no body');
    void reader.#pump(body);
    onCleanup(() => reader.close());
    return reader;
  }

  async #pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) this.events.push({ event, data: JSON.parse(data.join('\n')) });
        }
      }
    } catch {
      // aborted
    } finally {
      this.ended = true;
    }
  }

  /** The next event not taken yet (waits for it); it must be `event`. */
  async next(event: string): Promise<SseEvent> {
    await until(() => this.events.length > this.#taken, `an SSE event (${event})`, 5_000);
    const found = this.events[this.#taken++] as SseEvent;
    expect(found.event, JSON.stringify(found.data).slice(0, 200)).toBe(event);
    return found;
  }

  /** Events not taken yet. */
  pending(): SseEvent[] {
    return this.events.slice(this.#taken);
  }

  close(): void {
    this.#abort.abort();
  }
}

describe('parseWebUsers', () => {
  it('reads name:token pairs separated by commas or new lines', () => {
    const users = parseWebUsers(
      ` alice:${ALICE_TOKEN} ,bob:${BOB_TOKEN}\n# a comment\n\ncarol:${'c'.repeat(16)}:x`,
    );
    expect([...users]).toEqual([
      [ALICE_TOKEN, 'alice'],
      [BOB_TOKEN, 'bob'],
      [`${'c'.repeat(16)}:x`, 'carol'],
    ]);
  });

  it('names every problem, never the token', () => {
    const cases: [string, RegExp][] = [
      ['', /no users given/],
      [' , ', /no users given/],
      ['justatokenwithoutaname123', /entry 1: expected name:token/],
      ['alice:short', /entry 1: the token of alice is shorter than 16 characters/],
      [`1alice:${ALICE_TOKEN}`, /entry 1: "1alice" is not a user name/],
      [`al ice:${ALICE_TOKEN}`, /is not a user name/],
      [`:${ALICE_TOKEN}`, /"" is not a user name/],
      ['alice:token with spaces inside', /printable characters without spaces/],
      [`alice:${'x'.repeat(600)}`, /longer than 512/],
      [`alice:${ALICE_TOKEN},bob:${ALICE_TOKEN}`, /entry 2: bob has the same token as alice/],
    ];
    for (const [text, expected] of cases) {
      let error: unknown;
      try {
        parseWebUsers(text, 'DRBD_CHATOPS_WEB_USERS');
      } catch (err) {
        error = err;
      }
      expect(error, text).toBeInstanceOf(WebUsersError);
      const message = (error as Error).message;
      expect(message).toMatch(/^DRBD_CHATOPS_WEB_USERS: /);
      expect(message).toMatch(expected);
      expect(message).not.toContain(ALICE_TOKEN);
      expect(message).not.toContain('justatoken');
      expect(message).not.toContain('with spaces');
    }
  });

  it('lists several problems at once', () => {
    expect(() => parseWebUsers('alice:short,bob:alsoshort')).toThrow(
      /entry 1: the token of alice is shorter.*; entry 2: the token of bob is shorter/,
    );
  });

  it('the platform refuses users that parseWebUsers would refuse, and an empty list', () => {
    const { logger } = capturedLog();
    expect(() => new WebConsolePlatform({ port: 0, users: new Map(), logger })).toThrow(/no users/);
    expect(() => new WebConsolePlatform({ port: 0, users: new Map([['short', 'alice']]), logger })).toThrow(
      /shorter than 16/,
    );
  });
});

describe('SignInThrottle (time passed in)', () => {
  const MINUTE = 60_000;

  it('refuses a token after its failures, until its window has passed', () => {
    const throttle = new SignInThrottle();
    for (let i = 0; i < FAILURES_PER_TOKEN; i++)
      expect(throttle.failed('a', 1_000 + i)).toEqual({ kind: 'counted' });
    expect(throttle.failed('a', 2_000)).toEqual({
      kind: 'throttled',
      reason: 'token',
      retryAfterMs: 1_000 + TOKEN_WINDOW_MS - 2_000,
    });
    // Another token is counted as before.
    expect(throttle.failed('b', 2_000)).toEqual({ kind: 'counted' });
    // The window has passed: counted again, from one.
    expect(throttle.failed('a', 1_000 + TOKEN_WINDOW_MS)).toEqual({ kind: 'counted' });
    expect(throttle.tracked).toBe(2);
    throttle.sweep(1_000 + 2 * TOKEN_WINDOW_MS);
    expect(throttle.tracked).toBe(0);
  });

  it('answers failures over the global limit with 429, remembers none of them, and tells them once a minute', () => {
    const throttle = new SignInThrottle();
    const t0 = 10 * MINUTE;
    for (let i = 0; i < GLOBAL_FAILURES_PER_MINUTE; i++)
      expect(throttle.failed(`k${i}`, t0).kind).toBe('counted');
    const over = throttle.failed('one-more', t0);
    expect(over).toEqual({
      kind: 'throttled',
      reason: 'global',
      retryAfterMs: MINUTE / GLOBAL_FAILURES_PER_MINUTE,
    });
    for (let i = 0; i < 99; i++) expect(throttle.failed(`flood${i}`, t0 + 10).kind).toBe('throttled');
    expect(throttle.tracked).toBe(GLOBAL_FAILURES_PER_MINUTE);
    // Nothing to tell before a minute has passed since the first one over the limit; then the count.
    expect(throttle.takeSuppressed(t0 + MINUTE - 1)).toBeUndefined();
    expect(throttle.takeSuppressed(t0 + MINUTE)).toBe(100);
    expect(throttle.takeSuppressed(t0 + 2 * MINUTE)).toBeUndefined();
    // The allowance refills evenly: one a second.
    const later = t0 + 3 * (MINUTE / GLOBAL_FAILURES_PER_MINUTE);
    for (let i = 0; i < 3; i++) expect(throttle.failed(`r${i}`, later).kind).toBe('counted');
    expect(throttle.failed('r3', later).kind).toBe('throttled');
    // …up to a full minute's worth, no more.
    const rested = later + 10 * MINUTE;
    for (let i = 0; i < GLOBAL_FAILURES_PER_MINUTE; i++)
      expect(throttle.failed(`s${i}`, rested).kind).toBe('counted');
    expect(throttle.failed('s-over', rested).kind).toBe('throttled');
  });

  it('remembers at most MAX_TRACKED_TOKENS tokens, the oldest forgotten first', () => {
    const throttle = new SignInThrottle();
    const step = MINUTE / GLOBAL_FAILURES_PER_MINUTE;
    for (let i = 0; i <= MAX_TRACKED_TOKENS; i++)
      expect(throttle.failed(`k${i}`, i * step).kind).toBe('counted');
    expect(throttle.tracked).toBe(MAX_TRACKED_TOKENS);
  });

  it('a clock that steps back neither throws nor hands out allowance', () => {
    const throttle = new SignInThrottle();
    for (let i = 0; i < GLOBAL_FAILURES_PER_MINUTE; i++) throttle.failed(`k${i}`, 5 * MINUTE);
    expect(throttle.failed('x', 4 * MINUTE).kind).toBe('throttled');
    expect(throttle.failed('y', 5 * MINUTE).kind).toBe('throttled');
  });
});

describe('WebConsolePlatform: signing in', () => {
  it('a same-origin POST gives an HttpOnly SameSite=Strict session cookie', async () => {
    const { base, log } = await startConsole();
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await signInPost(base, ALICE_TOKEN);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user: 'alice' });
    const cookies = res.headers.getSetCookie();
    expect(cookies).toHaveLength(1);
    const cookie = cookies[0] as string;
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; `));
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain(ALICE_TOKEN);

    const page = await fetch(base, { headers: { cookie: cookie.split(';')[0] as string } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/app.js"></script>');
    expect(html).toContain('id="cmd-input"');
    expect(html).not.toContain(ALICE_TOKEN);

    const session = await fetch(`${base}api/session`, {
      headers: { cookie: cookie.split(';')[0] as string },
    });
    expect(await session.json()).toEqual({ user: 'alice' });
    expect(log()).not.toContain(ALICE_TOKEN);
    expect(log()).not.toContain(cookie.split(';')[0]?.split('=')[1]);
    expect(log()).toContain('"user":"alice"');
  });

  it('the form without the script: a redirect to /; its Origin: null passes only with Sec-Fetch-Site: same-origin', async () => {
    const { base } = await startConsole();
    const form = (headers: Record<string, string>, token = BOB_TOKEN) =>
      fetch(`${base}login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ token }).toString(),
      });
    // What Chromium sends for the page's own form under Referrer-Policy: no-referrer.
    const ok = await form({ origin: 'null', 'sec-fetch-site': 'same-origin' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    expect(sessionCookies(ok)).toHaveLength(1);
    // The same from a sandboxed frame on another site, or a browser that sends no Sec-Fetch-Site.
    for (const headers of [{ origin: 'null', 'sec-fetch-site': 'cross-site' }, { origin: 'null' }]) {
      const refused = await form(headers);
      expect(refused.status, JSON.stringify(headers)).toBe(403);
      expect(sessionCookies(refused)).toEqual([]);
    }
    const wrong = await form({ origin: base.slice(0, -1) }, 'nope-nope-nope-nope');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Unknown token.');
    expect(sessionCookies(wrong)).toEqual([]);
  });

  it('a cross-site sign-in attempt creates no session: foreign POSTs, and GET with the token', async () => {
    const { base, log, commands } = await startConsole();
    const own = base.slice(0, -1);
    const otherPort = `http://127.0.0.1:${Number(new URL(base).port) === 1 ? 2 : 1}`;
    const attempts: [string, () => Promise<Response>][] = [
      ['JSON, foreign Origin', () => signInPost(base, ALICE_TOKEN, { origin: 'https://evil.example' })],
      [
        'JSON, foreign Origin, claimed same-origin',
        () =>
          signInPost(base, ALICE_TOKEN, { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }),
      ],
      [
        'JSON, another port of this host',
        () => signInPost(base, ALICE_TOKEN, { origin: otherPort, 'sec-fetch-site': 'same-site' }),
      ],
      [
        'JSON, Sec-Fetch-Site: cross-site',
        () => signInPost(base, ALICE_TOKEN, { 'sec-fetch-site': 'cross-site' }),
      ],
      [
        'JSON, own Origin but Sec-Fetch-Site: cross-site',
        () => signInPost(base, ALICE_TOKEN, { origin: own, 'sec-fetch-site': 'cross-site' }),
      ],
      ['JSON, Origin: null', () => signInPost(base, ALICE_TOKEN, { origin: 'null' })],
      [
        'an auto-submitted form on another site',
        () =>
          fetch(`${base}login`, {
            method: 'POST',
            redirect: 'manual',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              origin: 'https://evil.example',
              'sec-fetch-site': 'cross-site',
            },
            body: `token=${ALICE_TOKEN}`,
          }),
      ],
      [
        'a text/plain form on another site',
        () =>
          fetch(`${base}login`, {
            method: 'POST',
            redirect: 'manual',
            headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
            body: `token=${ALICE_TOKEN}`,
          }),
      ],
    ];
    for (const [what, attempt] of attempts) {
      const res = await attempt();
      expect([403, 415], what).toContain(res.status);
      expect(sessionCookies(res), what).toEqual([]);
    }
    // Following a sign-in link (the token in the query, as older links had it), from another site or
    // not: the sign-in page, no session.
    for (const path of [`?token=${ALICE_TOKEN}`, `login?token=${ALICE_TOKEN}`]) {
      for (const site of ['cross-site', 'none']) {
        const res = await fetch(`${base}${path}`, {
          redirect: 'manual',
          headers: { 'sec-fetch-site': site },
        });
        expect([200, 401], path).toContain(res.status);
        expect(sessionCookies(res), `${path} ${site}`).toEqual([]);
        const html = await res.text();
        expect(html).toContain('<script type="module" src="/login.js"></script>');
        expect(html).not.toContain('app.js');
        expect(html).not.toContain(ALICE_TOKEN);
      }
    }
    // Nobody is signed in: commands without a cookie are refused and nothing ran.
    const run = await command(base, undefined, { text: 'status', source: 'slash-command' }, { origin: own });
    expect(run.status).toBe(401);
    expect((await fetch(`${base}api/session`)).status).toBe(401);
    expect(commands).toEqual([]);
    expect(log()).toContain('cross-site sign-in refused');
    expect(log()).toContain('evil.example');
    expect(log()).not.toContain('"user":"alice"');
    expect(log()).not.toContain(ALICE_TOKEN);
  });

  it('/login/check names the user of a token without signing in (the "Sign in as alice" page)', async () => {
    const { base } = await startConsole();
    const check = (token: string, headers?: Record<string, string>) =>
      signInPost(base, token, headers, 'login/check');
    const ok = await check(ALICE_TOKEN);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ user: 'alice' });
    expect(ok.headers.getSetCookie()).toEqual([]);
    expect((await check('unknown-token-0123456789')).status).toBe(401);
    expect((await check(ALICE_TOKEN, { origin: 'https://evil.example' })).status).toBe(403);
    const form = await fetch(`${base}login/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base.slice(0, -1) },
      body: `token=${ALICE_TOKEN}`,
    });
    expect(form.status).toBe(415);
    expect((await fetch(`${base}login/check`)).status).toBe(405);
  });

  it('the sign-in page: the link in the fragment, the current user, and a script that cleans the address', async () => {
    const { base } = await startConsole();
    expect(signInLink(base, 'a+b/c=d')).toBe(`${base}login#token=a%2Bb%2Fc%3Dd`);
    expect(signInLink('http://127.0.0.1:7780/', ALICE_TOKEN)).toBe(
      `http://127.0.0.1:7780/login#token=${ALICE_TOKEN}`,
    );
    const signedOut = await fetch(`${base}login`);
    expect(signedOut.status).toBe(200);
    const html = await signedOut.text();
    expect(html).toContain('id="confirm-button"');
    expect(html).toContain('action="/login"');
    expect(html).toContain('<meta name="referrer" content="no-referrer">');
    expect(html).not.toContain('You are signed in');
    const cookie = await login(base, BOB_TOKEN);
    const signedIn = await (await fetch(`${base}login`, { headers: { cookie } })).text();
    expect(signedIn).toContain('You are signed in as <strong>bob</strong>');
    // With a session, an older link (/?token=…) still gets the page that asks, not the console.
    const linked = await fetch(`${base}?token=${ALICE_TOKEN}`, { headers: { cookie } });
    expect(await linked.text()).toContain('You are signed in as <strong>bob</strong>');
    const script = await fetch(`${base}login.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const js = await script.text();
    expect(js).toBe(LOGIN_JS);
    expect(js).toContain('history.replaceState');
    expect(js).toContain("post('/login/check'");
    // The token is posted only by the button's click (or the typed form), never on load.
    // (The browser test clicks through it.)
    expect(js.match(/\bsignIn\(/g)).toHaveLength(3); // declared; called on submit and on the click
    expect(js).toMatch(
      /confirmButton\.addEventListener\('click', \(\) => \{\s*if \(linked !== null\) signIn\(linked/,
    );
    expect(js.match(/post\('\/login', /g)).toHaveLength(1);
  });

  it('every sign-in is a new random session', async () => {
    const { base } = await startConsole();
    const one = await login(base, ALICE_TOKEN);
    const two = await login(base, ALICE_TOKEN);
    expect(one).not.toBe(two);
  });

  it('a wrong or empty token, or none, gets no cookie; the token is never logged', async () => {
    const { base, log } = await startConsole();
    for (const [token, status] of [
      ['wrong-token-0123456789', 401],
      ['', 400],
      ['   ', 400],
      [`${ALICE_TOKEN}x`, 401],
    ] as const) {
      const res = await signInPost(base, token);
      expect(res.status, token).toBe(status);
      expect(res.headers.getSetCookie(), token).toEqual([]);
    }
    const notString = await fetch(`${base}login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base.slice(0, -1) },
      body: JSON.stringify({ token: 42 }),
    });
    expect(notString.status).toBe(400);
    const page = await fetch(base);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('action="/login"');
    // A made-up session cookie is no session.
    const forged = await fetch(base, { headers: { cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}` } });
    expect(forged.status).toBe(401);
    expect(log()).toContain('sign-in with an unknown token refused');
    expect(log()).not.toContain('wrong-token');
    expect(log()).not.toContain(ALICE_TOKEN);
  });

  it('many wrong tokens from one address do not stop the team from signing in', async () => {
    const { base, log } = await startConsole();
    // Distinct wrong tokens, all from 127.0.0.1: the first minute's allowance is answered one by one…
    for (let i = 0; i < GLOBAL_FAILURES_PER_MINUTE; i++) {
      expect((await signInPost(base, `guess-${i}-0123456789abcdef`)).status).toBe(401);
    }
    // …then the global limit answers 429 (the allowance refills by one a second, so keep going).
    let limited: Response | undefined;
    let answered = GLOBAL_FAILURES_PER_MINUTE;
    for (let i = 0; i < 500 && limited === undefined; i++) {
      const res = await signInPost(base, `more-${i}-0123456789abcdef`);
      if (res.status === 429) limited = res;
      else {
        expect(res.status).toBe(401);
        answered += 1;
      }
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited?.json()).toEqual({ error: expect.stringMatching(/^Too many failed sign-ins/) });
    // The valid tokens, from the same address, still sign in at once, and still get their names.
    const alice = await signInPost(base, ALICE_TOKEN);
    expect(alice.status).toBe(200);
    expect(sessionCookies(alice)).toHaveLength(1);
    const bob = await signInPost(base, BOB_TOKEN);
    expect(bob.status).toBe(200);
    expect(await signInPost(base, BOB_TOKEN, undefined, 'login/check').then((r) => r.json())).toEqual({
      user: 'bob',
    });
    // Only the failures answered 401 were logged one by one.
    const lines = log()
      .split('\n')
      .filter((l) => l.includes('sign-in with an unknown token refused'));
    expect(lines).toHaveLength(answered);
  });

  it('the same wrong token, retried, is refused for a while; a valid one is not', async () => {
    const { base } = await startConsole();
    const stale = 'revoked-token-0123456789';
    for (let i = 0; i < FAILURES_PER_TOKEN; i++) expect((await signInPost(base, stale)).status).toBe(401);
    const refused = await signInPost(base, stale);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);
    expect(await refused.json()).toEqual({
      error: expect.stringMatching(/^This token was refused too often/),
    });
    // Other tokens are not affected.
    expect((await signInPost(base, 'another-wrong-0123456789')).status).toBe(401);
    expect((await signInPost(base, ALICE_TOKEN)).status).toBe(200);
  });

  it('signing out ends the session', async () => {
    const { base } = await startConsole();
    const cookie = await login(base, ALICE_TOKEN);
    const events = await EventReader.open(base, cookie);
    await events.next('snapshot');
    const out = await fetch(`${base}api/logout`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie()[0]).toContain('Max-Age=0');
    await until(() => events.ended, 'the stream to end');
    expect((await fetch(`${base}api/session`, { headers: { cookie } })).status).toBe(401);
  });
});

describe('WebConsolePlatform: the API', () => {
  it('answers 401 without a session, and never runs the handler', async () => {
    const { base, commands } = await startConsole();
    expect((await fetch(`${base}api/events`)).status).toBe(401);
    expect((await fetch(`${base}api/session`)).status).toBe(401);
    const res = await command(base, undefined, { text: 'status', source: 'slash-command' });
    expect(res.status).toBe(401);
    const bad = await command(base, `${SESSION_COOKIE}=forged`, { text: 'status', source: 'slash-command' });
    expect(bad.status).toBe(401);
    expect(commands).toEqual([]);
  });

  it('refuses cross-site commands: foreign Origin, not JSON, too big, malformed', async () => {
    const { base, commands } = await startConsole();
    const cookie = await login(base, ALICE_TOKEN);
    const body = { text: 'status', source: 'slash-command' };
    expect((await command(base, cookie, body, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await command(base, cookie, body, { origin: 'null' })).status).toBe(403);
    expect((await command(base, cookie, body, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await command(base, cookie, body, { 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect(
      (await command(base, cookie, body, { origin: base.slice(0, -1), 'sec-fetch-site': 'cross-site' }))
        .status,
    ).toBe(403);
    expect((await command(base, cookie, body, { 'content-type': 'text/plain' })).status).toBe(415);
    expect(
      (await command(base, cookie, body, { 'content-type': 'application/x-www-form-urlencoded' })).status,
    ).toBe(415);
    expect((await command(base, cookie, { text: 'x'.repeat(20_000), source: 'button' })).status).toBe(413);
    expect((await command(base, cookie, '{not json')).status).toBe(400);
    expect((await command(base, cookie, { text: 'status', source: 'other' })).status).toBe(400);
    expect((await command(base, cookie, { text: '  /drbd  ', source: 'slash-command' })).status).toBe(400);
    expect(commands).toEqual([]);
    // Its own origin is fine.
    const own = await command(base, cookie, body, {
      origin: base.slice(0, -1),
      'sec-fetch-site': 'same-origin',
    });
    expect(own.status).toBe(200);
    expect(commands).toHaveLength(1);
  });

  it('refuses before reading the body: no session, another site, a body over the limit; 405 names the methods', async () => {
    const { base, commands } = await startConsole();
    const cookie = await login(base, ALICE_TOKEN);
    const big = JSON.stringify({ text: 'x'.repeat(40_000), source: 'slash-command' });
    // Without a session or from another site, even an oversized body is answered by who is asking.
    expect((await command(base, undefined, big)).status).toBe(401);
    expect((await command(base, cookie, big, { origin: 'https://evil.example' })).status).toBe(403);
    const tooBig = await command(base, cookie, big);
    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toEqual({ error: 'request body over 16384 bytes' });
    const signInTooBig = await signInPost(base, 'x'.repeat(5_000));
    expect(signInTooBig.status).toBe(413);
    expect(signInTooBig.headers.getSetCookie()).toEqual([]);
    // A JSON body that would set a prototype is refused as malformed.
    expect((await command(base, cookie, '{"__proto__":{"text":"status"},"source":"button"}')).status).toBe(
      400,
    );
    expect((await command(base, cookie, '')).status).toBe(400);
    expect(commands).toEqual([]);
    for (const [method, path, allow] of [
      ['PUT', 'api/command', 'POST'],
      ['GET', 'login/check', 'POST'],
      ['DELETE', 'login', 'GET, HEAD, POST'],
      ['POST', 'app.js', 'GET, HEAD'],
      ['HEAD', 'api/events', 'GET'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method, headers: { cookie } });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')?.split(', ').sort(), `${method} ${path}`).toEqual(
        allow.split(', ').sort(),
      );
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    }
  });

  it('sends the security headers; the API is never cached', async () => {
    const { base } = await startConsole();
    const cookie = await login(base, ALICE_TOKEN);
    for (const path of ['', 'login', 'login.js', 'app.js', 'app.css', 'api/session', 'nowhere']) {
      const res = await fetch(`${base}${path}`, { headers: { cookie } });
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      // A sign-in link's token never leaves in a Referer.
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    expect((await fetch(`${base}app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}api/command`)).status).toBe(405);
  });

  it("serves the page's own files: the scripts as modules, the style sheet after the tone colours", async () => {
    const { base } = await startConsole();
    const cookie = await login(base, ALICE_TOKEN);
    const html = await (await fetch(base, { headers: { cookie } })).text();
    // The tone marks come from the one table every renderer uses, as data for the script.
    const attribute = /<body class="console" data-tones="([^"]*)">/.exec(html)?.[1] ?? '';
    expect(JSON.parse(attribute.replaceAll('&quot;', '"').replaceAll('&amp;', '&'))).toEqual({
      emoji: TONE_EMOJI,
      labels: TONE_LABELS,
    });
    const app = await fetch(`${base}app.js`);
    expect(app.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await app.text()).toBe(APP_JS);
    expect(await (await fetch(`${base}login.js`)).text()).toBe(LOGIN_JS);
    const css = await fetch(`${base}app.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const sheet = await css.text();
    for (const tone of ['info', 'warning', 'critical', 'resolved', 'ok'] as const)
      expect(sheet).toContain(`.tone-${tone} { --tone: ${hexColour(tone)}; }`);
    expect(sheet.endsWith(browserFile('app.css'))).toBe(true);
    const icon = await fetch(`${base}favicon.svg`);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg /);
    // HEAD answers the headers only.
    const head = await fetch(`${base}app.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(Buffer.byteLength(APP_JS));
    expect(await head.text()).toBe('');
  });

  it('runs a command: public reply, private reply, progress updates replacing the reply', async () => {
    const { base, commands } = await startConsole(async (cmd, context) => {
      if (cmd.text === 'slow public') {
        await context.update({ title: 'working… 1/2', tone: 'info' });
        await context.update({ title: 'working… 2/2', tone: 'info' });
        return { message: { title: 'all done', tone: 'resolved', body: 'finished `r0`' } };
      }
      return { message: { title: `only for ${cmd.userName}`, tone: 'info' }, private: true };
    });
    const alice = await login(base, ALICE_TOKEN);
    const bob = await login(base, BOB_TOKEN);
    const aliceEvents = await EventReader.open(base, alice);
    const bobEvents = await EventReader.open(base, bob);
    await aliceEvents.next('snapshot');
    await bobEvents.next('snapshot');

    const answer = await answerOf(
      command(base, alice, { text: '/drbd slow public', source: 'slash-command' }),
    );
    expect(answer.private).toBe(false);
    expect(answer.message).toEqual({ title: 'all done', tone: 'resolved', body: 'finished `r0`' });
    expect(answer.entry.reply).toEqual({
      command: 'slow public',
      user: 'alice',
      source: 'slash-command',
      private: false,
    });
    expect(commands[0]).toEqual({
      platform: 'web',
      text: 'slow public',
      userId: 'alice',
      userName: 'alice',
      roles: [],
      channelId: 'web',
      source: 'slash-command',
    });
    // Everyone sees the reply and its progress, all as one reply (one id), the last version last.
    for (const events of [aliceEvents, bobEvents]) {
      const versions = [await events.next('reply'), await events.next('reply'), await events.next('reply')];
      expect(versions.map((v) => v.data.message.title)).toEqual(['working… 1/2', 'working… 2/2', 'all done']);
      expect(new Set(versions.map((v) => v.data.id))).toEqual(new Set([answer.id]));
      expect(versions[2]?.data.editedAt).toBeDefined();
    }

    const privAnswer = await answerOf(command(base, alice, { text: 'whoami', source: 'slash-command' }));
    expect(privAnswer).toMatchObject({ private: true, message: { title: 'only for alice' } });
    const seen = await aliceEvents.next('reply');
    expect(seen.data).toMatchObject({ id: privAnswer.id, reply: { private: true, user: 'alice' } });
    // Bob never gets alice's private reply, not live and not in a new snapshot; alice's next snapshot has it.
    await new Promise((r) => setTimeout(r, 100));
    expect(bobEvents.pending()).toEqual([]);
    const bobAgain = await EventReader.open(base, bob);
    const bobSnapshot = (await bobAgain.next('snapshot')).data;
    expect(bobSnapshot.entries.map((e: ConsoleEntry) => e.id)).toEqual([answer.id]);
    const aliceAgain = await EventReader.open(base, alice);
    const aliceSnapshot = (await aliceAgain.next('snapshot')).data;
    expect(aliceSnapshot.entries.map((e: ConsoleEntry) => e.id)).toEqual([answer.id, privAnswer.id]);
    expect(aliceSnapshot.you).toEqual({ user: 'alice' });
  });

  it('a reply that turns private disappears for the others', async () => {
    const { base } = await startConsole(async (_cmd, context) => {
      await context.update({ title: 'checking…', tone: 'info' });
      return { message: { title: 'refused', tone: 'warning' }, private: true };
    });
    const alice = await login(base, ALICE_TOKEN);
    const bob = await login(base, BOB_TOKEN);
    const bobEvents = await EventReader.open(base, bob);
    await bobEvents.next('snapshot');
    const answer = await answerOf(command(base, alice, { text: 'x', source: 'slash-command' }));
    expect((await bobEvents.next('reply')).data.message.title).toBe('checking…');
    expect((await bobEvents.next('remove')).data).toEqual({ id: answer.id });
  });

  it("a button click's public reply goes to the clicked message's thread", async () => {
    const { base, platform, commands } = await startConsole(async () => ({
      message: { title: 'Confirmed', tone: 'info' },
    }));
    const plan = await platform.post(
      'web',
      {
        title: 'ip set web1',
        tone: 'info',
        actions: [{ id: 'confirm', label: 'Confirm', command: 'confirm 0a1b2c3d' }],
      },
      { idempotencyKey: 'operation:0a1b2c3d' },
    );
    const alice = await login(base, ALICE_TOKEN);
    const answer = await answerOf(
      command(base, alice, { text: 'confirm 0a1b2c3d', source: 'button', messageId: plan.messageId }),
    );
    expect(answer.entry.threadOf).toBe(plan.messageId);
    expect(commands[0]?.source).toBe('button');
  });

  it('a failing handler answers an internal error, privately', async () => {
    const { base, log } = await startConsole(async () => {
      throw new Error('boom');
    });
    const alice = await login(base, ALICE_TOKEN);
    const answer = await answerOf(command(base, alice, { text: 'status', source: 'slash-command' }));
    expect(answer).toMatchObject({ private: true, message: { title: 'Internal error', tone: 'critical' } });
    expect(log()).toContain('command handler failed');
  });
});

describe('WebConsolePlatform: the channel and the event stream', () => {
  it('streams a snapshot first, then posts, thread replies and edits in place', async () => {
    const { base, platform } = await startConsole(undefined, { title: 'Pair <one>' });
    const early = await platform.post('web', alert, { idempotencyKey: 'k1' });
    const cookie = await login(base, ALICE_TOKEN);
    const events = await EventReader.open(base, cookie);
    const snapshot = (await events.next('snapshot')).data;
    expect(snapshot).toMatchObject({
      you: { user: 'alice' },
      title: 'Pair <one>',
      channel: 'web',
      status: { status: null, at: null },
    });
    expect(snapshot.entries).toEqual([
      expect.objectContaining({ id: early.messageId, channel: 'web', message: alert, seq: 1 }),
    ]);

    const reply = await platform.post(
      'web',
      { title: 'r0: Connection restored', tone: 'resolved' },
      { idempotencyKey: 'k2', threadOf: early.messageId },
    );
    const posted = (await events.next('post')).data;
    expect(posted).toMatchObject({ id: reply.messageId, threadOf: early.messageId });
    // A reply to a reply belongs to the same thread.
    const nested = await platform.post('web', alert, { idempotencyKey: 'k3', threadOf: reply.messageId });
    expect((await events.next('post')).data.threadOf).toBe(early.messageId);
    expect(nested.messageId).not.toBe(reply.messageId);

    const resolved: Message = { ...alert, title: 'r0: split-brain — resolved', tone: 'resolved' };
    await platform.update('web', early.messageId, resolved);
    const edited = (await events.next('update')).data;
    expect(edited).toMatchObject({ id: early.messageId, seq: 1, message: resolved });
    expect(typeof edited.editedAt).toBe('string');
    // In place: still the first message, and only once.
    expect(platform.messages().map((m) => m.id)).toEqual([
      early.messageId,
      reply.messageId,
      nested.messageId,
    ]);
    expect(platform.messages()[0]?.message.title).toBe('r0: split-brain — resolved');
    // The title is escaped into the HTML.
    expect(await (await fetch(base, { headers: { cookie } })).text()).toContain(
      '<title>Pair &lt;one&gt;</title>',
    );
  });

  it('posts are idempotent per key, and findPosted finds them', async () => {
    const { base, platform } = await startConsole();
    const cookie = await login(base, ALICE_TOKEN);
    const events = await EventReader.open(base, cookie);
    await events.next('snapshot');
    const first = await platform.post('web', alert, { idempotencyKey: 'incident:r0/split-brain' });
    const again = await platform.post(
      'web',
      { ...alert, title: 'other' },
      { idempotencyKey: 'incident:r0/split-brain' },
    );
    expect(again).toEqual(first);
    expect(await platform.findPosted('web', 'incident:r0/split-brain')).toEqual(first);
    expect(await platform.findPosted('web', 'nothing')).toBeUndefined();
    await events.next('post');
    await new Promise((r) => setTimeout(r, 50));
    expect(events.pending()).toEqual([]);
    expect(platform.messages()).toHaveLength(1);
  });

  it('an edit of a message it does not know (from before a restart) shows it again', async () => {
    const { platform } = await startConsole();
    await platform.update('web', 'm-old-7', alert);
    expect(platform.messages()).toEqual([
      expect.objectContaining({ id: 'm-old-7', message: alert, editedAt: expect.any(String) }),
    ]);
  });

  it('keeps at most maxMessages, oldest dropped first', async () => {
    const { platform } = await startConsole(undefined, { maxMessages: 3 });
    for (let i = 1; i <= 5; i++)
      await platform.post('web', { title: `n${i}`, tone: 'info' }, { idempotencyKey: `k${i}` });
    expect(platform.messages().map((m) => m.message.title)).toEqual(['n3', 'n4', 'n5']);
    // The key of a dropped message still dedupes a late retry.
    expect(await platform.findPosted('web', 'k1')).toBeDefined();
  });

  it('delivers message text with markup as data; the page script never parses it as HTML', async () => {
    const { base, platform } = await startConsole();
    const cookie = await login(base, ALICE_TOKEN);
    const events = await EventReader.open(base, cookie);
    await events.next('snapshot');
    const evil: Message = {
      title: '<script>alert(1)</script>',
      tone: 'warning',
      body: '<img src=x onerror=alert(2)> `</code><b>` *<i>x</i>*',
      fields: [{ label: '<b>label</b>', value: '<svg onload=alert(3)>' }],
      actions: [{ id: 'a', label: '<u>Go</u>', command: 'status "><script>' }],
    };
    await platform.post('web', evil, { idempotencyKey: 'evil' });
    expect((await events.next('post')).data.message).toEqual(evil);

    // The script builds everything with textContent; no HTML parsing APIs at all.
    const js = await (await fetch(`${base}app.js`)).text();
    expect(js).toBe(APP_JS);
    for (const api of [
      'innerHTML',
      'outerHTML',
      'insertAdjacentHTML',
      'document.write',
      'eval(',
      'new Function',
      'DOMParser',
      'createContextualFragment',
      'srcdoc',
    ]) {
      expect(js, api).not.toContain(api);
      expect(LOGIN_JS, api).not.toContain(api);
    }
    expect(js).toContain('textContent');
    expect(LOGIN_JS).toContain('textContent');
    // No inline script or style in the pages (the CSP would block it anyway).
    for (const html of [consolePage('t'), loginPage('t', { problem: 'problem', as: 'alice' })]) {
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)/);
      expect(html).not.toMatch(/\son[a-z]+=/i);
      expect(html).not.toContain('style=');
    }
    expect(loginPage('<b>', { problem: '<i>', as: '<u>' })).not.toMatch(/<b>|<i>|<u>/);
  });
});

describe('WebConsolePlatform: the status panel', () => {
  const statusWith = (connection: string): ConsoleStatus => ({
    leader: 'alpha',
    token: 3,
    onCall: ['alice'],
    hosts: [
      {
        host: 'alpha',
        reachable: true,
        resources: [
          {
            name: 'r0',
            role: 'Primary',
            disk: 'UpToDate',
            connection,
            replication: 'Established',
            peerDisk: 'UpToDate',
          },
        ],
      },
      { host: 'beta', reachable: false, resources: [] },
    ],
  });

  it('asks for the status while someone is connected and pushes it when it changed', async () => {
    let current = statusWith('Connected');
    let calls = 0;
    const { base } = await startConsole(undefined, {
      statusIntervalMs: 30,
      status: async () => {
        calls++;
        return current;
      },
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(0); // nobody is looking
    const cookie = await login(base, ALICE_TOKEN);
    const events = await EventReader.open(base, cookie);
    await events.next('snapshot');
    const first = (await events.next('status')).data;
    expect(first.status).toEqual(current);
    expect(typeof first.at).toBe('string');
    // Unchanged: nothing more is pushed, though it keeps asking.
    await until(() => calls >= 4, 'a few more status calls');
    expect(events.pending()).toEqual([]);
    current = statusWith('StandAlone');
    expect((await events.next('status')).data.status.hosts[0].resources[0].connection).toBe('StandAlone');
    // A new page gets the latest status in its snapshot.
    const other = await EventReader.open(base, cookie);
    expect((await other.next('snapshot')).data.status.status).toEqual(current);
    // Everyone gone: it stops asking.
    events.close();
    other.close();
    await until(() => true, '');
    await new Promise((r) => setTimeout(r, 100));
    const settled = calls;
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toBe(settled);
  });

  it('shows when the status cannot be read, keeping the last one', async () => {
    let fail = false;
    const { base } = await startConsole(undefined, {
      statusIntervalMs: 30,
      status: async () => {
        if (fail) throw new Error('peer link down');
        return statusWith('Connected');
      },
    });
    const cookie = await login(base, ALICE_TOKEN);
    const events = await EventReader.open(base, cookie);
    await events.next('snapshot');
    await events.next('status');
    fail = true;
    const failed = (await events.next('status')).data;
    expect(failed.error).toBe('peer link down');
    expect(failed.status).toEqual(statusWith('Connected'));
  });

  it('hostStatus turns a host view into a panel host', () => {
    expect(hostStatus('beta', undefined)).toEqual({ host: 'beta', reachable: false, resources: [] });
    expect(hostStatus('alpha', emptyHostState('alpha'))).toEqual({
      host: 'alpha',
      reachable: true,
      resources: [],
    });
    const state = {
      host: 'alpha',
      resources: {
        r0: {
          name: 'r0',
          fields: { role: 'Primary' },
          devices: { 0: { volume: 0, fields: { disk: 'UpToDate' } } },
          connections: {
            beta: {
              peer: 'beta',
              fields: { connection: 'Connected' },
              paths: {},
              peerDevices: {
                0: {
                  volume: 0,
                  fields: { replication: 'SyncSource', 'peer-disk': 'Inconsistent' },
                  resync: { startedAt: 0, source: true, donePercent: 42.345 },
                },
              },
            },
          },
        },
      },
    };
    expect(hostStatus('alpha', state)).toEqual({
      host: 'alpha',
      reachable: true,
      resources: [
        {
          name: 'r0',
          role: 'Primary',
          disk: 'UpToDate',
          connection: 'Connected',
          replication: 'SyncSource',
          peerDisk: 'Inconsistent',
          syncPercent: 42.3,
        },
      ],
    });
  });
});

describe('WebConsolePlatform: stopping', () => {
  it('stop() ends the streams, waits for running commands, and the port can start again', async () => {
    let release: () => void = () => {};
    const { base, platform } = await startConsole(async () => {
      await new Promise<void>((r) => {
        release = r;
      });
      return { message: { title: 'finished', tone: 'info' }, private: true };
    });
    const cookie = await login(base, ALICE_TOKEN);
    const events = await EventReader.open(base, cookie);
    await events.next('snapshot');
    const running = command(base, cookie, { text: 'slow', source: 'slash-command' });
    await until(() => platform.connections === 1, 'the stream');
    await new Promise((r) => setTimeout(r, 50));
    let stopped = false;
    const stopping = platform.stop().then(() => {
      stopped = true;
    });
    await until(() => events.ended, 'the event stream to end');
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false); // the command is still running
    release();
    const answer = await answerOf(running);
    expect(answer.message.title).toBe('finished');
    await stopping;
    expect(platform.address).toBeUndefined();
    await expect(fetch(base)).rejects.toThrow();

    // Started again (leadership came back): the channel is still there.
    await platform.post('web', alert, { idempotencyKey: 'after' });
    await platform.start(async () => ({ message: { title: 'ok', tone: 'info' } }));
    const again = platform.url as string;
    const cookie2 = await login(again, ALICE_TOKEN);
    const events2 = await EventReader.open(again, cookie2);
    expect((await events2.next('snapshot')).data.entries).toHaveLength(1);
  });

  it('normaliseCommand takes /drbd, a leading slash and spaces off', () => {
    expect(normaliseCommand('  /drbd   status r0 ')).toBe('status r0');
    expect(normaliseCommand('/status r0')).toBe('status r0');
    expect(normaliseCommand('ip set web1 198.51.100.20')).toBe('ip set web1 198.51.100.20');
    expect(normaliseCommand('/drbd')).toBe('');
    expect(normaliseCommand('/drbdx')).toBe('drbdx');
  });
});
