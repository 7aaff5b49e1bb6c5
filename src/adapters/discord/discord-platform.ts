// The Discord adapter: the real discord.js client for the gateway (intents: Guilds only, enough for
// interactions and the guild's roles) and its REST client for messages, threads and commands.
//
// Delivery does not retry: that is the outbox's job. REST is set up with retries: 0, a short
// timeout and rejectOnRateLimit for everything but interaction responses, so a 429 surfaces at once
// with its retry-after instead of being waited out inside discord.js. Posts carry a nonce derived
// from the idempotency key with enforce_nonce, so Discord itself turns a retried post into the
// message already created (within its de-duplication window of a few minutes).
//
// Interactions are taken only from the configured guild: the bot (or a user install of the app)
// can be in other guilds and DMs, and every gateway event reaches it. A command is also refused
// outside the channels the configuration allows it in.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  type APIActionRowComponent,
  type APIChannel,
  type APIComponentInActionRow,
  type APIEmbed,
  type APIMessage,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  Client,
  Events,
  GatewayIntentBits,
  GuildMember,
  type Interaction,
  MessageFlags,
  type RateLimitData,
  Routes,
} from 'discord.js';
import { type CommandChannels, channelRefusal, checkCommandChannel } from '../../core/command-channels.js';
import type { Message } from '../../core/message-tones.js';
import { type SlashNaming, slashCommandSet } from '../../core/slash-commands.js';
import {
  type ChatPlatform,
  type CommandContext,
  type CommandHandler,
  type CommandReply,
  DeliveryError,
  type IncomingCommand,
  type Posted,
  type PostOptions,
} from '../../ports/chat.js';
import type { Logger } from '../../ports/logger.js';
import { BUTTON_PREFIX, renderDiscord } from '../../render/discord.js';
import { withTimeout } from '../with-timeout.js';
import {
  buildApplicationCommands,
  type CommandDefinition,
  commandText,
  type GivenOption,
  type TopLevelNaming,
} from './commands.js';
import { DiscordErrorCode, describeError, isDiscordApiError, toDeliveryError } from './discord-errors.js';

/** What this adapter needs from the configuration's `discord` section (src/app/config.ts). */
export interface DiscordConfig {
  /** REST base URL; tests point it at the fake Discord. */
  readonly apiUrl: string;
  readonly applicationId: string;
  /** The only server whose interactions are taken. */
  readonly guildId: string;
}

export interface DiscordPlatformOptions {
  /** The `discord` section of the configuration (apiUrl, applicationId, guildId …). */
  readonly config: DiscordConfig & {
    /** Per command, the channels it may be used in (default: anywhere in the guild). */
    readonly channels?: CommandChannels;
    /** The umbrella command, `/drbd` by default (with its slash, as configured). */
    readonly command?: string;
    /**
     * The commands of their own beside the umbrella (the configuration always says; left out, the
     * umbrella alone, as before there were any).
     */
    readonly slashCommands?: TopLevelNaming;
  };
  readonly logger: Logger;
  /** The bot token, read once by the application at composition (src/app/platforms.ts). */
  readonly token: string;
  /** The subcommands of the slash command (see registerCommands). */
  readonly commands?: readonly CommandDefinition[];
  /** The umbrella slash command without its slash (default: config.command, else `drbd`). */
  readonly commandName?: string;
  readonly commandDescription?: string;
  /** Time limit of one REST request (default 10 s); the outbox retries. */
  readonly requestTimeoutMs?: number;
  /** How long start() waits for the gateway to be ready (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** How long stop() waits for running commands to finish their reply (default 10 s). */
  readonly stopTimeoutMs?: number;
  /**
   * The command a command line names ("ip set web1 …" → ip-set), for the channel allow-lists;
   * undefined when it names none. Default: the subcommand's name (the first word).
   */
  readonly commandNameOf?: (text: string) => string | undefined;
}

