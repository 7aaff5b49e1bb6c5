// Chat delivery benchmarks, against the fake Slack on loopback with the real Bolt client:
// 1. the time from a DRBD change in the simulator to its chat.postMessage arriving at Slack,
//    split into change → notification (the watcher; the baseline) and notification → Slack;
// 2. a 10,000-change flap storm: messages posted, changes accounted for, event-loop lag (against
//    the same daemon's event-loop lag while idle, measured just before the storm).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { COMMANDS } from '../commands/index.js';
import { SIMULATOR_BIN } from '../src/adapters/package-paths.js';
import { SlackPlatform } from '../src/adapters/slack/slack-platform.js';
import { sleep } from '../src/adapters/sleep.js';
import { parseConfig } from '../src/app/config.js';
import { Daemon } from '../src/app/daemon.js';
import { createLogger } from '../src/app/log.js';
import type { Notification } from '../src/core/notification.js';
import { SimulatedPair } from '../src/sim/pair.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack } from '../test/fakes/slack/fake-slack.js';
import type { BenchRow } from './report.js';
import { formatCount, formatMs, formatRatio, p50p99, percentile } from './stats.js';

const CHANNEL = 'C0BENCH';
const logger = createLogger({ level: 'silent', format: 'json' });

interface Rig {
  readonly fake: FakeSlack;
  readonly pair: SimulatedPair;
  readonly daemon: Daemon;
  onNotification: (n: Notification) => void;
  close(): Promise<void>;
}

async function rig(slackIntervalMs: number): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-bench-chat-'));
  const fake = new FakeSlack();
  await fake.start();
  const stateDir = join(dir, 'pair');
  const pair = SimulatedPair.init(stateDir, {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  const config = parseConfig({
    host: 'alpha',
    stateDir: join(dir, 'state'),
    drbd: { drbdsetup: SIMULATOR_BIN, env: { DRBD_SIM_DIR: stateDir, DRBD_SIM_HOST: 'alpha' } },
    delivery: { slackIntervalMs },
    slack: { apiUrl: fake.apiUrl },
    routes: [{ platform: 'slack', channel: CHANNEL }],
  });
  if (config.slack === undefined) throw new Error('the bench configuration has a slack section');
  const slack = new SlackPlatform({
    config: config.slack,
    logger,
    secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
  });
  const r: Rig = {
    fake,
    pair,
    daemon: undefined as unknown as Daemon,
    onNotification: () => {},
    close: async () => {
      await r.daemon.stop();
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const daemon = new Daemon({
    commands: COMMANDS,
    config,
    configPath: undefined,
    logger,
    platforms: new Map([['slack', slack]]),
    onNotification: (n) => r.onNotification(n),
  });
  (r as { daemon: Daemon }).daemon = daemon;
  await daemon.start();
  const deadline = Date.now() + 15_000;
  while (daemon.watch?.isLive() !== true) {
    if (Date.now() > deadline) throw new Error('the simulator stream did not start');
    await sleep(10);
  }
  return r;
}

export interface ChatLatencyResult {
  readonly changes: number;
  readonly notificationP50Ms: number;
  readonly notificationP99Ms: number;
  readonly slackP50Ms: number;
  readonly slackP99Ms: number;
}

export async function benchChatLatency(changes = 1_000): Promise<ChatLatencyResult> {
  // No channel pacing here: the point is the path's own latency, not Slack's rate limit.
  const r = await rig(0);
  const toNotification: number[] = [];
  const toSlack: number[] = [];
  try {
    for (let i = 0; i < changes; i++) {
      let notifiedAt = 0;
      const arrived = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`change ${i} never reached Slack`)), 10_000);
        r.onNotification = () => {
          notifiedAt ||= performance.now();
        };
        r.fake.callListener = (call) => {
          if (call.method !== 'chat.postMessage') return;
          clearTimeout(timer);
          resolve(performance.now());
        };
      });
      const start = performance.now();
      const result = i % 2 === 0 ? r.pair.secondary('alpha', 'r0') : r.pair.primary('alpha', 'r0');
      if (result.exitCode !== 0) throw new Error(`simulator refused: ${result.stderr}`);
      const at = await arrived;
      toNotification.push(notifiedAt - start);
      toSlack.push(at - start);
    }
  } finally {
    r.fake.callListener = undefined;
    await r.close();
  }
  return {
    changes,
    notificationP50Ms: percentile(toNotification, 50),
    notificationP99Ms: percentile(toNotification, 99),
    slackP50Ms: percentile(toSlack, 50),
    slackP99Ms: percentile(toSlack, 99),
  };
}

