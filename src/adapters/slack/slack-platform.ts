// Slack through the real @slack/bolt App: Socket Mode by default (no inbound port on the hosts), or
// Bolt's HTTPReceiver behind a signature check. Posting goes through the Web API client with its
// own retries off, so every failure reaches the outbox as a DeliveryError.
//
// What is taken: in HTTP mode only a correctly signed request within Slack's five-minute window,
// and only once (replay-guard.ts); in both modes only requests from the bot's own workspace
// (workspace.ts), and a command only in the channels the configuration allows it in.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  App,
  type BlockAction,
  ErrorCode as BoltErrorCode,
  HTTPReceiver,
  isValidSlackRequest,
  LogLevel,
  webApi,
} from '@slack/bolt';
import { channelRefusal, checkCommandChannel } from '../../core/command-channels.js';
import type { Message } from '../../core/message-tones.js';
import { commandLineOf, type SlashNaming, slashNamingOf } from '../../core/slash-commands.js';
import type {
  ChatPlatform,
  CommandHandler,
  CommandReply,
  IncomingCommand,
  Posted,
  PostOptions,
  UpdateOptions,
} from '../../ports/chat.js';
import type { Logger } from '../../ports/logger.js';
import { sleep } from '../sleep.js';
import { withTimeout } from '../with-timeout.js';
import { createBoltLogger } from './bolt-logger.js';
import { defaultRenderer, type SlackContent, type SlackRenderer, toContent } from './content.js';
import { HTTP_EVENTS_PATH } from './http-path.js';
import { ReplayGuard, SIGNATURE_WINDOW_SEC } from './replay-guard.js';
import { type ReplyOrigin, SlackReply } from './reply.js';
import { toDeliveryError } from './slack-errors.js';
import { type DisconnectReason, SocketModeConnections } from './socket-connections.js';
import {
  actionOrigin,
  commandOrigin,
  describeOrigin,
  isOwnWorkspace,
  type RequestOrigin,
  type SlackWorkspace,
} from './workspace.js';

/**
 * What this adapter needs from the configuration's `slack:` section (src/app/config.ts); the
 * application passes the section, which has these and more.
 */
export interface SlackConfig {
  readonly mode: 'socket' | 'http';
  readonly apiUrl: string;
  /** The workspace (and Enterprise Grid organization) whose requests are served. */
  readonly teamId?: string | undefined;
  readonly enterpriseId?: string | undefined;
  /** Per command (or `*`), the channels it may be used in. */
  readonly channels: Readonly<Record<string, readonly string[]>>;
  /** HTTP mode: where Slack's requests are received. */
  readonly listen: { readonly host: string; readonly port: number };
  /** The umbrella command and the commands of their own (src/core/slash-commands.ts). */
  readonly command: string;
  readonly slashCommands: {
    readonly enabled: boolean;
    readonly prefix: string;
    readonly names: Readonly<Record<string, string | false>>;
  };
}

/** `event_type` of the metadata every notification carries; findPosted looks for it. */
export const NOTIFICATION_EVENT_TYPE = 'drbd_chatops_notification';

/**
 * The metadata of a notification message: its idempotency key (findPosted) and the notifications it
 * covers (the first 16 hex digits of each key), comma-separated, so the channel itself tells what
 * was reported. Slack limits a message's
 * metadata; a summary covering more than fit is marked with its count only.
 */
export function notificationMetadata(
  key: string,
  covers: readonly string[] | undefined,
): { event_type: string; event_payload: Record<string, string | number> } {
  // 64 bits of each notification key tell a pair's notifications apart and fit ~900 in a message.
  const list = covers?.map((k) => k.slice(0, COVER_DIGITS)).join(',') ?? '';
  return {
    event_type: NOTIFICATION_EVENT_TYPE,
    event_payload: {
      key,
      ...(covers === undefined || covers.length === 0
        ? {}
        : list.length <= MAX_COVERS_CHARS
          ? { covers: list }
          : { covers_count: covers.length }),
    },
  };
}

/** About 900 notification keys; more than one message reports outside a flap storm. */
const MAX_COVERS_CHARS = 16_000;
const COVER_DIGITS = 16;

/** Bolt's HTTPReceiver path for slash commands and interactivity (the manifest's request URL). */
export { HTTP_EVENTS_PATH };

