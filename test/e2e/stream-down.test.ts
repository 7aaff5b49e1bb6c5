// Never silent while blind, end to end with the default thresholds (warning after 10 s): drbdsetup
// is a wrapper around the DRBD simulator that fails on demand (test/fixtures/bin/failing-drbdsetup.sh).
// - The follower's event stream down for 15 s: the follower says so through the peer link like any
//   other notification, and the leader posts the warning (within 11 s) and, once the stream is back,
//   the resolution with what was missed. Two real bot processes (test/helpers/pair-harness.ts).
// - The leader's own stream down on a host that is Primary: critical at once, posted by itself;
//   meanwhile /metrics keeps the DRBD series with the stream gauge and their age, and /healthz says
//   why it fails.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { SIMULATOR_BIN } from '../../src/adapters/package-paths.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import { parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import {
  FAKE_APP_TOKEN,
  FAKE_BOT_TOKEN,
  FakeSlack,
  type StoredMessage,
  slackConfig,
} from '../fakes/slack/index.js';
import { onCleanup } from '../helpers/cleanup.js';
import { type Host, CHANNEL as PAIR_CHANNEL, PairHarness } from '../helpers/pair-harness.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FAILING_DRBDSETUP = join(ROOT, 'test/fixtures/bin/failing-drbdsetup.sh');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Everything a Slack message shows (fallback text, attachments, blocks), to search in. */
function shown(m: StoredMessage): string {
  return JSON.stringify([m.text, m.attachments ?? [], m.blocks ?? []]);
}

const isStreamDown = (host: string) => (m: StoredMessage) =>
  shown(m).includes(`The bot cannot see DRBD on ${host}`);
const isStreamBack = (host: string) => (m: StoredMessage) =>
  shown(m).includes(`The bot sees DRBD on ${host} again`);

/**
 * A pair whose hosts run drbdsetup through the wrapper, each failing while its flag file exists:
 * alpha leads, beta follows.
 */
async function blindablePair() {
  const h = await PairHarness.create();
  onCleanup(() => h.close());
  const flags = { alpha: join(h.dir, 'fail-alpha'), beta: join(h.dir, 'fail-beta') };
  // The harness runs the simulator as drbdsetup; here each host runs it through the wrapper.
  for (const host of ['alpha', 'beta'] as const satisfies readonly Host[]) {
    const config = JSON.parse(readFileSync(h.configPath(host), 'utf8')) as {
      drbd: { drbdsetup: string; env: Record<string, string> };
    };
    config.drbd.drbdsetup = FAILING_DRBDSETUP;
    config.drbd.env = {
      ...config.drbd.env,
      DRBDSETUP_REAL: SIMULATOR_BIN,
      DRBDSETUP_FAIL_FLAG: flags[host],
    };
    writeFileSync(h.configPath(host), JSON.stringify(config, null, 2));
  }
  await h.start('alpha');
  await h.waitForLeader('alpha');
  await h.start('beta');
  await sleep(1_000);
  return { h, flags };
}

/** The first post that said `text`: who posted it (by its bot token) and when. */
function firstPost(h: PairHarness, text: string): { by: Host | undefined; at: number } {
  const call = h.slack
    .callsTo('chat.postMessage')
    .find((c) => c.fault === undefined && JSON.stringify(c.params).includes(text));
  return call === undefined
    ? { by: undefined, at: Number.POSITIVE_INFINITY }
    : { by: h.callerOf(call), at: call.at };
}

/** The top-level messages that ever spoke about a host's event stream (edits included). */
const aboutStream = (h: PairHarness, host: string) =>
  h
    .messages()
    .filter(
      (m) => m.thread_ts === undefined && JSON.stringify([shown(m), m.history]).includes(`DRBD on ${host}`),
    );

