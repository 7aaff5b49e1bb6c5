// The daemon's footprint: resident memory when idle and the time from exec to healthy (/healthz
// answers 200: the first events2 dump is read), for `drbd-chatops run` with one chat platform
// (Slack in Socket Mode against the fake Slack) and with every platform (Slack, Discord, the web
// console), beside bare `node` doing nothing. Each configuration runs N times as a real child
// process; RSS is read from /proc/PID/status after the process has been idle for a few seconds.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { PACKAGE_ROOT, SIMULATOR_BIN } from '../src/adapters/package-paths.js';
import { sleep } from '../src/adapters/sleep.js';
import { SimulatedPair } from '../src/sim/pair.js';
import { FakeDiscord } from '../test/fakes/discord/index.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack } from '../test/fakes/slack/fake-slack.js';
import type { BenchRow } from './report.js';
import { median } from './stats.js';

const BIN = join(PACKAGE_ROOT, 'bin/drbd-chatops');
const IDLE_MS = 3_000;

export interface FootprintResult {
  readonly runs: number;
  /** Per configuration: medians over the runs. */
  readonly bareNode: { readonly rssMiB: number; readonly startMs: number };
  readonly slack: { readonly rssMiB: number; readonly healthyMs: number };
  /** Slack only, started with plain `node` (V8's default heap settings). */
  readonly slackDefaultV8: { readonly rssMiB: number; readonly healthyMs: number };
  readonly all: { readonly rssMiB: number; readonly healthyMs: number };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  return kib / 1024;
}

