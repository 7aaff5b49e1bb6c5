// The top-level slash commands end to end: two real daemons of one pair (alpha leading, beta
// answering pre-flight checks over the peer link) on the DRBD simulator with simulated hosts and LXD
// containers on r0, the real Bolt client in Socket Mode against the fake Slack and the real
// discord.js client against the fake Discord. The fake Slack holds the manifest `drbd-chatops
// manifest slack` prints and, like Slack, delivers only the commands it lists; the fake Discord
// dispatches only what `register-commands discord` registered. So a plan posted after `/failover r0`
// proves the name was registered, routed and run exactly as `/drbd failover r0`.

import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { DiscordPlatform } from '../../src/adapters/discord/discord-platform.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import { type Config, parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { slackManifest } from '../../src/app/slack-manifest.js';
import type { ChatPlatform, PlatformName } from '../../src/ports/chat.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { SimulatedContainers } from '../../src/sim/simulated-containers.js';
import { SimulatedHost } from '../../src/sim/simulated-host.js';
import { FakeDiscord, type FakeInteraction, type FakeMessage } from '../fakes/discord/index.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, type StoredMessage } from '../fakes/slack/index.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { MemoryLockStore } from '../helpers/memory-lock.js';
import { until } from '../helpers/wait.js';
import { logger, NEW_ADDRESS, OLD_ADDRESS, PEOPLE, SIM_BIN, SUBNET, textOf } from './approvals-harness.js';

const CHANNEL = 'C0OPS';
const { alice, bob } = PEOPLE;
const PEER_SECRET_ENV = 'DRBD_CHATOPS_SLASH_TEST_PEER_SECRET';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * alpha (Primary of r0, mounted, its LXD running web1 and web2) and beta, each a real daemon with a
 * simulated host, electing through one lock store and joined by a peer link. alpha leads and is the
 * only one given the chat platform; `chat` section goes into both configurations.
 */
