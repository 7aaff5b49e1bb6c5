// What each of the bot's HTTP servers costs a process: the status server (/metrics, /healthz,
// /readyz), the peer link's server, the web console, and all three together (a daemon with the web
// console and a peer). Each is started in a fresh `node` process of its own, which answers one
// request to itself and then sits idle; beside them, the same process with a bare node:http server
// (the baseline: Node, the logger and a listening socket).
//
//   npm run build && node dist/bench/http-servers.js [--runs=7]
//
// Per server, the median over the runs of:
//   ready      ms from just before the server's module is imported until it has answered its first
//              request (loading, constructing, listening, the answer);
//   load       ms of the dynamic import of the server's module alone (part of ready);
//   process    ms from the process's start to that answer (Node's boot and the logger included:
//              noisier, shown for scale);
//   idle RSS   resident memory two seconds after that answer, after a full garbage collection.
// Written to stdout as a markdown table. Figures from one run are in the header of
// src/adapters/http-server.ts, with the decision they support.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sleep } from '../src/adapters/sleep.js';

const KINDS = ['node', 'status', 'peer', 'web', 'all'] as const;
type Kind = (typeof KINDS)[number];

const TITLES: Record<Kind, string> = {
  node: 'bare node:http (baseline)',
  status: 'status server',
  peer: 'peer link server',
  web: 'web console',
  all: 'all three in one process',
};

interface Sample {
  /** From the process's start (Node's boot and the logger included). */
  readonly processMs: number;
  /** From just before the server's module is imported. */
  readonly startupMs: number;
  readonly loadMs: number;
  readonly rssMiB: number;
}

/** GET a path of the server at `port` on loopback; resolves with the status. */
function ask(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

/** In the child: start one kind, answer a request, idle, report, stop. */
async function child(kind: Kind): Promise<void> {
  const { createLogger } = await import('../src/app/log.js');
  const logger = createLogger({ level: 'silent', format: 'json' });
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-bench-http-'));
  const stops: (() => Promise<void>)[] = [];
  const firstAnswers: Promise<number>[] = [];
  let loadMs = 0;
  const t0 = performance.now();
  const load = async <T>(module: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const loaded = await module();
    loadMs += performance.now() - t0;
    return loaded;
  };

  if (kind === 'node') {
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    stops.push(() => new Promise((r) => server.close(() => r())));
    const address = server.address();
    firstAnswers.push(ask(typeof address === 'object' && address !== null ? address.port : 0, '/'));
  }
  if (kind === 'status' || kind === 'all') {
    const { StatusServer } = await load(() => import('../src/adapters/status-server.js'));
    const server = new StatusServer({
      port: 0,
      metrics: { contentType: 'text/plain; version=0.0.4', metrics: async () => 'up 1\n' },
      health: () => ({}),
      ready: () => ({}),
      logger,
    });
    const address = await server.start();
    stops.push(() => server.stop());
    firstAnswers.push(ask(address.port, '/healthz'));
  }
  if (kind === 'peer' || kind === 'all') {
    const { PeerServer, TokenFloor } = await load(() => import('../src/adapters/peer-link.js'));
    const server = new PeerServer({
      host: '127.0.0.1',
      port: 0,
      secret: 'a-bench-secret-of-the-pair-0123456789',
      routes: [{ method: 'GET', path: '/v1/state', handle: async () => ({ ok: true }) }],
      tokens: new TokenFloor(join(dir, 'fencing-token.json')),
      nonceJournal: join(dir, 'peer-nonces.ndjson'),
      logger,
    });
    const address = await server.start();
    stops.push(() => server.stop());
    // Unsigned: refused with 401, which is an answer all the same.
    firstAnswers.push(ask(address.port, '/v1/state'));
  }
  if (kind === 'web' || kind === 'all') {
    const { WebConsolePlatform } = await load(() => import('../src/adapters/web-console/web-console.js'));
    const platform = new WebConsolePlatform({
      port: 0,
      users: new Map([['a-bench-token-0123456789', 'alice']]),
      logger,
    });
    await platform.start(async () => ({ message: { title: 'ok', tone: 'info' } }));
    stops.push(() => platform.stop());
    firstAnswers.push(ask(platform.address?.port ?? 0, '/login'));
  }
  const statuses = await Promise.all(firstAnswers);
  const processMs = performance.now();
  const startupMs = processMs - t0;
  if (statuses.some((s) => s === 0 || s >= 500)) throw new Error(`${kind}: answered ${statuses.join(', ')}`);
  await sleep(2_000);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await sleep(200);
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  for (const stop of stops) await stop();
  rmSync(dir, { recursive: true, force: true });
  const sample: Sample = { processMs, startupMs, loadMs, rssMiB };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

function runChild(kind: Kind): Promise<Sample> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--child', kind],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`${kind}: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Sample);
      },
    );
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const runsArg = process.argv.find((a) => a.startsWith('--runs='));
  const runs = runsArg === undefined ? 7 : Math.max(1, Number(runsArg.slice('--runs='.length)));
  const results = new Map<Kind, Sample>();
  // Interleaved (one of each kind per round), so a busy moment of the machine hits every kind alike.
  const samples = new Map<Kind, Sample[]>(KINDS.map((k) => [k, []]));
  for (let round = 0; round < runs; round++) {
    for (const kind of KINDS) samples.get(kind)?.push(await runChild(kind));
  }
  for (const [kind, list] of samples)
    results.set(kind, {
      processMs: median(list.map((s) => s.processMs)),
      startupMs: median(list.map((s) => s.startupMs)),
      loadMs: median(list.map((s) => s.loadMs)),
      rssMiB: median(list.map((s) => s.rssMiB)),
    });
  const base = results.get('node') as Sample;
  const lines = [
    `HTTP servers, median of ${runs} runs each (node ${process.version}):`,
    '',
    '| server | ready (import → first answer) | of which module load | process start → first answer | idle RSS | RSS over baseline |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const kind of KINDS) {
    const r = results.get(kind) as Sample;
    const over = kind === 'node' ? '—' : `+${(r.rssMiB - base.rssMiB).toFixed(1)} MiB`;
    lines.push(
      `| ${TITLES[kind]} | ${r.startupMs.toFixed(0)} ms | ${kind === 'node' ? '—' : `${r.loadMs.toFixed(0)} ms`} | ${r.processMs.toFixed(0)} ms | ${r.rssMiB.toFixed(1)} MiB | ${over} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Kind);
} else {
  await main();
}