/** Discord nonces are at most 25 characters: a hash of the idempotency key. */
export function nonceFor(idempotencyKey: string): string {
  return createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 25);
}

const INTERNAL_ERROR: Message = {
  title: 'Internal error',
  tone: 'critical',
  body: 'The command failed unexpectedly. The details are in the bot log.',
};

const OTHER_GUILD: Message = {
  title: 'Not in this server',
  tone: 'warning',
  body: 'This bot takes commands only in the Discord server it was set up for, not in other servers or direct messages. Nothing was done.',
};

const UNKNOWN_BUTTON: Message = {
  title: 'Unknown button',
  tone: 'warning',
  body: 'This button does not belong to a drbd-chatops command.',
};

interface DiscordPayload {
  embeds: APIEmbed[];
  components: APIActionRowComponent<APIComponentInActionRow>[];
  /** A page's mentions (embeds never ping), and exactly who may be pinged by them. */
  content?: string;
  allowed_mentions?: { parse: 'everyone'[]; users: string[] };
}

function payload(message: Message): DiscordPayload {
  const rendered = renderDiscord(message);
  return {
    embeds: rendered.embeds as unknown as APIEmbed[],
    components: rendered.components as unknown as APIActionRowComponent<APIComponentInActionRow>[],
    ...(rendered.content === undefined || rendered.allowed_mentions === undefined
      ? {}
      : {
          content: rendered.content,
          allowed_mentions: {
            parse: [...rendered.allowed_mentions.parse],
            users: [...rendered.allowed_mentions.users],
          },
        }),
  };
}

/** How many message → channel and parent → thread entries are kept (oldest dropped first). */
const REMEMBERED = 10_000;

function remember(map: Map<string, string>, key: string, value: string): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > REMEMBERED) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

/** Interaction responses are not ours to give up on: they wait out a rate limit instead. */
function rejectOnRateLimit(data: RateLimitData): boolean {
  return !data.route.startsWith('/interactions') && !data.route.startsWith('/webhooks');
}

/** What one top-level command runs: its own command, or one per subcommand word (`/ip set`). */
interface Route {
  readonly command?: string;
  readonly subcommands: ReadonlyMap<string, string>;
}

function routesFor(commands: readonly CommandDefinition[], naming: SlashNaming): Map<string, Route> {
  const set = slashCommandSet(
    commands.map((c) => c.name),
    naming,
    'discord',
  );
  return new Map(
    set.entries.map((entry) => {
      const own = entry.targets.find((t) => t.word === undefined);
      const subcommands = new Map(
        entry.targets.flatMap((t) => (t.word === undefined ? [] : [[t.word, t.command] as const])),
      );
      return [entry.name, own === undefined ? { subcommands } : { command: own.command, subcommands }];
    }),
  );
}

export class DiscordPlatform implements ChatPlatform {
  readonly name = 'discord' as const;
  readonly #client: Client;
  readonly #token: string;
  readonly #log: Logger;
  readonly #config: DiscordPlatformOptions['config'];
  readonly #commandDescription: string;
  #commands: readonly CommandDefinition[];
  /** How the slash commands are named: the umbrella and the commands of their own. */
  readonly #naming: SlashNaming;
  /** Top-level command name → what it runs, for the registered commands. */
  #routes: ReadonlyMap<string, Route> = new Map();
  readonly #readyTimeoutMs: number;
  readonly #stopTimeoutMs: number;
  readonly #commandNameOf: (text: string) => string | undefined;
  /** Parent message id → thread id (on Discord they are equal; the map says the thread exists). */
  readonly #threads = new Map<string, string>();
  /** Message id → the channel (or thread) it was posted in, for update(). */
  readonly #postedIn = new Map<string, string>();
  readonly #pending = new Set<Promise<void>>();
  #handler: CommandHandler | undefined;
  #started = false;