async function startPair(
  chat: { slack?: Record<string, unknown>; discord?: Record<string, unknown> },
  platformOf: (config: Config) => ChatPlatform,
) {
  const dir = tempDir('drbd-chatops-slash-');
  const simDir = join(dir, 'sim');
  const pair = SimulatedPair.init(simDir, {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  const lxdDir = join(dir, 'lxd');
  SimulatedContainers.init(
    lxdDir,
    [
      {
        name: 'web1',
        resource: 'r0',
        status: 'Running',
        device: 'eth0',
        parent: 'enp5s0',
        ipv4: [OLD_ADDRESS],
        ipv6: [],
      },
      {
        name: 'web2',
        resource: 'r0',
        status: 'Running',
        device: 'eth0',
        parent: 'enp5s0',
        ipv4: ['198.51.100.11'],
        ipv6: [],
      },
    ],
    { mounted: { r0: 'alpha' }, lxd: { r0: 'alpha' } },
  );
  const previous = process.env[PEER_SECRET_ENV];
  process.env[PEER_SECRET_ENV] = 'slash-commands-test-peer-secret-0123456789';
  onCleanup(() => {
    if (previous === undefined) delete process.env[PEER_SECRET_ENV];
    else process.env[PEER_SECRET_ENV] = previous;
  });
  const ports = { alpha: await freePort(), beta: await freePort() };
  const configFor = (host: 'alpha' | 'beta') => {
    const other = host === 'alpha' ? 'beta' : 'alpha';
    return parseConfig({
      host,
      stateDir: join(dir, 'state', host),
      log: { level: 'silent', format: 'json' },
      drbd: { drbdsetup: SIM_BIN, env: { DRBD_SIM_DIR: simDir, DRBD_SIM_HOST: host } },
      leader: { leaseMs: 3_000, renewDeadlineMs: 2_000, retryMs: 200 },
      peer: {
        name: other,
        url: `http://127.0.0.1:${ports[other]}`,
        listen: { host: '127.0.0.1', port: ports[host] },
        secretEnv: PEER_SECRET_ENV,
      },
      resources: { r0: { subnets: [SUBNET] } },
      lxd: { stopTimeoutS: 5, verifyTimeoutMs: 2_000 },
      // Two daemons in one process: no metrics listener (both would want its port).
      status: { enabled: false },
      oncall: {
        team: [alice, bob].map((p) => ({ name: p.name, slack: p.slack, discord: p.discord })),
        static: ['bob'],
        announce: false,
      },
      ...chat,
    });
  };
  const store = new MemoryLockStore();
  const start = async (host: 'alpha' | 'beta', platforms: ReadonlyMap<PlatformName, ChatPlatform>) => {
    const config = configFor(host);
    const daemon = new Daemon({
      commands: COMMANDS,
      config,
      configPath: undefined,
      logger,
      platforms,
      lockStore: store,
      containers: new SimulatedContainers(lxdDir, host),
      host: new SimulatedHost(pair, new SimulatedContainers(lxdDir, host), host),
    });
    await daemon.start();
    onCleanup(() => daemon.stop());
    await until(() => daemon.watch?.isLive() === true, `${host}'s event stream`);
    return daemon;
  };
  const alphaConfig = configFor('alpha');
  const alpha = await start(
    'alpha',
    new Map([[alphaConfig.slack ? 'slack' : 'discord', platformOf(alphaConfig)]]),
  );
  await until(() => alpha.elector?.mayAct() === true, 'alpha to lead');
  const beta = await start('beta', new Map());
  return { alpha, beta, config: alphaConfig };
}

// ---- Slack ------------------------------------------------------------------------------------

interface Answer {
  readonly text: string;
  readonly private: boolean;
}

async function slackBot(slack: Record<string, unknown> = {}) {
  const fake = new FakeSlack();
  await fake.start();
  onCleanup(() => fake.stop());
  let installed: string[] = [];
  const { config } = await startPair({ slack: { apiUrl: fake.apiUrl, ...slack } }, (config) => {
    if (config.slack === undefined) throw new Error('no slack section');
    // Slack sends only what the app's manifest lists: install the manifest the CLI prints.
    installed = fake.installApp(slackManifest(config, { commands: COMMANDS })).map((c) => c.command);
    return new SlackPlatform({
      config: config.slack,
      logger,
      secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
      requestTimeoutMs: 5_000,
    });
  });
  await fake.waitForConnection(1, 15_000);
  return { fake, config, installed };
}

const isPlan = (m: StoredMessage) => String(m.metadata?.event_payload.key ?? '').startsWith('operation:');

/**
 * `command text` typed by alice in the channel; resolves with the bot's answer: a private one through
 * the response_url, a public one as a message in the channel (plans are not answers).
 */
async function slash(fake: FakeSlack, command: string, text: string): Promise<Answer> {
  const before = new Set(fake.messages(CHANNEL).map((m) => m.ts));
  const { responseUrl } = await fake.sendSlashCommand({
    command,
    text,
    channelId: CHANNEL,
    userId: alice.slack,
    userName: alice.name,
  });
  const posted = () => fake.messages(CHANNEL).find((m) => !before.has(m.ts) && !isPlan(m));
  await fake.waitFor(
    () => fake.responsesTo(responseUrl).length > 0 || posted() !== undefined,
    `the answer to ${command} ${text}`,
    15_000,
  );
  const [response] = fake.responsesTo(responseUrl);
  if (response !== undefined) {
    return { text: textOf(response.body), private: response.body.response_type === 'ephemeral' };
  }
  return { text: textOf(posted()), private: false };
}

/** The plan message about `about` the operations machinery posted (metadata key `operation:<id>`). */
async function slackPlan(fake: FakeSlack, about: string): Promise<StoredMessage> {
  const find = () =>
    fake
      .messages(CHANNEL)
      .find(
        (m) =>
          String(m.metadata?.event_payload.key ?? '').startsWith('operation:') && textOf(m).includes(about),
      );
  await fake.waitFor(() => find() !== undefined, `the plan of ${about}`, 15_000);
  return find() as StoredMessage;
}

describe('top-level slash commands on Slack', () => {
  it('/failover r0 posts the plan, /containers lists, /ip set web1 … plans, /drbd-status answers', async () => {
    const { fake } = await slackBot();

    const failover = await slash(fake, '/failover', 'r0');
    expect(failover.text).toMatch(/Plan [0-9a-f]{8} posted/);
    const plan = await slackPlan(fake, 'failover r0');
    expect(textOf(plan)).toContain('failover r0: alpha → beta: waiting for confirmation');

    const containers = await slash(fake, '/containers', '');
    expect(containers.text).toContain('2 of 2 running');
    expect(containers.text).toContain('web1');
    expect(containers.text).toContain('web2');
    expect(containers.text).toContain(OLD_ADDRESS);

    const show = await slash(fake, '/ip', 'show web1');
    expect(show.text).toContain('Addresses of web1');
    expect(show.text).toContain(OLD_ADDRESS);

    const ipSet = await slash(fake, '/ip', `set web1 ${NEW_ADDRESS}`);
    expect(ipSet.text).toMatch(/Plan [0-9a-f]{8} posted/);
    const ipPlan = await slackPlan(fake, `ip set web1 ${NEW_ADDRESS}`);
    expect(textOf(ipPlan)).toContain('waiting for confirmation');

    // /status is Slack's own: the app has /drbd-status, and Slack would never send it /status.
    const status = await slash(fake, '/drbd-status', 'r0');
    expect(status.text).toContain('DRBD status of r0');
    expect(() => fake.slashCommandPayload({ command: '/status', text: '' })).toThrow(
      /not a command of the installed app/,
    );

    // The umbrella runs the same command line: a second request, a second plan like the first.
    const umbrella = await slash(fake, '/drbd', 'failover r0');
    expect(umbrella.text).toMatch(/Plan [0-9a-f]{8} posted/);
    await fake.waitFor(
      () => fake.messages(CHANNEL).filter((m) => isPlan(m) && textOf(m).includes('failover r0')).length === 2,
      'the second failover plan',
      15_000,
    );
    // Mistakes answer with the syntax as typed.
    const wrong = await slash(fake, '/failover', '');
    expect(wrong.text).toContain('failover needs <resource>');
  });

  it('takes the names the configuration gives, and refuses a name it no longer has', async () => {
    const { fake, installed } = await slackBot({
      slashCommands: { prefix: 'drbd-', names: { failover: '/move' } },
    });
    expect(installed).toContain('/move');
    expect(installed).toContain('/drbd-containers');
    expect(installed).not.toContain('/failover');

    const move = await slash(fake, '/move', 'r0');
    expect(move.text).toMatch(/Plan [0-9a-f]{8} posted/);
    await slackPlan(fake, 'failover r0');
    const containers = await slash(fake, '/drbd-containers', 'r0');
    expect(containers.text).toContain('web1');
    const ipSet = await slash(fake, '/drbd-ip', `set web1 ${NEW_ADDRESS}`);
    expect(ipSet.text).toMatch(/Plan [0-9a-f]{8} posted/);

    // An app whose manifest was not updated after the rename still has /failover: the bot says so.
    fake.installApp({
      features: { slash_commands: [{ command: '/failover', description: 'old', should_escape: false }] },
    });
    const stale = await slash(fake, '/failover', 'r0');
    expect(stale.private).toBe(true);
    expect(stale.text).toContain("/failover is not one of this bot's commands any more");
    expect(stale.text).toContain('drbd-chatops manifest slack');
  });
});

// ---- Discord ----------------------------------------------------------------------------------

async function discordBot(discord: Record<string, unknown> = {}) {
  const fake = new FakeDiscord();
  await fake.start();
  onCleanup(() => fake.stop());
  let platform: DiscordPlatform | undefined;
  await startPair(
    {
      discord: { apiUrl: fake.apiUrl, applicationId: fake.applicationId, guildId: fake.guildId, ...discord },
    },
    (config) => {
      if (config.discord === undefined) throw new Error('no discord section');
      platform = new DiscordPlatform({
        config: config.discord,
        logger,
        token: fake.token,
        commands: COMMANDS,
        requestTimeoutMs: 5_000,
      });
      return platform;
    },
  );
  if (platform === undefined) throw new Error('no platform');
  return { fake, platform };
}

/** A refusal is the interaction's first response (type 4, ephemeral); a command's answer follows a defer. */
const refusal = (e: FakeInteraction['events'][number]) =>
  e.kind === 'callback' &&
  e.type === 4 &&
  (Number((e.data as { flags?: number } | undefined)?.flags ?? 0) & 64) !== 0;

async function discordAnswer(fake: FakeDiscord, interaction: FakeInteraction): Promise<Answer> {
  const event = await fake.waitFor(
    () => interaction.events.find((e) => e.kind === 'followup' || e.kind === 'edit-original' || refusal(e)),
    `the answer to interaction ${interaction.id}`,
    15_000,
  );
  if (event.kind === 'followup' || event.kind === 'edit-original') {
    return {
      text: textOf(event.body),
      private: event.kind === 'followup' && (Number(event.body.flags ?? 0) & 64) !== 0,
    };
  }
  if (event.kind !== 'callback') throw new Error('unexpected event');
  return { text: textOf(event.data), private: true };
}

function discordPlans(fake: FakeDiscord, about: string): FakeMessage[] {
  return fake
    .messagesIn(fake.channelId)
    .filter((m) => m.interaction_metadata === undefined && textOf(m.embeds).includes(about));
}

describe('top-level slash commands on Discord', () => {
  it('registers them with /drbd; /failover r0 posts the plan, /containers lists, /ip set web1 … plans', async () => {
    const { fake, platform } = await discordBot();
    await platform.registerCommands();
    expect(fake.guildCommands.map((c) => c.name)).toEqual([
      'drbd',
      ...new Set(COMMANDS.map((c) => c.name.split('-')[0])),
    ]);
    expect(fake.guildCommands.map((c) => c.name)).toEqual(
      expect.arrayContaining(['failover', 'containers', 'ip', 'status']),
    );
    const user = { id: alice.discord, username: alice.name, global_name: null };

    const failover = await discordAnswer(
      fake,
      await fake.slashCommand({ name: 'failover', options: { resource: 'r0' }, user }),
    );
    expect(failover.text).toMatch(/Plan [0-9a-f]{8} posted/);
    await fake.waitFor(
      () => discordPlans(fake, 'failover r0').length > 0 || undefined,
      'the failover plan',
      15_000,
    );
    expect(textOf(discordPlans(fake, 'failover r0')[0]?.embeds)).toContain(
      'failover r0: alpha → beta: waiting for confirmation',
    );

    const containers = await discordAnswer(fake, await fake.slashCommand({ name: 'containers', user }));
    expect(containers.text).toContain('2 of 2 running');
    expect(containers.text).toContain('web1');
    expect(containers.text).toContain(OLD_ADDRESS);

    const ipSet = await discordAnswer(
      fake,
      await fake.slashCommand({
        name: 'ip',
        subcommand: 'set',
        options: { container: 'web1', addresses: NEW_ADDRESS },
        user,
      }),
    );
    expect(ipSet.text).toMatch(/Plan [0-9a-f]{8} posted/);
    await fake.waitFor(
      () => discordPlans(fake, `ip set web1 ${NEW_ADDRESS}`).length > 0 || undefined,
      'the ip set plan',
      15_000,
    );

    const status = await discordAnswer(
      fake,
      await fake.slashCommand({ name: 'status', options: { resource: 'r0' }, user }),
    );
    expect(status.text).toContain('DRBD status of r0');
    const show = await discordAnswer(
      fake,
      await fake.slashCommand({ name: 'ip', subcommand: 'show', options: { container: 'web1' }, user }),
    );
    expect(show.text).toContain('Addresses of web1');
  });

  it('takes a prefix from the configuration, and refuses a command registered under an old name', async () => {
    const { fake, platform } = await discordBot({
      slashCommands: { prefix: 'drbd-', names: { oncall: false } },
    });
    await platform.registerCommands();
    const names = fake.guildCommands.map((c) => c.name);
    expect(names).toContain('drbd-failover');
    expect(names).toContain('drbd-ip');
    expect(names).not.toContain('drbd-oncall');
    const user = { id: alice.discord, username: alice.name, global_name: null };
    const failover = await discordAnswer(
      fake,
      await fake.slashCommand({ name: 'drbd-failover', options: { resource: 'r0' }, user }),
    );
    expect(failover.text).toMatch(/Plan [0-9a-f]{8} posted/);

    // Still registered from before the rename (register-commands not run since): refused, nothing run.
    fake.setGuildCommands([
      ...fake.guildCommands,
      { type: 1, name: 'oncall', description: 'old', options: [] },
    ]);
    const stale = await discordAnswer(fake, await fake.slashCommand({ name: 'oncall', user }));
    expect(stale.text).toContain("/oncall is not one of this bot's commands any more");
  });
});
