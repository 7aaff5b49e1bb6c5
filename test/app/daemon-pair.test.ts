// Two daemons of one pair (alpha and beta) in one process, electing their leader through a real
// FileLockStore, posting to one shared chat: only the leader speaks, a takeover is announced, and
// with the lock store gone both fall back to reporting criticals themselves.

import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { FileLockStore } from '../../src/adapters/lock/file-lock.js';
import { parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import type { Message } from '../../src/core/message-tones.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { onCleanup } from '../helpers/cleanup.js';
import { MemoryLockStore } from '../helpers/memory-lock.js';
import { RecordingPlatform } from '../helpers/recording-platform.js';
import { until } from '../helpers/wait.js';

const SIM_BIN = resolve(import.meta.dirname, '../../bin/drbdsetup-sim');
const logger = createLogger({ level: 'silent', format: 'json' });

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-pair-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'sim');
  const pair = SimulatedPair.init(stateDir, {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  const slack = new RecordingPlatform('slack');
  return { dir, stateDir, pair, slack };
}

/** Every message the channel shows, in its latest form (posts, then their edits applied). */
function shown(slack: RecordingPlatform): Message[] {
  const latest = new Map(slack.posts.map((p) => [p.messageId, p.message]));
  for (const u of slack.updates) latest.set(u.messageId, u.message);
  return [...latest.values()];
}

/** Does a message show this host's view (on its own, or as one of the pair's)? */
const fromHost = (m: Message, host: string) => (m.host ?? '').split(', ').includes(host);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function daemon(
  host: string,
  env: ReturnType<typeof setup>,
  store: FileLockStore | MemoryLockStore,
  peer?: { name: string; url: string; port: number },
): Promise<Daemon> {
  const config = parseConfig({
    host,
    stateDir: join(env.dir, host),
    drbd: { drbdsetup: SIM_BIN, env: { DRBD_SIM_DIR: env.stateDir, DRBD_SIM_HOST: host } },
    delivery: { slackIntervalMs: 0, retry: { initialMs: 50, maxMs: 200 } },
    leader: { leaseMs: 1_500, renewDeadlineMs: 1_000, retryMs: 200 },
    fences: ['r0', 'r1'],
    routes: [{ platform: 'slack', channel: 'C1' }],
    ...(peer === undefined
      ? {}
      : { peer: { name: peer.name, url: peer.url, listen: { host: '127.0.0.1', port: peer.port } } }),
  });
  const d = new Daemon({
    commands: COMMANDS,
    config,
    configPath: undefined,
    logger,
    platforms: new Map([['slack', env.slack]]),
    lockStore: store,
  });
  await d.start();
  onCleanup(() => d.stop());
  await until(() => d.watch?.isLive() === true, `${host}'s event stream`);
  return d;
}

/** alpha (leading) and beta with a peer link between them on free loopback ports. */
async function peeredPair() {
  process.env.DRBD_CHATOPS_PEER_SECRET = 'test-peer-secret-0123456789abcdef';
  const env = setup();
  const store = new FileLockStore({ dir: join(env.dir, 'locks') });
  const [alphaPort, betaPort] = [await freePort(), await freePort()];
  const alpha = await daemon('alpha', env, store, {
    name: 'beta',
    url: `http://127.0.0.1:${betaPort}`,
    port: alphaPort,
  });
  await until(() => alpha.elector?.mayAct() === true, 'alpha to lead');
  const beta = await daemon('beta', env, store, {
    name: 'alpha',
    url: `http://127.0.0.1:${alphaPort}`,
    port: betaPort,
  });
  return { env, store, alpha, beta };
}

describe('a pair of daemons', () => {
  it('speaks with one voice, and the other takes over and says so', async () => {
    const env = setup();
    const store = new FileLockStore({ dir: join(env.dir, 'locks') });
    const alpha = await daemon('alpha', env, store);
    await until(() => alpha.elector?.mayAct() === true, 'alpha to lead');
    const beta = await daemon('beta', env, store);
    await until(
      () => env.slack.posts.some((p) => p.message.title === 'alpha leads, token 1'),
      'the announcement',
    );

    env.pair.linkDown('r0');
    await until(() => env.slack.posts.some((p) => p.message.title.includes('Connection lost')), 'the alert');
    await new Promise((r) => setTimeout(r, 500));
    // Both hosts saw it; only the leader's view was posted.
    const alerts = env.slack.posts.filter((p) => p.message.title.includes('Connection lost'));
    expect(alerts.map((p) => p.message.host)).toEqual(['alpha']);
    expect(beta.elector?.mayAct()).toBe(false);

    // A clean stop releases the lease: beta need not wait for it to expire. (Stopping twice is harmless.)
    await alpha.stop();
    await until(() => beta.elector?.mayAct() === true, 'beta to take over');
    await until(
      () => env.slack.posts.some((p) => p.message.title === 'beta leads, token 2; previous leader alpha'),
      'the takeover',
    );
    env.pair.linkUp('r0');
    await until(
      () =>
        env.slack.posts.some(
          (p) => p.message.host === 'beta' && p.message.title.includes('Connection restored'),
        ),
      'beta reporting',
    );
  });

  it('fails open: with the lock store unreachable each host posts its own critical alerts, marked', async () => {
    const env = setup();
    const store = new MemoryLockStore();
    store.down = true;
    await daemon('alpha', env, store);
    await daemon('beta', env, store);
    // Nobody can lead; after a lease both know it.
    await new Promise((r) => setTimeout(r, 1_700));
    env.pair.linkDown('r0');
    await until(() => env.slack.posts.some((p) => p.message.host === 'alpha'), 'alpha’s critical alert');
    const fromAlpha = env.slack.posts.find((p) => p.message.host === 'alpha');
    expect(fromAlpha?.message.tone).toBe('critical');
    expect(fromAlpha?.message.body).toContain('Sent by alpha without a leader');
    // beta saw the connection go too, but as Secondary that is a warning: not sent without a leader.
    await new Promise((r) => setTimeout(r, 500));
    expect(env.slack.posts.filter((p) => p.message.host === 'beta')).toEqual([]);
  });

  it('shows both hosts: the follower forwards its view over the peer link, and /status asks the peer', async () => {
    const { env, store, alpha, beta } = await peeredPair();

    env.pair.linkDown('r0');
    // One message about the pair's link, with each host's evidence.
    await until(
      () => shown(env.slack).some((m) => fromHost(m, 'alpha') && fromHost(m, 'beta')),
      'both views of the link failure in one message',
    );
    await until(() => beta.peer?.pending === 0, 'beta’s queue to drain to the leader');
    const pairMessage = shown(env.slack).find((m) => fromHost(m, 'alpha') && fromHost(m, 'beta'));
    expect(pairMessage?.title).toContain('seen from alpha and beta');
    expect(pairMessage?.fields?.map((f) => f.label)).toEqual(
      expect.arrayContaining(['Seen from alpha', 'Seen from beta']),
    );
    expect(env.slack.posts.filter((p) => p.message.title.includes('Connection lost'))).toHaveLength(1);

    const reply = await alpha.runCommand({
      platform: 'console',
      text: 'status',
      userId: 'u',
      userName: 'u',
      roles: [],
      channelId: 'c',
      source: 'slash-command',
    });
    expect(reply.message.fields?.map((f) => f.label)).toEqual(
      expect.arrayContaining(['r0 on alpha', 'r0 on beta']),
    );
    // The leader and the DRBD fence locks, read from the lock store (the recipe's fence for r0 is held).
    await store.acquireOrRenew('r0', 'alpha', 60_000);
    const again = await alpha.runCommand({
      platform: 'console',
      text: 'status',
      userId: 'u',
      userName: 'u',
      roles: [],
      channelId: 'c',
      source: 'slash-command',
    });
    const fields = Object.fromEntries((again.message.fields ?? []).map((f) => [f.label, f.value]));
    expect(fields.Leader).toBe('alpha (token 1)');
    expect(fields['Fence r0']).toMatch(/^held by alpha until /);
    expect(fields['Fence r1']).toBe('free');
  });

  it('a silence set with the leader holds after the takeover: the new leader mutes what it matches', async () => {
    const { env, alpha, beta } = await peeredPair();
    const reply = await alpha.runCommand({
      platform: 'console',
      text: 'silence r0 10m disk swap',
      userId: 'u',
      userName: 'alice',
      roles: [],
      channelId: 'c',
      source: 'slash-command',
    });
    expect(reply.message.title).toContain('Silenced');
    // The on-call state is in the pair's delivery record: beta has it before it ever leads.
    await until(() => beta.replica?.ledger.oncall?.silences.length === 1, 'the silence in beta’s copy');

    await alpha.stop();
    await until(() => beta.elector?.mayAct() === true, 'beta to take over');
    await until(() => env.slack.posts.some((p) => p.message.title.startsWith('beta leads')), 'the takeover');
    expect(beta.paging.state.silences.map((s) => s.by)).toEqual(['alice']);
    env.pair.linkDown('r0');
    const silence = beta.paging.state.silences[0]?.id ?? '';
    await until(() => beta.paging.mutedCount(silence) > 0, 'beta to mute the alert');
    expect(env.slack.posts.filter((p) => p.message.title.includes('Connection lost'))).toEqual([]);
  });

  it('hands a former leader’s unsent alerts to the new leader, which posts them once', async () => {
    const { env, alpha } = await peeredPair();
    await until(
      () => env.slack.posts.some((p) => p.message.title === 'alpha leads, token 1'),
      'the announcement',
    );

    // Slack is down while alpha takes the alert in; then alpha loses the lead.
    env.slack.down = true;
    env.pair.linkDown('r0');
    await until(() => alpha.outbox.depth > 0, 'the alert waiting in alpha’s outbox');
    await alpha.elector?.stop();
    env.slack.down = false;
    await until(
      () => env.slack.posts.some((p) => p.message.title.startsWith('beta leads')),
      'beta to take over',
    );
    await until(() => alpha.outbox.depth === 0, 'alpha to hand its outbox over');
    await until(
      () => shown(env.slack).some((m) => fromHost(m, 'alpha') && m.title.includes('Connection lost')),
      'alpha’s alert, posted by beta',
    );
    await new Promise((r) => setTimeout(r, 500));
    const alphaAlerts = env.slack.posts.filter(
      (p) => fromHost(p.message, 'alpha') && p.message.title.includes('Connection lost'),
    );
    expect(alphaAlerts).toHaveLength(1);
  });

  it('a new leader posts what the old one had taken from it but not posted, checked so nothing doubles', async () => {
    const { env, alpha, beta } = await peeredPair();
    await until(
      () => env.slack.posts.some((p) => p.message.title === 'alpha leads, token 1'),
      'the announcement',
    );

    // Slack is down: beta's view reaches alpha's outbox, and alpha dies before it can post it.
    env.slack.down = true;
    env.pair.linkDown('r0');
    await until(() => beta.peer?.pending === 0 && alpha.outbox.depth >= 2, 'beta’s view in alpha’s outbox');
    await alpha.stop();
    env.slack.down = false;
    await until(() => beta.elector?.mayAct() === true, 'beta to take over');
    await until(
      () => shown(env.slack).some((m) => fromHost(m, 'beta') && m.title.includes('Connection lost')),
      'beta’s own view, posted by beta',
    );
    await new Promise((r) => setTimeout(r, 500));
    // One message about the link, showing both views: nothing doubled.
    expect(env.slack.posts.filter((p) => p.message.title.includes('Connection lost'))).toHaveLength(1);
    expect(shown(env.slack).filter((m) => m.title.includes('Connection lost'))).toHaveLength(1);
  });
});
