// Slack through the real @slack/bolt App: Socket Mode by default (no inbound port on the hosts), or
// Bolt's HTTPReceiver behind a signature check. Posting goes through the Web API client with its
// own retries off, so every failure reaches the outbox as a DeliveryError.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  App,
  type BlockAction,
  ErrorCode as BoltErrorCode,
  HTTPReceiver,
  LogLevel,
  SocketModeReceiver,
  webApi,
} from '@slack/bolt';
import type { Config } from '../../app/config.js';
import type { Logger } from '../../app/log.js';
import { readSecret } from '../../app/secrets.js';
import type { Message } from '../../core/message.js';
import type {
  ChatPlatform,
  CommandHandler,
  CommandReply,
  IncomingCommand,
  Posted,
  PostOptions,
} from '../../ports/chat.js';
import { withTimeout } from '../with-timeout.js';
import { createBoltLogger } from './bolt-logger.js';
import { defaultRenderer, type SlackContent, type SlackRenderer, toContent } from './content.js';
import { toDeliveryError } from './errors.js';
import { type ReplyOrigin, SlackReply } from './reply.js';

export type SlackConfig = NonNullable<Config['slack']>;

/** `event_type` of the metadata every notification carries; findPosted looks for it. */
export const NOTIFICATION_EVENT_TYPE = 'drbd_chatops_notification';

/** Bolt's HTTPReceiver path for slash commands and interactivity (the manifest's request URL). */
export const HTTP_EVENTS_PATH = '/slack/events';

/** Slack signs requests with a timestamp; anything further than this from now is refused. */
const SIGNATURE_WINDOW_SEC = 5 * 60;

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
  /** Already resolved secrets (tests); read from the environment / files named in config otherwise. */
  readonly secrets?: SlackSecrets;
  readonly env?: NodeJS.ProcessEnv;
  /** Web API request time limit (default 10 s); a timeout is a retryable DeliveryError. */
  readonly requestTimeoutMs?: number;
  /** Socket Mode reconnection backoff after the connection drops (default 1 s doubling to 30 s). */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /** Socket Mode: ping the server every third of this and drop the connection without a pong (default 5 s). */
  readonly clientPingTimeoutMs?: number;
  /** stop(): how long to wait for command replies in progress (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** findPosted: how many recent channel messages to search (default 100). */
  readonly historyLimit?: number;
  /** findPosted: how many recent threads to search for replies (default 10). */
  readonly threadSearchLimit?: number;
  readonly render?: SlackRenderer;
}

/** The secrets the configured mode needs, from the environment or the files named in the configuration. */
export function readSlackSecrets(config: SlackConfig, env: NodeJS.ProcessEnv = process.env): SlackSecrets {
  const botToken = readSecret(
    'Slack bot token',
    { envName: config.botTokenEnv, file: config.botTokenFile },
    env,
  );
  if (config.mode === 'socket') {
    const appToken = readSecret(
      'Slack app-level token',
      { envName: config.appTokenEnv, file: config.appTokenFile },
      env,
    );
    return { botToken, appToken };
  }
  const signingSecret = readSecret(
    'Slack signing secret',
    { envName: config.signingSecretEnv, file: config.signingSecretFile },
    env,
  );
  return { botToken, signingSecret };
}

