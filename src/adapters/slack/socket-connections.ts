// Slack Socket Mode connections, made so that a refresh leaves no gap. Slack asks every connection to
// reconnect every few hours (`{"type":"disconnect","reason":"refresh_requested"}`) and expects a new
// one "as quickly as possible"; it does not close the TCP connection after the close handshake
// (@slack/socket-mode 3.2.0's changelog), so a client that closes first and reconnects once the old
// socket is gone is deaf for seconds, and slash commands and button clicks fail meanwhile. Here the
// `disconnect` message opens a new connection while the old one keeps taking (and acknowledging)
// payloads; only once the new one has said hello, and a short overlap later, is the old one closed,
// with a bounded close handshake. Slack may send any payload to any open connection of the app
// (up to 10), so both serve while they overlap.
//
// Each connection is a Bolt SocketModeReceiver (the real @slack/socket-mode client, its
// acknowledgements, its dispatch into the Bolt app). The one thing taken from it is its handling
// of `disconnect`, which would close the socket on the spot.
// `link_disabled` (Socket Mode turned off for the app) is not a refresh: nothing reconnects.

import {
  type App,
  type Logger as BoltLogger,
  LogLevel,
  type Receiver,
  SocketModeReceiver,
  type webApi,
} from '@slack/bolt';
import type { Logger } from '../../ports/logger.js';
import { withTimeout } from '../with-timeout.js';

/** A `disconnect` reason from Slack; `link_disabled`: Socket Mode was turned off for the app. */
export type DisconnectReason = 'refresh_requested' | 'link_disabled' | 'warning' | (string & {});

export interface SocketConnectionsOptions {
  readonly appToken: string;
  readonly boltLogger: BoltLogger;
  readonly logger: Logger;
  /** Ping the server every third of this and drop a connection without a pong (client default 5 s). */
  readonly clientPingTimeoutMs?: number;
  /** Options of the Web API client that calls apps.connections.open. */
  readonly clientOptions: () => webApi.WebClientOptions;
  /** How long the old connection keeps serving after its replacement said hello (default 1 s). */
  readonly overlapMs?: number;
  /** How long a close handshake may take before the socket is destroyed (default 1 s). */
  readonly closeTimeoutMs?: number;
  /** Slack asked for a new connection (a refresh): open one now, the current one still serves. */
  readonly onRefresh: (reason: DisconnectReason) => void;
  /** The connection in use closed without being replaced: nothing is received until a new one opens. */
  readonly onLost: () => void;
  /** Slack said `link_disabled`: Socket Mode is off for this app; every connection is closed. */
  readonly onDisabled: () => void;
}

interface Connection {
  readonly id: number;
  readonly receiver: SocketModeReceiver;
  /** Said hello and was made the one in use. */
  opened: boolean;
  /** Slack asked it to go (a refresh is under way for it). */
  refreshRequested: boolean;
  /** Being closed by us: its end is expected. */
  retiring: boolean;
  retireTimer?: NodeJS.Timeout;
  readonly closed: Promise<void>;
}

/** A `disconnect` control message, from the raw websocket text; undefined for anything else. */
export function disconnectReason(data: unknown, isBinary: boolean): DisconnectReason | undefined {
  if (isBinary) return undefined;
  const text =
    typeof data === 'string'
      ? data
      : data instanceof ArrayBuffer
        ? new TextDecoder().decode(data)
        : undefined;
  // Envelopes are large and frequent; only a short control message is worth parsing here.
  if (text === undefined || text.length > 4_096 || !text.includes('"disconnect"')) return undefined;
  try {
    const message = JSON.parse(text) as { type?: unknown; reason?: unknown };
    if (message.type !== 'disconnect') return undefined;
    return typeof message.reason === 'string' ? message.reason : 'unknown';
  } catch {
    return undefined;
  }
}

export class SocketModeConnections implements Receiver {
  readonly #options: SocketConnectionsOptions;
  readonly #all = new Set<Connection>();
  #app: App | undefined;
  #current: Connection | undefined;
  #nextId = 1;
  #stopped = false;

  constructor(options: SocketConnectionsOptions) {
    this.#options = options;
  }

  init(app: App): void {
    this.#app = app;
  }

  /** Bolt's App.start(); the platform calls open() itself. */
  start(): Promise<void> {
    return this.open();
  }

  stop(): Promise<void> {
    return this.closeAll();
  }

  /** A connection in use has said hello and has not closed. */
  get connected(): boolean {
    return this.#current !== undefined;
  }

  /** How many connections are open or opening (the new and the old one overlap during a refresh). */
  get count(): number {
    return this.#all.size;
  }

