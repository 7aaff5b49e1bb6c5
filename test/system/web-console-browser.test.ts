// The web console in a real browser: Debian's chromium driven by playwright-core (never a
// downloaded browser). The real daemon runs on the DRBD simulator with simulated LXD containers and
// the web console as its only chat platform. Someone follows a sign-in link and confirms "Sign in as
// alice" (a link, or a form on another site, never signs anyone in by itself), watches the status
// panel, sees a split-brain arrive as a red critical alert, types `ip set` in the command line,
// clicks Confirm on the plan, and sees the plan message edited in place until it says done.
// On a phone (390×844, touch) the status panel is folded above the channel to one line that names
// what is wrong, the channel and the command line are in view and answer; on a desktop the layout is
// the two columns it always was. Screenshots (after the split-brain alert, after the change, phone
// and desktop) are kept in test-artifacts/ at the repository root.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  type ConsoleStatus,
  hostStatus,
  SESSION_COOKIE,
  signInLink,
  WebConsolePlatform,
} from '../../src/adapters/web-console/web-console.js';
import { parseConfig } from '../../src/app/config.js';
import type { Daemon } from '../../src/app/daemon.js';
import { startDemoPair } from '../../src/app/demo-pair.js';
import type { HostState } from '../../src/core/host-state.js';
import { hexColour } from '../../src/core/message-tones.js';
import { HostWatcher } from '../../src/core/watcher.js';
import type { SimulatedPair } from '../../src/sim/pair.js';
import {
  IP_SET,
  logger,
  NEW_ADDRESS,
  type PairEnv,
  SIM_BIN,
  SUBNET,
  setupPair,
  simContainer,
  startDaemon,
  waitForFinished,
} from '../e2e/approvals-harness.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');
const VIEWPORT = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const WAIT = { timeout: 20_000 };

function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The web console browser test needs Debian's chromium at ${CHROMIUM}. Install it with ` +
        '`apt-get install -y --no-install-recommends chromium` (never `npx playwright install`: ' +
        'playwright-core drives the Debian package).',
    );
  }
}

/**
 * A browser with a fresh profile, closed after the test; every console error and page error kept.
 * `phone`: a 390×844 touch screen that honours the page's viewport tag, as a phone's browser does.
 */
async function openBrowser(
  device: 'desktop' | 'phone' = 'desktop',
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  requireChromium();
  const context = await chromium.launchPersistentContext(tempDir('drbd-chatops-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    ...(device === 'phone'
      ? { viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 1 }
      : { viewport: VIEWPORT }),
  });
  onCleanup(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  // A CSP violation, a failed request or a script error shows up here.
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { context, page, problems };
}

/** beta's own view, as its events2 dump shows it (the pair has no peer link in this test). */
function betaView(pair: SimulatedPair): HostState {
  const watcher = new HostWatcher('beta');
  const now = Date.now();
  for (const line of pair.eventsNow('beta', { statistics: true })) watcher.feed(line, now);
  return watcher.watch.state;
}

function isPng(path: string): { width: number; height: number; bytes: number } {
  const data = readFileSync(path);
  expect(data.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  expect(data.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20), bytes: data.length };
}

async function screenshot(page: Page, name: string, size = VIEWPORT): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  rmSync(path, { force: true });
  await page.screenshot({ path });
  const png = isPng(path);
  expect(png).toMatchObject(size);
  // A blank page compresses to a few kilobytes; this one has text, colours and a panel.
  expect(png.bytes).toBeGreaterThan(20_000);
}

/** The daemon on the simulator with the web console as its only platform; alice may sign in. */
async function webBot(env: PairEnv, token: string) {
  let daemon: Daemon | undefined;
  const status = async (): Promise<ConsoleStatus> => ({
    leader: 'alpha',
    token: daemon?.elector?.state.token ?? 0,
    onCall: ['alice'],
    hosts: [hostStatus('alpha', daemon?.watch?.watcher.watch.state), hostStatus('beta', betaView(env.pair))],
  });
  const platform = new WebConsolePlatform({
    port: 0,
    users: new Map([[token, 'alice']]),
    title: 'drbd-chatops · alpha + beta',
    status,
    statusIntervalMs: 250,
    logger,
  });
  const config = parseConfig({
    host: 'alpha',
    stateDir: env.stateDir,
    log: { level: 'silent', format: 'json' },
    drbd: { drbdsetup: SIM_BIN, env: { DRBD_SIM_DIR: env.simDir, DRBD_SIM_HOST: 'alpha' } },
    resources: { r0: { subnets: [SUBNET] } },
    lxd: { stopTimeoutS: 5, verifyTimeoutMs: 2_000 },
    oncall: {
      team: [
        { name: 'alice', web: 'alice' },
        { name: 'bob', web: 'bob' },
      ],
      static: ['alice'],
      announce: false,
    },
    routes: [{ platform: 'web', channel: 'web' }],
  });
  daemon = await startDaemon(env, config, new Map([['web', platform]]));
  const url = platform.url;
  if (url === undefined) throw new Error('the web console is not listening');
  return { daemon, platform, url };
}

