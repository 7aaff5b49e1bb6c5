// The benchmarks' common output: rows of one markdown table, preceded by the machine they ran on.
// Every benchmark module turns its result into BenchRows; bench/run.ts collects them from its
// registry and writes the table to bench/RESULTS.md and to stdout.

import { execFileSync } from 'node:child_process';
import { arch, cpus, loadavg, release, totalmem, type, version } from 'node:os';

/** One line of the results table. */
export interface BenchRow {
  /** Which benchmark, with its size: "events2 throughput (100,000 lines, median of 7 runs)". */
  readonly benchmark: string;
  /** What is measured: "parser + state + rules (watcher)". */
  readonly measure: string;
  /** The figure: "185,848 events/s", "p50 2.67 ms / p99 9.31 ms". */
  readonly value: string;
  /** What it is compared with, and that figure: "split into words: 3,560,509 events/s". */
  readonly baseline: string;
  /** The value against the baseline: "19.2× the baseline's time". */
  readonly ratio: string;
}

export interface Machine {
  readonly cpu: string;
  readonly memory: string;
  readonly os: string;
  readonly node: string;
  readonly loadAverage: string;
  /** The 1-minute load average was at least half the CPUs: other work competed with the run. */
  readonly busy: boolean;
  readonly commit: string;
}

function git(args: readonly string[]): string | undefined {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The machine as it is when the run starts (the load average shows what else was running). */
export function describeMachine(): Machine {
  const all = cpus();
  const models = [...new Set(all.map((c) => c.model.trim().replace(/\s+/g, ' ')))];
  const mhz = all[0]?.speed ?? 0;
  const head = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', '.', ':!bench/RESULTS.md']);
  return {
    cpu: `${all.length} × ${models.join(' + ') || 'unknown CPU'}${mhz > 0 ? ` (${mhz} MHz)` : ''}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${type()} ${release()} ${arch()} (${version()})`,
    node: process.version,
    loadAverage: loadavg()
      .map((l) => l.toFixed(2))
      .join(' / '),
    busy: (loadavg()[0] ?? 0) >= all.length / 2,
    commit: head === undefined ? 'unknown' : `${head}${dirty ? ' + uncommitted changes' : ''}`,
  };
}

export function formatDuration(ms: number): string {
  if (ms < 59_500) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/** The table; a benchmark's name is written once for its consecutive rows. */
export function markdownTable(rows: readonly BenchRow[]): string {
  const lines = ['| Benchmark | Measure | Value | Baseline | Ratio |', '| --- | --- | --- | --- | --- |'];
  let previous: string | undefined;
  for (const row of rows) {
    const benchmark = row.benchmark === previous ? '' : row.benchmark;
    previous = row.benchmark;
    lines.push(`| ${[benchmark, row.measure, row.value, row.baseline, row.ratio].map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface Results {
  readonly rows: readonly BenchRow[];
  readonly machine: Machine;
  readonly startedAt: Date;
  readonly tookMs: number;
  /** As typed: "npm run bench -- --quick". */
  readonly command: string;
  /** A smoke run (`--quick`): small sizes, not for quoting. */
  readonly smoke: boolean;
  /** How to reproduce, and the options that change what is run (markdown, one item a line). */
  readonly reproduce: readonly string[];
}

/**
 * The results without a heading, so that the README's performance section can be exactly this:
 * the machine, the table, how to reproduce it.
 */
export function renderResults(r: Results): string {
  const m = r.machine;
  const parts: string[] = [];
  if (r.smoke) {
    parts.push(
      '**Smoke run (`--quick`): small sizes and short leases, only to check that every benchmark works.' +
        ' These figures are not for quoting.**',
      '',
    );
  }
  parts.push(
    `Measured with \`${r.command}\` on ${r.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')}; the run took ${formatDuration(r.tookMs)}.`,
    '',
    `- CPU: ${m.cpu}`,
    `- Memory: ${m.memory}`,
    `- OS: ${m.os}`,
    `- Node: ${m.node}`,
    `- Load average at the start (1 / 5 / 15 min): ${m.loadAverage}${m.busy ? ' (busy: other work competed with this run, so the p99 figures especially are pessimistic)' : ''}`,
    `- Commit: ${m.commit}`,
    '',
    markdownTable(r.rows),
    '',
    ...r.reproduce,
  );
  return `${parts.join('\n')}\n`;
}
