// The fake Discord gateway: API v10, JSON encoding, optional zlib-stream transport compression.
// It speaks just enough of the protocol for discord.js (@discordjs/ws): HELLO, heartbeats, IDENTIFY
// → READY + GUILD_CREATE, RESUME with replay of the events missed while disconnected, INVALID_SESSION
// when a session cannot be resumed, and dispatches of whatever the test asks for.

import type { IncomingMessage } from 'node:http';
import { createDeflate, type Deflate, constants as zlibConstants } from 'node:zlib';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

export const GatewayOp = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

/** Intents a bot must have enabled in the developer portal; the fake has none enabled by default. */
export const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15);
const ALL_INTENTS = (1 << 26) - 1;

export interface IdentifyRecord {
  readonly at: number;
  readonly token: string;
  readonly intents: number;
  readonly shard: unknown;
  readonly compress: unknown;
  readonly properties: unknown;
  readonly accepted: boolean;
}

export interface ResumeRecord {
  readonly at: number;
  readonly sessionId: string;
  readonly seq: number | null;
  readonly accepted: boolean;
  readonly replayed: number;
}

export interface DispatchRecord {
  readonly op: 0;
  readonly t: string;
  readonly s: number;
  readonly d: unknown;
}

interface Connection {
  readonly ws: WebSocket;
  readonly deflate: Deflate | undefined;
  session: GatewaySession | undefined;
  heartbeats: number;
}

export interface GatewaySession {
  readonly id: string;
  seq: number;
  readonly events: DispatchRecord[];
  connection: Connection | undefined;
  /** Identified or resumed on the current connection (dispatches are delivered). */
  live: boolean;
  invalidated: boolean;
  readonly intents: number;
}

export interface GatewayHooks {
  readonly token: () => string;
  readonly privilegedIntents: () => number;
  readonly heartbeatIntervalMs: () => number;
  readonly resumeUrl: () => string;
  readonly newSessionId: () => string;
  /** The payloads sent right after IDENTIFY: READY first, then GUILD_CREATE. */
  readonly onIdentified: (session: GatewaySession) => readonly { t: string; d: unknown }[];
}

export class FakeGateway {
  readonly identifies: IdentifyRecord[] = [];
  readonly resumes: ResumeRecord[] = [];
  /** Every payload the bot sent (heartbeats included), with the time it arrived. */
  readonly received: { at: number; op: number; d: unknown }[] = [];
  readonly sessions: GatewaySession[] = [];
  connections = 0;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly open = new Set<Connection>();
  private readonly waiters = new Set<() => void>();

  constructor(private readonly hooks: GatewayHooks) {}

