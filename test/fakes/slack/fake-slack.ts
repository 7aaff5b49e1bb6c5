// A fake Slack on loopback: the Web API methods the bot uses (as @slack/web-api calls them), the
// Socket Mode websocket, response_url endpoints, and fault injection. It is a real HTTP + WebSocket
// server, so the code under test runs its real client libraries against it, unmodified.
//
// Socket Mode as Slack runs it (docs.slack.dev "Using Socket Mode"; @slack/socket-mode 3.2.0's
// changelog): an app may hold up to 10 connections and each payload goes to any one of them (here:
// in turn, preferring connections not asked to refresh); `disconnect` asks a connection to be
// replaced, and after the close handshake Slack does not close the TCP connection (the client has
// to). With `dispatch: 'immediate'` a payload with no open connection fails at once, as Slack answers
// the user `dispatch_failed`, instead of waiting for one.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { type InstalledCommand, installSlashCommands } from './manifest.js';

export const FAKE_BOT_TOKEN = 'xoxb-fake-bot-token';
export const FAKE_APP_TOKEN = 'xapp-1-fake-app-token';
export const FAKE_TEAM_ID = 'T0FAKE';
export const FAKE_APP_ID = 'A0FAKE';
export const FAKE_BOT_ID = 'B0FAKE';
export const FAKE_BOT_USER_ID = 'U0FAKEBOT';

/** What the next call(s) of a method get instead of a normal answer. */
export type Fault =
  /** 429 with `Retry-After: retryAfterSec` (omitted when null). */
  | { readonly kind: 'rate-limited'; readonly retryAfterSec: number | null }
  /** Any HTTP status with a short text body (500, 502, 503 …). */
  | { readonly kind: 'http-error'; readonly status: number }
  /** HTTP 200 with `{ok: false, error}` (channel_not_found, not_in_channel …). */
  | { readonly kind: 'slack-error'; readonly error: string }
  /** The connection is destroyed without an answer. */
  | { readonly kind: 'destroy' }
  /** Answer normally, but only after `ms`. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Take effect at once (the message is there for everyone), but answer only after `ms`. */
  | { readonly kind: 'slow-answer'; readonly ms: number };

export interface ApiCall {
  /** Web API method (`chat.postMessage`), or `response_url` for posts to a response URL. */
  readonly method: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly token: string | undefined;
  readonly contentType: string;
  /** Date.now() when the request arrived. */
  readonly at: number;
  readonly fault?: Fault['kind'];
}

export interface StoredMessage {
  readonly type: 'message';
  readonly channel: string;
  readonly ts: string;
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  readonly thread_ts?: string;
  readonly user: string;
  readonly bot_id?: string;
  readonly app_id: string;
  /** Posted through a response_url rather than chat.postMessage. */
  readonly viaResponseUrl?: string;
  edited?: { user: string; ts: string };
  /** Every version before the current one, oldest first. */
  readonly history: { text: string; blocks?: unknown[]; attachments?: unknown[] }[];
}

export interface StoredEphemeral {
  readonly channel: string;
  readonly user: string;
  readonly text: string;
  readonly blocks?: unknown[];
  readonly attachments?: unknown[];
  readonly ts: string;
  readonly viaResponseUrl?: string;
  /** Replaced through its response_url by a later one. */
  replaced: boolean;
}

export interface ResponseUrlPost {
  readonly id: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly at: number;
}

export interface Envelope {
  readonly envelopeId: string;
  readonly type: 'slash_commands' | 'interactive' | 'events_api';
  readonly payload: Record<string, unknown>;
  /** The connection it was sent on; 0 when there was none (see `failed`). */
  readonly connectionId: number;
  readonly sentAt: number;
  ackedAt?: number;
  ackPayload?: unknown;
  /** `dispatch: 'immediate'` and no open connection: Slack tells the user the app did not answer. */
  readonly failed?: 'dispatch_failed';
}

export interface SocketConnection {
  readonly id: number;
  readonly openedAt: number;
  /** When Slack sent it `disconnect` (refresh_requested, link_disabled …). */
  disconnectSentAt?: number;
  /** When the close handshake completed (the app's close frame answered); TCP stays open after it. */
  closeHandshakeAt?: number;
  /** When the TCP connection closed. */
  closedAt?: number;
  /** Messages the app sent on it (acks), parsed. */
  readonly received: unknown[];
}

