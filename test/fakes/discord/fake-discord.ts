// A fake Discord for tests: a real HTTP server for the REST API (v10) and a real WebSocket gateway,
// both on 127.0.0.1 with random ports, so the real discord.js talks to it exactly as to Discord. No
// module mocking. It keeps channels, messages, threads, application commands and interactions in
// memory, records every request with its time, answers the way Discord does (errors with their
// codes, nonce + enforce_nonce de-duplication, the 3-second interaction acknowledgement window) and
// takes faults: 429s, 5xx, slow answers, cut connections, an unreachable API, a dropped gateway.

import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGateway, type GatewaySession } from './gateway.js';
import { type FormErrors, validateCommands, validateMessage } from './validate.js';

export interface FakeUser {
  readonly id: string;
  readonly username: string;
  readonly global_name?: string | null;
}

export interface FakeRole {
  readonly id: string;
  readonly name: string;
}

export interface FakeChannelSpec {
  readonly id: string;
  readonly name: string;
}

export interface FakeDiscordOptions {
  readonly token?: string;
  readonly applicationId?: string;
  readonly guildId?: string;
  readonly guildName?: string;
  readonly botUser?: FakeUser;
  /** Guild text channels (default: one, `alerts`). */
  readonly channels?: readonly FakeChannelSpec[];
  /** Guild roles besides @everyone (default: `drbd-operators`, `drbd-approvers`). */
  readonly roles?: readonly FakeRole[];
  readonly heartbeatIntervalMs?: number;
  /** Privileged intents enabled for the application in the "developer portal" (default none). */
  readonly privilegedIntents?: number;
  /** How long a nonce with enforce_nonce de-duplicates (Discord: "a few minutes"). */
  readonly nonceWindowMs?: number;
  /** Discord refuses an interaction's first response after 3 s. */
  readonly interactionAckWindowMs?: number;
}

export interface RecordedRequest {
  /** Date.now() when the request arrived. */
  readonly at: number;
  readonly method: string;
  /** Path below /api/v10, e.g. /channels/123/messages. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  status?: number;
  /** Date.now() when the answer went out (or the connection was cut). */
  answeredAt?: number;
  fault?: Fault['kind'];
}

export type Fault =
  /** 429 with retry-after (seconds, may be fractional) and the x-ratelimit headers. */
  | { readonly kind: 'rate-limit'; readonly retryAfterSeconds: number; readonly global?: boolean }
  /** Any status with a Discord error body ({message, code}). */
  | { readonly kind: 'error'; readonly status: number; readonly code?: number; readonly message?: string }
  /** Answer normally after a pause (the request takes effect after the pause, answered or not). */
  | { readonly kind: 'delay'; readonly ms: number }
  /**
   * Cut the connection without an answer. With `afterProcessing` the request takes effect first
   * (the answer is lost on the way back, the case idempotency keys exist for).
   */
  | { readonly kind: 'destroy'; readonly afterProcessing?: boolean };

interface ArmedFault {
  readonly pattern: RegExp;
  readonly fault: Fault;
  remaining: number;
}

export interface FakeMessage {
  readonly id: string;
  channel_id: string;
  /** Absent in a direct message. */
  guild_id?: string;
  author: Record<string, unknown>;
  content: string;
  embeds: unknown[];
  components: unknown[];
  flags: number;
  nonce?: string | number;
  timestamp: string;
  edited_timestamp: string | null;
  type: number;
  tts: false;
  pinned: false;
  /** @everyone/@here in the content, when allowed_mentions let it ping. */
  mention_everyone: boolean;
  /** The users the content pings (`<@id>`), as allowed_mentions let it. */
  mentions: unknown[];
  mention_roles: unknown[];
  attachments: unknown[];
  webhook_id?: string;
  application_id?: string;
  interaction_metadata?: Record<string, unknown>;
}

export interface FakeChannel {
  readonly id: string;
  readonly type: number;
  readonly guild_id: string;
  name: string;
  readonly parent_id: string | null;
  readonly position?: number;
  readonly owner_id?: string;
  readonly thread_metadata?: Record<string, unknown>;
}

export type InteractionEvent =
  | { readonly kind: 'callback'; readonly type: number; readonly data: unknown; readonly at: number }
  | { readonly kind: 'edit-original'; readonly body: Record<string, unknown>; readonly at: number }
  | { readonly kind: 'delete-original'; readonly at: number }
  | {
      readonly kind: 'followup';
      readonly body: Record<string, unknown>;
      readonly messageId: string;
      readonly at: number;
    }
  | {
      readonly kind: 'refused';
      readonly what: string;
      readonly status: number;
      readonly code: number;
      readonly at: number;
    };

export interface FakeInteraction {
  readonly id: string;
  readonly token: string;
  /** 2 application command, 3 message component. */
  readonly type: 2 | 3;
  readonly channelId: string;
  /** The guild it was used in; null in a direct message with the bot. */
  readonly guildId: string | null;
  readonly user: FakeUser;
  readonly roles: readonly string[];
  /** The interaction's `data` as dispatched. */
  readonly data: Record<string, unknown>;
  readonly dispatchedAt: number;
  /** The message a clicked button sits on. */
  readonly componentMessageId?: string;
  /** The first callback (its type and time). */
  acknowledged?: { readonly type: number; readonly at: number };
  /** The message `@original` refers to once acknowledged. */
  originalMessageId?: string;
  readonly events: InteractionEvent[];
}

export interface SlashCommandInput {
  /** The top-level command, which must have been registered (PUT …/commands) as on Discord. */
  readonly name: string;
  readonly subcommand?: string;
  readonly options?: Readonly<Record<string, string | number | boolean>>;
  readonly user?: FakeUser;
  readonly roles?: readonly string[];
  readonly channelId?: string;
  /**
   * Used in another guild than the fake's own (one the bot, or a user install of the app, is in).
   * As on Discord, only a global command can be used there: guild commands exist in their guild.
   */
  readonly guildId?: string;
  /** Used in a direct message with the bot (a global command; no guild, no member). */
  readonly dm?: boolean;
}

