import { COMMANDS } from '../../commands/index.js';
// The chat platforms as composition builds them: secrets are read there, once (a missing one stops
// the start and says where it should be), and each platform's library is loaded on first use.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/app/config.js';
import { createLogger } from '../../src/app/log.js';
import { createPlatforms } from '../../src/app/platforms.js';
import type { Message } from '../../src/core/message-tones.js';
import { FakeDiscord } from '../fakes/discord/index.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';

const logger = createLogger({ level: 'silent', format: 'json' });
const ALERT: Message = { title: 'r0: connection lost', tone: 'critical' };

function withEnv(name: string, value: string | undefined): void {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  onCleanup(() => {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  });
}

describe('createPlatforms', () => {
  it('reads the Slack tokens at composition: a missing one stops the start, naming where it goes', async () => {
    withEnv('DRBD_CHATOPS_TEST_SLACK_BOT', undefined);
    const config = parseConfig({
      stateDir: tempDir(),
      slack: { botTokenEnv: 'DRBD_CHATOPS_TEST_SLACK_BOT' },
      web: { enabled: false },
    });
    await expect(createPlatforms(config, logger, COMMANDS)).rejects.toThrow(
      'Slack bot token: set the environment variable DRBD_CHATOPS_TEST_SLACK_BOT (or name a file in the configuration)',
    );
  });

  it('reads the Discord token from the variable the configuration names and posts with it', async () => {
    const fake = new FakeDiscord();
    await fake.start();
    onCleanup(() => fake.stop());
    withEnv('DRBD_CHATOPS_TEST_DISCORD', fake.token);
    const config = parseConfig({
      stateDir: tempDir(),
      discord: {
        apiUrl: fake.apiUrl,
        applicationId: fake.applicationId,
        guildId: fake.guildId,
        tokenEnv: 'DRBD_CHATOPS_TEST_DISCORD',
      },
      web: { enabled: false },
    });
    const platforms = await createPlatforms(config, logger, COMMANDS);
    const discord = platforms.get('discord');
    if (discord === undefined) throw new Error('no discord platform');
    onCleanup(() => discord.stop());
    await discord.post(fake.channelId, ALERT, { idempotencyKey: 'env' });
    expect(fake.messagesIn(fake.channelId)).toHaveLength(1);
  });
});