/** Far above anything Slack sends (a click carries the whole message, at most a few hundred kB). */
const HTTP_BODY_LIMIT = 1024 * 1024;

/** The only shapes Slack sends; anything else (an extra `=…`, spaces) must not pass as a new request. */
const SIGNATURE_HEADER = /^v0=[0-9a-f]{64}$/;
const TIMESTAMP_HEADER = /^\d{1,12}$/;

export interface SlackSecrets {
  readonly botToken: string;
  /** Socket Mode only (xapp-…). */
  readonly appToken?: string;
  /** HTTP mode only. */
  readonly signingSecret?: string;
}

export interface SlackPlatformOptions {
  readonly config: SlackConfig;
  readonly logger: Logger;
  /** The tokens, read once by the application at composition (src/app/platforms.ts). */
  readonly secrets: SlackSecrets;
  /** Web API request time limit (default 10 s); a timeout is a retryable DeliveryError. */
  readonly requestTimeoutMs?: number;
  /** Socket Mode reconnection backoff after the connection drops (default 1 s doubling to 30 s). */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /** Socket Mode: ping the server every third of this and drop the connection without a pong (default 5 s). */
  readonly clientPingTimeoutMs?: number;
  /**
   * Socket Mode refresh: how long the old connection keeps serving after the new one said hello
   * (default 1 s), and how long a close handshake may take before the socket is destroyed (1 s).
   */
  readonly socketOverlapMs?: number;
  readonly socketCloseTimeoutMs?: number;
  /** stop(): how long to wait for command replies in progress (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** findPosted: how many recent channel messages to search (default 100). */
  readonly historyLimit?: number;
  /** findPosted: how many recent threads to search for replies (default 10). */
  readonly threadSearchLimit?: number;
  readonly render?: SlackRenderer;
  /**
   * HTTP mode (required there): where the signatures of accepted requests are kept for Slack's
   * five-minute window, so a replayed request is refused also after a restart.
   */
  readonly stateDir?: string;
  /**
   * The command a command line names ("ip set web1 …" → ip-set), for the channel allow-lists of
   * config.channels; undefined when it names none. Default: the first word.
   */
  readonly commandName?: (text: string) => string | undefined;
}

/** The first word, lower case, quotes removed: a fallback when no command registry is at hand. */
function firstWord(text: string): string | undefined {
  const word = /^\s*"?([^\s"]+)/.exec(text)?.[1];
  return word?.toLowerCase();
}

function notOurCommand(command: string, naming: SlashNaming): Message {
  return {
    title: 'Not a command of this bot',
    tone: 'warning',
    body: `${command} is not one of this bot's commands any more (renamed or turned off in its configuration). Use /${naming.umbrella} help; an admin can update the app from \`drbd-chatops manifest slack\`. Nothing was done.`,
  };
}

