// Builds the chat platforms the configuration asks for. Secrets are read here, once, from the
// environment or files; a missing secret stops the start with a message naming where it should be.

import { COMMANDS } from '../../commands/index.js';
import { ConsolePlatform } from '../adapters/console.js';
import { DiscordPlatform } from '../adapters/discord/discord-platform.js';
import { SlackPlatform } from '../adapters/slack/slack-platform.js';
import type { ChatPlatform, PlatformName } from '../ports/chat.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

export interface PlatformIo {
  /** Show messages on this stream (and read commands from `input`) as the console platform. */
  readonly console?: { output: NodeJS.WritableStream & { isTTY?: boolean }; input?: NodeJS.ReadableStream };
}

export async function createPlatforms(
  config: Config,
  logger: Logger,
  io: PlatformIo = {},
): Promise<Map<PlatformName, ChatPlatform>> {
  const platforms = new Map<PlatformName, ChatPlatform>();
  if (config.slack?.enabled === true) {
    platforms.set(
      'slack',
      new SlackPlatform({ config: config.slack, logger: logger.child({ platform: 'slack' }) }),
    );
  }
  if (config.discord?.enabled === true) {
    platforms.set(
      'discord',
      new DiscordPlatform({
        config: config.discord,
        logger: logger.child({ platform: 'discord' }),
        commands: COMMANDS,
      }),
    );
  }
  if (io.console !== undefined) {
    platforms.set(
      'console',
      new ConsolePlatform({
        output: io.console.output,
        ...(io.console.input === undefined ? {} : { input: io.console.input }),
      }),
    );
  }
  return platforms;
}