describe('an event stream that goes down', () => {
  it("follower's stream down for 15 s: the leader warns within 11 s and resolves after, with what was missed", async () => {
    const { h, flags } = await blindablePair();

    const failedAt = Date.now();
    writeFileSync(flags.beta, '');
    // What beta misses while it is blind: the replication link goes down (alpha sees it live).
    await sleep(2_000);
    h.pair.linkDown('r0');

    await h.slack.waitFor(() => h.messages().some(isStreamDown('beta')), 'the warning about beta', 30_000);
    const warning = h.messages().find(isStreamDown('beta')) as StoredMessage;
    const warningCall = firstPost(h, 'The bot cannot see DRBD on beta');
    // The follower told the leader; the leader posted it.
    expect(warningCall.by).toBe('alpha');
    expect(warningCall.at - failedAt).toBeLessThan(11_000);
    expect(shown(warning)).toContain('WARNING');
    expect(shown(warning)).toContain('has been down for 10s');
    expect(shown(warning)).toContain('drbdsetup exited with code 20');
    expect(shown(warning)).toContain('injected failure: netlink: Permission denied');
    expect(h.messages().some(isStreamBack('beta'))).toBe(false);

    // Down for 15 s in all, then drbdsetup works again.
    await sleep(Math.max(0, failedAt + 15_000 - Date.now()));
    rmSync(flags.beta);
    await h.slack.waitFor(() => h.messages().some(isStreamBack('beta')), 'the resolution about beta', 30_000);
    // One incident of beta: the warning is its parent, the resolution a reply in its thread, and the
    // parent turned green. Once: it replaces the usual "restarted; it was blind for N s".
    const replies = h.messages().filter((m) => m.thread_ts === warning.ts);
    const back = replies.find(isStreamBack('beta')) as StoredMessage;
    expect(shown(back)).toMatch(/event stream is back after 1[5-9]s/);
    expect(shown(back)).toMatch(/\d+ changes? (was|were) missed meanwhile: [^"]*r0/);
    expect(replies.filter(isStreamBack('beta'))).toHaveLength(1);
    await h.slack.waitFor(
      () => shown(warning).includes('beta: DRBD event stream — resolved'),
      'the incident of beta to turn green',
      10_000,
    );
    expect(aboutStream(h, 'beta')).toEqual([warning]);
    expect(h.messages().filter((m) => shown(m).includes('it was blind for'))).toHaveLength(0);
    expect(h.messages().every((m) => m.channel === PAIR_CHANNEL)).toBe(true);
  }, 90_000);

  it('the leader dies blind: the follower takes over, warns about it and resolves it when it is back', async () => {
    const { h, flags } = await blindablePair();

    const failedAt = Date.now();
    writeFileSync(flags.alpha, '');
    // Dead before its own warning was due (10 s): only the delivery record knows alpha is unseen.
    await sleep(2_000);
    await h.kill9('alpha');
    await h.waitForLeader('beta', { timeoutMs: 30_000 });

    await h.slack.waitFor(() => h.messages().some(isStreamDown('alpha')), 'the warning about alpha', 30_000);
    const warning = h.messages().find(isStreamDown('alpha')) as StoredMessage;
    const warningCall = firstPost(h, 'The bot cannot see DRBD on alpha');
    expect(warningCall.by).toBe('beta');
    // Due 10 s after alpha went blind, checked every retry period (0.5 s here).
    expect(warningCall.at - failedAt).toBeLessThan(12_000);
    // alpha was Primary of r0 when last seen: critical at once.
    expect(shown(warning)).toContain('CRITICAL');
    expect(shown(warning)).toContain('alpha was Primary of r0 when last seen.');
    expect(shown(warning)).toContain('drbdsetup exited with code 20');
    expect(shown(warning)).toContain('then the bot on alpha stopped leading (beta leads now)');

    // alpha comes back with a working drbdsetup, as the follower: beta says the outage is over.
    rmSync(flags.alpha);
    await h.start('alpha');
    await h.slack.waitFor(
      () => h.messages().some(isStreamBack('alpha')),
      'the resolution about alpha',
      30_000,
    );
    const replies = h.messages().filter((m) => m.thread_ts === warning.ts);
    const back = replies.find(isStreamBack('alpha')) as StoredMessage;
    expect(shown(back)).toContain('the bot there answers and its event stream is up');
    await h.slack.waitFor(
      () => shown(warning).includes('alpha: DRBD event stream — resolved'),
      'the incident of alpha to turn green',
      10_000,
    );
    expect(aboutStream(h, 'alpha')).toEqual([warning]);
    expect(replies.filter(isStreamBack('alpha'))).toHaveLength(1);
  }, 90_000);

  it("leader's own stream down on a Primary: critical at once, posted by itself; /metrics and /healthz say so", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-e2e-blind-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const fake = new FakeSlack();
    await fake.start();
    onCleanup(() => fake.stop());
    const simDir = join(dir, 'sim');
    SimulatedPair.init(simDir, {
      hosts: ['alpha', 'beta'],
      resources: [{ name: 'r0', minor: 0 }],
      primary: { r0: 'alpha' },
      resyncSeconds: 0.2,
    });
    const flag = join(dir, 'fail');
    const config = parseConfig({
      host: 'alpha',
      stateDir: join(dir, 'state'),
      drbd: {
        drbdsetup: FAILING_DRBDSETUP,
        env: {
          DRBD_SIM_DIR: simDir,
          DRBD_SIM_HOST: 'alpha',
          DRBDSETUP_REAL: SIMULATOR_BIN,
          DRBDSETUP_FAIL_FLAG: flag,
        },
        restartBackoff: { initialMs: 100, maxMs: 1_000 },
        streamDown: { warnAfterMs: 2_000, criticalAfterMs: 60_000 },
      },
      delivery: { slackIntervalMs: 0, retry: { initialMs: 100, maxMs: 500 } },
      slack: { apiUrl: fake.apiUrl },
      status: { listen: { host: '127.0.0.1', port: 0 } },
      routes: [{ platform: 'slack', channel: 'C0OPS' }],
    });
    const logger = createLogger({ level: 'silent', format: 'json' });
    const slack = new SlackPlatform({
      config: slackConfig(fake),
      logger,
      secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
      requestTimeoutMs: 2_000,
    });
    const daemon = new Daemon({
      commands: COMMANDS,
      config,
      configPath: undefined,
      logger,
      platforms: new Map([['slack', slack]]),
    });
    await daemon.start();
    onCleanup(() => daemon.stop());
    await fake.waitFor(() => daemon.watch?.isLive() === true, 'the first dump', 15_000);
    const address = daemon.statusAddress;
    if (address === undefined) throw new Error('the status server did not start');
    const url = `http://${address.host}:${address.port}`;
    const scrape = async () => parsePromText(await (await fetch(`${url}/metrics`)).text());
    expect(sampleValue(await scrape(), 'drbdchatops_events_stream_up', { host: 'alpha' })).toBe(1);

    writeFileSync(flag, '');
    await fake.waitFor(
      () => fake.messages('C0OPS').some(isStreamDown('alpha')),
      'the alert about alpha',
      20_000,
    );
    const alert = fake.messages('C0OPS').find(isStreamDown('alpha')) as StoredMessage;
    expect(shown(alert)).toContain('CRITICAL');
    expect(shown(alert)).toContain('alpha was Primary of r0 when last seen.');

    const families = await scrape();
    expect(sampleValue(families, 'drbdchatops_events_stream_up', { host: 'alpha' })).toBe(0);
    expect(sampleValue(families, 'drbdchatops_state_age_seconds', { host: 'alpha' })).toBeGreaterThanOrEqual(
      2,
    );
    // The last DRBD state seen is still there: alpha Primary of r0.
    expect(sampleValue(families, 'drbd_resource_role', { name: 'r0', drbd_resource_role: 'Primary' })).toBe(
      1,
    );
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { reasons: string[] }).reasons).toEqual([
      expect.stringMatching(
        /^eventSource: the DRBD event stream on alpha is down since .* drbdsetup exited with code 20: "drbdsetup: injected failure/,
      ),
    ]);

    rmSync(flag);
    await fake.waitFor(
      () => fake.messages('C0OPS').some(isStreamBack('alpha')),
      'the resolution about alpha',
      20_000,
    );
    expect(sampleValue(await scrape(), 'drbdchatops_events_stream_up', { host: 'alpha' })).toBe(1);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  }, 60_000);
});