export interface SlashCommandInput {
  readonly text: string;
  readonly command?: string;
  readonly userId?: string;
  readonly userName?: string;
  readonly channelId?: string;
  readonly channelName?: string;
  /**
   * The workspace the command comes from (default: the fake's own): a second workspace the app is
   * installed in, or an external person's own workspace in a Slack Connect channel.
   */
  readonly teamId?: string;
  /** Its Enterprise Grid organization (default: the fake's own, if any). */
  readonly enterpriseId?: string | null;
}

export interface ButtonClickInput {
  readonly channelId: string;
  /** The message holding the button. */
  readonly messageTs: string;
  readonly actionId: string;
  /** Defaults to the value of the button found in the stored message. */
  readonly value?: string;
  readonly userId?: string;
  readonly userName?: string;
  /**
   * The clicking person's home workspace (`user.team_id`; default: the fake's own). In a Slack
   * Connect channel anyone in the channel can click the bot's buttons: an external person's click
   * names their own workspace here while `team` stays the installation's.
   */
  readonly userTeamId?: string;
  /** The installation's workspace (`team.id`; default: the fake's own). */
  readonly teamId?: string;
  readonly enterpriseId?: string | null;
}

export interface FakeSlackOptions {
  readonly botTokens?: readonly string[];
  readonly appTokens?: readonly string[];
  /** When given, only these channels exist (others answer channel_not_found); else every channel does. */
  readonly channels?: readonly string[];
  /** The workspace the bot token belongs to (auth.test's team_id; default T0FAKE). */
  readonly teamId?: string;
  /** Its Enterprise Grid organization (auth.test's enterprise_id; default none). */
  readonly enterpriseId?: string;
  /**
   * Without an open Socket Mode connection a payload `wait`s for one (default, up to 10 s), or fails
   * at once (`immediate`), as Slack does.
   */
  readonly dispatch?: 'wait' | 'immediate';
}

type Params = Record<string, unknown>;
type ApiResult = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

// Keys the Web API client sends JSON-encoded inside a form body.
const JSON_PARAMS = new Set(['blocks', 'attachments', 'metadata']);

function truthy(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseParams(contentType: string, text: string, query: URLSearchParams): Params {
  const params: Params = Object.fromEntries(query.entries());
  if (contentType.startsWith('application/json')) {
    if (text.trim() !== '') Object.assign(params, JSON.parse(text) as Params);
    return params;
  }
  for (const [key, value] of new URLSearchParams(text).entries()) {
    if (JSON_PARAMS.has(key)) {
      try {
        params[key] = JSON.parse(value);
        continue;
      } catch {
        // not JSON: keep the string, as Slack would complain about it
      }
    }
    params[key] = value;
  }
  return params;
}

function findButton(blocks: unknown, actionId: string): Record<string, unknown> | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (const block of blocks as Record<string, unknown>[]) {
    const elements = block.elements;
    if (!Array.isArray(elements)) continue;
    for (const element of elements as Record<string, unknown>[]) {
      if (element.type === 'button' && element.action_id === actionId) return element;
    }
  }
  return undefined;
}

export class FakeSlack {
  /** Slack user groups (id → member user ids), as usergroups.list reports them. */
  readonly userGroups = new Map<string, string[]>();
  readonly calls: ApiCall[] = [];
  readonly envelopes: Envelope[] = [];
  readonly connections: SocketConnection[] = [];
  readonly responses: ResponseUrlPost[] = [];
  readonly ephemerals: StoredEphemeral[] = [];

  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<Socket>();
  private readonly openSockets = new Map<number, WebSocket>();
  private readonly channelMessages = new Map<string, StoredMessage[]>();
  private readonly faults: { method: string; fault: Fault; remaining: number }[] = [];
  private readonly tickets = new Set<string>();
  private readonly responseUrls = new Map<
    string,
    { kind: 'slash_commands' | 'interactive'; channel: string; user: string; original?: StoredMessage }
  >();
  private readonly changes = new EventEmitter();
  /** Benchmarks: told of every Web API call the moment it arrives (before it is answered). */
  callListener: ((call: ApiCall) => void) | undefined;
  /** The workspace the bot token belongs to, as auth.test reports it. */
  readonly teamId: string;
  readonly enterpriseId: string | undefined;
  private readonly botTokens: Set<string>;
  private readonly appTokens: Set<string>;
  private knownChannels: Set<string> | null;
  private port = 0;
  private lastTsMicros = 0;
  private nextConnectionId = 1;
  private unreachable = false;
  private readonly dispatch: 'wait' | 'immediate';
  private deliveries = 0;