  constructor(options: DiscordPlatformOptions) {
    this.#config = options.config;
    this.#log = options.logger.child({ platform: 'discord' });
    this.#token = options.token;
    this.#commands = options.commands ?? [];
    const topLevel = options.config.slashCommands ?? { enabled: false, prefix: '', names: {} };
    this.#naming = {
      umbrella: options.commandName ?? options.config.command?.replace(/^\//, '') ?? 'drbd',
      enabled: topLevel.enabled,
      prefix: topLevel.prefix,
      names: topLevel.names,
    };
    this.#routes = routesFor(this.#commands, this.#naming);
    this.#commandDescription = options.commandDescription ?? 'DRBD pair operations';
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.#commandNameOf =
      options.commandNameOf ?? ((text) => /^\S+/.exec(text)?.[0]?.toLowerCase() ?? undefined);
    this.#client = new Client({
      intents: [GatewayIntentBits.Guilds],
      rest: {
        // @discordjs/rest appends /v10; the gateway URL comes from GET /gateway/bot on this base.
        api: options.config.apiUrl.replace(/\/+$/, ''),
        retries: 0,
        timeout: options.requestTimeoutMs ?? 10_000,
        rejectOnRateLimit,
      },
    });
    // REST works without a gateway login (posting, registerCommands from the CLI).
    this.#client.rest.setToken(this.#token);
    // The client's `debug` events can carry the token: they are deliberately not forwarded.
    this.#client.on(Events.Error, (err) =>
      this.#log.error({ error: describeError(err) }, 'Discord client error'),
    );
    this.#client.on(Events.Warn, (text) => this.#log.warn({ detail: text }, 'Discord client warning'));
    this.#client.on(Events.ShardError, (err, shard) =>
      this.#log.warn({ shard, error: describeError(err) }, 'Discord gateway error'),
    );
    this.#client.on(Events.ShardDisconnect, (event, shard) =>
      this.#log.warn({ shard, code: event.code }, 'Discord gateway disconnected'),
    );
    this.#client.on(Events.ShardReconnecting, (shard) =>
      this.#log.info({ shard }, 'Discord gateway reconnecting'),
    );
    this.#client.on(Events.ShardResume, (shard, replayed) =>
      this.#log.info({ shard, replayed }, 'Discord gateway resumed'),
    );
    this.#client.on(Events.InteractionCreate, (interaction) => this.#track(this.#onInteraction(interaction)));
  }

  /** Log in to the gateway and take slash commands and button clicks until stop(). */
  async start(handler: CommandHandler): Promise<void> {
    if (this.#started) throw new Error('the Discord adapter is already started');
    this.#started = true;
    this.#handler = handler;
    const signal = AbortSignal.timeout(this.#readyTimeoutMs);
    const ready = once(this.#client, Events.ClientReady, { signal });
    ready.catch(() => undefined);
    try {
      await this.#client.login(this.#token);
      await ready;
    } catch (err) {
      this.#started = false;
      await this.#client.destroy().catch(() => undefined);
      this.#client.rest.setToken(this.#token);
      const reason = signal.aborted ? `not ready within ${this.#readyTimeoutMs} ms` : (err as Error).message;
      throw new Error(`Discord login failed: ${reason}`);
    }
    const inGuild = this.#client.guilds.cache.has(this.#config.guildId);
    this.#log.info(
      { user: this.#client.user?.tag, guildId: this.#config.guildId, inGuild },
      'connected to the Discord gateway',
    );
    if (!inGuild)
      this.#log.warn({ guildId: this.#config.guildId }, 'the bot is not a member of the configured guild');
  }

  /** Finish the replies of running commands (up to stopTimeoutMs), then disconnect. */
  async stop(): Promise<void> {
    if (this.#pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#stopTimeoutMs);
      });
      await Promise.race([Promise.allSettled([...this.#pending]), timeout]);
      clearTimeout(timer);
    }
    this.#started = false;
    this.#handler = undefined;
    await this.#client.destroy();
  }

  async post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    const body = { ...payload(message), nonce: nonceFor(options.idempotencyKey), enforce_nonce: true };
    const threadOf = options.threadOf;
    if (threadOf === undefined) return this.#create(channel, body);
    const known = this.#threads.has(threadOf);
    const thread = await this.#threadFor(channel, threadOf, message);
    try {
      return await this.#create(thread, body);
    } catch (err) {
      if (!known || !(err instanceof DeliveryError) || err.status !== 404) throw err;
      // The thread we knew was deleted: start a new one from the parent message, once.
      this.#threads.delete(threadOf);
      return this.#create(await this.#threadFor(channel, threadOf, message), body);
    }
  }

  async #create(target: string, body: Record<string, unknown>): Promise<Posted> {
    let created: APIMessage;
    try {
      created = (await this.#client.rest.post(Routes.channelMessages(target), { body })) as APIMessage;
    } catch (err) {
      throw toDeliveryError(err, `post to Discord channel ${target}`);
    }
    remember(this.#postedIn, created.id, target);
    return { messageId: created.id };
  }

  /**
   * Edits a message. A reply posted into a thread lives in the thread: the adapter remembers where
   * it posted each message (in memory), so `channel` may be the parent channel.
   */
  async update(channel: string, messageId: string, message: Message): Promise<void> {
    const target = this.#postedIn.get(messageId) ?? channel;
    try {
      await this.#client.rest.patch(Routes.channelMessage(target, messageId), { body: payload(message) });
    } catch (err) {
      throw toDeliveryError(err, `edit Discord message ${messageId} in ${target}`);
    }
  }

  /**
   * Discord cannot look a message up by nonce (nonces are not returned when reading history), so
   * this finds nothing. It does not need to: a re-post after a crash carries the same nonce with
   * enforce_nonce, and Discord answers with the message already created instead of a new one.
   */
  async findPosted(_channel: string, _idempotencyKey: string): Promise<Posted | undefined> {
    return undefined;
  }

  /**
   * Bulk-overwrite the guild's application commands with `/drbd <subcommand> …` built from
   * `commands` (default: the constructor's). Needs no gateway login; backs
   * `drbd-chatops register-commands discord`. Returns the commands as Discord stored them.
   */
  async registerCommands(
    commands: readonly CommandDefinition[] = this.#commands,
  ): Promise<Record<string, unknown>[]> {
    const body = buildApplicationCommands(
      this.#naming.umbrella,
      this.#commandDescription,
      commands,
      this.#naming,
    );
    let result: unknown;
    try {
      result = await this.#client.rest.put(
        Routes.applicationGuildCommands(this.#config.applicationId, this.#config.guildId),
        { body },
      );
    } catch (err) {
      throw toDeliveryError(err, `register Discord commands in guild ${this.#config.guildId}`);
    }
    this.#commands = commands;
    this.#routes = routesFor(commands, this.#naming);
    this.#log.info(
      { guildId: this.#config.guildId, commands: body.map((c) => `/${String(c.name)}`) },
      'registered Discord commands',
    );
    return result as Record<string, unknown>[];
  }

  /** The thread started from `parentId` (same id, as Discord gives a message's thread its id). */
  async #threadFor(channel: string, parentId: string, message: Message): Promise<string> {
    const known = this.#threads.get(parentId);
    if (known !== undefined) return known;
    const name = (message.title.trim() === '' ? 'drbd-chatops' : message.title.trim()).slice(0, 100);
    try {
      const thread = (await this.#client.rest.post(Routes.threads(channel, parentId), {
        body: { name, auto_archive_duration: 10_080 },
      })) as APIChannel;
      remember(this.#threads, parentId, thread.id);
      return thread.id;
    } catch (err) {
      if (isDiscordApiError(err, DiscordErrorCode.ThreadAlreadyCreated)) {
        remember(this.#threads, parentId, parentId);
        return parentId;
      }
      throw toDeliveryError(err, `start a Discord thread on message ${parentId} in ${channel}`);
    }
  }

  // ---- commands --------------------------------------------------------------------------------

  #track(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) =>
      this.#log.error({ error: describeError(err) }, 'Discord interaction handling failed'),
    );
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }

  async #onInteraction(interaction: Interaction): Promise<void> {
    const handler = this.#handler;
    if (handler === undefined) return;
    if (!interaction.isChatInputCommand() && !interaction.isButton()) return;
    if (interaction.guildId !== this.#config.guildId) {
      // Another guild the bot (or a user install of the app) is in, or a DM: not ours to act on.
      this.#log.warn(
        {
          guildId: interaction.guildId ?? 'direct message',
          userId: interaction.user.id,
          channelId: interaction.channelId,
          interaction: interaction.isButton() ? interaction.customId : interaction.commandName,
        },
        'refused a Discord interaction from outside the configured guild',
      );
      await this.#refuse(interaction, OTHER_GUILD);
      return;
    }
    if (interaction.isChatInputCommand()) {
      const invoked = this.#commandLineOf(interaction);
      if (invoked === undefined) {
        // Registered by an older configuration (renamed or turned off since): say so, run nothing.
        this.#log.warn(
          { command: interaction.commandName },
          'refused a Discord command this bot does not offer',
        );
        await this.#refuse(interaction, {
          title: 'Not a command of this bot',
          tone: 'warning',
          body: `/${interaction.commandName} is not one of this bot's commands any more (renamed or turned off). Use /${this.#naming.umbrella} help; an admin can run \`drbd-chatops register-commands discord\` to update the list. Nothing was done.`,
        });
        return;
      }
      await this.#run(interaction, handler, invoked.text, 'slash-command', invoked.private);
    } else if (interaction.isButton()) {
      if (!interaction.customId.startsWith(BUTTON_PREFIX)) {
        this.#log.warn({ customId: interaction.customId }, 'ignoring a button without a command');
        await interaction.reply({ ...payload(UNKNOWN_BUTTON), flags: MessageFlags.Ephemeral });
        return;
      }
      await this.#run(
        interaction,
        handler,
        interaction.customId.slice(BUTTON_PREFIX.length),
        'button',
        false,
      );
    }
  }

  /**
   * The command line a slash command stands for: `/drbd failover r0` and `/failover r0` are both
   * "failover r0", `/ip set` is "ip-set …". Undefined for a command this bot does not offer.
   */
  #commandLineOf(
    interaction: ChatInputCommandInteraction,
  ): { readonly text: string; readonly private: boolean } | undefined {
    const subcommand = interaction.options.getSubcommand(false) ?? undefined;
    let command: string | undefined;
    let given: readonly GivenOption[];
    if (interaction.commandName === this.#naming.umbrella) {
      command = subcommand;
      given = interaction.options.data[0]?.options ?? [];
    } else {
      const route = this.#routes.get(interaction.commandName);
      if (route === undefined) return undefined;
      command = subcommand === undefined ? route.command : route.subcommands.get(subcommand);
      given =
        subcommand === undefined ? interaction.options.data : (interaction.options.data[0]?.options ?? []);
      if (command === undefined) return undefined;
    }
    if (command === undefined || command === '') return { text: '', private: false };
    const definition = this.#commands.find((c) => c.name === command);
    return { text: commandText(command, definition, given), private: definition?.private === true };
  }

  /**
   * The parent channel when the interaction comes from a thread. From the cache (threads arrive with
   * GUILD_CREATE and THREAD_CREATE), else asked over REST: an archived thread is not cached. Briefly,
   * as the interaction must be answered within 3 s; undefined (not a thread, or unknown) refuses.
   */
  async #parentChannelOf(
    interaction: ChatInputCommandInteraction | ButtonInteraction,
  ): Promise<string | undefined> {
    const cached = interaction.channel;
    if (cached !== null) return cached.isThread() ? (cached.parentId ?? undefined) : undefined;
    if (interaction.channelId === null) return undefined;
    try {
      const fetched = await withTimeout(this.#client.channels.fetch(interaction.channelId), 1_500);
      if (fetched === 'timeout' || fetched === null || !fetched.isThread()) return undefined;
      return fetched.parentId ?? undefined;
    } catch (err) {
      this.#log.warn(
        { channelId: interaction.channelId, error: describeError(err) },
        'could not look up the channel of a Discord interaction',
      );
      return undefined;
    }
  }

  /** An ephemeral answer only the person sees, instead of running anything. */
  async #refuse(
    interaction: ChatInputCommandInteraction | ButtonInteraction,
    message: Message,
  ): Promise<void> {
    try {
      await interaction.reply({ ...payload(message), flags: MessageFlags.Ephemeral });
    } catch (err) {
      this.#log.warn({ error: describeError(err) }, 'could not deliver a Discord refusal');
    }
  }

  async #run(
    interaction: ChatInputCommandInteraction | ButtonInteraction,
    handler: CommandHandler,
    text: string,
    source: IncomingCommand['source'],
    ephemeral: boolean,
  ): Promise<void> {
    const name = this.#commandNameOf(text);
    const allowList = this.#config.channels ?? {};
    const channelId = interaction.channelId ?? '';
    let decision = checkCommandChannel(allowList, name, [channelId]);
    if (!decision.allowed) {
      // A thread counts as its parent channel: replies to an alert live in the alert's thread.
      const parent = await this.#parentChannelOf(interaction);
      if (parent !== undefined) decision = checkCommandChannel(allowList, name, [channelId, parent]);
    }
    if (!decision.allowed) {
      this.#log.warn(
        {
          userId: interaction.user.id,
          channelId: interaction.channelId,
          command: text.slice(0, 100),
          rule: decision.rule,
          allowedIn: decision.allowedIn,
        },
        'refused a Discord command outside its allowed channels',
      );
      await this.#refuse(
        interaction,
        channelRefusal(decision, name, (id) => `<#${id}>`),
      );
      return;
    }
    // Acknowledge first: Discord drops an interaction not answered within 3 s.
    try {
      await interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    } catch (err) {
      this.#log.error(
        { error: describeError(err), text, source },
        'could not acknowledge a Discord interaction',
      );
      return;
    }
    const member = interaction.member;
    const command: IncomingCommand = {
      platform: 'discord',
      text,
      userId: interaction.user.id,
      userName: member instanceof GuildMember ? member.displayName : interaction.user.displayName,
      roles:
        member === null
          ? []
          : member instanceof GuildMember
            ? member.roles.cache.filter((r) => r.id !== member.guild.id).map((r) => r.id)
            : [...member.roles],
      channelId: interaction.channelId ?? '',
      source,
    };
    // Edits go out one after the other; once the final reply is given, late updates are dropped.
    let finished = false;
    let edits: Promise<unknown> = Promise.resolve();
    const context: CommandContext = {
      update: async (message) => {
        if (finished) return;
        const edit = edits.then(() => interaction.editReply(payload(message)));
        edits = edit.catch(() => undefined);
        try {
          await edit;
        } catch (err) {
          throw toDeliveryError(err, 'update the Discord command reply');
        }
      },
    };
    let reply: CommandReply;
    try {
      reply = await handler(command, context);
    } catch (err) {
      this.#log.error({ err, command: text, source, userId: command.userId }, 'command handler failed');
      reply = { message: INTERNAL_ERROR };
    }
    finished = true;
    await edits;
    try {
      if (reply.private === true && !ephemeral) {
        // Deferred in public: replace the placeholder by a message only the requester sees.
        await interaction.deleteReply();
        await interaction.followUp({ ...payload(reply.message), flags: MessageFlags.Ephemeral });
      } else {
        await interaction.editReply(payload(reply.message));
      }
    } catch (err) {
      this.#log.error(
        { error: describeError(err), command: text, source },
        'could not deliver a Discord command reply',
      );
    }
  }
}
