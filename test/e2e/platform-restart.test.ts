// Leadership comes and goes: a platform is started when this instance becomes the leader and
// stopped when it steps down, possibly many times. The clients are single-use, so the daemon wraps
// them in RestartablePlatform, which must work again after every restart.
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { DiscordPlatform } from '../../src/adapters/discord/discord-platform.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import { parseConfig } from '../../src/app/config.js';
import { createLogger } from '../../src/app/log.js';
import { RestartablePlatform } from '../../src/app/platforms.js';
import type { CommandHandler } from '../../src/ports/chat.js';
import { FakeDiscord } from '../fakes/discord/index.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, slackConfig } from '../fakes/slack/index.js';
import { onCleanup } from '../helpers/cleanup.js';

const logger = createLogger({ level: 'silent', format: 'json' });

const handler: CommandHandler = async (command) => ({
  message: { title: `echo ${command.text}`, tone: 'info' },
});

describe('platforms across leadership changes', () => {
  it('Slack: start, stop, start again, and a slash command still round-trips', async () => {
    const fake = new FakeSlack();
    await fake.start();
    onCleanup(() => fake.stop());
    const slack = new RestartablePlatform(
      'slack',
      () =>
        new SlackPlatform({
          config: slackConfig(fake),
          logger,
          secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
        }),
    );
    onCleanup(() => slack.stop());
    await slack.start(handler);
    await fake.waitForConnection(1);
    await slack.stop();
    await slack.start(handler);
    await fake.waitFor(() => fake.openConnectionCount === 1, 'one open connection after the restart');
    const { responseUrl } = await fake.sendSlashCommand({ text: 'status', channelId: 'C1' });
    await fake.waitFor(
      () =>
        fake.responsesTo(responseUrl).length > 0 ||
        fake.messages('C1').some((m) => m.text.includes('echo status')),
      'the reply after the restart',
    );
  });

  it('Discord: start, stop, start again, and a slash command still round-trips', async () => {
    const fake = new FakeDiscord();
    await fake.start();
    onCleanup(() => fake.stop());
    const config = parseConfig({
      discord: { apiUrl: fake.apiUrl, applicationId: fake.applicationId, guildId: fake.guildId },
    }).discord;
    if (config === undefined) throw new Error('no discord section');
    await new DiscordPlatform({ config, logger, token: fake.token, commands: COMMANDS }).registerCommands();
    const discord = new RestartablePlatform(
      'discord',
      () => new DiscordPlatform({ config, logger, token: fake.token, commands: COMMANDS }),
    );
    onCleanup(() => discord.stop());
    await discord.start(handler);
    await discord.stop();
    await discord.start(handler);
    const interaction = await fake.slashCommand({ name: 'drbd', subcommand: 'status' });
    const edited = await fake.waitForInteractionEvent(interaction, 'edit-original', 15_000);
    expect(JSON.stringify(edited.body)).toContain('echo status');
  });
});