function foreignWorkspaceMessage(origin: RequestOrigin): Message {
  return {
    title: 'Not from this workspace',
    tone: 'warning',
    body: `This bot takes commands only from the Slack workspace it belongs to; this request came from ${describeOrigin(origin)}. Nothing was done.`,
  };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Slack's `ssl_check=1` form, sent without a signature (Bolt handles it the same way). */
function isSslCheck(req: IncomingMessage, body: Buffer): boolean {
  return (
    req.headers['content-type'] === 'application/x-www-form-urlencoded' &&
    new URLSearchParams(body.toString('utf8')).get('ssl_check') === '1'
  );
}

function internalErrorMessage(): Message {
  return {
    title: 'Internal error',
    tone: 'critical',
    body: 'The command failed unexpectedly. The details are in the bot’s log.',
  };
}

interface Identity {
  readonly botId: string | undefined;
  readonly botUserId: string | undefined;
  readonly teamId: string | undefined;
  /** The workspace whose requests are taken. */
  readonly workspace: SlackWorkspace;
}

export class SlackPlatform implements ChatPlatform {
  readonly name = 'slack' as const;

  readonly #config: SlackConfig;
  readonly #log: Logger;
  readonly #secrets: SlackSecrets;
  readonly #render: SlackRenderer;
  readonly #web: InstanceType<typeof webApi.WebClient>;
  readonly #app: App;
  readonly #sockets: SocketModeConnections | undefined;
  readonly #httpReceiver: HTTPReceiver | undefined;
  readonly #reconnectBackoff: { readonly initialMs: number; readonly maxMs: number };
  readonly #stopTimeoutMs: number;
  readonly #historyLimit: number;
  readonly #threadSearchLimit: number;
  readonly #stateDir: string | undefined;
  readonly #commandName: (text: string) => string | undefined;
  #replayGuard: ReplayGuard | undefined;
  readonly #inflight = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  #state: 'new' | 'starting' | 'started' | 'stopped' = 'new';
  #handler: CommandHandler | undefined;
  #identity: Identity | undefined;
  #httpServer: Server | undefined;
  #reconnecting = false;
  #groups: { at: number; members: Map<string, string[]> } | undefined;
  /** Slack said link_disabled: Socket Mode is off for the app, nothing reconnects. */
  #disabled = false;

  constructor(options: SlackPlatformOptions) {
    this.#config = options.config;
    this.#log = options.logger.child({ component: 'slack' });
    this.#secrets = options.secrets;
    this.#render = options.render ?? defaultRenderer;
    this.#reconnectBackoff = options.reconnect ?? { initialMs: 1_000, maxMs: 30_000 };
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.#historyLimit = options.historyLimit ?? 100;
    this.#threadSearchLimit = options.threadSearchLimit ?? 10;
    this.#stateDir = options.stateDir;
    this.#commandName = options.commandName ?? firstWord;

    const boltLogger = createBoltLogger(options.logger);
    // One set of client options for every Web API client Bolt and we create (the Socket Mode
    // client's apps.connections.open included): the configured base URL, no retries of their own.
    const clientOptions = (): webApi.WebClientOptions => ({
      slackApiUrl: this.#config.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: options.requestTimeoutMs ?? 10_000,
      logger: boltLogger,
    });
    this.#web = new webApi.WebClient(this.#secrets.botToken, clientOptions());

    if (this.#config.mode === 'socket') {
      if (this.#secrets.appToken === undefined)
        throw new Error('Slack Socket Mode needs the app-level token');
      this.#sockets = new SocketModeConnections({
        appToken: this.#secrets.appToken,
        boltLogger,
        logger: this.#log,
        clientOptions,
        ...(options.clientPingTimeoutMs === undefined
          ? {}
          : { clientPingTimeoutMs: options.clientPingTimeoutMs }),
        ...(options.socketOverlapMs === undefined ? {} : { overlapMs: options.socketOverlapMs }),
        ...(options.socketCloseTimeoutMs === undefined
          ? {}
          : { closeTimeoutMs: options.socketCloseTimeoutMs }),
        onRefresh: (reason) => this.#onSocketRefresh(reason),
        onLost: () => this.#onSocketDisconnected(),
        onDisabled: () => this.#onSocketDisabled(),
      });
      this.#httpReceiver = undefined;
    } else {
      if (this.#secrets.signingSecret === undefined)
        throw new Error('Slack HTTP mode needs the signing secret');
      if (this.#stateDir === undefined)
        throw new Error('Slack HTTP mode needs a state directory (to refuse replayed requests)');
      this.#httpReceiver = new HTTPReceiver({
        signingSecret: this.#secrets.signingSecret,
        signatureVerification: true,
        endpoints: [HTTP_EVENTS_PATH],
        logger: boltLogger,
        logLevel: LogLevel.WARN,
        processBeforeResponse: false,
      });
      this.#sockets = undefined;
    }

    this.#app = new App({
      receiver: (this.#sockets ?? this.#httpReceiver) as SocketModeConnections | HTTPReceiver,
      // Our own authorize: no auth.test per event (the one at start is cached), nothing that can
      // fail between a request and its ack.
      authorize: async () => ({
        botToken: this.#secrets.botToken,
        ...(this.#identity?.botId === undefined ? {} : { botId: this.#identity.botId }),
        ...(this.#identity?.botUserId === undefined ? {} : { botUserId: this.#identity.botUserId }),
        ...(this.#identity?.teamId === undefined ? {} : { teamId: this.#identity.teamId }),
      }),
      logger: boltLogger,
      logLevel: LogLevel.WARN,
      clientOptions: clientOptions(),
      convoStore: false,
    });
    this.#app.error(async (error) => {
      this.#log.error({ err: error }, 'slack: error while processing a request');
    });
    this.#registerListeners();
  }

  /** HTTP mode: where the listener is bound (the port is the real one when config said 0). */
  get httpAddress(): { host: string; port: number } | undefined {
    const address = this.#httpServer?.address();
    if (address === null || address === undefined || typeof address === 'string') return undefined;
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port };
  }

  /** Socket Mode: whether the websocket is up right now. */
  get isConnected(): boolean {
    return this.#config.mode === 'http'
      ? this.#httpServer?.listening === true
      : this.#sockets?.connected === true;
  }

  async start(handler: CommandHandler): Promise<void> {
    if (this.#state !== 'new') throw new Error(`SlackPlatform.start: already ${this.#state}`);
    this.#state = 'starting';
    this.#handler = handler;
    let auth: webApi.AuthTestResponse;
    try {
      auth = await this.#web.auth.test();
    } catch (err) {
      // Nothing started: the caller may try again (the error says whether that can help).
      this.#state = 'new';
      throw toDeliveryError(err, 'auth.test');
    }
    if (this.#state !== 'starting') return; // stopped meanwhile
    let workspace: SlackWorkspace;
    try {
      workspace = this.#ownWorkspace(auth);
    } catch (err) {
      this.#state = 'new';
      throw err;
    }
    this.#identity = { botId: auth.bot_id, botUserId: auth.user_id, teamId: auth.team_id, workspace };
    this.#log.info(
      { team: auth.team, botUser: auth.user, mode: this.#config.mode, accepts: workspace },
      'slack: authenticated',
    );
    if (this.#httpReceiver !== undefined) {
      try {
        this.#replayGuard = await ReplayGuard.open({
          stateDir: this.#stateDir as string,
          logger: this.#log,
        });
        await this.#listenHttp(this.#httpReceiver);
        if ((this.#state as string) !== 'starting') {
          // stop() ran while the listener was opening: do not leave it behind.
          await this.#closeHttp();
          return;
        }
      } catch (err) {
        this.#state = 'new';
        await this.#replayGuard?.close();
        this.#replayGuard = undefined;
        throw err;
      }
      this.#state = 'started';
      return;
    }
    this.#state = 'started';
    try {
      await this.#connectSocket();
    } catch (err) {
      const failure = toDeliveryError(err, 'Socket Mode connect');
      if (!failure.retryable) {
        this.#state = 'new';
        throw failure;
      }
      this.#log.warn({ err: failure }, 'slack: Socket Mode not connected yet; retrying in the background');
      this.#onSocketDisconnected();
    }
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#stopping.abort();
    if (this.#inflight.size > 0) {
      const finished = await withTimeout(Promise.allSettled([...this.#inflight]), this.#stopTimeoutMs);
      if (finished === 'timeout') {
        this.#log.warn(
          { pending: this.#inflight.size },
          'slack: stopping with command replies still in progress',
        );
      }
    }
    // Each connection's close handshake is bounded (Slack leaves TCP open after it).
    await this.#sockets?.closeAll();
    await this.#closeHttp();
  }

  async #closeHttp(): Promise<void> {
    const server = this.#httpServer;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
      });
      this.#httpServer = undefined;
    }
    await this.#replayGuard?.close();
    this.#replayGuard = undefined;
  }

  /**
   * The workspace whose requests are taken: the configuration's, else the bot token's. An org-wide
   * install's token speaks for the whole organization, so then only the organization is compared
   * (unless slack.teamId names one workspace).
   */
  #ownWorkspace(auth: webApi.AuthTestResponse): SlackWorkspace {
    const orgWide = auth.is_enterprise_install === true;
    const teamId = this.#config.teamId ?? (orgWide ? undefined : auth.team_id);
    const enterpriseId = this.#config.enterpriseId ?? (auth.enterprise_id || undefined);
    if (teamId === undefined && enterpriseId === undefined) {
      throw new Error('Slack auth.test named no workspace; set slack.teamId in the configuration');
    }
    if (
      this.#config.teamId !== undefined &&
      auth.team_id !== undefined &&
      auth.team_id !== this.#config.teamId
    ) {
      this.#log.warn(
        { tokenTeam: auth.team_id, configuredTeam: this.#config.teamId },
        'slack: the bot token belongs to another workspace than slack.teamId; taking requests from slack.teamId only',
      );
    }
    return {
      ...(teamId === undefined ? {} : { teamId }),
      ...(enterpriseId === undefined ? {} : { enterpriseId }),
    };
  }

  async post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    const content = this.#content(message);
    try {
      const result = await this.#web.chat.postMessage({
        channel,
        ...content,
        ...(options.threadOf === undefined ? {} : { thread_ts: options.threadOf }),
        metadata: notificationMetadata(options.idempotencyKey, options.covers),
      } as webApi.ChatPostMessageArguments);
      if (typeof result.ts !== 'string') throw new Error('chat.postMessage answered without a ts');
      return { messageId: result.ts };
    } catch (err) {
      throw toDeliveryError(err, 'chat.postMessage');
    }
  }

  async update(channel: string, messageId: string, message: Message, options?: UpdateOptions): Promise<void> {
    try {
      await this.#web.chat.update({
        channel,
        ts: messageId,
        ...this.#content(message),
        // An edit that reports more keeps the key and says everything the message covers now.
        ...(options === undefined
          ? {}
          : { metadata: notificationMetadata(options.idempotencyKey, options.covers) }),
      } as webApi.ChatUpdateArguments);
    } catch (err) {
      throw toDeliveryError(err, 'chat.update');
    }
  }

  async findPosted(channel: string, idempotencyKey: string): Promise<Posted | undefined> {
    const matches = (m: unknown): boolean => {
      const metadata = (
        m as { metadata?: { event_type?: unknown; event_payload?: { key?: unknown } } } | undefined
      )?.metadata;
      return (
        metadata?.event_type === NOTIFICATION_EVENT_TYPE && metadata.event_payload?.key === idempotencyKey
      );
    };
    try {
      const history = await this.#web.conversations.history({
        channel,
        limit: this.#historyLimit,
        include_all_metadata: true,
      });
      const messages = history.messages ?? [];
      const top = messages.find(matches);
      if (top?.ts !== undefined) return { messageId: top.ts };
      // Thread replies are not in the channel history: look into the most recently active threads.
      const threads = messages
        .filter((m) => (m.reply_count ?? 0) > 0 && m.ts !== undefined)
        .sort((a, b) => Number(b.latest_reply ?? b.ts) - Number(a.latest_reply ?? a.ts))
        .slice(0, this.#threadSearchLimit);
      for (const thread of threads) {
        const replies = await this.#web.conversations.replies({
          channel,
          ts: thread.ts as string,
          limit: 200,
          include_all_metadata: true,
        } as webApi.ConversationsRepliesArguments);
        const reply = (replies.messages ?? []).find(matches);
        if (reply?.ts !== undefined) return { messageId: reply.ts };
      }
      return undefined;
    } catch (err) {
      throw toDeliveryError(err, 'conversations.history');
    }
  }

  // ---- commands -------------------------------------------------------------------------------

  #registerListeners(): void {
    // The umbrella (/drbd failover r0) and each command's own (/failover r0, /ip set web1 …), as
    // the manifest lists them: each becomes the one command line the registry parses.
    const naming = slashNamingOf(this.#config);
    this.#app.command(/^\/[a-z0-9_-]+$/, async ({ command, ack, respond }) => {
      await ack();
      const origin: ReplyOrigin = { channelId: command.channel_id, source: 'slash-command', respond };
      const text = commandLineOf(naming, 'slack', command.command.slice(1), command.text);
      if (text === undefined) {
        // Still in the app's manifest from an older configuration (renamed or turned off since).
        this.#log.warn(
          { command: command.command, userId: command.user_id, channelId: command.channel_id },
          'slack: refused a slash command this bot does not offer',
        );
        this.#refuse(origin, notOurCommand(command.command, naming));
        return;
      }
      const incoming: IncomingCommand = {
        platform: 'slack',
        text,
        userId: command.user_id,
        userName: command.user_name,
        roles: [],
        channelId: command.channel_id,
        source: 'slash-command',
      };
      if (this.#admitted(incoming, commandOrigin(command), origin)) this.#dispatch(incoming, origin);
    });
    this.#app.action<BlockAction>(
      { type: 'block_actions', action_id: /^drbd:/ },
      async ({ ack, body, action, respond }) => {
        await ack();
        const value = 'value' in action && typeof action.value === 'string' ? action.value : undefined;
        const container = (
          body as { container?: { channel_id?: string; message_ts?: string; thread_ts?: string } }
        ).container;
        const channelId = body.channel?.id ?? container?.channel_id;
        if (value === undefined || channelId === undefined) {
          this.#log.warn(
            { actionId: action.action_id },
            'slack: ignoring a click without a command value or channel',
          );
          return;
        }
        const threadTs = container?.thread_ts ?? container?.message_ts ?? body.message?.ts;
        const incoming: IncomingCommand = {
          platform: 'slack',
          text: value.trim(),
          userId: body.user.id,
          userName: body.user.username ?? body.user.name ?? body.user.id,
          roles: [],
          channelId,
          source: 'button',
        };
        const origin: ReplyOrigin = {
          channelId,
          source: 'button',
          respond,
          ...(threadTs === undefined ? {} : { threadTs }),
        };
        if (this.#admitted(incoming, actionOrigin(body), origin)) this.#dispatch(incoming, origin);
      },
    );
  }

  /**
   * Whether a command may run: it comes from the bot's own workspace, and from a channel the
   * configuration allows it in. Otherwise the person gets an ephemeral answer saying why, the log
   * a warning, and nothing else happens.
   */
  #admitted(command: IncomingCommand, from: RequestOrigin, origin: ReplyOrigin): boolean {
    const where = {
      userId: command.userId,
      channelId: command.channelId,
      source: command.source,
      command: command.text.slice(0, 100),
    };
    const own = this.#identity?.workspace;
    if (own === undefined || !isOwnWorkspace(from, own)) {
      this.#log.warn(
        { ...where, teams: from.teamIds, enterprise: from.enterpriseId },
        'slack: refused a request from another workspace',
      );
      this.#refuse(origin, foreignWorkspaceMessage(from));
      return false;
    }
    const name = this.#commandName(command.text);
    const decision = checkCommandChannel(this.#config.channels, name, [command.channelId]);
    if (!decision.allowed) {
      this.#log.warn(
        { ...where, rule: decision.rule, allowedIn: decision.allowedIn },
        'slack: refused a command outside its allowed channels',
      );
      this.#refuse(
        origin,
        channelRefusal(decision, name, (id) => `\`${id}\``),
      );
      return false;
    }
    return true;
  }

  /** An ephemeral answer through the request's response_url, tracked for stop(). */
  #refuse(origin: ReplyOrigin, message: Message): void {
    const reply = new SlackReply(origin, this.#replyTransport(), this.#log);
    const run = reply.put(message, true).catch((err: unknown) => {
      this.#log.warn({ err: toDeliveryError(err, 'refusal') }, 'slack: could not deliver a refusal');
    });
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
  }

  /** Run the handler after the ack, detached from Bolt's request, tracked for stop(). */
  #dispatch(command: IncomingCommand, origin: ReplyOrigin): void {
    const reply = new SlackReply(origin, this.#replyTransport(), this.#log);
    const run = this.#runHandler(command, reply);
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
  }

  /**
   * The user groups a user is in (policies may name slack-group:S…), from usergroups.list, cached
   * for a minute. Without the usergroups:read scope the answer is none, logged once.
   */
  async #userGroupsOf(userId: string): Promise<string[]> {
    const now = Date.now();
    if (this.#groups === undefined || now - this.#groups.at > 60_000) {
      try {
        const answer = (await this.#web.apiCall('usergroups.list', { include_users: true })) as {
          usergroups?: { id?: string; users?: string[] }[];
        };
        const members = new Map<string, string[]>();
        for (const group of answer.usergroups ?? []) {
          if (group.id === undefined) continue;
          for (const user of group.users ?? []) members.set(user, [...(members.get(user) ?? []), group.id]);
        }
        this.#groups = { at: now, members };
      } catch (err) {
        if (this.#groups === undefined) {
          this.#log.warn({ err: toDeliveryError(err, 'usergroups.list') }, 'slack: cannot read user groups');
        }
        this.#groups = { at: now, members: this.#groups?.members ?? new Map() };
      }
    }
    return this.#groups.members.get(userId) ?? [];
  }

  async #runHandler(received: IncomingCommand, reply: SlackReply): Promise<void> {
    const handler = this.#handler;
    const command = { ...received, roles: await this.#userGroupsOf(received.userId) };
    const where = { userId: command.userId, channelId: command.channelId, source: command.source };
    let answer: CommandReply;
    try {
      if (handler === undefined) throw new Error('no command handler (start() was not called)');
      answer = await handler(command, {
        update: async (message) => {
          try {
            await reply.put(message, undefined);
          } catch (err) {
            // A lost progress update must not abort the command behind it.
            this.#log.warn(
              { ...where, err: toDeliveryError(err, 'reply update') },
              'slack: updating a reply failed',
            );
          }
        },
      });
    } catch (err) {
      this.#log.error({ ...where, command: command.text, err }, 'slack: command handler failed');
      answer = { message: internalErrorMessage(), private: true };
    }
    try {
      await reply.put(answer.message, answer.private === true);
    } catch (err) {
      this.#log.error(
        { ...where, err: toDeliveryError(err, 'reply') },
        'slack: posting a command reply failed',
      );
    }
  }

  #replyTransport() {
    return {
      render: (message: Message) => this.#content(message),
      postMessage: async (channel: string, content: SlackContent, threadTs: string | undefined) => {
        try {
          const result = await this.#web.chat.postMessage({
            channel,
            ...content,
            ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
          } as webApi.ChatPostMessageArguments);
          if (typeof result.ts !== 'string') throw new Error('chat.postMessage answered without a ts');
          return result.ts;
        } catch (err) {
          throw toDeliveryError(err, 'chat.postMessage');
        }
      },
      updateMessage: async (channel: string, ts: string, content: SlackContent) => {
        try {
          await this.#web.chat.update({ channel, ts, ...content } as webApi.ChatUpdateArguments);
        } catch (err) {
          throw toDeliveryError(err, 'chat.update');
        }
      },
    };
  }

  #content(message: Message): SlackContent {
    return toContent(this.#render(message));
  }

  // ---- Socket Mode ----------------------------------------------------------------------------

  /** A new connection, in use once Slack says hello (a socket that never says hello is given up on). */
  async #connectSocket(): Promise<void> {
    try {
      await (this.#sockets as SocketModeConnections).open(15_000);
    } catch (err) {
      // Not a Web API answer: the connection itself failed, which is worth retrying.
      throw err instanceof webApi.WebAPIPlatformError ||
        err instanceof webApi.WebAPIHTTPError ||
        err instanceof webApi.WebAPIRequestError ||
        err instanceof webApi.WebAPIRateLimitedError
        ? err
        : new webApi.WebAPIRequestError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The connection in use is gone: reconnect (unless a refresh is already opening the next one). */
  #onSocketDisconnected(): void {
    this.#startReconnecting('lost');
  }

  /** Slack asked for a new connection: open it now, while the current one still takes payloads. */
  #onSocketRefresh(reason: DisconnectReason): void {
    this.#startReconnecting(reason === 'warning' ? 'warning' : 'refresh');
  }

  #onSocketDisabled(): void {
    this.#disabled = true;
    this.#stopping.abort();
    void this.#sockets?.closeAll();
  }

  #startReconnecting(why: 'lost' | 'refresh' | 'warning'): void {
    if (this.#state !== 'started' || this.#disabled || this.#reconnecting) return;
    this.#reconnecting = true;
    void this.#reconnectLoop(why).finally(() => {
      this.#reconnecting = false;
    });
  }

  async #reconnectLoop(why: 'lost' | 'refresh' | 'warning'): Promise<void> {
    const going = () => this.#state === 'started' && !this.#disabled;
    for (let attempt = 0; going(); attempt++) {
      const delay =
        attempt === 0
          ? 0
          : Math.min(this.#reconnectBackoff.initialMs * 2 ** (attempt - 1), this.#reconnectBackoff.maxMs);
      await sleep(delay, this.#stopping.signal);
      if (!going()) return;
      try {
        // stop() during the attempt closes every connection, this one included.
        await this.#connectSocket();
        if (!going()) return;
        this.#log.info(
          { attempts: attempt + 1, why },
          why === 'lost' ? 'slack: Socket Mode reconnected' : 'slack: Socket Mode connection refreshed',
        );
        return;
      } catch (err) {
        this.#log.warn(
          { attempt: attempt + 1, why, reason: toDeliveryError(err, 'Socket Mode reconnect').message },
          'slack: Socket Mode reconnect failed',
        );
      }
    }
  }

  // ---- HTTP mode ------------------------------------------------------------------------------

  async #listenHttp(receiver: HTTPReceiver): Promise<void> {
    const server = createServer((req, res) => this.#onHttpRequest(receiver, req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.#config.listen.host, port: this.#config.listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#log.error({ err }, 'slack: HTTP listener error'));
    this.#httpServer = server;
    this.#log.info({ ...this.httpAddress, path: HTTP_EVENTS_PATH }, 'slack: listening for Slack requests');
  }

  #onHttpRequest(receiver: HTTPReceiver, req: IncomingMessage, res: ServerResponse): void {
    this.#acceptHttpRequest(receiver, req, res).catch((err: unknown) => {
      this.#log.error({ err }, 'slack: HTTP request failed');
      req.resume();
      if (!res.headersSent) res.writeHead(500).end();
    });
  }

  /**
   * Before Bolt sees a request: its timestamp within five minutes either way (Bolt refuses only old
   * ones), a valid signature of exactly the shape Slack sends, and a signature not accepted before
   * (durably recorded before the request is handed on). Bolt then checks the signature again and
   * dispatches.
   */
  async #acceptHttpRequest(receiver: HTTPReceiver, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refuse = (status: number, reason: string, detail: Record<string, unknown> = {}): void => {
      this.#log.warn({ ...detail, status }, `slack: refused a request: ${reason}`);
      req.resume();
      if (!res.headersSent) res.writeHead(status).end();
    };
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    // The same match as Bolt's HTTPReceiver, so nothing reaches its event handling unguarded.
    if (req.method?.toUpperCase() !== 'POST' || path !== HTTP_EVENTS_PATH) {
      this.#handOver(receiver, req, res);
      return;
    }
    const timestampHeader = req.headers['x-slack-request-timestamp'];
    const signature = req.headers['x-slack-signature'];
    const timestamp = Number(timestampHeader);
    if (
      typeof timestampHeader === 'string' &&
      TIMESTAMP_HEADER.test(timestampHeader) &&
      Math.abs(Date.now() / 1000 - timestamp) > SIGNATURE_WINDOW_SEC
    ) {
      refuse(401, 'its timestamp is outside the five-minute window', { timestamp });
      return;
    }
    const body = await readBody(req, HTTP_BODY_LIMIT);
    if (body === undefined) {
      refuse(413, `its body is larger than ${HTTP_BODY_LIMIT} bytes`);
      req.destroy();
      return;
    }
    // Bolt reads the body from here instead of the (already consumed) stream.
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
    if (isSslCheck(req, body)) {
      // Slack's unsigned certificate check: Bolt answers it and strips anything else from the body.
      this.#handOver(receiver, req, res);
      return;
    }
    if (
      typeof timestampHeader !== 'string' ||
      !TIMESTAMP_HEADER.test(timestampHeader) ||
      typeof signature !== 'string' ||
      !SIGNATURE_HEADER.test(signature) ||
      !isValidSlackRequest({
        signingSecret: this.#secrets.signingSecret as string,
        body: body.toString('utf8'),
        headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp },
      })
    ) {
      refuse(401, 'missing or wrong signature');
      return;
    }
    const guard = this.#replayGuard;
    if (guard === undefined) {
      refuse(503, 'the Slack platform is not started');
      return;
    }
    let claim: Awaited<ReturnType<ReplayGuard['claim']>>;
    try {
      claim = await guard.claim(signature, timestamp);
    } catch (err) {
      // Without the record on disk a restart would accept the same request again: refuse it.
      this.#log.error({ err }, 'slack: cannot record an accepted request; refusing it');
      req.resume();
      if (!res.headersSent) res.writeHead(503).end();
      return;
    }
    if (claim === 'replay') {
      refuse(409, 'replayed (this signed request was accepted before)', { timestamp });
      return;
    }
    this.#handOver(receiver, req, res);
  }

  #handOver(receiver: HTTPReceiver, req: IncomingMessage, res: ServerResponse): void {
    try {
      receiver.requestListener(req, res);
    } catch (err) {
      const deferred = (err as { code?: unknown }).code === BoltErrorCode.HTTPReceiverDeferredRequestError;
      if (!deferred) this.#log.error({ err }, 'slack: HTTP request failed');
      req.resume();
      if (!res.headersSent) res.writeHead(deferred ? 404 : 500).end();
    }
  }
}