/**
 * Follow a sign-in link: the page takes the token out of the address and asks "Sign in as USER";
 * the click signs in and opens the console.
 */
async function signInThroughLink(page: Page, link: string, user: string): Promise<void> {
  await page.goto(link);
  await confirmSignIn(page, user);
}

/** On the page a sign-in link opened: "Sign in as USER" is offered, the token has left the address. */
async function confirmSignIn(page: Page, user: string): Promise<void> {
  const button = page.getByRole('button', { name: `Sign in as ${user}` });
  await button.waitFor(WAIT);
  expect(page.url()).not.toContain('token');
  await button.click();
  await page.locator('body[data-ready="true"]').waitFor(WAIT);
}

/** The console's session cookies the browser holds. */
async function sessionCookies(context: BrowserContext, url: string) {
  return (await context.cookies(url)).filter((c) => c.name === SESSION_COOKIE && c.value !== '');
}

/** The article of the first message whose title matches. */
function messageTitled(page: Page, title: string | RegExp) {
  return page
    .locator('article.msg')
    .filter({ has: page.locator(':scope > .msg-head .title', { hasText: title }) });
}

/** An element's box on the page; it must be laid out (visible). */
async function boxOf(locator: ReturnType<Page['locator']>) {
  const box = await locator.boundingBox();
  if (box === null) throw new Error(`${locator} has no box: it is not shown`);
  return box;
}

/** How wide the page's content is (wider than the screen: it scrolls sideways). */
function pageWidth(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
        .documentElement.scrollWidth,
  );
}

/** Type a command in the command line and wait for its answer (the newest reply with that title). */
async function runCommand(page: Page, text: string, answerTitle: RegExp) {
  const input = page.locator('#cmd-input');
  await input.fill(text);
  await input.press('Enter');
  const answer = page
    .locator('article.msg.reply')
    .filter({ has: page.locator('.reply-by .ran', { hasText: `/drbd ${text}` }) })
    .filter({ has: page.locator(':scope > .msg-head .title', { hasText: answerTitle }) })
    .last();
  await answer.waitFor(WAIT);
  return answer;
}

/** The browser's getComputedStyle, typed here (the tests compile without the DOM library). */
interface Styles {
  getComputedStyle(element: unknown): { borderLeftColor: string };
}

function hexToRgb(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}