  constructor(options: FakeSlackOptions = {}) {
    this.botTokens = new Set(options.botTokens ?? [FAKE_BOT_TOKEN]);
    this.appTokens = new Set(options.appTokens ?? [FAKE_APP_TOKEN]);
    this.knownChannels = options.channels === undefined ? null : new Set(options.channels);
    this.teamId = options.teamId ?? FAKE_TEAM_ID;
    this.enterpriseId = options.enterpriseId;
    this.dispatch = options.dispatch ?? 'wait';
    this.changes.setMaxListeners(0);
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`fake slack: ${String(err)}`);
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head));
  }

  /** Listen on 127.0.0.1 on a free port. */
  async start(): Promise<void> {
    await this.listen(0);
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const ws of this.openSockets.values()) ws.terminate();
    for (const socket of this.sockets) socket.destroy();
    this.wss.close();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.changes.removeAllListeners();
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The Web API base URL, as `slackApiUrl` wants it (with the trailing slash). */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  // ---- assertions -----------------------------------------------------------------------------

  callsTo(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Messages in a channel (thread replies included), oldest first. */
  messages(channel: string): readonly StoredMessage[] {
    return this.channelMessages.get(channel) ?? [];
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.messages(channel).find((m) => m.ts === ts);
  }

  responsesTo(responseUrl: string): ResponseUrlPost[] {
    const id = responseUrl.slice(responseUrl.lastIndexOf('/') + 1);
    return this.responses.filter((r) => r.id === id);
  }

  envelope(envelopeId: string): Envelope | undefined {
    return this.envelopes.find((e) => e.envelopeId === envelopeId);
  }

  /** Connections that can carry payloads: open, the close handshake not begun. */
  get openConnectionCount(): number {
    return this.deliverable().length;
  }

  /** TCP connections of Socket Mode still open, closing ones included (Slack leaves them to the app). */
  get socketCount(): number {
    return this.openSockets.size;
  }

  /** Resolve once `condition` holds (checked on every change of the fake and every 25 ms). */
  async waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        cleanup();
        resolve();
      };
      const poll = setInterval(check, 25);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake slack: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearInterval(poll);
        clearTimeout(timer);
        this.changes.off('change', check);
      };
      this.changes.on('change', check);
    });
  }

  /** Wait until the app has an open Socket Mode connection (the `total`-th one, counting reconnects). */
  async waitForConnection(total = 1, timeoutMs = 10_000): Promise<SocketConnection> {
    await this.waitFor(
      () => this.connections.length >= total && this.openConnectionCount > 0,
      `Socket Mode connection #${total}`,
      timeoutMs,
    );
    return this.connections[this.connections.length - 1] as SocketConnection;
  }

  async waitForAck(envelopeId: string, timeoutMs = 10_000): Promise<Envelope> {
    await this.waitFor(
      () => this.envelope(envelopeId)?.ackedAt !== undefined,
      `ack of ${envelopeId}`,
      timeoutMs,
    );
    return this.envelope(envelopeId) as Envelope;
  }

  async waitForResponses(responseUrl: string, count = 1, timeoutMs = 10_000): Promise<ResponseUrlPost[]> {
    await this.waitFor(
      () => this.responsesTo(responseUrl).length >= count,
      `${count} post(s) to ${responseUrl}`,
      timeoutMs,
    );
    return this.responsesTo(responseUrl);
  }

  // ---- fault injection ------------------------------------------------------------------------

  /** The next `times` calls of `method` (`*`: any method, `response_url`: response URLs) get `fault`. */
  inject(method: string, fault: Fault, times = 1): void {
    this.faults.push({ method, fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /**
   * Make the whole fake unreachable: stop listening (connection refused) and cut every open
   * connection, websockets included. `false` listens again on the same port.
   */
  async setUnreachable(unreachable: boolean): Promise<void> {
    if (unreachable === this.unreachable) return;
    this.unreachable = unreachable;
    if (unreachable) {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const ws of this.openSockets.values()) ws.terminate();
      for (const socket of this.sockets) socket.destroy();
      await closed;
    } else {
      await this.listen(this.port);
    }
    this.changed();
  }

  /** Restrict the channels that exist, or (null) let every channel exist. */
  setChannels(channels: readonly string[] | null): void {
    this.knownChannels = channels === null ? null : new Set(channels);
  }

  // ---- Socket Mode ----------------------------------------------------------------------------

  /**
   * Send the Socket Mode `disconnect` message (Slack refreshing the connection; `link_disabled`:
   * Socket Mode turned off) on every open connection, or on the one given. Slack goes on sending
   * payloads there until the app closes it, when no other connection is open.
   */
  requestReconnect(reason = 'refresh_requested', connectionId?: number): void {
    for (const [id, ws] of this.deliverable()) {
      if (connectionId !== undefined && id !== connectionId) continue;
      const connection = this.connections.find((c) => c.id === id);
      if (connection !== undefined) connection.disconnectSentAt = Date.now();
      ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake' } }));
    }
    this.changed();
  }

  /** Cut every websocket without a close frame (a network failure). */
  dropConnections(): void {
    for (const ws of this.openSockets.values()) ws.terminate();
  }

  /**
   * The app's slash commands, from its manifest as Slack checks it (a built-in name such as /status
   * refuses the whole manifest). Once installed, Slack sends no other command: a test typing one
   * that is not in the manifest fails, as the person would get "not a valid command".
   */
  installApp(manifest: unknown): InstalledCommand[] {
    this.installedCommands = installSlashCommands(manifest);
    return this.installedCommands;
  }

  private installedCommands: InstalledCommand[] | undefined;

  /** A slash command's payload (with a fresh response_url back to this fake), as Slack sends it. */
  slashCommandPayload(input: SlashCommandInput): Record<string, string> {
    const command = input.command ?? '/drbd';
    if (this.installedCommands !== undefined && !this.installedCommands.some((c) => c.command === command)) {
      throw new Error(
        `fake slack: ${command} is not a command of the installed app (${this.installedCommands.map((c) => c.command).join(' ')})`,
      );
    }
    const channel = input.channelId ?? 'C0ALERTS';
    const user = input.userId ?? 'U0ALICE';
    const responseUrl = this.newResponseUrl({ kind: 'slash_commands', channel, user });
    const teamId = input.teamId ?? this.teamId;
    const enterpriseId = input.enterpriseId === undefined ? this.enterpriseId : input.enterpriseId;
    return {
      token: 'fake-verification-token',
      team_id: teamId,
      team_domain: teamId === this.teamId ? 'fake' : teamId.toLowerCase(),
      ...(enterpriseId === undefined || enterpriseId === null
        ? {}
        : { enterprise_id: enterpriseId, enterprise_name: `Org ${enterpriseId}` }),
      channel_id: channel,
      channel_name: input.channelName ?? 'ops',
      user_id: user,
      user_name: input.userName ?? 'alice',
      command,
      text: input.text,
      api_app_id: FAKE_APP_ID,
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: `${Date.now()}.${randomUUID().slice(0, 8)}`,
    };
  }

  /** A block_actions payload for a click on a button of a stored message. */
  blockActionPayload(input: ButtonClickInput): Record<string, unknown> {
    const message = this.message(input.channelId, input.messageTs);
    if (message === undefined)
      throw new Error(`fake slack: no message ${input.messageTs} in ${input.channelId}`);
    const attachmentBlocks = (message.attachments ?? []).flatMap((a) => {
      const blocks = (a as { blocks?: unknown }).blocks;
      return Array.isArray(blocks) ? blocks : [];
    });
    const button = findButton(message.blocks, input.actionId) ?? findButton(attachmentBlocks, input.actionId);
    if (button === undefined && input.value === undefined) {
      throw new Error(`fake slack: message ${input.messageTs} has no button ${input.actionId}`);
    }
    const user = input.userId ?? 'U0ALICE';
    const userName = input.userName ?? 'alice';
    const responseUrl = this.newResponseUrl({
      kind: 'interactive',
      channel: input.channelId,
      user,
      original: message,
    });
    const { history: _history, channel: _channel, viaResponseUrl: _via, ...visible } = message;
    const teamId = input.teamId ?? this.teamId;
    const enterpriseId = input.enterpriseId === undefined ? this.enterpriseId : input.enterpriseId;
    return {
      type: 'block_actions',
      user: { id: user, username: userName, name: userName, team_id: input.userTeamId ?? teamId },
      api_app_id: FAKE_APP_ID,
      token: 'fake-verification-token',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: input.channelId,
        is_ephemeral: false,
        ...(message.thread_ts === undefined ? {} : { thread_ts: message.thread_ts }),
      },
      trigger_id: `${Date.now()}.${randomUUID().slice(0, 8)}`,
      team: { id: teamId, domain: teamId === this.teamId ? 'fake' : teamId.toLowerCase() },
      enterprise:
        enterpriseId === undefined || enterpriseId === null
          ? null
          : { id: enterpriseId, name: `Org ${enterpriseId}` },
      is_enterprise_install: false,
      channel: { id: input.channelId, name: 'ops' },
      message: visible,
      state: { values: {} },
      response_url: responseUrl,
      actions: [
        {
          type: 'button',
          action_id: input.actionId,
          block_id: 'fake-block',
          text: button?.text ?? { type: 'plain_text', text: input.actionId },
          value: input.value ?? button?.value,
          ...(button?.style === undefined ? {} : { style: button.style }),
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    };
  }

  /** Deliver a slash command over Socket Mode; answers the envelope and the payload sent. */
  async sendSlashCommand(
    input: SlashCommandInput,
    via?: number,
  ): Promise<{ envelope: Envelope; responseUrl: string }> {
    const payload = this.slashCommandPayload(input);
    const envelope = await this.deliver('slash_commands', payload, true, via);
    return { envelope, responseUrl: payload.response_url as string };
  }

  /** Deliver a button click over Socket Mode. */
  async clickButton(
    input: ButtonClickInput,
    via?: number,
  ): Promise<{ envelope: Envelope; responseUrl: string }> {
    const payload = this.blockActionPayload(input);
    const envelope = await this.deliver('interactive', payload, false, via);
    return { envelope, responseUrl: payload.response_url as string };
  }

  /**
   * Send any envelope on an open connection, as Slack does: any one of them, in turn, connections
   * asked to refresh only when no other is open; `via` picks one. Without an open connection it
   * waits up to 10 s for one, or fails at once with `dispatch: 'immediate'`.
   */
  async deliver(
    type: Envelope['type'],
    payload: Record<string, unknown>,
    acceptsResponsePayload: boolean,
    via?: number,
  ): Promise<Envelope> {
    const candidates = (): [number, WebSocket][] => {
      const open = this.deliverable().filter(([id]) => via === undefined || id === via);
      const staying = open.filter(
        ([id]) => this.connections.find((c) => c.id === id)?.disconnectSentAt === undefined,
      );
      return staying.length > 0 ? staying : open;
    };
    if (this.dispatch === 'wait' || via !== undefined) {
      await this.waitFor(() => candidates().length > 0, 'an open Socket Mode connection');
    }
    const open = candidates();
    if (open.length === 0) {
      const failed: Envelope = {
        envelopeId: randomUUID(),
        type,
        payload,
        connectionId: 0,
        sentAt: Date.now(),
        failed: 'dispatch_failed',
      };
      this.envelopes.push(failed);
      this.changed();
      return failed;
    }
    const [connectionId, ws] = open[this.deliveries++ % open.length] as [number, WebSocket];
    const envelope: Envelope = {
      envelopeId: randomUUID(),
      type,
      payload,
      connectionId,
      sentAt: Date.now(),
    };
    this.envelopes.push(envelope);
    ws.send(
      JSON.stringify({
        envelope_id: envelope.envelopeId,
        payload,
        type,
        accepts_response_payload: acceptsResponsePayload,
        retry_attempt: 0,
        retry_reason: '',
      }),
    );
    this.changed();
    return envelope;
  }

  // ---- internals ------------------------------------------------------------------------------

  private changed(): void {
    this.changes.emit('change');
  }

  /** Open connections whose close handshake has not begun, oldest first. */
  private deliverable(): [number, WebSocket][] {
    return [...this.openSockets.entries()].filter(([, ws]) => ws.readyState === ws.OPEN);
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  private newResponseUrl(entry: {
    kind: 'slash_commands' | 'interactive';
    channel: string;
    user: string;
    original?: StoredMessage;
  }): string {
    const id = randomUUID();
    this.responseUrls.set(id, entry);
    return `${this.baseUrl}/response/${id}`;
  }

  private nextTs(): string {
    this.lastTsMicros = Math.max(Date.now() * 1000, this.lastTsMicros + 1);
    const seconds = Math.floor(this.lastTsMicros / 1_000_000);
    return `${seconds}.${String(this.lastTsMicros % 1_000_000).padStart(6, '0')}`;
  }

  private takeFault(method: string): Fault | undefined {
    const index = this.faults.findIndex(
      (f) => f.method === method || (f.method === '*' && method !== 'response_url'),
    );
    if (index < 0) return undefined;
    const entry = this.faults[index] as { fault: Fault; remaining: number };
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.faults.splice(index, 1);
    return entry.fault;
  }

  /** Applies a fault; answers true when the request has been dealt with. */
  private async applyFault(
    fault: Fault | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<boolean> {
    if (fault === undefined) return false;
    switch (fault.kind) {
      case 'delay':
        await sleep(fault.ms);
        return false;
      case 'slow-answer':
        return false;
      case 'destroy':
        req.socket.destroy();
        return true;
      case 'rate-limited':
        res.writeHead(429, {
          'Content-Type': 'application/json',
          ...(fault.retryAfterSec === null ? {} : { 'Retry-After': String(fault.retryAfterSec) }),
        });
        res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
        return true;
      case 'http-error':
        res.writeHead(fault.status, { 'Content-Type': 'text/plain' });
        res.end(`fake slack: injected ${fault.status}`);
        return true;
      case 'slack-error':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: fault.error }));
        return true;
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const contentType = req.headers['content-type'] ?? '';
    const text = await readBody(req);
    if (url.pathname.startsWith('/api/')) {
      const method = url.pathname.slice('/api/'.length);
      let params: Params;
      try {
        params = parseParams(contentType, text, url.searchParams);
      } catch {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'invalid_json' }));
        return;
      }
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ')
        ? auth.slice('Bearer '.length)
        : (params.token as string | undefined);
      const fault = this.takeFault(method);
      const call: ApiCall = {
        method,
        params,
        token,
        contentType,
        at: Date.now(),
        ...(fault ? { fault: fault.kind } : {}),
      };
      this.calls.push(call);
      this.callListener?.(call);
      this.changed();
      if (await this.applyFault(fault, req, res)) return;
      const result = this.api(method, params, token);
      this.changed();
      if (fault?.kind === 'slow-answer') await sleep(fault.ms);
      res.writeHead(result.status, { 'Content-Type': 'application/json; charset=utf-8', ...result.headers });
      res.end(JSON.stringify(result.body));
      this.changed();
      return;
    }
    if (url.pathname.startsWith('/response/') && req.method === 'POST') {
      const id = url.pathname.slice('/response/'.length);
      let body: Params;
      try {
        body = contentType.startsWith('application/json')
          ? (JSON.parse(text) as Params)
          : parseParams(contentType, text, url.searchParams);
      } catch {
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        res.end('invalid_payload');
        return;
      }
      const fault = this.takeFault('response_url');
      this.calls.push({
        method: 'response_url',
        params: body,
        token: undefined,
        contentType,
        at: Date.now(),
        ...(fault ? { fault: fault.kind } : {}),
      });
      if (await this.applyFault(fault, req, res)) return;
      const entry = this.responseUrls.get(id);
      if (entry === undefined) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('no_such_response_url');
        return;
      }
      this.responses.push({ id, body, at: Date.now() });
      this.applyResponse(id, entry, body);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
      this.changed();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  }

  /** What a response_url post does to the channel, as Slack shows it. */
  private applyResponse(
    id: string,
    entry: {
      kind: 'slash_commands' | 'interactive';
      channel: string;
      user: string;
      original?: StoredMessage;
    },
    body: Params,
  ): void {
    const content = {
      text: typeof body.text === 'string' ? body.text : '',
      ...(Array.isArray(body.blocks) ? { blocks: body.blocks as unknown[] } : {}),
      ...(Array.isArray(body.attachments) ? { attachments: body.attachments as unknown[] } : {}),
    };
    const replace = truthy(body.replace_original);
    if (replace && entry.kind === 'interactive' && entry.original !== undefined) {
      this.edit(entry.original, content);
      return;
    }
    if (body.response_type === 'in_channel') {
      const previous = replace
        ? this.messages(entry.channel).findLast((m) => m.viaResponseUrl === id)
        : undefined;
      if (previous !== undefined) this.edit(previous, content);
      else this.store({ channel: entry.channel, ...content, viaResponseUrl: id });
      return;
    }
    if (replace) {
      const previous = this.ephemerals.findLast((e) => e.viaResponseUrl === id && !e.replaced);
      if (previous !== undefined) previous.replaced = true;
    }
    this.ephemerals.push({
      channel: entry.channel,
      user: entry.user,
      ...content,
      ts: this.nextTs(),
      viaResponseUrl: id,
      replaced: false,
    });
  }

  private edit(
    message: StoredMessage,
    content: { text: string; blocks?: unknown[]; attachments?: unknown[] },
  ): void {
    message.history.push({
      text: message.text,
      ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
      ...(message.attachments === undefined ? {} : { attachments: message.attachments }),
    });
    message.text = content.text;
    if (content.blocks === undefined) delete message.blocks;
    else message.blocks = content.blocks;
    if (content.attachments === undefined) delete message.attachments;
    else message.attachments = content.attachments;
    message.edited = { user: FAKE_BOT_USER_ID, ts: this.nextTs() };
  }

  private store(input: {
    channel: string;
    text: string;
    blocks?: unknown[] | undefined;
    attachments?: unknown[] | undefined;
    metadata?: StoredMessage['metadata'] | undefined;
    thread_ts?: string | undefined;
    viaResponseUrl?: string | undefined;
  }): StoredMessage {
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    const message = {
      type: 'message',
      ts: this.nextTs(),
      user: FAKE_BOT_USER_ID,
      bot_id: FAKE_BOT_ID,
      app_id: FAKE_APP_ID,
      history: [],
      ...defined,
    } as unknown as StoredMessage;
    const list = this.channelMessages.get(input.channel) ?? [];
    list.push(message);
    this.channelMessages.set(input.channel, list);
    return message;
  }

  private channelExists(channel: unknown): channel is string {
    return typeof channel === 'string' && channel !== '' && (this.knownChannels?.has(channel) ?? true);
  }

  private api(method: string, params: Params, token: string | undefined): ApiResult {
    const fail = (error: string, extra: Record<string, unknown> = {}): ApiResult => ({
      status: 200,
      body: { ok: false, error, ...extra },
    });
    const ok = (body: Record<string, unknown>): ApiResult => ({ status: 200, body: { ok: true, ...body } });
    if (token === undefined || token === '') return fail('not_authed');
    const isApp = this.appTokens.has(token);
    const isBot = this.botTokens.has(token);
    if (!isApp && !isBot) return fail('invalid_auth');
    if (method === 'apps.connections.open') {
      if (!isApp) return fail('not_allowed_token_type');
      const ticket = randomUUID();
      this.tickets.add(ticket);
      return ok({ url: `ws://127.0.0.1:${this.port}/socket?ticket=${ticket}&app_id=${FAKE_APP_ID}` });
    }
    if (!isBot) return fail('not_allowed_token_type');
    switch (method) {
      case 'auth.test':
        return ok({
          url: 'https://fake.slack.com/',
          team: 'Fake',
          user: 'drbd-chatops',
          team_id: this.teamId,
          user_id: FAKE_BOT_USER_ID,
          bot_id: FAKE_BOT_ID,
          ...(this.enterpriseId === undefined ? {} : { enterprise_id: this.enterpriseId }),
          is_enterprise_install: false,
        });
      case 'chat.postMessage': {
        if (!this.channelExists(params.channel)) return fail('channel_not_found');
        const content = this.content(params);
        if (content === undefined) return fail('no_text');
        const message = this.store({
          channel: params.channel,
          ...content,
          ...(typeof params.thread_ts === 'string' && params.thread_ts !== ''
            ? { thread_ts: params.thread_ts }
            : {}),
          ...(this.metadata(params.metadata) ?? {}),
        });
        return ok({ channel: message.channel, ts: message.ts, message: this.visible(message, true) });
      }
      case 'chat.update': {
        if (!this.channelExists(params.channel)) return fail('channel_not_found');
        const message = typeof params.ts === 'string' ? this.message(params.channel, params.ts) : undefined;
        if (message === undefined) return fail('message_not_found');
        const content = this.content(params);
        if (content === undefined) return fail('no_text');
        this.edit(message, content);
        const metadata = this.metadata(params.metadata);
        if (metadata !== undefined) message.metadata = metadata.metadata;
        return ok({
          channel: message.channel,
          ts: message.ts,
          text: message.text,
          message: this.visible(message, true),
        });
      }
      case 'chat.postEphemeral': {
        if (!this.channelExists(params.channel)) return fail('channel_not_found');
        if (typeof params.user !== 'string' || params.user === '') return fail('user_not_in_channel');
        const content = this.content(params);
        if (content === undefined) return fail('no_text');
        const ts = this.nextTs();
        this.ephemerals.push({ channel: params.channel, user: params.user, ...content, ts, replaced: false });
        return ok({ message_ts: ts });
      }
      case 'conversations.history': {
        if (!this.channelExists(params.channel)) return fail('channel_not_found');
        const limit = Math.min(Math.max(Number(params.limit ?? 100) || 100, 1), 999);
        const offset =
          typeof params.cursor === 'string' && params.cursor.startsWith('off:')
            ? Number(params.cursor.slice(4))
            : 0;
        const withMetadata = truthy(params.include_all_metadata);
        const all = this.messages(params.channel)
          .filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts)
          .slice()
          .reverse();
        const page = all.slice(offset, offset + limit);
        const more = offset + limit < all.length;
        return ok({
          messages: page.map((m) => this.visible(m, withMetadata)),
          has_more: more,
          pin_count: 0,
          response_metadata: { next_cursor: more ? `off:${offset + limit}` : '' },
        });
      }
      case 'usergroups.list': {
        const withUsers = truthy(params.include_users);
        return ok({
          usergroups: [...this.userGroups].map(([id, users]) => ({
            id,
            team_id: this.teamId,
            handle: id.toLowerCase(),
            ...(withUsers ? { users: [...users], user_count: users.length } : {}),
          })),
        });
      }
      case 'conversations.replies': {
        if (!this.channelExists(params.channel)) return fail('channel_not_found');
        const parent = typeof params.ts === 'string' ? this.message(params.channel, params.ts) : undefined;
        if (parent === undefined) return fail('thread_not_found');
        const replies = this.messages(params.channel).filter(
          (m) => m.thread_ts === parent.ts && m !== parent,
        );
        return ok({
          messages: [parent, ...replies].map((m) => this.visible(m, truthy(params.include_all_metadata))),
          has_more: false,
        });
      }
      default:
        return { status: 200, body: { ok: false, error: 'unknown_method' } };
    }
  }

  private content(params: Params): { text: string; blocks?: unknown[]; attachments?: unknown[] } | undefined {
    const text = typeof params.text === 'string' ? params.text : '';
    const blocks = Array.isArray(params.blocks) && params.blocks.length > 0 ? params.blocks : undefined;
    const attachments =
      Array.isArray(params.attachments) && params.attachments.length > 0 ? params.attachments : undefined;
    if (text === '' && blocks === undefined && attachments === undefined) return undefined;
    return { text, ...(blocks ? { blocks } : {}), ...(attachments ? { attachments } : {}) };
  }

  private metadata(value: unknown): { metadata: NonNullable<StoredMessage['metadata']> } | undefined {
    if (value === null || typeof value !== 'object') return undefined;
    const { event_type, event_payload } = value as Record<string, unknown>;
    if (typeof event_type !== 'string' || event_payload === null || typeof event_payload !== 'object')
      return undefined;
    return { metadata: { event_type, event_payload: event_payload as Record<string, unknown> } };
  }

  /** The message as the Web API shows it. */
  private visible(message: StoredMessage, withMetadata: boolean): Record<string, unknown> {
    const replies = this.messages(message.channel).filter((m) => m.thread_ts === message.ts && m !== message);
    return {
      type: 'message',
      ts: message.ts,
      user: message.user,
      ...(message.bot_id === undefined ? {} : { bot_id: message.bot_id }),
      app_id: message.app_id,
      text: message.text,
      ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
      ...(message.attachments === undefined ? {} : { attachments: message.attachments }),
      ...(message.thread_ts === undefined ? {} : { thread_ts: message.thread_ts }),
      ...(replies.length > 0 ? { thread_ts: message.ts, reply_count: replies.length } : {}),
      ...(message.edited === undefined ? {} : { edited: message.edited }),
      ...(withMetadata && message.metadata !== undefined ? { metadata: message.metadata } : {}),
    };
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const ticket = url.searchParams.get('ticket');
    if (url.pathname !== '/socket' || ticket === null || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const connection: SocketConnection = {
      id: this.nextConnectionId++,
      openedAt: Date.now(),
      received: [],
    };
    // Slack answers the app's close frame and leaves the TCP connection open: ws ends the socket
    // right after the handshake, and that end is what is left out here. The app must close it (or
    // stop() destroys it); once the app has closed its side, ending ours is only the TCP teardown.
    const end = socket.end.bind(socket);
    socket.end = ((...args: Parameters<Socket['end']>) => {
      if (socket.readableEnded) return end(...args);
      connection.closeHandshakeAt ??= Date.now();
      this.changed();
      return socket;
    }) as Socket['end'];
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.connections.push(connection);
      this.openSockets.set(connection.id, ws);
      ws.on('message', (data) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(String(data));
        } catch {
          parsed = String(data);
        }
        connection.received.push(parsed);
        const envelopeId = (parsed as { envelope_id?: unknown } | null)?.envelope_id;
        const envelope = typeof envelopeId === 'string' ? this.envelope(envelopeId) : undefined;
        if (envelope !== undefined && envelope.ackedAt === undefined) {
          envelope.ackedAt = Date.now();
          envelope.ackPayload = (parsed as { payload?: unknown }).payload;
        }
        this.changed();
      });
      ws.on('close', () => {
        connection.closedAt = Date.now();
        this.openSockets.delete(connection.id);
        this.changed();
      });
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: this.openSockets.size,
          debug_info: { host: 'applink-fake', build_number: 1, approximate_connection_time: 18_060 },
          connection_info: { app_id: FAKE_APP_ID },
        }),
      );
      this.changed();
    });
  }
}
