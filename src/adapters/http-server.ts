// The web console's HTTP server, on fastify (5.12, with @fastify/cookie): routing with 405 and Allow,
// per-route body limits and content types, cookies, and one error shape, with the defaults below.
//
// Why the web console only. Issue 13 asked for one server library for the web console, the peer link
// and the status endpoints unless a measurement showed a reason not to. bench/http-servers.ts starts
// each server alone in a fresh node process (9 runs each, medians; node 20.20, a 2-core machine under
// other work, load average 8, so the times are inflated, the memory is not):
//
//   server            ready (import → first answer)    idle RSS over a bare node:http server
//                      node:http      fastify            node:http      fastify
//   status server        19 ms        376 ms             +0.0 MiB       +13.5 MiB
//   peer link            34 ms        334 ms             +1.2 MiB       +12.6 MiB
//   web console          30 ms        211 ms             +1.5 MiB       +15.9 MiB
//   all three            43 ms        400 ms             +1.9 MiB       +19.5 MiB
//
// Nearly all of it is fastify itself, paid once per process: about 250 modules (ajv and
// fast-json-stringify load with it even when no route has a schema).
// - Web console: fastify. It replaces the most hand-written code (a dozen routes, 405 with Allow,
//   cookies, JSON and form bodies with per-route limits), and the cost is paid only where the console
//   is configured (an out-of-band console, the demo), not by every daemon.
// - Status server and peer link: node:http, on purpose. The status server is on in every daemon by
//   default and the peer link in every pair; fastify would add ~13 MiB and a few hundred milliseconds
//   to every daemon's start, against issue 13's own targets (≤ 100 MiB idle, healthy in ≤ 500 ms),
//   to replace about twenty lines each: the status server has three GET routes and reads no body; the
//   peer link must authenticate before it routes (an unsigned request gets 401, never 404), so it
//   would be one catch-all route whose body is taken raw (the signature covers the exact bytes).
// - Server-sent events by hand on the hijacked raw reply (web-console.ts #openStream), no plugin:
//   @fastify/sse is a 0.x release, and the stream needs its own guard (a client that stops reading
//   is dropped once 4 MiB are queued), its heartbeat and its per-session bookkeeping anyway.
// Re-measure with `npm run build && node dist/bench/http-servers.js` before changing this.

import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';

export interface HttpAppOptions {
  /** Largest request body any route accepts (a route may ask for less). */
  readonly bodyLimit: number;
  /** Time for a client to send its headers. */
  readonly headersTimeoutMs: number;
  /** Time for a client to send its whole request (the answer, an event stream say, may take longer). */
  readonly requestTimeoutMs: number;
}

/**
 * A fastify app with the defaults every server here shares: no request logging of its own (each
 * server logs what matters to it, through the logger it was given), no trust in proxy headers,
 * Node's own keep-alive time (fastify's default is 72 s), and the servers' own timeouts.
 */
export function httpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    trustProxy: false,
    bodyLimit: options.bodyLimit,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    // Connections are ended by each server's stop(), which knows what it still owes its clients.
    forceCloseConnections: false,
    return503OnClosing: true,
  });
  app.server.headersTimeout = options.headersTimeoutMs;
  return app;
}

/** Listen on host:port (0: any free port); resolves with the address bound. */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<AddressInfo> {
  await app.listen({ host, port, listenTextResolver: () => '' });
  return app.server.address() as AddressInfo;
}