  /**
   * Open a new connection and make it the one in use once Slack says hello; any other connection is
   * closed after the overlap. Rejects (and leaves nothing behind) when there is no hello in time.
   */
  async open(helloTimeoutMs = 15_000): Promise<void> {
    if (this.#app === undefined) throw new Error('SocketModeConnections.open before init');
    if (this.#stopped) throw new Error('Socket Mode connections are closed');
    const connection = this.#create();
    const started = connection.receiver.client.start().catch((err: unknown) => {
      // The client rejects with nothing when the socket closes before Slack's hello.
      throw err instanceof Error ? err : new Error('connection closed before hello');
    });
    let outcome: unknown;
    try {
      outcome = await withTimeout(started, helloTimeoutMs);
    } catch (err) {
      await this.#close(connection);
      throw err;
    }
    if (outcome === 'timeout') {
      void started.catch(() => undefined);
      await this.#close(connection);
      throw new Error(`no hello from Slack within ${helloTimeoutMs / 1_000} s`);
    }
    if (this.#stopped) {
      await this.#close(connection);
      return;
    }
    connection.opened = true;
    const previous = this.#current;
    this.#current = connection;
    for (const other of this.#all) {
      if (other !== connection) this.#retire(other, other.opened ? (this.#options.overlapMs ?? 1_000) : 0);
    }
    if (previous !== undefined) {
      this.#options.logger.info(
        { connection: connection.id, replaces: previous.id },
        'slack: new Socket Mode connection up; the old one closes after the overlap',
      );
    }
  }

  /** Close every connection (bounded by the close handshake limit); nothing opens after this. */
  async closeAll(): Promise<void> {
    this.#stopped = true;
    this.#current = undefined;
    await Promise.all([...this.#all].map((c) => this.#close(c)));
  }

  #create(): Connection {
    const options = this.#options;
    const receiver = new SocketModeReceiver({
      appToken: options.appToken,
      logger: options.boltLogger,
      logLevel: LogLevel.WARN,
      // Reconnecting is the platform's (through open()): the client's own gives up by throwing from
      // a timer when apps.connections.open fails, which would be an unhandled rejection.
      autoReconnectEnabled: false,
      ...(options.clientPingTimeoutMs === undefined
        ? {}
        : { clientPingTimeout: options.clientPingTimeoutMs }),
      installerOptions: { clientOptions: options.clientOptions() },
    });
    receiver.init(this.#app as App);
    const client = receiver.client;
    let resolveClosed: () => void = () => {};
    const connection: Connection = {
      id: this.#nextId++,
      receiver,
      opened: false,
      refreshRequested: false,
      retiring: false,
      closed: new Promise<void>((resolve) => {
        resolveClosed = resolve;
      }),
    };
    // The client closes its socket as soon as it reads `disconnect`, before anything replaces it;
    // the message is taken here instead, and everything else goes on to the client as before.
    const handlers = client.listeners('ws_message') as ((data: unknown, isBinary: boolean) => unknown)[];
    client.removeAllListeners('ws_message');
    client.on('ws_message', (data: unknown, isBinary: boolean) => {
      const reason = disconnectReason(data, isBinary);
      if (reason !== undefined) {
        this.#onDisconnectMessage(connection, reason);
        return;
      }
      for (const handler of handlers) handler(data, isBinary);
    });
    client.on('disconnected', () => {
      resolveClosed();
      this.#onClosed(connection);
    });
    this.#all.add(connection);
    return connection;
  }

  #onDisconnectMessage(connection: Connection, reason: DisconnectReason): void {
    const log = this.#options.logger;
    if (reason === 'link_disabled') {
      log.error(
        { connection: connection.id },
        'slack: Socket Mode is turned off for this app (disconnect: link_disabled); not reconnecting. ' +
          'Turn Socket Mode on again in the app settings (api.slack.com/apps) and restart the bot.',
      );
      this.#options.onDisabled();
      return;
    }
    log.info({ connection: connection.id, reason }, 'slack: Slack asked for a new Socket Mode connection');
    if (connection !== this.#current || connection.refreshRequested) return;
    connection.refreshRequested = true;
    this.#options.onRefresh(reason);
  }

  #onClosed(connection: Connection): void {
    clearTimeout(connection.retireTimer);
    this.#all.delete(connection);
    if (connection !== this.#current) return;
    this.#current = undefined;
    if (!connection.retiring && !this.#stopped) this.#options.onLost();
  }

  #retire(connection: Connection, afterMs: number): void {
    if (connection.retiring) return;
    connection.retiring = true;
    connection.retireTimer = setTimeout(() => void this.#close(connection), afterMs);
  }

  /**
   * Close one connection: the close frame, and if Slack leaves the TCP connection open after the
   * handshake (it does), the socket is destroyed once closeTimeoutMs has passed.
   */
  async #close(connection: Connection): Promise<void> {
    connection.retiring = true;
    clearTimeout(connection.retireTimer);
    if (!this.#all.has(connection)) return;
    const client = connection.receiver.client;
    void client.disconnect();
    const done = await withTimeout(connection.closed, this.#options.closeTimeoutMs ?? 1_000);
    if (done === 'timeout') {
      // A second disconnect() on a socket already closing tears it down without waiting.
      void client.disconnect();
      await withTimeout(connection.closed, 1_000);
    }
    this.#all.delete(connection);
  }
}
