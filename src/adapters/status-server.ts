// The status listener: Prometheus /metrics, liveness /healthz and readiness /readyz over plain HTTP.
//
// No authentication: it binds to 127.0.0.1 by default, so only this host can ask, and it serves
// nothing secret: metric values, and the names and reasons of checks. Whoever binds it to another
// address decides who may scrape it (a firewall, or a reverse proxy that authenticates). Check
// reasons are shown to anyone who can connect, so callers must keep secrets out of them; an
// exception thrown by a check callback goes to the log, and the answer only says that it failed.
//
// Plain node:http rather than fastify (which the web console uses): this server runs in every daemon,
// and fastify would cost it ~13 MiB and its start-up for three GET routes (figures in http-server.ts).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../ports/logger.js';

export const DEFAULT_STATUS_HOST = '127.0.0.1';

/** One named condition: ok, or not with a reason a person can act on. */
export interface Check {
  readonly ok: boolean;
  readonly reason?: string;
}

export type Checks = Readonly<Record<string, Check>>;

/** What /metrics serves: `Metrics` from ./metrics.ts, or a prom-client Registry. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface StatusServerOptions {
  /** Default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** 0 picks a free port (tests); `start()` returns the one bound. */
  readonly port: number;
  readonly metrics: MetricsSource;
  /**
   * Liveness, e.g. `{ eventSource: { ok: false, reason: 'drbdsetup exited with 20; restarting' } }`.
   * The server adds `process: ok` itself: answering at all shows the process is alive.
   */
  readonly health: () => Checks | Promise<Checks>;
  /**
   * Readiness, e.g. `{ leader: { ok: false, reason: 'beta leads (token 7)' }, 'chat:slack': { ok: true } }`:
   * this instance leads and its chat connections are up.
   */
  readonly ready: () => Checks | Promise<Checks>;
  readonly logger?: Logger;
}

/** The body of /healthz and /readyz. */
export interface CheckReport {
  readonly status: 'ok' | 'failing';
  readonly checks: Checks;
  /** `name: reason` of each failing check, when the status is failing. */
  readonly reasons?: readonly string[];
}

const ALLOWED_METHODS = 'GET, HEAD';

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Reduce checks to a report; a check without a clear `ok: true` counts as failing. */
export function checkReport(checks: Checks): CheckReport {
  const clean: Record<string, Check> = {};
  const reasons: string[] = [];
  for (const [name, check] of Object.entries(checks)) {
    const ok = check.ok === true;
    clean[name] = check.reason === undefined ? { ok } : { ok, reason: check.reason };
    if (!ok) reasons.push(`${name}: ${check.reason ?? 'failing'}`);
  }
  return reasons.length === 0
    ? { status: 'ok', checks: clean }
    : { status: 'failing', checks: clean, reasons };
}

export class StatusServer {
  readonly #options: StatusServerOptions;
  readonly #server: Server;
  #listening = false;

  constructor(options: StatusServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        options.logger?.error({ err, path: req.url }, 'status request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    // A status endpoint answers at once; slow or idle clients do not get to hold sockets.
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 15_000;
  }

  /** Listen; resolves with the bound address (the port the kernel chose when port is 0). */
  async start(): Promise<AddressInfo> {
    if (this.#listening) throw new Error('status server already started');
    const host = this.#options.host ?? DEFAULT_STATUS_HOST;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ host, port: this.#options.port }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    // Once listening, a server error (accept failing, say) is logged, never an uncaught exception.
    this.#server.removeAllListeners('error');
    this.#server.on('error', (err) => this.#options.logger?.error({ err }, 'status server error'));
    this.#listening = true;
    return this.#server.address() as AddressInfo;
  }

  /** The bound address while listening. */
  get address(): AddressInfo | undefined {
    return this.#listening ? (this.#server.address() as AddressInfo) : undefined;
  }

  async stop(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Bodies are never read; drain one if a client sends it so the connection stays usable.
    req.resume();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method not allowed' }, { allow: ALLOWED_METHODS });
      return;
    }
    if (path === '/metrics') {
      await this.#serveMetrics(res);
      return;
    }
    const live = path === '/healthz';
    const checks = await this.#runChecks(live);
    const report = checkReport(live ? { process: { ok: true }, ...checks } : checks);
    sendJson(res, report.status === 'ok' ? 200 : 503, report);
  }

  async #serveMetrics(res: ServerResponse): Promise<void> {
    const { metrics, logger } = this.#options;
    let text: string;
    try {
      text = await metrics.metrics();
    } catch (err) {
      // A failed scrape shows as up == 0 in Prometheus; the cause goes to the log only.
      logger?.error({ err }, 'collecting metrics failed');
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('collecting metrics failed; the details are in the bot log\n');
      return;
    }
    res.writeHead(200, {
      'content-type': metrics.contentType,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(text);
  }

  async #runChecks(live: boolean): Promise<Checks> {
    const name = live ? 'health' : 'ready';
    try {
      return await (live ? this.#options.health() : this.#options.ready());
    } catch (err) {
      this.#options.logger?.error({ err }, `${name} check failed`);
      return { [name]: { ok: false, reason: 'the check itself failed; the details are in the bot log' } };
    }
  }
}