export interface ButtonClickInput {
  readonly customId: string;
  /** The message carrying the button; default: the newest message that has it. */
  readonly messageId?: string;
  readonly user?: FakeUser;
  readonly roles?: readonly string[];
}

interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

const EPHEMERAL = 1 << 6;
const LOADING = 1 << 7;
const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Who a message's content pings, as Discord decides it: `<@id>` users and @everyone/@here, limited by
 * allowed_mentions when given (`parse` names the kinds that ping by themselves, `users` the users
 * that may); without allowed_mentions everything in the content pings. Embeds never ping.
 */
function pings(content: string, allowed: unknown): { mentions: { id: string }[]; mention_everyone: boolean } {
  const named = [...new Set([...content.matchAll(/<@!?(\d{5,25})>/g)].map((m) => m[1] as string))];
  const everyone = /@(everyone|here)\b/.test(content);
  if (!isRecord(allowed)) return { mentions: named.map((id) => ({ id })), mention_everyone: everyone };
  const parse = Array.isArray(allowed.parse) ? allowed.parse : [];
  const users = Array.isArray(allowed.users) ? allowed.users.map(String) : [];
  return {
    mentions: named.filter((id) => parse.includes('users') || users.includes(id)).map((id) => ({ id })),
    mention_everyone: everyone && parse.includes('everyone'),
  };
}
const DEFAULT_USER: FakeUser = { id: '300000000000000001', username: 'oncall', global_name: 'On Call' };

function discordError(status: number, code: number, message: string, errors?: FormErrors): Reply {
  const body: Record<string, unknown> = { message, code };
  if (errors !== undefined) {
    body.errors = Object.fromEntries(
      Object.entries(errors).map(([path, text]) => [
        path,
        { _errors: [{ code: 'BASE_TYPE_INVALID', message: text }] },
      ]),
    );
  }
  return { status, body };
}

const unknownChannel = (): Reply => discordError(404, 10003, 'Unknown Channel');
const unknownMessage = (): Reply => discordError(404, 10008, 'Unknown Message');
const unknownWebhook = (): Reply => discordError(404, 10015, 'Unknown Webhook');
const unknownInteraction = (): Reply => discordError(404, 10062, 'Unknown interaction');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `POST /channels/:id/messages` → a regex over "METHOD /path"; `:name` matches one segment. */
function routePattern(route: string | RegExp): RegExp {
  if (route instanceof RegExp) return route;
  const escaped = route
    .trim()
    .split(/(:[A-Za-z_]+)/)
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\@]/g, '\\$&')))
    .join('');
  return new RegExp(`^${escaped.includes(' ') ? escaped : `[A-Z]+ ${escaped}`}$`);
}

export class FakeDiscord {
  readonly token: string;
  readonly applicationId: string;
  readonly guildId: string;
  readonly botUser: FakeUser;
  readonly requests: RecordedRequest[] = [];
  readonly channels = new Map<string, FakeChannel>();
  /** Messages per channel (threads included), oldest first. */
  readonly messages = new Map<string, FakeMessage[]>();
  /** Guild commands as last bulk-overwritten (PUT). */
  guildCommands: Record<string, unknown>[] = [];
  globalCommands: Record<string, unknown>[] = [];
  readonly interactions: FakeInteraction[] = [];
  readonly gateway: FakeGateway;
  readonly roles: readonly FakeRole[];

  private readonly options: FakeDiscordOptions;
  private readonly restServer: Server;
  private readonly gatewayServer: Server;
  private restPort = 0;
  private gatewayPort = 0;
  private restListening = false;
  private nextId = 1_400_000_000_000_000_000n;
  private readonly faults: ArmedFault[] = [];
  private readonly nonces = new Map<string, { messageId: string; at: number }>();
  private readonly deniedChannels = new Set<string>();
  private readonly guildName: string;

  constructor(options: FakeDiscordOptions = {}) {
    this.options = options;
    this.token = options.token ?? 'fake-discord-bot-token.0123456789';
    this.applicationId = options.applicationId ?? '100000000000000001';
    this.guildId = options.guildId ?? '100000000000000002';
    this.guildName = options.guildName ?? 'drbd-pair';
    this.botUser = options.botUser ?? { id: this.applicationId, username: 'drbd-chatops', global_name: null };
    this.roles = options.roles ?? [
      { id: '100000000000000101', name: 'drbd-operators' },
      { id: '100000000000000102', name: 'drbd-approvers' },
    ];
    const channels = options.channels ?? [{ id: '100000000000000201', name: 'alerts' }];
    channels.forEach((c, position) => {
      this.channels.set(c.id, {
        id: c.id,
        type: 0,
        guild_id: this.guildId,
        name: c.name,
        parent_id: null,
        position,
      });
    });
    this.restServer = createServer((req, res) => void this.onRequest(req, res));
    this.gatewayServer = createServer((_req, res) => res.writeHead(426).end());
    this.gateway = new FakeGateway({
      token: () => this.token,
      privilegedIntents: () => options.privilegedIntents ?? 0,
      heartbeatIntervalMs: () => options.heartbeatIntervalMs ?? 41_250,
      resumeUrl: () => this.gatewayUrl,
      newSessionId: () => randomBytes(16).toString('hex'),
      onIdentified: (session) => this.identified(session),
    });
    this.gatewayServer.on('upgrade', (req, socket, head) => this.gateway.handleUpgrade(req, socket, head));
  }