export interface StormResult {
  readonly changes: number;
  readonly messagesPosted: number;
  readonly parentEdits: number;
  readonly changesAccounted: number;
  readonly drainSeconds: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** The baseline: the same daemon's event-loop delay while idle, just before the storm. */
  readonly idleMs: number;
  readonly idleLoopDelayP99Ms: number;
  readonly idleLoopDelayMaxMs: number;
  /** The channel pace: one message per this many milliseconds. */
  readonly slackIntervalMs: number;
}

/** How many DRBD changes a posted message stands for: a folded summary says so, anything else one. */
function accounted(text: string): number {
  const folded = /: (\d+) changes/.exec(text);
  return folded === null ? 1 : Number(folded[1]);
}

export async function benchStorm(changes = 10_000, idleMs = 2_000): Promise<StormResult> {
  const slackIntervalMs = 1_100;
  const r = await rig(slackIntervalMs);
  // The histogram's values include its 10 ms resolution, so an idle loop reads about 10 ms.
  const idle = monitorEventLoopDelay({ resolution: 10 });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  try {
    idle.enable();
    await sleep(idleMs);
    idle.disable();
    loop.enable();
    const start = performance.now();
    const t0 = Date.now();
    // A link flapping as fast as DRBD can report it, delivered through the daemon's own notifier
    // in the bursts the watcher produces (one batch per events2 read).
    for (let i = 0; i < changes; i += 50) {
      const batch: Notification[] = [];
      for (let j = i; j < Math.min(changes, i + 50); j++) {
        const lost = j % 2 === 0;
        batch.push({
          kind: lost ? 'connection-lost' : 'connection-restored',
          severity: lost ? 'critical' : 'info',
          host: 'alpha',
          resource: 'r0',
          text: lost
            ? 'r0: alpha lost its connection to beta (NetworkFailure) while Primary.'
            : 'r0: connected again.',
          details: {},
          at: new Date(t0 + j).toISOString(),
        });
      }
      await r.daemon.notifier.notify(batch);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const deadline = Date.now() + 300_000;
    while (r.daemon.outbox.depth > 0) {
      if (Date.now() > deadline) throw new Error('the storm did not drain in 5 minutes');
      await sleep(50);
    }
    const drainSeconds = (performance.now() - start) / 1000;
    loop.disable();
    const posts = r.fake.callsTo('chat.postMessage').map((c) => String(c.params.text ?? ''));
    return {
      changes,
      messagesPosted: posts.length,
      parentEdits: r.fake.callsTo('chat.update').length,
      changesAccounted: posts.reduce((sum, text) => sum + accounted(text), 0),
      drainSeconds,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loopDelayMaxMs: loop.max / 1e6,
      idleMs,
      idleLoopDelayP99Ms: idle.percentile(99) / 1e6,
      idleLoopDelayMaxMs: idle.max / 1e6,
      slackIntervalMs,
    };
  } finally {
    await r.close();
  }
}

export function describeChatLatency(r: ChatLatencyResult): string {
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  return [
    `simulator change → chat.postMessage at the fake Slack (${r.changes} role changes, p50 / p99):`,
    `  baseline: change → notification out of the rules:  ${ms(r.notificationP50Ms)} / ${ms(r.notificationP99Ms)}`,
    `  change → chat.postMessage arriving at Slack:        ${ms(r.slackP50Ms)} / ${ms(r.slackP99Ms)}`,
    `  ratio (p50): ${(r.slackP50Ms / r.notificationP50Ms).toFixed(1)}x the baseline (outbox fsync + Bolt + HTTP)`,
  ].join('\n');
}

export function describeStorm(r: StormResult): string {
  return [
    `flap storm of ${r.changes.toLocaleString('en-US')} changes on one resource, Slack pace 1 message/${r.slackIntervalMs / 1000} s:`,
    `  messages posted: ${r.messagesPosted} (+ ${r.parentEdits} edits of the incident parent)`,
    `  changes accounted for in them: ${r.changesAccounted.toLocaleString('en-US')} of ${r.changes.toLocaleString('en-US')}`,
    `  drained in ${r.drainSeconds.toFixed(1)} s; event-loop delay p99 ${r.loopDelayP99Ms.toFixed(1)} ms, max ${r.loopDelayMaxMs.toFixed(1)} ms`,
    `  (idle for ${r.idleMs / 1000} s before: p99 ${r.idleLoopDelayP99Ms.toFixed(1)} ms, max ${r.idleLoopDelayMaxMs.toFixed(1)} ms)`,
  ].join('\n');
}

export function chatLatencyRows(r: ChatLatencyResult): BenchRow[] {
  return [
    {
      benchmark: `simulator change → fake Slack (${formatCount(r.changes)} role changes, real Bolt client)`,
      measure: 'change → chat.postMessage arriving at Slack',
      value: p50p99(r.slackP50Ms, r.slackP99Ms),
      baseline: `change → notification out of the rules: ${p50p99(r.notificationP50Ms, r.notificationP99Ms)}`,
      ratio: `${formatRatio(r.slackP50Ms / r.notificationP50Ms)} the baseline (p50), ${formatRatio(r.slackP99Ms / r.notificationP99Ms)} (p99)`,
    },
  ];
}

const plural = (n: number, word: string) => `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;

export function stormRows(r: StormResult): BenchRow[] {
  const pace = `1 message/${r.slackIntervalMs / 1000} s`;
  const benchmark = `flap storm (${formatCount(r.changes)} changes on one resource, Slack pace ${pace})`;
  const changes = formatCount(r.changes);
  // Computed, not measured: what the channel pace would cost without folding.
  const unfoldedMs = r.changes * r.slackIntervalMs;
  return [
    {
      benchmark,
      measure: 'messages to Slack',
      value: `${plural(r.messagesPosted, 'post')} + ${plural(r.parentEdits, 'edit')}; ${formatCount(r.changesAccounted)} of ${changes} changes accounted for`,
      baseline: `one post per change: ${changes} posts`,
      ratio: `${formatCount(r.changes / Math.max(1, r.messagesPosted))} changes per post`,
    },
    {
      benchmark,
      measure: 'time until the outbox is empty',
      value: `${r.drainSeconds.toFixed(1)} s`,
      baseline: `one post per change at ${pace} (computed): ${formatCount(unfoldedMs / 1000)} s`,
      ratio: `1/${formatCount(unfoldedMs / (r.drainSeconds * 1000))} of it`,
    },
    {
      benchmark,
      measure: 'event-loop delay during the storm (10 ms resolution)',
      value: `p99 ${formatMs(r.loopDelayP99Ms)} / max ${formatMs(r.loopDelayMaxMs)}`,
      baseline: `same daemon idle for ${r.idleMs / 1000} s before it: p99 ${formatMs(r.idleLoopDelayP99Ms)} / max ${formatMs(r.idleLoopDelayMaxMs)}`,
      ratio: `${formatRatio(r.loopDelayP99Ms / r.idleLoopDelayP99Ms)} the idle p99`,
    },
  ];
}
