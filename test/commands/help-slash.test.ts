// `help` on Slack and Discord writes each command as it is typed there: its own slash command with
// the workspace's names (`/failover …`, `/drbd-status …`, `/ip set …`), through the umbrella where
// it has none; in the console the command line itself. Through the real command handler.
import { describe, expect, it } from 'vitest';
import type { HelpContext } from '../../commands/help.js';
import { commandHandler } from '../../src/app/command-registry.js';
import { parseConfig, slashNamings } from '../../src/app/config.js';
import { createLogger } from '../../src/app/log.js';
import type { Message } from '../../src/core/message-tones.js';
import { DEFAULT_SLASH_NAMING } from '../../src/core/slash-commands.js';
import type { PlatformName } from '../../src/ports/chat.js';
import { commandContext } from './context.js';

async function help(platform: PlatformName, slashCommands?: HelpContext['slashCommands']): Promise<Message> {
  const context: HelpContext = {
    ...commandContext(),
    ...(slashCommands === undefined ? {} : { slashCommands }),
  };
  const reply = await commandHandler(context, createLogger({ level: 'silent', format: 'json' }))(
    {
      platform,
      text: 'help',
      userId: 'U0ALICE',
      userName: 'alice',
      roles: [],
      channelId: 'C0OPS',
      source: 'slash-command',
    },
    { update: async () => undefined },
  );
  return reply.message;
}

const labels = (m: Message) => m.fields?.map((f) => f.label) ?? [];

describe('help shows the syntax as it is typed on the platform', () => {
  const NAMING = {
    slack: { ...DEFAULT_SLASH_NAMING, prefix: 'drbd-', names: { failover: 'move', oncall: false } },
    discord: DEFAULT_SLASH_NAMING,
  } as const;

  it('on Discord: the commands of their own', async () => {
    const m = await help('discord', NAMING);
    expect(labels(m)).toContain('/failover <resource> [to <host>] [--force]');
    expect(labels(m)).toContain('/status [resource]');
    expect(labels(m)).toContain('/ip set <container> <addresses>');
    expect(m.body).toContain('`/drbd failover r0`');
  });

  it("on Slack: the workspace's names, and the umbrella for a command turned off", async () => {
    // As the daemon passes them: from the configuration.
    const fromConfig = slashNamings(
      parseConfig({
        slack: { slashCommands: { prefix: 'drbd-', names: { failover: '/move', oncall: false } } },
      }),
    );
    expect(fromConfig.slack).toEqual(NAMING.slack);
    const m = await help('slack', fromConfig);
    expect(labels(m)).toContain('/move <resource> [to <host>] [--force]');
    expect(labels(m)).toContain('/drbd-status [resource]');
    expect(labels(m)).toContain('/drbd-ip set <container> <addresses>');
    expect(labels(m)).toContain('/drbd oncall');
  });

  it('in the console, and where no names were given: the command line itself', async () => {
    for (const m of [await help('console', NAMING), await help('slack')]) {
      expect(labels(m)).toContain('failover <resource> [to <host>] [--force]');
      expect(m.body).not.toContain('/drbd');
    }
  });
});