  /** For the HTTP server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.replace(/\/+$/, '') !== '/gateway') {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, url.searchParams));
  }

  private accept(ws: WebSocket, params: URLSearchParams): void {
    this.connections++;
    const compress = params.get('compress');
    const deflate = compress === 'zlib-stream' ? createDeflate() : undefined;
    const conn: Connection = { ws, deflate, session: undefined, heartbeats: 0 };
    this.open.add(conn);
    ws.on('close', () => {
      this.open.delete(conn);
      deflate?.destroy();
      if (conn.session?.connection === conn) {
        conn.session.connection = undefined;
        conn.session.live = false;
      }
    });
    ws.on('error', () => {});
    if (params.get('v') !== '10') {
      ws.close(4012, 'Invalid API version');
      return;
    }
    if ((params.get('encoding') ?? 'json') !== 'json') {
      ws.close(4002, 'Decode error');
      return;
    }
    if (compress !== null && compress !== 'zlib-stream') {
      ws.close(4002, 'Decode error');
      return;
    }
    ws.on('message', (data, isBinary) => this.onMessage(conn, data, isBinary));
    this.send(conn, { op: GatewayOp.Hello, d: { heartbeat_interval: this.hooks.heartbeatIntervalMs() } });
  }

  private send(conn: Connection, payload: unknown): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    const json = JSON.stringify(payload);
    const deflate = conn.deflate;
    if (deflate === undefined) {
      conn.ws.send(json);
      return;
    }
    // zlib-stream: one shared deflate context per connection, each payload ends with a sync flush
    // (the 00 00 ff ff suffix the client looks for).
    deflate.write(json);
    deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => {
      const chunks: Buffer[] = [];
      let chunk: Buffer | null = deflate.read() as Buffer | null;
      while (chunk !== null) {
        chunks.push(chunk);
        chunk = deflate.read() as Buffer | null;
      }
      if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(Buffer.concat(chunks));
    });
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    let payload: { op?: unknown; d?: unknown };
    try {
      if (isBinary) throw new Error('binary');
      payload = JSON.parse(rawText(data)) as { op?: unknown; d?: unknown };
    } catch {
      conn.ws.close(4002, 'Decode error');
      return;
    }
    this.received.push({ at: Date.now(), op: Number(payload.op), d: payload.d });
    switch (payload.op) {
      case GatewayOp.Heartbeat:
        conn.heartbeats++;
        this.send(conn, { op: GatewayOp.HeartbeatAck });
        return;
      case GatewayOp.Identify:
        this.identify(conn, (payload.d ?? {}) as Record<string, unknown>);
        return;
      case GatewayOp.Resume:
        this.resume(conn, (payload.d ?? {}) as Record<string, unknown>);
        return;
      case GatewayOp.PresenceUpdate:
      case GatewayOp.VoiceStateUpdate:
      case GatewayOp.RequestGuildMembers:
        return;
      default:
        conn.ws.close(4001, 'Unknown opcode');
    }
  }

  private identify(conn: Connection, d: Record<string, unknown>): void {
    const intents = Number(d.intents);
    const record = {
      at: Date.now(),
      token: String(d.token),
      intents,
      shard: d.shard,
      compress: d.compress,
      properties: d.properties,
    };
    const refusal =
      conn.session !== undefined
        ? ([4005, 'Already authenticated'] as const)
        : d.token !== this.hooks.token()
          ? ([4004, 'Authentication failed'] as const)
          : !Number.isInteger(intents) || intents < 0 || (intents & ~ALL_INTENTS) !== 0
            ? ([4013, 'Invalid intent(s)'] as const)
            : (intents & PRIVILEGED_INTENTS & ~this.hooks.privilegedIntents()) !== 0
              ? ([4014, 'Disallowed intent(s)'] as const)
              : undefined;
    if (refusal !== undefined) {
      this.identifies.push({ ...record, accepted: false });
      conn.ws.close(refusal[0], refusal[1]);
      return;
    }
    this.identifies.push({ ...record, accepted: true });
    const session: GatewaySession = {
      id: this.hooks.newSessionId(),
      seq: 0,
      events: [],
      connection: conn,
      live: true,
      invalidated: false,
      intents,
    };
    conn.session = session;
    this.sessions.push(session);
    for (const event of this.hooks.onIdentified(session)) this.dispatch(session, event.t, event.d);
    this.wake();
  }

  private resume(conn: Connection, d: Record<string, unknown>): void {
    const sessionId = String(d.session_id);
    const seq = typeof d.seq === 'number' ? d.seq : null;
    const session = this.sessions.find((s) => s.id === sessionId);
    if (d.token !== this.hooks.token() || session === undefined || session.invalidated) {
      this.resumes.push({ at: Date.now(), sessionId, seq, accepted: false, replayed: 0 });
      // d: false = not resumable; the client identifies anew.
      setTimeout(() => this.send(conn, { op: GatewayOp.InvalidSession, d: false }), 50);
      return;
    }
    if (session.connection !== undefined && session.connection !== conn) session.connection.ws.terminate();
    session.connection = conn;
    conn.session = session;
    const missed = session.events.filter((e) => seq === null || e.s > seq);
    for (const event of missed) this.send(conn, event);
    this.resumes.push({ at: Date.now(), sessionId, seq, accepted: true, replayed: missed.length });
    session.seq++;
    const resumed: DispatchRecord = { op: 0, t: 'RESUMED', s: session.seq, d: {} };
    session.events.push(resumed);
    this.send(conn, resumed);
    session.live = true;
    this.wake();
  }

  /**
   * Send a dispatch on a session. While the session has no live connection the event is kept and
   * replayed on RESUME, as Discord does.
   */
  dispatch(session: GatewaySession, t: string, d: unknown): DispatchRecord {
    session.seq++;
    const event: DispatchRecord = { op: 0, t, s: session.seq, d };
    session.events.push(event);
    if (session.connection !== undefined && session.live) this.send(session.connection, event);
    return event;
  }

  /** The newest session with a live connection. */
  liveSession(): GatewaySession | undefined {
    return [...this.sessions].reverse().find((s) => s.live && s.connection !== undefined);
  }

  async waitForLiveSession(timeoutMs = 10_000): Promise<GatewaySession> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const session = this.liveSession();
      if (session !== undefined) return session;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('fake Discord: no live gateway session (is the bot logged in?)');
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 100));
        this.waiters.add(wake);
      });
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /**
   * Drop every gateway connection. Without a code the TCP connection is cut (the client sees 1006
   * and resumes); with a code the server closes cleanly with it. `invalidateSessions` makes the
   * following RESUME fail so the client has to IDENTIFY again.
   */
  drop(options: { code?: number; invalidateSessions?: boolean } = {}): number {
    if (options.invalidateSessions === true) for (const s of this.sessions) s.invalidated = true;
    const conns = [...this.open];
    for (const conn of conns) {
      if (conn.session !== undefined) conn.session.live = false;
      if (options.code === undefined) conn.ws.terminate();
      else conn.ws.close(options.code, 'closed by the fake');
    }
    return conns.length;
  }

  /** Ask the client to reconnect and resume (opcode 7). */
  requestReconnect(): void {
    for (const conn of this.open) this.send(conn, { op: GatewayOp.Reconnect, d: null });
  }

  openConnections(): number {
    return this.open.size;
  }

  async close(): Promise<void> {
    for (const conn of this.open) conn.ws.terminate();
    this.open.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
