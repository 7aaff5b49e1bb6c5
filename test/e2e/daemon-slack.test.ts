// The whole daemon against the fake Slack with the real Bolt client: DRBD changes from the
// simulator become Slack messages, slash commands round-trip, an outage loses and duplicates
// nothing, and a flapping link becomes a handful of messages that count every change.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import { parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, slackConfig } from '../fakes/slack/index.js';
import { onCleanup } from '../helpers/cleanup.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SIM_BIN = join(ROOT, 'bin/drbdsetup-sim');
const CHANNEL = 'C0OPS';
const logger = createLogger({ level: 'silent', format: 'json' });

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-e2e-slack-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const fake = new FakeSlack();
  await fake.start();
  onCleanup(() => fake.stop());
  const stateDir = join(dir, 'pair');
  const pair = SimulatedPair.init(stateDir, {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
    resyncSeconds: 0.2,
  });
  return { dir, fake, pair, stateDir };
}

/** The number of DRBD changes a Slack message accounts for: a folded summary says so, else one. */
function accounted(text: string): number {
  const folded = /: (\d+) changes/.exec(text);
  return folded === null ? 1 : Number(folded[1]);
}

describe('daemon → Slack, end to end', () => {
  it('posts a DRBD change and answers /drbd status (the real binary, tokens from the environment)', async () => {
    const { dir, fake, stateDir } = await setup();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      [
        'host: alpha',
        `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
        'log: {level: warn, format: json}',
        'drbd:',
        `  drbdsetup: ${JSON.stringify(SIM_BIN)}`,
        `  env: {DRBD_SIM_DIR: ${JSON.stringify(stateDir)}, DRBD_SIM_HOST: alpha}`,
        `slack: {apiUrl: ${JSON.stringify(fake.apiUrl)}}`,
        `routes: [{platform: slack, channel: ${CHANNEL}}]`,
      ].join('\n'),
    );
    const daemon = execa(process.execPath, [join(ROOT, 'bin/drbd-chatops'), 'run', '--config', config], {
      env: { SLACK_BOT_TOKEN: FAKE_BOT_TOKEN, SLACK_APP_TOKEN: FAKE_APP_TOKEN },
      reject: false,
      timeout: 60_000,
      forceKillAfterDelay: false,
    });
    onCleanup(async () => {
      daemon.kill('SIGTERM');
      await daemon;
    });
    await fake.waitForConnection(1, 20_000);
    await new Promise((r) => setTimeout(r, 500));

    await execa(SIM_BIN, ['sim', 'link-down', 'r0'], { env: { DRBD_SIM_DIR: stateDir }, timeout: 20_000 });
    await fake.waitFor(
      () => fake.messages(CHANNEL).some((m) => m.text.includes('Connection lost')),
      'the connection-lost message',
      20_000,
    );
    const parent = fake.messages(CHANNEL).find((m) => m.text.includes('Connection lost'));
    expect(parent?.text).toBe('🚨 CRITICAL: r0: Replication link — Connection lost (r0 on alpha)');
    expect(parent?.metadata?.event_type).toBe('drbd_chatops_notification');

    const { envelope, responseUrl } = await fake.sendSlashCommand({ text: 'status r0', channelId: CHANNEL });
    const acked = await fake.waitForAck(envelope.envelopeId);
    expect((acked.ackedAt ?? Number.POSITIVE_INFINITY) - acked.sentAt).toBeLessThan(3_000);
    await fake.waitFor(
      () =>
        fake.messages(CHANNEL).some((m) => m.text.includes('DRBD status of r0')) ||
        fake.responsesTo(responseUrl).length > 0,
      'the status reply',
      20_000,
    );

    daemon.kill('SIGTERM');
    const result = await daemon;
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).not.toContain(FAKE_BOT_TOKEN);
    expect(result.stderr).not.toContain(FAKE_APP_TOKEN);
  });

  async function startDaemon(dir: string, fake: FakeSlack, stateDir: string, slackIntervalMs = 1_100) {
    const config = parseConfig({
      host: 'alpha',
      stateDir: join(dir, 'state'),
      drbd: { drbdsetup: SIM_BIN, env: { DRBD_SIM_DIR: stateDir, DRBD_SIM_HOST: 'alpha' } },
      delivery: { slackIntervalMs, retry: { initialMs: 100, maxMs: 500 } },
      slack: { apiUrl: fake.apiUrl },
      routes: [{ platform: 'slack', channel: CHANNEL }],
    });
    const slack = new SlackPlatform({
      config: slackConfig(fake),
      logger,
      secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
      requestTimeoutMs: 2_000,
    });
    let notifications = 0;
    const daemon = new Daemon({
      commands: COMMANDS,
      config,
      configPath: undefined,
      logger,
      platforms: new Map([['slack', slack]]),
      onNotification: () => {
        notifications += 1;
      },
    });
    await daemon.start();
    onCleanup(() => daemon.stop());
    const deadline = Date.now() + 15_000;
    while (daemon.watch?.isLive() !== true) {
      if (Date.now() > deadline) throw new Error('the event stream did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    return { daemon, notifications: () => notifications };
  }

  it('loses nothing and duplicates nothing while Slack is unreachable', async () => {
    const { dir, fake, pair, stateDir } = await setup();
    const { daemon } = await startDaemon(dir, fake, stateDir, 0);
    await fake.setUnreachable(true);
    pair.linkDown('r0');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(daemon.outbox.depth).toBeGreaterThan(0);
    expect(fake.messages(CHANNEL)).toHaveLength(0);
    await fake.setUnreachable(false);
    await fake.waitFor(() => daemon.outbox.depth === 0, 'the outbox to drain', 20_000);
    const parents = fake
      .messages(CHANNEL)
      .filter((m) => m.text.includes('Replication link — Connection lost'));
    expect(parents).toHaveLength(1);
  });

  it('folds a flapping link (500 changes in 10 s) into a handful of messages that count every change', async () => {
    const { dir, fake, pair, stateDir } = await setup();
    const { daemon, notifications } = await startDaemon(dir, fake, stateDir);
    for (let i = 0; i < 250; i++) {
      pair.linkDown('r0');
      await new Promise((r) => setTimeout(r, 18));
      pair.linkUp('r0');
      await new Promise((r) => setTimeout(r, 18));
    }
    // Let the last resync finish and the outbox drain at Slack's pace.
    await new Promise((r) => setTimeout(r, 1_000));
    await fake.waitFor(() => daemon.outbox.depth === 0, 'the outbox to drain', 60_000);
    const posted = fake.callsTo('chat.postMessage').map((c) => String(c.params.text ?? ''));
    expect(notifications()).toBeGreaterThanOrEqual(500);
    expect(posted.length).toBeLessThan(40);
    expect(posted.reduce((sum, text) => sum + accounted(text), 0)).toBe(notifications());
  });
});