function internalErrorMessage(): Message {
  return {
    title: 'Internal error',
    tone: 'critical',
    body: 'The command failed unexpectedly. The details are in the bot’s log.',
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

interface Identity {
  readonly botId: string | undefined;
  readonly botUserId: string | undefined;
  readonly teamId: string | undefined;
}

export class SlackPlatform implements ChatPlatform {
  readonly name = 'slack' as const;

  private readonly config: SlackConfig;
  private readonly log: Logger;
  private readonly secrets: SlackSecrets;
  private readonly render: SlackRenderer;
  private readonly web: InstanceType<typeof webApi.WebClient>;
  private readonly app: App;
  private readonly socketReceiver: SocketModeReceiver | undefined;
  private readonly httpReceiver: HTTPReceiver | undefined;
  private readonly reconnectBackoff: { readonly initialMs: number; readonly maxMs: number };
  private readonly stopTimeoutMs: number;
  private readonly historyLimit: number;
  private readonly threadSearchLimit: number;
  private readonly inflight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private state: 'new' | 'starting' | 'started' | 'stopped' = 'new';
  private handler: CommandHandler | undefined;
  private identity: Identity | undefined;
  private httpServer: Server | undefined;
  private reconnecting = false;
  private groups: { at: number; members: Map<string, string[]> } | undefined;
  private connected = false;

  constructor(options: SlackPlatformOptions) {
    this.config = options.config;
    this.log = options.logger.child({ component: 'slack' });
    this.secrets = options.secrets ?? readSlackSecrets(options.config, options.env);
    this.render = options.render ?? defaultRenderer;
    this.reconnectBackoff = options.reconnect ?? { initialMs: 1_000, maxMs: 30_000 };
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.historyLimit = options.historyLimit ?? 100;
    this.threadSearchLimit = options.threadSearchLimit ?? 10;

    const boltLogger = createBoltLogger(options.logger);
    // One set of client options for every Web API client Bolt and we create (the Socket Mode
    // client's apps.connections.open included): the configured base URL, no retries of their own.
    const clientOptions = (): webApi.WebClientOptions => ({
      slackApiUrl: this.config.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: options.requestTimeoutMs ?? 10_000,
      logger: boltLogger,
    });
    this.web = new webApi.WebClient(this.secrets.botToken, clientOptions());

    if (this.config.mode === 'socket') {
      if (this.secrets.appToken === undefined) throw new Error('Slack Socket Mode needs the app-level token');
      this.socketReceiver = new SocketModeReceiver({
        appToken: this.secrets.appToken,
        logger: boltLogger,
        logLevel: LogLevel.WARN,
        // Reconnection is ours (below): the client's own gives up by throwing from a timer when
        // apps.connections.open fails, which would be an unhandled rejection.
        autoReconnectEnabled: false,
        ...(options.clientPingTimeoutMs === undefined
          ? {}
          : { clientPingTimeout: options.clientPingTimeoutMs }),
        installerOptions: { clientOptions: clientOptions() },
      });
      this.httpReceiver = undefined;
      this.socketReceiver.client.on('disconnected', () => this.onSocketDisconnected());
      this.socketReceiver.client.on('connected', () => {
        this.connected = true;
      });
    } else {
      if (this.secrets.signingSecret === undefined)
        throw new Error('Slack HTTP mode needs the signing secret');
      this.httpReceiver = new HTTPReceiver({
        signingSecret: this.secrets.signingSecret,
        signatureVerification: true,
        endpoints: [HTTP_EVENTS_PATH],
        logger: boltLogger,
        logLevel: LogLevel.WARN,
        processBeforeResponse: false,
      });
      this.socketReceiver = undefined;
    }

    this.app = new App({
      receiver: (this.socketReceiver ?? this.httpReceiver) as SocketModeReceiver | HTTPReceiver,
      // Our own authorize: no auth.test per event (the one at start is cached), nothing that can
      // fail between a request and its ack.
      authorize: async () => ({
        botToken: this.secrets.botToken,
        ...(this.identity?.botId === undefined ? {} : { botId: this.identity.botId }),
        ...(this.identity?.botUserId === undefined ? {} : { botUserId: this.identity.botUserId }),
        ...(this.identity?.teamId === undefined ? {} : { teamId: this.identity.teamId }),
      }),
      logger: boltLogger,
      logLevel: LogLevel.WARN,
      clientOptions: clientOptions(),
      convoStore: false,
    });
    this.app.error(async (error) => {
      this.log.error({ err: error }, 'slack: error while processing a request');
    });
    this.registerListeners();
  }

  /** HTTP mode: where the listener is bound (the port is the real one when config said 0). */
  get httpAddress(): { host: string; port: number } | undefined {
    const address = this.httpServer?.address();
    if (address === null || address === undefined || typeof address === 'string') return undefined;
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port };
  }

  /** Socket Mode: whether the websocket is up right now. */
  get isConnected(): boolean {
    return this.config.mode === 'http' ? this.httpServer?.listening === true : this.connected;
  }

  async start(handler: CommandHandler): Promise<void> {
    if (this.state !== 'new') throw new Error(`SlackPlatform.start: already ${this.state}`);
    this.state = 'starting';
    this.handler = handler;
    let auth: webApi.AuthTestResponse;
    try {
      auth = await this.web.auth.test();
    } catch (err) {
      // Nothing started: the caller may try again (the error says whether that can help).
      this.state = 'new';
      throw toDeliveryError(err, 'auth.test');
    }
    if (this.state !== 'starting') return; // stopped meanwhile
    this.identity = { botId: auth.bot_id, botUserId: auth.user_id, teamId: auth.team_id };
    this.log.info({ team: auth.team, botUser: auth.user, mode: this.config.mode }, 'slack: authenticated');
    if (this.httpReceiver !== undefined) {
      await this.listenHttp(this.httpReceiver);
      this.state = 'started';
      return;
    }
    this.state = 'started';
    try {
      await this.connectSocket();
      if (this.state !== 'started') {
        await withTimeout((this.socketReceiver as SocketModeReceiver).client.disconnect(), 5_000);
      }
    } catch (err) {
      const failure = toDeliveryError(err, 'Socket Mode connect');
      if (!failure.retryable) {
        this.state = 'new';
        throw failure;
      }
      this.log.warn(
        { reason: failure.message },
        'slack: Socket Mode not connected yet; retrying in the background',
      );
      this.onSocketDisconnected();
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.stopping.abort();
    if (this.inflight.size > 0) {
      const finished = await withTimeout(Promise.allSettled([...this.inflight]), this.stopTimeoutMs);
      if (finished === 'timeout') {
        this.log.warn(
          { pending: this.inflight.size },
          'slack: stopping with command replies still in progress',
        );
      }
    }
    if (this.socketReceiver !== undefined) {
      const done = await withTimeout(this.socketReceiver.client.disconnect(), 5_000);
      if (done === 'timeout') this.log.warn('slack: the Socket Mode connection did not close in time');
      this.connected = false;
    }
    const server = this.httpServer;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
      });
      this.httpServer = undefined;
    }
  }

  async post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    const content = this.content(message);
    try {
      const result = await this.web.chat.postMessage({
        channel,
        ...content,
        ...(options.threadOf === undefined ? {} : { thread_ts: options.threadOf }),
        metadata: { event_type: NOTIFICATION_EVENT_TYPE, event_payload: { key: options.idempotencyKey } },
      } as webApi.ChatPostMessageArguments);
      if (typeof result.ts !== 'string') throw new Error('chat.postMessage answered without a ts');
      return { messageId: result.ts };
    } catch (err) {
      throw toDeliveryError(err, 'chat.postMessage');
    }
  }

  async update(channel: string, messageId: string, message: Message): Promise<void> {
    try {
      await this.web.chat.update({
        channel,
        ts: messageId,
        ...this.content(message),
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
      const history = await this.web.conversations.history({
        channel,
        limit: this.historyLimit,
        include_all_metadata: true,
      });
      const messages = history.messages ?? [];
      const top = messages.find(matches);
      if (top?.ts !== undefined) return { messageId: top.ts };
      // Thread replies are not in the channel history: look into the most recently active threads.
      const threads = messages
        .filter((m) => (m.reply_count ?? 0) > 0 && m.ts !== undefined)
        .sort((a, b) => Number(b.latest_reply ?? b.ts) - Number(a.latest_reply ?? a.ts))
        .slice(0, this.threadSearchLimit);
      for (const thread of threads) {
        const replies = await this.web.conversations.replies({
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

  private registerListeners(): void {
    this.app.command(this.config.command, async ({ command, ack, respond }) => {
      await ack();
      this.dispatch(
        {
          platform: 'slack',
          text: command.text.trim(),
          userId: command.user_id,
          userName: command.user_name,
          roles: [],
          channelId: command.channel_id,
          source: 'slash-command',
        },
        { channelId: command.channel_id, source: 'slash-command', respond },
      );
    });
    this.app.action<BlockAction>(
      { type: 'block_actions', action_id: /^drbd:/ },
      async ({ ack, body, action, respond }) => {
        await ack();
        const value = 'value' in action && typeof action.value === 'string' ? action.value : undefined;
        const container = (
          body as { container?: { channel_id?: string; message_ts?: string; thread_ts?: string } }
        ).container;
        const channelId = body.channel?.id ?? container?.channel_id;
        if (value === undefined || channelId === undefined) {
          this.log.warn(
            { actionId: action.action_id },
            'slack: ignoring a click without a command value or channel',
          );
          return;
        }
        const threadTs = container?.thread_ts ?? container?.message_ts ?? body.message?.ts;
        this.dispatch(
          {
            platform: 'slack',
            text: value.trim(),
            userId: body.user.id,
            userName: body.user.username ?? body.user.name ?? body.user.id,
            roles: [],
            channelId,
            source: 'button',
          },
          { channelId, source: 'button', respond, ...(threadTs === undefined ? {} : { threadTs }) },
        );
      },
    );
  }

  /** Run the handler after the ack, detached from Bolt's request, tracked for stop(). */
  private dispatch(command: IncomingCommand, origin: ReplyOrigin): void {
    const reply = new SlackReply(origin, this.replyTransport(), this.log);
    const run = this.runHandler(command, reply);
    this.inflight.add(run);
    void run.finally(() => this.inflight.delete(run));
  }

  /**
   * The user groups a user is in (policies may name slack-group:S…), from usergroups.list, cached
   * for a minute. Without the usergroups:read scope the answer is none, logged once.
   */
  private async userGroupsOf(userId: string): Promise<string[]> {
    const now = Date.now();
    if (this.groups === undefined || now - this.groups.at > 60_000) {
      try {
        const answer = (await this.web.apiCall('usergroups.list', { include_users: true })) as {
          usergroups?: { id?: string; users?: string[] }[];
        };
        const members = new Map<string, string[]>();
        for (const group of answer.usergroups ?? []) {
          if (group.id === undefined) continue;
          for (const user of group.users ?? []) members.set(user, [...(members.get(user) ?? []), group.id]);
        }
        this.groups = { at: now, members };
      } catch (err) {
        if (this.groups === undefined) {
          this.log.warn({ err: toDeliveryError(err, 'usergroups.list') }, 'slack: cannot read user groups');
        }
        this.groups = { at: now, members: this.groups?.members ?? new Map() };
      }
    }
    return this.groups.members.get(userId) ?? [];
  }

  private async runHandler(received: IncomingCommand, reply: SlackReply): Promise<void> {
    const handler = this.handler;
    const command = { ...received, roles: await this.userGroupsOf(received.userId) };
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
            this.log.warn(
              { ...where, err: toDeliveryError(err, 'reply update') },
              'slack: updating a reply failed',
            );
          }
        },
      });
    } catch (err) {
      this.log.error({ ...where, command: command.text, err }, 'slack: command handler failed');
      answer = { message: internalErrorMessage(), private: true };
    }
    try {
      await reply.put(answer.message, answer.private === true);
    } catch (err) {
      this.log.error(
        { ...where, err: toDeliveryError(err, 'reply') },
        'slack: posting a command reply failed',
      );
    }
  }

  private replyTransport() {
    return {
      render: (message: Message) => this.content(message),
      postMessage: async (channel: string, content: SlackContent, threadTs: string | undefined) => {
        try {
          const result = await this.web.chat.postMessage({
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
          await this.web.chat.update({ channel, ts, ...content } as webApi.ChatUpdateArguments);
        } catch (err) {
          throw toDeliveryError(err, 'chat.update');
        }
      },
    };
  }

  private content(message: Message): SlackContent {
    return toContent(this.render(message));
  }

  // ---- Socket Mode ----------------------------------------------------------------------------

  private async connectSocket(): Promise<void> {
    const client = (this.socketReceiver as SocketModeReceiver).client;
    // start() resolves on Slack's hello; a socket that opens but never says hello is given up on.
    const outcome = await withTimeout(
      client.start().catch((err: unknown) => {
        // The client rejects with nothing when the socket closes before Slack's hello.
        throw err instanceof Error
          ? err
          : new webApi.WebAPIRequestError(new Error('connection closed before hello'));
      }),
      15_000,
    );
    if (outcome === 'timeout') {
      void client.disconnect();
      throw new webApi.WebAPIRequestError(new Error('no hello from Slack within 15 s'));
    }
  }

  private onSocketDisconnected(): void {
    this.connected = false;
    if (this.state !== 'started' || this.reconnecting) return;
    this.reconnecting = true;
    void this.reconnectLoop().finally(() => {
      this.reconnecting = false;
    });
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 0; this.state === 'started'; attempt++) {
      const delay =
        attempt === 0
          ? 0
          : Math.min(this.reconnectBackoff.initialMs * 2 ** (attempt - 1), this.reconnectBackoff.maxMs);
      await sleep(delay, this.stopping.signal);
      if (this.state !== 'started') return;
      try {
        await this.connectSocket();
        if (this.state !== 'started') {
          // stop() ran while this attempt was under way: do not leave a connection behind.
          await withTimeout((this.socketReceiver as SocketModeReceiver).client.disconnect(), 5_000);
          return;
        }
        this.log.info({ attempts: attempt + 1 }, 'slack: Socket Mode reconnected');
        return;
      } catch (err) {
        this.log.warn(
          { attempt: attempt + 1, reason: toDeliveryError(err, 'Socket Mode reconnect').message },
          'slack: Socket Mode reconnect failed',
        );
      }
    }
  }

  // ---- HTTP mode ------------------------------------------------------------------------------

  private async listenHttp(receiver: HTTPReceiver): Promise<void> {
    const server = createServer((req, res) => this.onHttpRequest(receiver, req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.config.listen.host, port: this.config.listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'slack: HTTP listener error'));
    this.httpServer = server;
    this.log.info({ ...this.httpAddress, path: HTTP_EVENTS_PATH }, 'slack: listening for Slack requests');
  }

  private onHttpRequest(receiver: HTTPReceiver, req: IncomingMessage, res: ServerResponse): void {
    // Bolt verifies the v0 signature and refuses timestamps older than five minutes, but accepts
    // any timestamp in the future; close that side of the window before handing the request on.
    const timestamp = Number(req.headers['x-slack-request-timestamp']);
    if (Number.isFinite(timestamp) && Math.abs(Date.now() / 1000 - timestamp) > SIGNATURE_WINDOW_SEC) {
      this.log.warn('slack: refused a request whose timestamp is outside the five-minute window');
      req.resume();
      res.writeHead(401).end();
      return;
    }
    try {
      receiver.requestListener(req, res);
    } catch (err) {
      const deferred = (err as { code?: unknown }).code === BoltErrorCode.HTTPReceiverDeferredRequestError;
      if (!deferred) this.log.error({ err }, 'slack: HTTP request failed');
      req.resume();
      if (!res.headersSent) res.writeHead(deferred ? 404 : 500).end();
    }
  }
}
