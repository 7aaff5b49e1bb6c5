// Time from a state change in the DRBD simulator to the notification leaving the rules engine,
// through the real path: the simulator's `drbdsetup events2` child process, the event source, the
// parser, the state engine and the rules. The baseline is the same change to the moment its first
// events2 line arrives (the transport alone), measured on the same changes.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Events2Source } from '../src/adapters/events2-source.js';
import { SIMULATOR_BIN } from '../src/adapters/package-paths.js';
import { sleep } from '../src/adapters/sleep.js';
import { createLogger } from '../src/app/log.js';
import { HostWatcher } from '../src/core/watcher.js';
import { SimulatedPair } from '../src/sim/pair.js';
import type { BenchRow } from './report.js';
import { formatRatio, p50p99, percentile } from './stats.js';

export interface LatencyResult {
  readonly changes: number;
  readonly lineP50Ms: number;
  readonly lineP99Ms: number;
  readonly notificationP50Ms: number;
  readonly notificationP99Ms: number;
  /** What the parser, state and rules add on top of the line's arrival. */
  readonly pipelineP50Ms: number;
  readonly pipelineP99Ms: number;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export async function benchLatency(changes = 200): Promise<LatencyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-bench-'));
  const stateDir = join(dir, 'pair');
  const pair = SimulatedPair.init(stateDir, {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  const watcher = new HostWatcher('alpha');
  let firstLineAt: number | undefined;
  let notified: ((at: number) => void) | undefined;
  const source = new Events2Source({
    command: SIMULATOR_BIN,
    args: ['events2', '--timestamps', '--statistics'],
    full: 'never',
    env: { DRBD_SIM_DIR: stateDir, DRBD_SIM_HOST: 'alpha' },
    backoff: { initialMs: 100, maxMs: 1_000 },
    logger: createLogger({ level: 'silent', format: 'json' }),
    onRestart: (reason, at) => watcher.restarted(at, reason),
    onLine: (line, receivedAt) => {
      firstLineAt ??= nowMs();
      const result = watcher.feed(line, receivedAt);
      if (result.notifications.some((n) => n.kind === 'role-changed')) notified?.(nowMs());
    },
  });
  const lines: number[] = [];
  const notifications: number[] = [];
  const pipeline: number[] = [];
  try {
    source.start();
    const deadline = Date.now() + 15_000;
    while (watcher.watch.phase !== 'live') {
      if (Date.now() > deadline) throw new Error('the simulator stream did not start');
      await sleep(10);
    }
    for (let i = 0; i < changes; i++) {
      firstLineAt = undefined;
      const arrived = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no notification for change ${i}`)), 10_000);
        notified = (at) => {
          clearTimeout(timer);
          resolve(at);
        };
      });
      const start = nowMs();
      const result = i % 2 === 0 ? pair.secondary('alpha', 'r0') : pair.primary('alpha', 'r0');
      if (result.exitCode !== 0) throw new Error(`simulator refused: ${result.stderr}`);
      const at = await arrived;
      const lineAt = firstLineAt ?? at;
      lines.push(lineAt - start);
      notifications.push(at - start);
      pipeline.push(at - lineAt);
    }
  } finally {
    await source.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    changes,
    lineP50Ms: percentile(lines, 50),
    lineP99Ms: percentile(lines, 99),
    notificationP50Ms: percentile(notifications, 50),
    notificationP99Ms: percentile(notifications, 99),
    pipelineP50Ms: percentile(pipeline, 50),
    pipelineP99Ms: percentile(pipeline, 99),
  };
}

export function describeLatency(r: LatencyResult): string {
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  return [
    `simulator state change → notification (${r.changes} role changes, p50 / p99):`,
    `  baseline: change → first events2 line read:   ${ms(r.lineP50Ms)} / ${ms(r.lineP99Ms)}`,
    `  change → notification out of the rules:       ${ms(r.notificationP50Ms)} / ${ms(r.notificationP99Ms)}`,
    `  of which parser + state + rules:              ${ms(r.pipelineP50Ms)} / ${ms(r.pipelineP99Ms)}`,
  ].join('\n');
}

export function latencyRows(r: LatencyResult): BenchRow[] {
  const benchmark = `simulator change → notification (${r.changes} role changes)`;
  const notification = p50p99(r.notificationP50Ms, r.notificationP99Ms);
  return [
    {
      benchmark,
      measure: 'change → notification out of the rules',
      value: notification,
      baseline: `change → first events2 line read: ${p50p99(r.lineP50Ms, r.lineP99Ms)}`,
      ratio: `${formatRatio(r.notificationP50Ms / r.lineP50Ms)} the baseline (p50), ${formatRatio(r.notificationP99Ms / r.lineP99Ms)} (p99)`,
    },
    {
      benchmark,
      measure: 'of which parser + state + rules',
      value: p50p99(r.pipelineP50Ms, r.pipelineP99Ms),
      baseline: `change → notification: ${notification}`,
      ratio: `${((100 * r.pipelineP50Ms) / r.notificationP50Ms).toFixed(0)} % of it (p50)`,
    },
  ];
}
