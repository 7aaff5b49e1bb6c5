// The real binary with both platforms at once, each against its fake on loopback with the real
// client library: `register-commands discord`, then `run`; a DRBD change in the simulator becomes
// one Slack and one Discord message; /drbd status round-trips on both.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { DiscordPlatform } from '../../src/adapters/discord/discord-platform.js';
import { parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { FakeDiscord } from '../fakes/discord/index.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack } from '../fakes/slack/index.js';
import { onCleanup } from '../helpers/cleanup.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/drbd-chatops');
const SIM_BIN = join(ROOT, 'bin/drbdsetup-sim');
const SLACK_CHANNEL = 'C0OPS';

describe('daemon → Slack and Discord at once (the real binary)', () => {
  it('registers commands, posts one message per platform and answers /drbd status on both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-e2e-two-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const slack = new FakeSlack();
    await slack.start();
    onCleanup(() => slack.stop());
    const discord = new FakeDiscord();
    await discord.start();
    onCleanup(() => discord.stop());
    const stateDir = join(dir, 'pair');
    const pair = SimulatedPair.init(stateDir, {
      hosts: ['alpha', 'beta'],
      resources: [{ name: 'r0', minor: 0 }],
      primary: { r0: 'alpha' },
    });
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
        `slack: {apiUrl: ${JSON.stringify(slack.apiUrl)}}`,
        `discord: {apiUrl: ${JSON.stringify(discord.apiUrl)}, applicationId: "${discord.applicationId}", guildId: "${discord.guildId}"}`,
        'routes:',
        `  - {platform: slack, channel: ${SLACK_CHANNEL}}`,
        `  - {platform: discord, channel: "${discord.channelId}", minSeverity: warning}`,
      ].join('\n'),
    );
    const env = {
      SLACK_BOT_TOKEN: FAKE_BOT_TOKEN,
      SLACK_APP_TOKEN: FAKE_APP_TOKEN,
      DISCORD_BOT_TOKEN: discord.token,
    };

    const registered = await execa(
      process.execPath,
      [BIN, 'register-commands', 'discord', '--config', config],
      {
        env,
        reject: false,
        timeout: 30_000,
      },
    );
    expect(registered.exitCode, registered.stderr).toBe(0);
    // The umbrella and each command of its own (discord.slashCommands' default).
    expect(registered.stdout).toContain(': /drbd, /status, /containers, /ip, /failover');
    expect(discord.guildCommands.map((c) => c.name)).toEqual(
      expect.arrayContaining(['drbd', 'status', 'containers', 'ip', 'failover', 'help']),
    );

    const daemon = execa(process.execPath, [BIN, 'run', '--config', config], {
      env,
      reject: false,
      timeout: 90_000,
      forceKillAfterDelay: false,
    });
    onCleanup(async () => {
      daemon.kill('SIGTERM');
      await daemon;
    });
    let daemonLog = '';
    daemon.stderr?.on('data', (chunk: Buffer) => {
      daemonLog += chunk.toString();
    });
    await slack.waitForConnection(1, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${daemonLog}`);
    });
    await discord
      .waitFor(() => discord.gateway.identifies.length > 0, 'the bot to log in', 30_000)
      .catch((err: Error) => {
        throw new Error(
          `${err.message}\n${daemonLog}\n${JSON.stringify(discord.requests.map((r) => [r.method, r.path, r.status]))}`,
        );
      });
    await new Promise((r) => setTimeout(r, 1_000));

    pair.linkDown('r0');
    await slack.waitFor(() => slack.messages(SLACK_CHANNEL).length >= 1, 'the Slack message', 20_000);
    await discord.waitFor(
      () => discord.messagesIn(discord.channelId).length >= 1,
      'the Discord message',
      20_000,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    // One DRBD change (beta unreachable from alpha): one message on each platform.
    expect(slack.messages(SLACK_CHANNEL).map((m) => m.text)).toEqual([
      '🚨 CRITICAL: r0: Replication link — Connection lost (r0 on alpha)',
    ]);
    const discordMessages = discord.messagesIn(discord.channelId);
    expect(discordMessages).toHaveLength(1);
    expect(JSON.stringify(discordMessages[0]?.embeds)).toContain('Replication link — Connection lost');

    const { responseUrl } = await slack.sendSlashCommand({ text: 'status', channelId: SLACK_CHANNEL });
    await slack.waitFor(
      () =>
        slack.messages(SLACK_CHANNEL).some((m) => m.text.includes('DRBD status')) ||
        slack.responsesTo(responseUrl).length > 0,
      'the Slack status reply',
      20_000,
    );
    const interaction = await discord.slashCommand({
      name: 'drbd',
      subcommand: 'status',
      options: { resource: 'r0' },
    });
    const deferred = await discord.waitForInteractionEvent(interaction, 'callback', 10_000);
    expect(deferred.type).toBe(5);
    const edited = await discord.waitForInteractionEvent(interaction, 'edit-original', 20_000);
    expect(JSON.stringify(edited.body)).toContain('DRBD status of r0');

    daemon.kill('SIGTERM');
    const result = await daemon;
    expect(result.exitCode, result.stderr).toBe(0);
    for (const secret of Object.values(env)) expect(result.stderr).not.toContain(secret);
  }, 120_000);
});

describe('daemon → Discord while its API is unreachable', () => {
  it('delivers the alert exactly once when Discord comes back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-e2e-discord-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const discord = new FakeDiscord();
    await discord.start();
    onCleanup(() => discord.stop());
    const stateDir = join(dir, 'pair');
    const pair = SimulatedPair.init(stateDir, {
      hosts: ['alpha', 'beta'],
      resources: [{ name: 'r0', minor: 0 }],
    });
    const config = parseConfig({
      host: 'alpha',
      stateDir: join(dir, 'state'),
      drbd: { drbdsetup: SIM_BIN, env: { DRBD_SIM_DIR: stateDir, DRBD_SIM_HOST: 'alpha' } },
      delivery: { discordIntervalMs: 0, retry: { initialMs: 100, maxMs: 400 } },
      discord: { apiUrl: discord.apiUrl, applicationId: discord.applicationId, guildId: discord.guildId },
      routes: [{ platform: 'discord', channel: discord.channelId }],
    });
    if (config.discord === undefined) throw new Error('no discord section');
    const logger = createLogger({ level: 'silent', format: 'json' });
    const platform = new DiscordPlatform({
      config: config.discord,
      logger,
      token: discord.token,
      commands: COMMANDS,
      requestTimeoutMs: 1_000,
    });
    await platform.registerCommands();
    const daemon = new Daemon({
      commands: COMMANDS,
      config,
      configPath: undefined,
      logger,
      platforms: new Map([['discord', platform]]),
    });
    await daemon.start();
    onCleanup(() => daemon.stop());
    await discord.waitFor(() => daemon.watch?.isLive() === true, 'the event stream', 15_000);

    await discord.restUnreachable();
    pair.linkDown('r0');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(daemon.outbox.depth).toBeGreaterThan(0);
    expect(discord.messagesIn(discord.channelId)).toHaveLength(0);
    await discord.restReachable();
    await discord.waitFor(() => daemon.outbox.depth === 0, 'the outbox to drain', 20_000);
    const posted = discord
      .messagesIn(discord.channelId)
      .filter((m) => JSON.stringify(m.embeds).includes('Connection lost'));
    expect(posted).toHaveLength(1);
  }, 60_000);
});