describe('the web console in Debian’s chromium', () => {
  it('shows a split-brain alert in red, runs ip set from the command line and its Confirm button', async () => {
    const env = setupPair();
    const token = randomBytes(24).toString('base64url');
    const { daemon, platform, url } = await webBot(env, token);
    const { context, page, problems } = await openBrowser();

    // An older sign-in link (the token in the query): the page asks first; the token has left the
    // address bar, and nothing is signed in until the click.
    await page.goto(`${url}?token=${token}`);
    const signIn = page.getByRole('button', { name: 'Sign in as alice' });
    await signIn.waitFor(WAIT);
    expect(page.url()).toBe(url);
    expect(await sessionCookies(context, url)).toEqual([]);
    await signIn.click();
    await page.locator('body[data-ready="true"]').waitFor(WAIT);
    expect(page.url()).toBe(url);
    expect(await sessionCookies(context, url)).toHaveLength(1);
    await expect.poll(() => page.locator('#who').textContent()).toBe('signed in as alice');
    await expect.poll(() => page.locator('#conn').textContent()).toBe('live');

    // The status panel: both hosts, r0 healthy on each, the leader and who is on call.
    const alphaR0 = page.locator('.host[data-host="alpha"] .res[data-resource="r0"]');
    const betaR0 = page.locator('.host[data-host="beta"] .res[data-resource="r0"]');
    await alphaR0.waitFor(WAIT);
    await expect.poll(() => alphaR0.locator('[data-k="role"] .v').textContent()).toBe('Primary');
    await expect.poll(() => betaR0.locator('[data-k="role"] .v').textContent()).toBe('Secondary');
    expect(await alphaR0.getAttribute('class')).not.toContain('unhealthy');
    expect(await page.locator('.host[data-host="alpha"] .badge.leader').textContent()).toBe('leader');
    expect(await page.locator('.summary').textContent()).toContain('alice');

    // Markup in a message, and in a typed command, is shown as text and never runs.
    const markup = '<img src=x onerror="window.__pwned=1">';
    await platform.post(
      'web',
      {
        title: `${markup} in a title`,
        tone: 'warning',
        body: `<script>window.__pwned=2</script> \`${markup}\``,
      },
      { idempotencyKey: 'markup-check' },
    );
    const marked = messageTitled(page, 'in a title');
    await marked.waitFor(WAIT);
    expect(await marked.locator('.title').textContent()).toBe(`${markup} in a title`);
    expect(await marked.locator('.body').textContent()).toBe(`<script>window.__pwned=2</script> ${markup}`);
    expect(await marked.locator('.body code').textContent()).toBe(markup);
    await page.locator('#cmd-input').fill(`ip show ${markup}`);
    await page.locator('#cmd-input').press('Enter');
    const typed = page.locator('article.msg.private .reply-by .ran', { hasText: 'ip show <img' });
    await typed.waitFor(WAIT);
    expect(await typed.textContent()).toBe(`/drbd ip show ${markup}`);
    expect(await page.locator('#messages img, #messages script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();

    // A split-brain on r0: the critical alert arrives live, with the critical colour. (The incident's
    // parent is about the replication link; the split-brain itself is told in the alert text.)
    env.pair.splitBrain('r0');
    // The alert itself is in the incident's thread (the parent repeats its text with the recovery).
    const alertMessage = page
      .locator('.thread article.msg.tone-critical', { hasText: 'Split-brain on r0' })
      .first();
    await alertMessage.waitFor(WAIT);
    const incident = page.locator('.item', { has: alertMessage }).locator(':scope > article.msg');
    expect(await incident.getAttribute('class')).toContain('tone-critical');
    expect(await incident.locator('.title').textContent()).toMatch(/^r0: /);
    expect(await alertMessage.locator('.tone-label').first().textContent()).toBe('CRITICAL');
    expect(
      await alertMessage.evaluate(
        (e) => (globalThis as unknown as Styles).getComputedStyle(e).borderLeftColor,
      ),
    ).toBe(hexToRgb(hexColour('critical')));
    // …and the panel shows r0 unhealthy on alpha (StandAlone after the split-brain).
    await expect.poll(() => alphaR0.getAttribute('class'), { timeout: 20_000 }).toContain('unhealthy');
    await expect
      .poll(() => alphaR0.locator('[data-k="connection"]').getAttribute('class'), { timeout: 20_000 })
      .toContain('bad');
    await screenshot(page, 'web-console-split-brain.png');

    // The incident's thread folds away and back.
    const thread = page.locator('.item', { has: alertMessage }).locator(':scope > .thread');
    const toggle = thread.locator('.thread-toggle');
    expect(await toggle.textContent()).toMatch(/^▾ \d+ repl(y|ies)$/);
    await toggle.click();
    await alertMessage.waitFor({ state: 'hidden', ...WAIT });
    expect(await toggle.textContent()).toMatch(/^▸ /);
    await toggle.click();
    await alertMessage.waitFor(WAIT);

    // ip set from the command line: a private answer, and the plan with its buttons in the channel.
    await page.locator('#cmd-input').fill(`/drbd ${IP_SET}`);
    await page.locator('#cmd-input').press('Enter');
    const answer = page.locator('article.msg.private', { hasText: /Plan [0-9a-f]{8} posted/ });
    await answer.waitFor(WAIT);
    const plan = messageTitled(page, /^ip set web1 198\.51\.100\.20: waiting for confirmation$/);
    await plan.waitFor(WAIT);
    const planId = await plan.getAttribute('data-id');
    expect(planId).toMatch(/^m-/);
    const buttons = plan.locator('.actions button');
    expect(await buttons.allTextContents()).toEqual(['Confirm', 'Cancel']);
    const confirm = await plan
      .locator('.actions button', { hasText: 'Confirm' })
      .getAttribute('data-command');
    const operation = /^confirm ([0-9a-f]{8})$/.exec(confirm ?? '')?.[1];
    expect(operation, `the Confirm button's command: ${confirm}`).toBeDefined();

    await plan.locator('.actions button', { hasText: 'Confirm' }).click();
    // The same message, edited in place until it says done; its buttons are gone.
    const samePlan = page.locator(`article.msg[data-id="${planId}"]`);
    await expect
      .poll(() => samePlan.locator('.title').textContent(), { timeout: 30_000 })
      .toMatch(/^ip set web1 198\.51\.100\.20: done in /);
    expect(await samePlan.getAttribute('class')).toContain('tone-ok');
    expect(await samePlan.locator('.edited').count()).toBe(1);
    expect(await samePlan.locator('.actions').count()).toBe(0);
    expect(await page.locator(`article.msg[data-id="${planId}"]`).count()).toBe(1);
    expect(await samePlan.locator('.field .value').allTextContents()).toContainEqual(
      expect.stringContaining('✅ Check 198.51.100.20 is up'),
    );
    await waitForFinished(env, operation as string);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
    await screenshot(page, 'web-console-after-change.png');

    expect(problems).toEqual([]);
    expect(daemon.outbox.depth).toBe(0);
  });

  it('on a phone: status folded above the channel, the command line answers; on a desktop: two columns', async () => {
    const env = setupPair();
    const token = randomBytes(24).toString('base64url');
    const { url } = await webBot(env, token);
    const phone = await openBrowser('phone');
    const { page } = phone;
    await signInThroughLink(page, signInLink(url, token), 'alice');

    // Folded: one line that says who leads and that all is well; the panel's content is hidden.
    const toggle = page.locator('#status-toggle');
    const summary = page.locator('#status-summary');
    const body = page.locator('#status-body');
    await expect.poll(() => summary.textContent(), WAIT).toBe('alpha leads · all healthy');
    expect(await summary.getAttribute('class')).toContain('ok');
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await body.isVisible()).toBe(false);
    expect(await page.locator('.status-head').isVisible()).toBe(false);
    // Above the channel, which fills the rest; the command line is on screen, wide enough to type in.
    const fold = await boxOf(toggle);
    const messages = await boxOf(page.locator('#messages'));
    const input = page.locator('#cmd-input');
    const line = await boxOf(input);
    expect(fold.y + fold.height).toBeLessThanOrEqual(messages.y + 1);
    expect(fold.height).toBeGreaterThanOrEqual(44); // a finger's tap
    expect(messages.height).toBeGreaterThan(PHONE.height / 2);
    expect(line.y).toBeGreaterThan(messages.y + messages.height - 1);
    expect(line.y + line.height).toBeLessThanOrEqual(PHONE.height);
    expect(line.width).toBeGreaterThan(PHONE.width / 2);
    expect(await boxOf(page.locator('#cmd button[type="submit"]'))).toMatchObject({
      x: expect.any(Number),
    });
    // Nothing sticks out sideways.
    expect(await pageWidth(page)).toBeLessThanOrEqual(PHONE.width);

    // Typed on the phone, `status` answers in the channel, in view.
    await input.tap();
    const answer = await runCommand(page, 'status', /^DRBD status$/);
    const shown = await boxOf(answer);
    expect(shown.y).toBeLessThan(line.y);
    expect(shown.y + Math.min(shown.height, 100)).toBeGreaterThan(messages.y);
    expect(await answer.locator('.field .label').allTextContents()).toContain('r0 on alpha');

    // A tap unfolds the panel: both hosts; the command line stays on screen. Another tap folds it.
    await toggle.tap();
    await body.waitFor(WAIT);
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    expect(await page.locator('.host[data-host="alpha"]').isVisible()).toBe(true);
    expect(await page.locator('.host[data-host="beta"]').count()).toBe(1);
    expect((await boxOf(page.locator('aside.status'))).height).toBeLessThanOrEqual(PHONE.height / 2 + 1);
    const unfolded = await boxOf(input);
    expect(unfolded.y + unfolded.height).toBeLessThanOrEqual(PHONE.height);
    await screenshot(page, 'web-console-phone-status.png', PHONE);
    await toggle.tap();
    await body.waitFor({ state: 'hidden', ...WAIT });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');

    // A split-brain: the folded line turns red and names it; the critical alert is in the channel.
    env.pair.splitBrain('r0');
    await expect
      .poll(() => summary.textContent(), { timeout: 20_000 })
      .toMatch(/^r0 on alpha: conn StandAlone( \(\+\d+ more\))? · alpha leads$/);
    expect(await summary.getAttribute('class')).toContain('bad');
    const critical = page.locator('article.msg.tone-critical').first();
    await critical.waitFor(WAIT);
    expect(await pageWidth(page)).toBeLessThanOrEqual(PHONE.width);
    await screenshot(page, 'web-console-phone.png', PHONE);
    expect(phone.problems).toEqual([]);
    await phone.context.close();

    // A desktop: the status is the column on the right, never folded; the command line answers.
    const desktop = await openBrowser('desktop');
    await signInThroughLink(desktop.page, signInLink(url, token), 'alice');
    const panel = await boxOf(desktop.page.locator('aside.status'));
    expect(panel.x).toBeGreaterThanOrEqual(VIEWPORT.width - 381);
    expect(panel.height).toBeGreaterThan(VIEWPORT.height / 2);
    expect(await desktop.page.locator('#status-toggle').isVisible()).toBe(false);
    expect(await desktop.page.locator('.status-head h2').textContent()).toBe('Status');
    await desktop.page.locator('.host[data-host="alpha"] .res[data-resource="r0"]').waitFor(WAIT);
    const channel = await boxOf(desktop.page.locator('#messages'));
    expect(channel.x).toBe(0);
    expect(channel.width).toBeGreaterThan(VIEWPORT.width / 2);
    await runCommand(desktop.page, 'status', /^DRBD status$/);
    const desktopLine = await boxOf(desktop.page.locator('#cmd-input'));
    expect(desktopLine.y + desktopLine.height).toBeLessThanOrEqual(VIEWPORT.height);
    await screenshot(desktop.page, 'web-console-desktop.png');
    expect(desktop.problems).toEqual([]);
  });

  it('the built-in demo: /failover r0 confirmed by alice and approved by bob (on call) from their pages', async () => {
    const demo = await startDemoPair({ logger, port: 0 });
    onCleanup(() => demo.stop());
    const { context, page, problems } = await openBrowser();
    expect(demo.urls.alice).toMatch(/\/login#token=[0-9a-f]{32}$/);
    await signInThroughLink(page, demo.urls.alice, 'alice');
    const r0 = (host: string) =>
      page.locator(`.host[data-host="${host}"] .res[data-resource="r0"] [data-k="role"] .v`);
    await expect.poll(() => r0('alpha').textContent(), { timeout: 30_000 }).toBe('Primary');
    await expect.poll(() => r0('beta').textContent(), { timeout: 30_000 }).toBe('Secondary');
    // The instances elect their leader first (the panel marks it); then one request.
    await page.locator('.badge.leader').first().waitFor({ timeout: 30_000 });
    await page.locator('#cmd-input').fill('failover r0 to beta');
    await page.locator('#cmd-input').press('Enter');
    await messageTitled(page, /^failover r0: alpha → beta: waiting for confirmation$/).waitFor(WAIT);
    expect(await messageTitled(page, /^failover r0: /).count()).toBe(1);
    const plan = messageTitled(page, /^failover r0: alpha → beta: waiting for confirmation$/).first();
    const planId = await plan.getAttribute('data-id');
    await plan.locator('.actions button', { hasText: 'Confirm' }).click();
    const samePlan = page.locator(`article.msg[data-id="${planId}"]`);
    await expect.poll(() => samePlan.locator('.title').textContent(), WAIT).toMatch(/waiting for approval$/);
    // bob, on call, approves from his own page.
    const bob = await context.newPage();
    await bob.goto(demo.urls.bob);
    // The same browser, signed in as alice: the page says so before bob signs in instead.
    expect(await bob.locator('#current').textContent()).toMatch(/^You are signed in as alice /);
    await confirmSignIn(bob, 'bob');
    await bob.locator(`article.msg[data-id="${planId}"] .actions button`, { hasText: 'Approve' }).click();
    await expect
      .poll(() => samePlan.locator('.title').textContent(), { timeout: 60_000 })
      .toMatch(/^failover r0: alpha → beta: done in /);
    expect(await samePlan.locator('.field .value').allTextContents()).toContainEqual(
      expect.stringContaining('first container stopped → last one running'),
    );
    await expect.poll(() => r0('beta').textContent(), { timeout: 30_000 }).toBe('Primary');
    await screenshot(page, 'web-console-after-failover.png');
    expect(problems).toEqual([]);
  });

  it('reconnects its event stream after the console restarts, and keeps the session', async () => {
    const token = randomBytes(24).toString('base64url');
    const port = await freePort();
    const platform = new WebConsolePlatform({ port, users: new Map([[token, 'alice']]), logger });
    const handler = async () => ({ message: { title: 'pong', tone: 'info' as const }, private: true });
    await platform.start(handler);
    onCleanup(() => platform.stop());
    const url = platform.url as string;
    const { page, problems } = await openBrowser();
    await signInThroughLink(page, signInLink(url, token), 'alice');
    await platform.post('web', { title: 'before the restart', tone: 'info' }, { idempotencyKey: 'a' });
    await messageTitled(page, 'before the restart').waitFor(WAIT);

    await platform.stop();
    await expect.poll(() => page.locator('#conn').textContent()).not.toBe('live');
    await platform.post('web', { title: 'while it was down', tone: 'warning' }, { idempotencyKey: 'b' });
    await platform.start(handler);
    await messageTitled(page, 'while it was down').waitFor(WAIT);
    await expect.poll(() => page.locator('#conn').textContent()).toBe('live');
    await page.locator('#cmd-input').fill('ping');
    await page.locator('#cmd-input').press('Enter');
    await messageTitled(page, 'pong').waitFor(WAIT);
    // The browser logs the refused connections while the console was down; nothing else.
    expect(problems.filter((p) => !p.includes('ERR_CONNECTION_REFUSED'))).toEqual([]);
  });

  it('a form or a link on another site signs no one in; the link opens the page that asks', async () => {
    const token = randomBytes(24).toString('base64url');
    const platform = new WebConsolePlatform({ port: 0, users: new Map([[token, 'alice']]), logger });
    await platform.start(async () => ({ message: { title: 'ok', tone: 'info' } }));
    onCleanup(() => platform.stop());
    const url = platform.url as string;
    // "localhost" and "127.0.0.1" are different sites to the browser. The "chat" page has a sign-in
    // link, and a login-CSRF form that posts the token of the attacker (here: alice's) to the console.
    const link = signInLink(url, token);
    const chat = createHttpServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(
        `<!doctype html><a id="console" href="${link}">web console</a>` +
          `<form id="csrf" method="post" action="${url}login"><input type="hidden" name="token" value="${token}">` +
          '<button id="go" type="submit">win a prize</button></form>',
      );
    });
    await new Promise<void>((r) => chat.listen(0, '127.0.0.1', () => r()));
    onCleanup(() => new Promise<void>((r) => chat.close(() => r())));
    const chatPort = (chat.address() as { port: number }).port;
    const { context, page, problems } = await openBrowser();
    const referers: string[] = [];
    page.on('request', (request) => {
      const referer = request.headers().referer;
      if (request.url().startsWith(url) && referer !== undefined) referers.push(referer);
    });

    // The other site's form reaches the console (with its own Origin) and is refused: no cookie.
    await page.goto(`http://localhost:${chatPort}/`);
    const [refused] = await Promise.all([page.waitForResponse(`${url}login`), page.locator('#go').click()]);
    expect(refused.status()).toBe(403);
    expect(await sessionCookies(context, url)).toEqual([]);
    expect((await context.request.get(`${url}api/session`)).status()).toBe(401);
    expect(
      (
        await context.request.post(`${url}api/command`, {
          data: { text: 'status', source: 'slash-command' },
          headers: { origin: url.slice(0, -1) },
        })
      ).status(),
    ).toBe(401);

    // The link: the page that asks, nothing signed in yet, the token gone from the address bar.
    await page.goto(`http://localhost:${chatPort}/`);
    await page.locator('#console').click();
    const confirm = page.getByRole('button', { name: 'Sign in as alice' });
    await confirm.waitFor(WAIT);
    expect(page.url()).toBe(`${url}login`);
    expect(await sessionCookies(context, url)).toEqual([]);
    await confirm.click();
    await page.locator('body[data-ready="true"]').waitFor(WAIT);
    expect(page.url()).toBe(url);
    expect(await page.locator('#who').textContent()).toBe('signed in as alice');
    expect(await sessionCookies(context, url)).toHaveLength(1);
    // A link opened on the console itself (/#token=…) also goes to the page that asks.
    await page.goto(`${url}#token=${token}`);
    await confirmSignIn(page, 'alice');
    expect(await sessionCookies(context, url)).toHaveLength(1);
    // Referrer-Policy: no-referrer: the console's pages sent no Referer (the chat page's link did).
    expect(referers.filter((r) => r !== '' && r !== `http://localhost:${chatPort}/`)).toEqual([]);
    expect(referers.filter((r) => r.includes(token))).toEqual([]);
    // The refused form's answer is the one error the browser logs.
    expect(problems.filter((p) => !/status of 403/.test(p))).toEqual([]);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
