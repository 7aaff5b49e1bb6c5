// Builds the chat platforms the configuration asks for. Secrets are read here, once, from the
// environment or files; a missing secret stops the start with a message naming where it should be.
// A platform's library is loaded only when that platform is configured (dynamic import): Slack and
// Discord on first use (RestartablePlatform), so an unused one costs neither memory nor start-up.

import { ConsolePlatform } from '../adapters/console.js';
import type { SlackSecrets } from '../adapters/slack/slack-platform.js';
import type { ConsoleStatus } from '../adapters/web-console/console-status.js';
import type { Message } from '../core/message-tones.js';
import type {
  ChatPlatform,
  CommandHandler,
  PlatformName,
  Posted,
  PostOptions,
  UpdateOptions,
} from '../ports/chat.js';
import { type CommandDefinition, tokenize } from './command-registry.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { readSecret } from './secrets.js';

export interface PlatformIo {
  /** The web console's status panel; filled in once the daemon exists. */
  readonly webStatus?: { current?: () => Promise<ConsoleStatus> };
  /** Show messages on this stream (and read commands from `input`) as the console platform. */
  readonly console?: { output: NodeJS.WritableStream & { isTTY?: boolean }; input?: NodeJS.ReadableStream };
}

/**
 * A platform that can be started and stopped again and again, as leadership comes and goes. The
 * Slack and Discord clients are single-use (Bolt's app and discord.js's client cannot start after
 * a stop), so each term gets a fresh client from the factory. Posting needs no started client: a
 * follower posting its criticals when nobody leads (fail open) uses an unstarted one.
 */
export class RestartablePlatform implements ChatPlatform {
  #current: Promise<ChatPlatform> | undefined;
  #started = false;

  /**
   * `create` may load the platform's library on demand (a dynamic import): then a daemon that is
   * not the leader, or not yet, never loads Bolt or discord.js, and the start-up path to a healthy
   * daemon does not wait for them.
   */
  constructor(
    readonly name: PlatformName,
    readonly create: () => ChatPlatform | Promise<ChatPlatform>,
  ) {}

  #client(): Promise<ChatPlatform> {
    this.#current ??= Promise.resolve().then(() => this.create());
    return this.#current;
  }

  async start(handler: CommandHandler): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await (await this.#client()).start(handler);
  }

  async stop(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    this.#started = false;
    await (await current?.catch(() => undefined))?.stop();
  }

  async post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    return (await this.#client()).post(channel, message, options);
  }

  async update(channel: string, messageId: string, message: Message, options?: UpdateOptions): Promise<void> {
    return (await this.#client()).update(channel, messageId, message, options);
  }

  async findPosted(channel: string, idempotencyKey: string): Promise<Posted | undefined> {
    return (await this.#client()).findPosted(channel, idempotencyKey);
  }
}

/** The secrets the configured Slack mode needs, read once here, at composition. */
function readSlackSecrets(slack: NonNullable<Config['slack']>): SlackSecrets {
  const botToken = readSecret('Slack bot token', { envName: slack.botTokenEnv, file: slack.botTokenFile });
  if (slack.mode === 'socket') {
    const appToken = readSecret('Slack app-level token', {
      envName: slack.appTokenEnv,
      file: slack.appTokenFile,
    });
    return { botToken, appToken };
  }
  const signingSecret = readSecret('Slack signing secret', {
    envName: slack.signingSecretEnv,
    file: slack.signingSecretFile,
  });
  return { botToken, signingSecret };
}

/**
 * The command a command line names, read as the command registry reads it ("ip set web1 …" is
 * ip-set; quotes removed), for the channel allow-lists; undefined when it names no command.
 */
export function commandNamer(commands: readonly CommandDefinition[]): (text: string) => string | undefined {
  const names: ReadonlySet<string> = new Set(commands.map((c) => c.name));
  return (text) => {
    let words: string[];
    try {
      words = tokenize(text.trim());
    } catch {
      return undefined; // badly quoted: the registry refuses it before anything runs
    }
    const [first, second] = words;
    if (first === undefined) return undefined;
    const joined = `${first}-${second ?? ''}`.toLowerCase();
    if (second !== undefined && names.has(joined)) return joined;
    const name = first.toLowerCase();
    return names.has(name) ? name : undefined;
  };
}

/** A misspelt command in an allow-list would silently allow it everywhere: refuse to start instead. */
function checkCommandChannels(
  section: string,
  channels: Readonly<Record<string, unknown>>,
  commands: readonly CommandDefinition[],
): void {
  const names = commands.map((c) => c.name);
  for (const name of Object.keys(channels)) {
    if (name !== '*' && !names.includes(name)) {
      throw new Error(
        `${section}.channels.${name}: no such command (commands: ${names.join(', ')}, or * for all)`,
      );
    }
  }
}

/**
 * The platforms the configuration asks for. `commands`: the chat commands, chosen once by the
 * entry point (the demo adds its own).
 */
export async function createPlatforms(
  config: Config,
  logger: Logger,
  commands: readonly CommandDefinition[],
  io: PlatformIo = {},
): Promise<Map<PlatformName, ChatPlatform>> {
  const platforms = new Map<PlatformName, ChatPlatform>();
  const commandNameOf = commandNamer(commands);
  // Each platform library is loaded only when configured: Bolt and discord.js are tens of MiB of
  // resident memory and most of the start-up time of a daemon that uses neither (or one).
  if (config.slack?.enabled === true) {
    const slack = config.slack;
    checkCommandChannels('slack', slack.channels, commands);
    // Secrets now, so that a missing one stops the start; the library when the platform is first
    // used (see RestartablePlatform).
    const secrets = readSlackSecrets(slack);
    platforms.set(
      'slack',
      new RestartablePlatform('slack', async () => {
        const { SlackPlatform } = await import('../adapters/slack/slack-platform.js');
        return new SlackPlatform({
          config: slack,
          logger: logger.child({ platform: 'slack' }),
          secrets,
          stateDir: config.stateDir,
          commandName: commandNameOf,
        });
      }),
    );
  }
  if (config.discord?.enabled === true) {
    const discord = config.discord;
    checkCommandChannels('discord', discord.channels, commands);
    const token = readSecret('Discord bot token', { envName: discord.tokenEnv, file: discord.tokenFile });
    platforms.set(
      'discord',
      new RestartablePlatform('discord', async () => {
        const { DiscordPlatform } = await import('../adapters/discord/discord-platform.js');
        return new DiscordPlatform({
          config: discord,
          logger: logger.child({ platform: 'discord' }),
          token,
          commands,
          commandNameOf,
        });
      }),
    );
  }
  if (config.web?.enabled === true) {
    const web = config.web;
    const { parseWebUsers, WebConsolePlatform } = await import('../adapters/web-console/web-console.js');
    const users = parseWebUsers(
      readSecret('web console users', { envName: web.usersEnv, file: web.usersFile }),
      web.usersFile ?? web.usersEnv,
    );
    // One object across leadership terms: it can start again after a stop, keeping its page state.
    platforms.set(
      'web',
      new WebConsolePlatform({
        host: web.listen.host,
        port: web.listen.port,
        users,
        channel: web.channel,
        ...(web.title === undefined ? {} : { title: web.title }),
        secureCookie: web.secureCookie,
        allowedOrigins: web.allowedOrigins,
        status: async () => {
          const current = io.webStatus?.current;
          if (current === undefined) return { leader: null, token: 0, hosts: [] };
          return current();
        },
        logger: logger.child({ platform: 'web' }),
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