  /** The REST base URL to give discord.js (`rest.api`); it appends /v10 itself. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.restPort}/api`;
  }

  /** What GET /gateway/bot answers. */
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.gatewayPort}/gateway`;
  }

  /** The first (default) text channel. */
  get channelId(): string {
    const first = [...this.channels.values()].find((c) => c.type === 0);
    if (first === undefined) throw new Error('fake Discord has no text channel');
    return first.id;
  }

  async start(): Promise<void> {
    this.restPort = await listen(this.restServer, 0);
    this.restListening = true;
    this.gatewayPort = await listen(this.gatewayServer, 0);
  }

  async stop(): Promise<void> {
    await this.gateway.close();
    await Promise.all([this.closeRest(), closeServer(this.gatewayServer)]);
  }

  // ---- fault injection -------------------------------------------------------------------------

  /**
   * The next `times` requests matching `route` get `fault`. `route` is "METHOD /path" below /api/v10
   * with `:name` for any segment ("POST /channels/:id/messages"), a path alone for any method, or a
   * RegExp over "METHOD /path".
   */
  failNext(route: string | RegExp, fault: Fault, times = 1): void {
    this.faults.push({ pattern: routePattern(route), fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** The REST API stops listening (connection refused) until restReachable(). The gateway stays. */
  async restUnreachable(): Promise<void> {
    await this.closeRest();
  }

  async restReachable(): Promise<void> {
    if (this.restListening) return;
    await listen(this.restServer, this.restPort);
    this.restListening = true;
  }

  /** Requests to this channel get 403 Missing Access (50001). */
  denyAccess(channelId: string): void {
    this.deniedChannels.add(channelId);
  }

  /** Cut the gateway connection(s); see FakeGateway.drop. */
  dropGateway(options: { code?: number; invalidateSessions?: boolean } = {}): number {
    return this.gateway.drop(options);
  }

  // ---- inspection ------------------------------------------------------------------------------

  requestsTo(route: string | RegExp): RecordedRequest[] {
    const pattern = routePattern(route);
    return this.requests.filter((r) => pattern.test(`${r.method} ${r.path}`));
  }

  messagesIn(channelId: string): FakeMessage[] {
    return this.messages.get(channelId) ?? [];
  }

  message(id: string): FakeMessage | undefined {
    for (const list of this.messages.values()) {
      const found = list.find((m) => m.id === id);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** Threads started from messages of this channel. */
  threadsOf(channelId: string): FakeChannel[] {
    return [...this.channels.values()].filter((c) => c.parent_id === channelId && c.type === 11);
  }

  async waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`fake Discord: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Set the registered global commands directly (as if registered earlier, e.g. by another version
   * of the bot): they can be used in every guild the app is in and in DMs with the bot.
   */
  setGlobalCommands(commands: readonly Record<string, unknown>[]): void {
    this.globalCommands = commands.map((c) => this.storeCommand(c, undefined));
  }

  /** Set the registered guild commands directly (as if registered earlier). */
  setGuildCommands(commands: readonly Record<string, unknown>[]): void {
    this.guildCommands = commands.map((c) => this.storeCommand(c, this.guildId));
  }

  // ---- interactions --------------------------------------------------------------------------

  /** Dispatch INTERACTION_CREATE for a registered slash command, typed from its registration. */
  async slashCommand(input: SlashCommandInput): Promise<FakeInteraction> {
    const elsewhere = input.dm === true || (input.guildId !== undefined && input.guildId !== this.guildId);
    const command = (elsewhere ? this.globalCommands : [...this.guildCommands, ...this.globalCommands]).find(
      (c) => c.name === input.name && (c.type ?? 1) === 1,
    );
    if (command === undefined) {
      throw new Error(
        `fake Discord: command ${input.name} is not registered${elsewhere ? ' globally (guild commands exist only in their guild)' : ''}`,
      );
    }
    let definitions = (command.options ?? []) as Record<string, unknown>[];
    let sub: Record<string, unknown> | undefined;
    if (input.subcommand !== undefined) {
      sub = definitions.find((o) => o.type === 1 && o.name === input.subcommand);
      if (sub === undefined)
        throw new Error(`fake Discord: /${input.name} has no subcommand ${input.subcommand}`);
      definitions = (sub.options ?? []) as Record<string, unknown>[];
    }
    const given = input.options ?? {};
    for (const name of Object.keys(given)) {
      if (!definitions.some((d) => d.name === name)) throw new Error(`fake Discord: no option ${name}`);
    }
    const options = definitions.flatMap((d) => {
      const value = given[String(d.name)];
      if (value === undefined) {
        if (d.required === true) throw new Error(`fake Discord: option ${String(d.name)} is required`);
        return [];
      }
      return [{ name: d.name, type: d.type, value }];
    });
    const data = {
      id: command.id,
      name: command.name,
      type: 1,
      // Only a guild command names its guild.
      ...(typeof command.guild_id === 'string' ? { guild_id: command.guild_id } : {}),
      options: sub === undefined ? options : [{ name: sub.name, type: 1, options }],
    };
    if (input.dm === true) {
      return this.dispatchInteraction(2, data, input, input.channelId ?? this.snowflake(), undefined, 'dm');
    }
    if (elsewhere) {
      const guildId = input.guildId as string;
      return this.dispatchInteraction(
        2,
        data,
        input,
        input.channelId ?? this.snowflake(),
        undefined,
        guildId,
      );
    }
    return this.dispatchInteraction(2, data, input, input.channelId ?? this.channelId, undefined);
  }

  /** Dispatch INTERACTION_CREATE for a click on a button of a stored message. */
  async clickButton(input: ButtonClickInput): Promise<FakeInteraction> {
    const hasButton = (m: FakeMessage): boolean =>
      m.components.some(
        (row) =>
          isRecord(row) &&
          Array.isArray(row.components) &&
          row.components.some((b: unknown) => isRecord(b) && b.custom_id === input.customId),
      );
    const message =
      input.messageId !== undefined
        ? this.message(input.messageId)
        : [...this.messages.values()]
            .flat()
            .filter(hasButton)
            .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? 1 : -1))[0];
    if (message === undefined || !hasButton(message)) {
      throw new Error(`fake Discord: no message with a button ${input.customId}`);
    }
    const data = { custom_id: input.customId, component_type: 2 };
    return this.dispatchInteraction(3, data, input, message.channel_id, message);
  }

  private async dispatchInteraction(
    type: 2 | 3,
    data: Record<string, unknown>,
    input: { user?: FakeUser; roles?: readonly string[] },
    channelId: string,
    message: FakeMessage | undefined,
    /** The fake's own guild (default), another guild, or a DM with the bot. */
    place: string | 'dm' = this.guildId,
  ): Promise<FakeInteraction> {
    const session = await this.gateway.waitForLiveSession();
    const user = input.user ?? DEFAULT_USER;
    const roles = place === 'dm' ? [] : (input.roles ?? []);
    const channel: Record<string, unknown> | undefined =
      place === this.guildId
        ? (this.channels.get(channelId) as Record<string, unknown> | undefined)
        : place === 'dm'
          ? { id: channelId, type: 1, last_message_id: null, flags: 0, recipients: [this.userJson(user)] }
          : { id: channelId, type: 0, guild_id: place, name: 'elsewhere', parent_id: null, position: 0 };
    if (channel === undefined) throw new Error(`fake Discord: unknown channel ${channelId}`);
    const interaction: FakeInteraction = {
      id: this.snowflake(),
      token: `aW50ZXJhY3Rpb24${randomBytes(24).toString('base64url')}`,
      type,
      channelId,
      guildId: place === 'dm' ? null : place,
      user,
      roles,
      data,
      dispatchedAt: Date.now(),
      ...(message === undefined ? {} : { componentMessageId: message.id }),
      events: [],
    };
    this.interactions.push(interaction);
    this.gateway.dispatch(session, 'INTERACTION_CREATE', {
      id: interaction.id,
      application_id: this.applicationId,
      type,
      token: interaction.token,
      version: 1,
      data,
      ...(place === 'dm'
        ? { user: this.userJson(user) }
        : {
            guild_id: place,
            guild: { id: place, locale: 'en-US', features: [] },
            member: this.memberJson(user, roles),
          }),
      channel_id: channelId,
      channel:
        place === 'dm'
          ? channel
          : { ...channel, last_message_id: null, nsfw: false, permissions: '2251799813685247' },
      ...(message === undefined ? {} : { message: this.messageJson(message) }),
      app_permissions: '2251799813685247',
      locale: 'en-US',
      ...(place === 'dm' ? {} : { guild_locale: 'en-US' }),
      entitlements: [],
      // A guild install: the guild it was authorized in, or "0" in the bot's DMs.
      authorizing_integration_owners: { '0': place === 'dm' ? '0' : place },
      // 0 guild, 1 the bot's DM.
      context: place === 'dm' ? 1 : 0,
      attachment_size_limit: 10_485_760,
    });
    return interaction;
  }

  private memberJson(user: FakeUser, roles: readonly string[]): Record<string, unknown> {
    return {
      user: this.userJson(user),
      roles: [...roles],
      nick: null,
      avatar: null,
      joined_at: '2024-01-01T00:00:00.000000+00:00',
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      permissions: '2251799813685247',
      communication_disabled_until: null,
    };
  }

  /** Resolves with the interaction's first event of this kind (e.g. `callback`, `edit-original`). */
  async waitForInteractionEvent<K extends InteractionEvent['kind']>(
    interaction: FakeInteraction,
    kind: K,
    timeoutMs = 10_000,
    nth = 1,
  ): Promise<Extract<InteractionEvent, { kind: K }>> {
    return this.waitFor(
      () =>
        interaction.events.filter((e): e is Extract<InteractionEvent, { kind: K }> => e.kind === kind)[
          nth - 1
        ],
      `${kind} #${nth} of interaction ${interaction.id}`,
      timeoutMs,
    );
  }

  // ---- gateway content -------------------------------------------------------------------------

  private identified(session: GatewaySession): { t: string; d: unknown }[] {
    const ready = {
      v: 10,
      user: { ...this.userJson(this.botUser), bot: true, verified: true, mfa_enabled: true },
      guilds: [{ id: this.guildId, unavailable: true }],
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: this.gatewayUrl,
      shard: [0, 1],
      application: { id: this.applicationId, flags: 0 },
      user_settings: {},
      relationships: [],
      private_channels: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      _trace: ['["fake-discord",{"micros":0}]'],
    };
    const guild = {
      id: this.guildId,
      name: this.guildName,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: '300000000000000099',
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      preferred_locale: 'en-US',
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      vanity_url_code: null,
      max_members: 500_000,
      max_video_channel_users: 25,
      application_id: null,
      features: [],
      joined_at: '2024-01-01T00:00:00.000000+00:00',
      large: false,
      unavailable: false,
      member_count: 2,
      lazy: true,
      roles: [
        this.roleJson({ id: this.guildId, name: '@everyone' }, 0),
        ...this.roles.map((r, i) => this.roleJson(r, i + 1)),
      ],
      channels: [...this.channels.values()]
        .filter((c) => c.type !== 11)
        .map((c) => ({ ...c, permission_overwrites: [], topic: null, nsfw: false, last_message_id: null })),
      // Only the active threads; an archived one is known only by asking (GET /channels/:id).
      threads: [...this.channels.values()]
        .filter((c) => c.type === 11 && c.thread_metadata?.archived !== true)
        .map((c) => this.channelJson(c)),
      members: [],
      presences: [],
      voice_states: [],
      emojis: [],
      stickers: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
    return [
      { t: 'READY', d: ready },
      { t: 'GUILD_CREATE', d: guild },
    ];
  }

  private roleJson(role: FakeRole, position: number): Record<string, unknown> {
    return {
      id: role.id,
      name: role.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position,
      permissions: position === 0 ? '2248473465835073' : '0',
      managed: false,
      mentionable: false,
      flags: 0,
    };
  }

  private userJson(user: FakeUser): Record<string, unknown> {
    return {
      id: user.id,
      username: user.username,
      global_name: user.global_name ?? null,
      discriminator: '0',
      avatar: null,
      public_flags: 0,
    };
  }

  // ---- REST ------------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rawBody = await readBody(req);
    let body: unknown;
    let badJson = false;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody.toString('utf8'));
      } catch {
        badJson = true;
      }
    }
    const versioned = /^\/api\/v(\d+)(\/.*)$/.exec(url.pathname);
    const method = req.method ?? 'GET';
    const record: RecordedRequest = {
      at: Date.now(),
      method,
      path: versioned?.[2] ?? url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
    };
    this.requests.push(record);
    const send = (reply: Reply): void => {
      record.status = reply.status;
      record.answeredAt = Date.now();
      if (res.destroyed) return;
      const headers: Record<string, string> = { ...this.rateLimitHeaders(record.path), ...reply.headers };
      if (reply.body === undefined || reply.status === 204) {
        res.writeHead(reply.status, headers).end();
      } else {
        res.writeHead(reply.status, { ...JSON_HEADERS, ...headers }).end(JSON.stringify(reply.body));
      }
    };
    if (versioned === undefined || versioned === null) return send(discordError(404, 0, '404: Not Found'));
    if (versioned[1] !== '10') return send(discordError(400, 50041, 'Invalid API version provided.'));
    const fault = this.takeFault(method, record.path);
    if (fault !== undefined) {
      record.fault = fault.kind;
      switch (fault.kind) {
        case 'rate-limit':
          return send(this.rateLimited(fault.retryAfterSeconds, fault.global === true));
        case 'error':
          return send(
            discordError(
              fault.status,
              fault.code ?? 0,
              fault.message ?? `${fault.status}: fake Discord fault`,
            ),
          );
        case 'delay':
          await new Promise((r) => setTimeout(r, fault.ms));
          break;
        case 'destroy':
          if (fault.afterProcessing === true && !badJson) this.handle(method, record, req.headers);
          record.answeredAt = Date.now();
          req.socket.destroy();
          return;
      }
    }
    if (badJson) return send(discordError(400, 50109, 'The request body contains invalid JSON.'));
    try {
      send(this.handle(method, record, req.headers));
    } catch (err) {
      send(discordError(500, 0, `500: fake Discord crashed: ${(err as Error).message}`));
    }
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const armed = this.faults.find((f) => f.remaining > 0 && f.pattern.test(`${method} ${path}`));
    if (armed === undefined) return undefined;
    armed.remaining--;
    if (armed.remaining === 0) this.faults.splice(this.faults.indexOf(armed), 1);
    return armed.fault;
  }

  private rateLimitHeaders(path: string): Record<string, string> {
    const bucket = Buffer.from(path.replace(/\d{5,}/g, ':id'))
      .toString('hex')
      .slice(0, 32);
    return {
      'x-ratelimit-limit': '50',
      'x-ratelimit-remaining': '49',
      'x-ratelimit-reset': String((Date.now() + 1000) / 1000),
      'x-ratelimit-reset-after': '1',
      'x-ratelimit-bucket': bucket,
    };
  }

  private rateLimited(retryAfterSeconds: number, global: boolean): Reply {
    const headers: Record<string, string> = {
      'retry-after': String(Math.ceil(retryAfterSeconds)),
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Date.now() / 1000 + retryAfterSeconds),
      'x-ratelimit-reset-after': String(retryAfterSeconds),
      'x-ratelimit-scope': global ? 'global' : 'user',
    };
    if (global) headers['x-ratelimit-global'] = 'true';
    return {
      status: 429,
      headers,
      body: { message: 'You are being rate limited.', retry_after: retryAfterSeconds, global },
    };
  }

  private handle(method: string, record: RecordedRequest, headers: IncomingHttpHeaders): Reply {
    const path = record.path;
    const segments = path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
    const body = record.body;
    // Interaction callbacks and interaction webhooks are authorised by their token in the path.
    const tokenRoute = segments[0] === 'interactions' || segments[0] === 'webhooks';
    const auth = headers.authorization;
    if ((!tokenRoute || auth !== undefined) && auth !== `Bot ${this.token}`) {
      return discordError(401, 0, '401: Unauthorized');
    }
    const [a, b, c, d, e, f] = segments;
    const route = `${method} /${segments.map((s, i) => (i > 0 && /^\d{5,}$/.test(s) ? ':id' : s)).join('/')}`;
    switch (true) {
      case route === 'GET /gateway':
        return { status: 200, body: { url: this.gatewayUrl } };
      case route === 'GET /gateway/bot':
        return {
          status: 200,
          body: {
            url: this.gatewayUrl,
            shards: 1,
            session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
          },
        };
      case route === 'GET /users/@me':
        return { status: 200, body: { ...this.userJson(this.botUser), bot: true, verified: true, flags: 0 } };
      case route === 'GET /applications/@me':
        return {
          status: 200,
          body: {
            id: this.applicationId,
            name: this.botUser.username,
            icon: null,
            description: '',
            bot_public: false,
            bot_require_code_grant: false,
            flags: 0,
            owner: this.userJson({ id: '300000000000000099', username: 'owner' }),
            bot: this.userJson(this.botUser),
          },
        };
      case route === 'GET /guilds/:id':
        return b === this.guildId
          ? { status: 200, body: { id: this.guildId, name: this.guildName } }
          : discordError(404, 10004, 'Unknown Guild');
      case a === 'channels' && b !== undefined:
        return this.channelRoute(method, b, segments.slice(2), body, record.query);
      case a === 'applications' && (route.endsWith('/commands') || route.endsWith('/commands/:id')):
        return this.commandsRoute(method, segments, body);
      case route.startsWith('POST /interactions/:id/') &&
        d === 'callback' &&
        c !== undefined &&
        b !== undefined:
        return this.interactionCallback(b, c, body, record.query);
      case a === 'webhooks' && b !== undefined && c !== undefined:
        return this.webhookRoute(method, b, c, d === 'messages' ? e : undefined, f, body);
      default:
        return discordError(404, 0, '404: Not Found');
    }
  }

  private channelRoute(
    method: string,
    channelId: string,
    rest: string[],
    body: unknown,
    query: Readonly<Record<string, string>>,
  ): Reply {
    const channel = this.channels.get(channelId);
    if (channel === undefined) return unknownChannel();
    if (this.deniedChannels.has(channelId)) return discordError(403, 50001, 'Missing Access');
    const [sub, messageId, action] = rest;
    if (sub === undefined) {
      if (method === 'GET') return { status: 200, body: this.channelJson(channel) };
      if (method !== 'DELETE') return discordError(405, 0, '405: Method Not Allowed');
      this.channels.delete(channel.id);
      this.messages.delete(channel.id);
      return { status: 200, body: this.channelJson(channel) };
    }
    if (sub !== 'messages') return discordError(404, 0, '404: Not Found');
    if (messageId === undefined) {
      if (method === 'GET') {
        const limit = Math.min(100, Math.max(1, Number(query.limit ?? 50)));
        const list = [...this.messagesIn(channelId)].reverse().slice(0, limit);
        return { status: 200, body: list.map((m) => this.messageJson(m)) };
      }
      if (method === 'POST') return this.createFromBot(channel, body);
      return discordError(405, 0, '405: Method Not Allowed');
    }
    const message = this.messagesIn(channelId).find((m) => m.id === messageId);
    if (message === undefined) return unknownMessage();
    if (action === 'threads' && method === 'POST') return this.startThread(channel, message, body);
    if (action !== undefined) return discordError(404, 0, '404: Not Found');
    switch (method) {
      case 'GET':
        return { status: 200, body: this.messageJson(message) };
      case 'PATCH': {
        if (message.author.id !== this.botUser.id) {
          return discordError(403, 50005, 'Cannot edit a message authored by another user');
        }
        if (!isRecord(body)) return discordError(400, 50109, 'The request body contains invalid JSON.');
        return this.editMessage(message, body);
      }
      case 'DELETE':
        this.removeMessage(message);
        return { status: 204 };
      default:
        return discordError(405, 0, '405: Method Not Allowed');
    }
  }

  private createFromBot(channel: FakeChannel, body: unknown): Reply {
    if (!isRecord(body)) return discordError(400, 50109, 'The request body contains invalid JSON.');
    const errors = validateMessage(body);
    if (Object.keys(errors).length > 0) return discordError(400, 50035, 'Invalid Form Body', errors);
    if (isEmptyMessage(body)) return discordError(400, 50006, 'Cannot send an empty message');
    const nonce = body.nonce as string | number | undefined;
    const key = `${this.botUser.id}:${channel.id}:${String(nonce)}`;
    if (nonce !== undefined && body.enforce_nonce === true) {
      const seen = this.nonces.get(key);
      const window = this.options.nonceWindowMs ?? 5 * 60_000;
      const existing = seen === undefined ? undefined : this.message(seen.messageId);
      if (seen !== undefined && existing !== undefined && Date.now() - seen.at <= window) {
        return { status: 200, body: this.messageJson(existing) };
      }
    }
    const message = this.storeMessage(channel.id, this.botUser, body, 0, {});
    if (nonce !== undefined) {
      message.nonce = nonce;
      this.nonces.set(key, { messageId: message.id, at: Date.now() });
    }
    return { status: 200, body: this.messageJson(message) };
  }

  private startThread(channel: FakeChannel, message: FakeMessage, body: unknown): Reply {
    if (channel.type !== 0) return discordError(400, 50024, 'Cannot execute action on this channel type');
    if (this.channels.has(message.id)) {
      return discordError(400, 160004, 'A thread has already been created for this message');
    }
    const name = isRecord(body) ? body.name : undefined;
    const errors: FormErrors = {};
    if (typeof name !== 'string' || name.length < 1 || name.length > 100) {
      errors.name = 'Must be between 1 and 100 in length.';
    }
    if (Object.keys(errors).length > 0) return discordError(400, 50035, 'Invalid Form Body', errors);
    // As on Discord, a thread started from a message has the message's id.
    const thread: FakeChannel = {
      id: message.id,
      type: 11,
      guild_id: this.guildId,
      name: String(name),
      parent_id: channel.id,
      owner_id: this.botUser.id,
      thread_metadata: {
        archived: false,
        auto_archive_duration: isRecord(body) ? (body.auto_archive_duration ?? 4320) : 4320,
        archive_timestamp: new Date().toISOString(),
        locked: false,
      },
    };
    this.channels.set(thread.id, thread);
    // As on Discord, the guild's gateway sessions hear of the new thread.
    for (const session of this.gateway.sessions) {
      if (!session.invalidated) {
        this.gateway.dispatch(session, 'THREAD_CREATE', { ...this.channelJson(thread), newly_created: true });
      }
    }
    return { status: 201, body: this.channelJson(thread) };
  }

  private commandsRoute(method: string, segments: string[], body: unknown): Reply {
    // /applications/:app/commands or /applications/:app/guilds/:guild/commands[/:id]
    const [, app, third, guild] = segments;
    if (app !== this.applicationId) return discordError(404, 10002, 'Unknown Application');
    const isGuild = third === 'guilds';
    if (isGuild && guild !== this.guildId) return discordError(404, 10004, 'Unknown Guild');
    const list = isGuild ? this.guildCommands : this.globalCommands;
    const id = segments[isGuild ? 5 : 3];
    if (id !== undefined) {
      const found = list.find((c) => c.id === id);
      if (found === undefined) return discordError(404, 10063, 'Unknown application command');
      return method === 'GET'
        ? { status: 200, body: found }
        : discordError(405, 0, '405: Method Not Allowed');
    }
    if (method === 'GET') return { status: 200, body: list };
    if (method !== 'PUT') return discordError(405, 0, '405: Method Not Allowed');
    const errors = validateCommands(body);
    if (Object.keys(errors).length > 0) return discordError(400, 50035, 'Invalid Form Body', errors);
    const stored = (body as Record<string, unknown>[]).map((c) => {
      const previous = list.find((p) => p.name === c.name && (p.type ?? 1) === (c.type ?? 1));
      return this.storeCommand(c, isGuild ? this.guildId : undefined, previous?.id as string | undefined);
    });
    if (isGuild) this.guildCommands = stored;
    else this.globalCommands = stored;
    return { status: 200, body: stored };
  }

  private storeCommand(
    c: Record<string, unknown>,
    guildId: string | undefined,
    id?: string,
  ): Record<string, unknown> {
    return {
      ...c,
      id: id ?? this.snowflake(),
      application_id: this.applicationId,
      ...(guildId === undefined ? {} : { guild_id: guildId }),
      type: c.type ?? 1,
      version: this.snowflake(),
      default_member_permissions: c.default_member_permissions ?? null,
      nsfw: c.nsfw ?? false,
    };
  }

  private interactionCallback(
    id: string,
    token: string,
    body: unknown,
    query: Readonly<Record<string, string>>,
  ): Reply {
    const interaction = this.interactions.find((i) => i.id === id);
    if (interaction === undefined || interaction.token !== token) return unknownInteraction();
    const now = Date.now();
    const refuse = (reply: Reply, what: string): Reply => {
      const code = isRecord(reply.body) ? Number(reply.body.code) : 0;
      interaction.events.push({ kind: 'refused', what, status: reply.status, code, at: now });
      return reply;
    };
    if (interaction.acknowledged !== undefined) {
      return refuse(discordError(400, 40060, 'Interaction has already been acknowledged.'), 'callback');
    }
    if (now - interaction.dispatchedAt > (this.options.interactionAckWindowMs ?? 3000)) {
      return refuse(unknownInteraction(), 'callback');
    }
    if (!isRecord(body) || typeof body.type !== 'number') {
      return refuse(
        discordError(400, 50035, 'Invalid Form Body', { type: 'This field is required' }),
        'callback',
      );
    }
    const data = isRecord(body.data) ? body.data : {};
    const flags = Number(data.flags ?? 0);
    switch (body.type) {
      case 4:
      case 5: {
        if (body.type === 4) {
          const errors = validateMessage(data);
          if (Object.keys(errors).length > 0) {
            return refuse(discordError(400, 50035, 'Invalid Form Body', errors), 'callback');
          }
        }
        const message = this.storeMessage(
          interaction.channelId,
          this.botUser,
          body.type === 4 ? data : { content: '' },
          interaction.type === 2 ? 20 : 0,
          { interaction },
        );
        message.flags = (flags & EPHEMERAL) | (body.type === 5 ? LOADING : 0);
        interaction.originalMessageId = message.id;
        break;
      }
      case 6:
      case 7: {
        if (interaction.type !== 3 || interaction.componentMessageId === undefined) {
          return refuse(discordError(400, 40043, 'Interaction response type is not valid here'), 'callback');
        }
        interaction.originalMessageId = interaction.componentMessageId;
        const message = this.message(interaction.componentMessageId);
        if (body.type === 7 && message !== undefined) this.editMessage(message, data);
        break;
      }
      default:
        return refuse(
          discordError(400, 50035, 'Invalid Form Body', { type: 'Unsupported callback type' }),
          'callback',
        );
    }
    interaction.acknowledged = { type: body.type, at: now };
    interaction.events.push({ kind: 'callback', type: body.type, data: body.data, at: now });
    if (query.with_response !== 'true') return { status: 204 };
    const original =
      interaction.originalMessageId === undefined ? undefined : this.message(interaction.originalMessageId);
    return {
      status: 200,
      body: {
        interaction: {
          id: interaction.id,
          type: interaction.type,
          activity_instance_id: null,
          response_message_id: interaction.originalMessageId ?? null,
          response_message_loading: body.type === 5,
          response_message_ephemeral: (flags & EPHEMERAL) !== 0,
        },
        resource: {
          type: body.type,
          ...(original === undefined ? {} : { message: this.messageJson(original) }),
        },
      },
    };
  }

  private webhookRoute(
    method: string,
    app: string,
    token: string,
    messageRef: string | undefined,
    extra: string | undefined,
    body: unknown,
  ): Reply {
    const interaction = this.interactions.find((i) => i.token === token);
    if (app !== this.applicationId || interaction === undefined || extra !== undefined)
      return unknownWebhook();
    const now = Date.now();
    const refuse = (reply: Reply, what: string): Reply => {
      const code = isRecord(reply.body) ? Number(reply.body.code) : 0;
      interaction.events.push({ kind: 'refused', what, status: reply.status, code, at: now });
      return reply;
    };
    if (interaction.acknowledged === undefined) return refuse(unknownWebhook(), `${method} webhook`);
    if (now - interaction.dispatchedAt > 15 * 60_000)
      return refuse(discordError(401, 50027, 'Invalid Webhook Token'), 'webhook');
    if (messageRef === undefined) {
      if (method !== 'POST') return discordError(405, 0, '405: Method Not Allowed');
      if (!isRecord(body)) return refuse(discordError(400, 50109, 'Invalid JSON'), 'followup');
      const errors = validateMessage(body);
      if (Object.keys(errors).length > 0)
        return refuse(discordError(400, 50035, 'Invalid Form Body', errors), 'followup');
      if (isEmptyMessage(body))
        return refuse(discordError(400, 50006, 'Cannot send an empty message'), 'followup');
      const message = this.storeMessage(interaction.channelId, this.botUser, body, 0, { interaction });
      message.flags = Number(body.flags ?? 0) & EPHEMERAL;
      interaction.events.push({ kind: 'followup', body, messageId: message.id, at: now });
      return { status: 200, body: this.messageJson(message) };
    }
    const id = messageRef === '@original' ? interaction.originalMessageId : messageRef;
    const message = id === undefined ? undefined : this.message(id);
    if (message === undefined) return refuse(unknownMessage(), `${method} ${messageRef}`);
    switch (method) {
      case 'GET':
        return { status: 200, body: this.messageJson(message) };
      case 'PATCH': {
        if (!isRecord(body)) return refuse(discordError(400, 50109, 'Invalid JSON'), 'edit');
        const reply = this.editMessage(message, body);
        if (reply.status !== 200) return refuse(reply, 'edit');
        if (messageRef === '@original') interaction.events.push({ kind: 'edit-original', body, at: now });
        return reply;
      }
      case 'DELETE':
        this.removeMessage(message);
        if (messageRef === '@original') interaction.events.push({ kind: 'delete-original', at: now });
        return { status: 204 };
      default:
        return discordError(405, 0, '405: Method Not Allowed');
    }
  }

  // ---- messages --------------------------------------------------------------------------------

  private storeMessage(
    channelId: string,
    author: FakeUser,
    body: Record<string, unknown>,
    type: number,
    origin: { interaction?: FakeInteraction },
  ): FakeMessage {
    const message: FakeMessage = {
      id: this.snowflake(),
      channel_id: channelId,
      ...(origin.interaction?.guildId === null
        ? {}
        : { guild_id: origin.interaction?.guildId ?? this.guildId }),
      author: { ...this.userJson(author), bot: true },
      content: typeof body.content === 'string' ? body.content : '',
      embeds: Array.isArray(body.embeds) ? body.embeds : [],
      components: Array.isArray(body.components) ? body.components : [],
      flags: 0,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      type,
      tts: false,
      pinned: false,
      ...pings(typeof body.content === 'string' ? body.content : '', body.allowed_mentions),
      mention_roles: [],
      attachments: [],
    };
    if (origin.interaction !== undefined) {
      message.webhook_id = this.applicationId;
      message.application_id = this.applicationId;
      message.interaction_metadata = {
        id: origin.interaction.id,
        type: origin.interaction.type,
        user: this.userJson(origin.interaction.user),
        authorizing_integration_owners: { '0': this.guildId },
        ...(origin.interaction.componentMessageId === undefined
          ? {}
          : { interacted_message_id: origin.interaction.componentMessageId }),
      };
    }
    const list = this.messages.get(channelId) ?? [];
    list.push(message);
    this.messages.set(channelId, list);
    return message;
  }

  private editMessage(message: FakeMessage, body: Record<string, unknown>): Reply {
    const errors = validateMessage(body);
    if (Object.keys(errors).length > 0) return discordError(400, 50035, 'Invalid Form Body', errors);
    if ('content' in body) message.content = typeof body.content === 'string' ? body.content : '';
    if ('embeds' in body) message.embeds = Array.isArray(body.embeds) ? body.embeds : [];
    if ('components' in body) message.components = Array.isArray(body.components) ? body.components : [];
    message.flags &= ~LOADING;
    message.edited_timestamp = new Date().toISOString();
    return { status: 200, body: this.messageJson(message) };
  }

  private removeMessage(message: FakeMessage): void {
    const list = this.messages.get(message.channel_id) ?? [];
    const i = list.indexOf(message);
    if (i >= 0) list.splice(i, 1);
  }

  private messageJson(message: FakeMessage): Record<string, unknown> {
    const thread = this.channels.get(message.id);
    return { ...message, ...(thread === undefined ? {} : { thread: this.channelJson(thread) }) };
  }

  private channelJson(channel: FakeChannel): Record<string, unknown> {
    const base = { ...channel, last_message_id: this.messagesIn(channel.id).at(-1)?.id ?? null };
    if (channel.type === 11) {
      return {
        ...base,
        message_count: this.messagesIn(channel.id).length,
        member_count: 1,
        rate_limit_per_user: 0,
      };
    }
    return { ...base, permission_overwrites: [], topic: null, nsfw: false, rate_limit_per_user: 0 };
  }

  private snowflake(): string {
    this.nextId += 1n << 22n;
    return this.nextId.toString();
  }

  private async closeRest(): Promise<void> {
    if (!this.restListening) return;
    this.restListening = false;
    await closeServer(this.restServer);
  }
}

function isEmptyMessage(body: Record<string, unknown>): boolean {
  const empty = (v: unknown): boolean =>
    v === undefined || v === null || (Array.isArray(v) && v.length === 0);
  return (
    (typeof body.content !== 'string' || body.content === '') &&
    empty(body.embeds) &&
    empty(body.components) &&
    empty(body.attachments) &&
    empty(body.sticker_ids)
  );
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
