// Parser + state + rules throughput, in events per second, against a baseline that only splits
// each line into words (the least any parser must do), run in the same process on the same input.

import { feedLine, initialWatch } from '../src/core/watcher.js';
import { parseEvents2Line } from '../src/drbd/events2.js';
import type { BenchRow } from './report.js';
import { formatCount, formatRate, formatRatio, median } from './stats.js';

/**
 * A stream shaped like a busy pair: four resources, statistics lines dominate (as with
 * --statistics), and every 50th event is a real state change (connection flaps, role changes).
 */
export function syntheticStream(events: number): string[] {
  const lines: string[] = [];
  const resources = ['r0', 'r1', 'r2', 'r3'];
  for (const r of resources) {
    lines.push(
      `2026-11-29T10:00:00.000000+00:00 exists resource name:${r} role:Primary suspended:no force-io-failures:no write-ordering:flush may_promote:no promotion_score:10102`,
      `2026-11-29T10:00:00.000000+00:00 exists device name:${r} volume:0 minor:0 backing_dev:/dev/vg/${r} disk:UpToDate client:no open:yes quorum:yes size:1048576 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0 al-suspended:no blocked:no`,
      `2026-11-29T10:00:00.000000+00:00 exists connection name:${r} peer-node-id:1 conn-name:beta connection:Connected role:Secondary congested:no ap-in-flight:0 rs-in-flight:0`,
      `2026-11-29T10:00:00.000000+00:00 exists peer-device name:${r} peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no received:0 sent:0 out-of-sync:0 pending:0 unacked:0`,
    );
  }
  lines.push('2026-11-29T10:00:00.000000+00:00 exists -');
  for (let i = 0; lines.length < events; i++) {
    const r = resources[i % resources.length] ?? 'r0';
    const second = String(i % 60).padStart(2, '0');
    const stamp = `2026-11-29T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${second}.000000+00:00`;
    if (i % 50 === 0) {
      const down = Math.floor(i / 50) % 2 === 0;
      lines.push(
        `${stamp} change connection name:${r} peer-node-id:1 conn-name:beta connection:${down ? 'Connecting' : 'Connected'} role:${down ? 'Unknown' : 'Secondary'}`,
      );
    } else if (i % 2 === 0) {
      lines.push(
        `${stamp} change device name:${r} volume:0 minor:0 read:${i * 4} written:${i * 8} al-writes:${i} upper-pending:${i % 7} lower-pending:0`,
      );
    } else {
      lines.push(
        `${stamp} change peer-device name:${r} peer-node-id:1 conn-name:beta volume:0 received:0 sent:${i * 8} out-of-sync:0 pending:${i % 3} unacked:0`,
      );
    }
  }
  return lines;
}

function timeRun(lines: readonly string[], consume: (lines: readonly string[]) => number): number {
  const start = process.hrtime.bigint();
  const sink = consume(lines);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (sink < 0) throw new Error('unreachable: keeps the work from being optimised away');
  return lines.length / seconds;
}

const baseline = (lines: readonly string[]): number => {
  let words = 0;
  for (const line of lines) words += line.split(' ').length;
  return words;
};

const parseOnly = (lines: readonly string[]): number => {
  let events = 0;
  for (const line of lines) if (parseEvents2Line(line).type === 'event') events++;
  return events;
};

const fullPipeline = (lines: readonly string[]): number => {
  let watch = initialWatch('alpha');
  let notifications = 0;
  const now = Date.parse('2026-11-29T10:00:00Z');
  for (const line of lines) {
    const result = feedLine(watch, line, now);
    watch = result.watch;
    notifications += result.notifications.length;
  }
  return notifications;
};

export interface ThroughputResult {
  readonly lines: number;
  readonly runs: number;
  readonly baselinePerSecond: number;
  readonly parsePerSecond: number;
  readonly pipelinePerSecond: number;
}

export function benchThroughput(lines = 100_000, runs = 7): ThroughputResult {
  const stream = syntheticStream(lines);
  // Warm up the JIT on all three before measuring.
  for (const f of [baseline, parseOnly, fullPipeline]) timeRun(stream.slice(0, 10_000), f);
  const samples = { baseline: [] as number[], parse: [] as number[], pipeline: [] as number[] };
  for (let i = 0; i < runs; i++) {
    // Interleaved, so machine noise hits all three alike.
    samples.baseline.push(timeRun(stream, baseline));
    samples.parse.push(timeRun(stream, parseOnly));
    samples.pipeline.push(timeRun(stream, fullPipeline));
  }
  return {
    lines: stream.length,
    runs,
    baselinePerSecond: median(samples.baseline),
    parsePerSecond: median(samples.parse),
    pipelinePerSecond: median(samples.pipeline),
  };
}

export function describeThroughput(r: ThroughputResult): string {
  return [
    `events2 throughput (${r.lines.toLocaleString('en-US')} lines, median of ${r.runs} runs):`,
    `  baseline (split into words):      ${formatRate(r.baselinePerSecond)}`,
    `  parser:                            ${formatRate(r.parsePerSecond)}  (${(r.baselinePerSecond / r.parsePerSecond).toFixed(1)}x the baseline's time)`,
    `  parser + state + rules (watcher):  ${formatRate(r.pipelinePerSecond)}  (${(r.baselinePerSecond / r.pipelinePerSecond).toFixed(1)}x the baseline's time)`,
  ].join('\n');
}

export function throughputRows(r: ThroughputResult): BenchRow[] {
  const benchmark = `events2 throughput (${formatCount(r.lines)} lines, median of ${r.runs} runs)`;
  const baseline = `split into words: ${formatCount(r.baselinePerSecond)} events/s`;
  const row = (measure: string, perSecond: number): BenchRow => ({
    benchmark,
    measure,
    value: `${formatCount(perSecond)} events/s`,
    baseline,
    ratio: `${formatRatio(r.baselinePerSecond / perSecond)} the baseline's time`,
  });
  return [row('parser', r.parsePerSecond), row('parser + state + rules (watcher)', r.pipelinePerSecond)];
}