async function waitHealthy(
  port: number,
  child: { readonly exitCode: number | null },
  limitMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode})`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the daemon did not become healthy');
    await sleep(10);
  }
}

/**
 * `launch`: `bin` runs bin/drbd-chatops as systemd does (its shebang sets the V8 flags);
 * `plain-node` runs it with `node` and V8's defaults, to show what the flags save.
 */
async function oneDaemon(
  platforms: 'slack' | 'all',
  launch: 'bin' | 'plain-node' = 'bin',
): Promise<{ rssMiB: number; healthyMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-footprint-'));
  const slack = new FakeSlack();
  const discord = new FakeDiscord();
  await slack.start();
  if (platforms === 'all') await discord.start();
  try {
    const simDir = join(dir, 'sim');
    SimulatedPair.init(simDir, {
      hosts: ['alpha', 'beta'],
      resources: [{ name: 'r0', minor: 0 }],
      primary: { r0: 'alpha' },
    });
    const statusPort = await freePort();
    const webPort = await freePort();
    const lines = [
      'host: alpha',
      `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
      'log: {level: warn, format: json}',
      `drbd: {drbdsetup: ${JSON.stringify(SIMULATOR_BIN)}, env: {DRBD_SIM_DIR: ${JSON.stringify(simDir)}, DRBD_SIM_HOST: alpha}}`,
      `status: {listen: {host: 127.0.0.1, port: ${statusPort}}}`,
      `slack: {apiUrl: ${JSON.stringify(slack.apiUrl)}}`,
      'routes: [{platform: slack, channel: C0OPS}]',
    ];
    if (platforms === 'all') {
      lines.push(
        `discord: {apiUrl: ${JSON.stringify(discord.apiUrl)}, applicationId: "${discord.applicationId}", guildId: "${discord.guildId}"}`,
        `web: {listen: {host: 127.0.0.1, port: ${webPort}}}`,
      );
    } else {
      lines.push('web: {enabled: false}');
    }
    const config = join(dir, 'config.yaml');
    writeFileSync(config, lines.join('\n'));
    const started = performance.now();
    const [file, ...args] =
      launch === 'bin'
        ? [BIN, 'run', '--config', config]
        : [process.execPath, BIN, 'run', '--config', config];
    const child = execa(file as string, args, {
      env: {
        SLACK_BOT_TOKEN: FAKE_BOT_TOKEN,
        SLACK_APP_TOKEN: FAKE_APP_TOKEN,
        DISCORD_BOT_TOKEN: discord.token,
        DRBD_CHATOPS_WEB_USERS: 'alice:0123456789abcdef0123',
      },
      reject: false,
      timeout: 120_000,
    });
    try {
      await waitHealthy(statusPort, child);
      const healthyMs = performance.now() - started;
      await sleep(IDLE_MS);
      const rss = rssMiB(child.pid ?? 0);
      return { rssMiB: rss, healthyMs };
    } finally {
      child.kill('SIGTERM');
      await child;
    }
  } finally {
    await slack.stop();
    if (platforms === 'all') await discord.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bareNode(): Promise<{ rssMiB: number; startMs: number }> {
  const started = performance.now();
  const child = execa(process.execPath, ['-e', 'console.log("up"); setTimeout(() => {}, 60000)'], {
    reject: false,
    timeout: 120_000,
  });
  await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
  const startMs = performance.now() - started;
  await sleep(IDLE_MS);
  const rss = rssMiB(child.pid ?? 0);
  child.kill('SIGTERM');
  await child;
  return { rssMiB: rss, startMs };
}

export async function benchFootprint(runs: number): Promise<FootprintResult> {
  const bare: { rssMiB: number; startMs: number }[] = [];
  const slack: { rssMiB: number; healthyMs: number }[] = [];
  const all: { rssMiB: number; healthyMs: number }[] = [];
  const plain: { rssMiB: number; healthyMs: number }[] = [];
  // Interleaved, so that a busy moment of the machine hits every configuration alike.
  for (let i = 0; i < runs; i++) {
    bare.push(await bareNode());
    slack.push(await oneDaemon('slack'));
    all.push(await oneDaemon('all'));
    plain.push(await oneDaemon('slack', 'plain-node'));
  }
  return {
    runs,
    bareNode: { rssMiB: median(bare.map((r) => r.rssMiB)), startMs: median(bare.map((r) => r.startMs)) },
    slack: { rssMiB: median(slack.map((r) => r.rssMiB)), healthyMs: median(slack.map((r) => r.healthyMs)) },
    all: { rssMiB: median(all.map((r) => r.rssMiB)), healthyMs: median(all.map((r) => r.healthyMs)) },
    slackDefaultV8: {
      rssMiB: median(plain.map((r) => r.rssMiB)),
      healthyMs: median(plain.map((r) => r.healthyMs)),
    },
  };
}

export function footprintRows(r: FootprintResult): BenchRow[] {
  const mib = (v: number) => `${v.toFixed(0)} MiB`;
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  const title = `daemon footprint (drbd-chatops run, median of ${r.runs} runs, idle ${IDLE_MS / 1000} s)`;
  return [
    {
      benchmark: title,
      measure: 'idle RSS, Slack only (target ≤ 100 MiB)',
      value: mib(r.slack.rssMiB),
      baseline: `bare node: ${mib(r.bareNode.rssMiB)}`,
      ratio: `+${mib(r.slack.rssMiB - r.bareNode.rssMiB)}`,
    },
    {
      benchmark: '',
      measure: "idle RSS, Slack only, V8 default heap (node bin/drbd-chatops, without the launcher's flag)",
      value: mib(r.slackDefaultV8.rssMiB),
      baseline: `with the flag: ${mib(r.slack.rssMiB)}`,
      ratio: `+${mib(r.slackDefaultV8.rssMiB - r.slack.rssMiB)}`,
    },
    {
      benchmark: '',
      measure: 'idle RSS, Slack + Discord + web console',
      value: mib(r.all.rssMiB),
      baseline: `bare node: ${mib(r.bareNode.rssMiB)}`,
      ratio: `+${mib(r.all.rssMiB - r.bareNode.rssMiB)}`,
    },
    {
      benchmark: '',
      measure: 'exec → /healthz 200, Slack only (target ≤ 500 ms)',
      value: ms(r.slack.healthyMs),
      baseline: `bare node to its first output: ${ms(r.bareNode.startMs)}`,
      ratio: `+${ms(r.slack.healthyMs - r.bareNode.startMs)}`,
    },
    {
      benchmark: '',
      measure: 'exec → /healthz 200, every platform',
      value: ms(r.all.healthyMs),
      baseline: `bare node to its first output: ${ms(r.bareNode.startMs)}`,
      ratio: `+${ms(r.all.healthyMs - r.bareNode.startMs)}`,
    },
  ];
}

export function describeFootprint(r: FootprintResult): string {
  return `footprint: bare node ${r.bareNode.rssMiB.toFixed(0)} MiB; Slack only ${r.slack.rssMiB.toFixed(0)} MiB, healthy after ${r.slack.healthyMs.toFixed(0)} ms; every platform ${r.all.rssMiB.toFixed(0)} MiB, healthy after ${r.all.healthyMs.toFixed(0)} ms`;
}

// `node dist/bench/footprint.js [runs]`: this benchmark alone, printed.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchFootprint(Number(process.argv[2] ?? 3));
  console.log(describeFootprint(r));
}
