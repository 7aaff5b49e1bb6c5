// `npm run bench`: every benchmark of the project, one command, one table. Each benchmark's rows
// (a figure, its baseline measured in the same run, the ratio) go into one markdown table, preceded
// by the machine it ran on, written to bench/RESULTS.md and to stdout; the README's performance
// section is that file's content. Each benchmark's own prose goes to stderr as it finishes.
//
//   npm run bench                          everything (a few minutes: the takeover waits out leases)
//   npm run bench -- --quick               a smoke run: small sizes, short leases, not for quoting;
//                                          written to stdout only, unless --out is given
//   npm run bench -- --takeover-runs=20    more takeover runs per lock store (default 5)
//   npm run bench -- --switchover-runs=9   more switchovers per size, bot and script each (default 5;
//                                          the switchover needs root and LXD, else its row says why)
//   npm run bench -- --only=takeover       only these benchmarks (ids below, or a prefix: takeover)
//   npm run bench -- --skip=takeover       all but these; their rows say "not run" and how to run them
//   npm run bench -- --out=FILE            write the results there instead of bench/RESULTS.md
//
// A new benchmark: a module exporting bench…() and …Rows(result): BenchRow[], and one entry in
// BENCHMARKS below.

import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PACKAGE_ROOT } from '../src/adapters/package-paths.js';
import { LEADER_DEFAULTS } from '../src/core/leader.js';
import { FAST_LEADER } from '../test/helpers/pair-harness.js';
import {
  benchChatLatency,
  benchStorm,
  chatLatencyRows,
  describeChatLatency,
  describeStorm,
  stormRows,
} from './chat.js';
import { benchLatency, describeLatency, latencyRows } from './latency.js';
import { type BenchRow, describeMachine, formatDuration, renderResults } from './report.js';
import { benchThroughput, describeThroughput, throughputRows } from './throughput.js';

interface Options {
  /** A smoke run: small sizes, not for quoting. */
  readonly quick: boolean;
  /** Leader takeovers measured per lock store. */
  readonly takeoverRuns: number;
  /** Switchovers per size for each of the bot and the script. */
  readonly switchoverRuns: number;
}

interface Measured {
  readonly rows: readonly BenchRow[];
  /** The benchmark's own prose, printed as it finishes. */
  readonly detail: string;
}

interface Benchmark {
  /** For --only and --skip; a prefix before "-" selects a family ("takeover"). */
  readonly id: string;
  /** The benchmark column of the row standing in for it when it is not run, or fails. */
  readonly title: string;
  run(options: Options): Promise<Measured>;
}

const BENCHMARKS: readonly Benchmark[] = [
  {
    id: 'throughput',
    title: 'events2 throughput',
    run: async ({ quick }) => {
      const r = benchThroughput(quick ? 20_000 : 100_000, quick ? 3 : 7);
      return { rows: throughputRows(r), detail: describeThroughput(r) };
    },
  },
  {
    id: 'latency',
    title: 'simulator change → notification',
    run: async ({ quick }) => {
      const r = await benchLatency(quick ? 40 : 200);
      return { rows: latencyRows(r), detail: describeLatency(r) };
    },
  },
  {
    id: 'chat',
    title: 'simulator change → fake Slack',
    run: async ({ quick }) => {
      const r = await benchChatLatency(quick ? 50 : 1_000);
      return { rows: chatLatencyRows(r), detail: describeChatLatency(r) };
    },
  },
  {
    id: 'storm',
    title: 'flap storm',
    run: async ({ quick }) => {
      const r = quick ? await benchStorm(1_000, 500) : await benchStorm(10_000, 2_000);
      return { rows: stormRows(r), detail: describeStorm(r) };
    },
  },
  {
    id: 'footprint',
    title: 'daemon footprint (idle RSS, exec → healthy)',
    run: async ({ quick }) => {
      const { benchFootprint, describeFootprint, footprintRows } = await import('./footprint.js');
      const r = await benchFootprint(quick ? 1 : 5);
      return { rows: footprintRows(r), detail: describeFootprint(r) };
    },
  },
  {
    id: 'lock-renewal',
    title: 'lease renewal per lock store',
    run: async ({ quick }) => {
      // Loaded here: it needs the etcd binary and curl.
      const { benchLockRenewal, describeLockRenewal, lockRenewalRows } = await import('./lock-renewal.js');
      const r = await benchLockRenewal(quick ? 20 : 200);
      return { rows: lockRenewalRows(r), detail: describeLockRenewal(r) };
    },
  },
  ...(['file', 'etcd'] as const).map(
    (backend): Benchmark => ({
      id: `takeover-${backend}`,
      title: `leader takeover after kill -9 and SIGTERM, ${backend} lock store`,
      run: async ({ quick, takeoverRuns }) => {
        // Loaded here: it brings in the pair harness and, for etcd, needs the etcd binary.
        const { benchTakeover, describeTakeover, takeoverRows } = await import('./takeover.js');
        const leader = quick ? FAST_LEADER : LEADER_DEFAULTS[backend];
        const r = await benchTakeover({ backend, runs: takeoverRuns, leader });
        return { rows: takeoverRows(r), detail: describeTakeover(r) };
      },
    }),
  ),
  ...(['kill', 'term'] as const).map(
    (how): Benchmark => ({
      id: `takeover-burst-${how}`,
      title: `burst of link flaps, then ${how === 'kill' ? 'kill -9' : 'SIGTERM'} of the leader`,
      run: async ({ quick }) => {
        const { benchBurstTakeover, burstTakeoverRows, describeBurstTakeover } = await import(
          './takeover-burst.js'
        );
        const r = await benchBurstTakeover(how === 'kill' ? 'kill -9' : 'SIGTERM', quick ? 30 : 100);
        return { rows: burstTakeoverRows(r), detail: describeBurstTakeover(r) };
      },
    }),
  ),
  {
    id: 'switchover',
    title: 'planned switchover on real LXD, bot vs a plain script',
    run: async ({ quick, switchoverRuns }) => {
      // Loaded here: it needs root, LXD, drbd-utils and btrfs; without them the row says so.
      const { benchSwitchover, describeSwitchover, switchoverMissing, switchoverRows } = await import(
        './switchover.js'
      );
      const missing = switchoverMissing();
      if (missing !== undefined) {
        return {
          rows: [
            {
              benchmark: 'planned switchover on real LXD, bot vs a plain script',
              measure: 'not run: this machine cannot',
              value: '—',
              baseline: '—',
              ratio: missing,
            },
          ],
          detail: `switchover: not run, it ${missing}`,
        };
      }
      const r = await benchSwitchover({ runs: quick ? 1 : switchoverRuns });
      return { rows: switchoverRows(r), detail: describeSwitchover(r) };
    },
  },
];

function usage(message: string): never {
  console.error(`bench: ${message}`);
  console.error(
    'usage: npm run bench -- [--quick] [--takeover-runs=N] [--switchover-runs=N] [--only=IDS] [--skip=IDS] [--out=FILE]',
  );
  console.error(`benchmark ids: ${BENCHMARKS.map((b) => b.id).join(', ')}`);
  process.exit(2);
}

const args = process.argv.slice(2);
const values = new Map<string, string>();
const flags = new Set<string>();
for (const arg of args) {
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
  if (m === null) usage(`unexpected argument ${arg}`);
  const [, name = '', value] = m;
  if (value === undefined) flags.add(name);
  else values.set(name, value);
}
for (const name of flags) if (!['quick', 'takeover'].includes(name)) usage(`unknown option --${name}`);
for (const name of values.keys()) {
  if (!['takeover-runs', 'switchover-runs', 'only', 'skip', 'out'].includes(name))
    usage(`unknown option --${name}=…`);
}

const quick = flags.has('quick');
// --takeover (which used to switch the takeover benchmark on) now asks for the thorough 20 runs.
const takeoverRuns = Number(values.get('takeover-runs') ?? (flags.has('takeover') ? 20 : quick ? 2 : 5));
if (!Number.isInteger(takeoverRuns) || takeoverRuns < 1) usage('--takeover-runs wants a whole number ≥ 1');
const switchoverRuns = Number(values.get('switchover-runs') ?? (quick ? 1 : 5));
if (!Number.isInteger(switchoverRuns) || switchoverRuns < 1) {
  usage('--switchover-runs wants a whole number ≥ 1');
}

const ids = (name: string): string[] | undefined =>
  values
    .get(name)
    ?.split(',')
    .filter((s) => s !== '');
const only = ids('only');
const skip = ids('skip') ?? [];
const selects = (b: Benchmark, id: string) => b.id === id || b.id.startsWith(`${id}-`);
for (const id of [...(only ?? []), ...skip]) {
  if (!BENCHMARKS.some((b) => selects(b, id))) usage(`no benchmark ${id}`);
}
const wanted = (b: Benchmark) =>
  (only === undefined || only.some((id) => selects(b, id))) && !skip.some((id) => selects(b, id));

const fromNpm = process.env.npm_lifecycle_event === 'bench';
const command = fromNpm
  ? `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`
  : `node ${relative(process.cwd(), process.argv[1] ?? 'dist/bench/run.js')}${args.map((a) => ` ${a}`).join('')}`;

const machine = describeMachine();
const startedAt = new Date();
const rows: BenchRow[] = [];
let failed = false;
for (const [i, b] of BENCHMARKS.entries()) {
  const step = `[${i + 1}/${BENCHMARKS.length}] ${b.id}`;
  if (!wanted(b)) {
    console.error(`${step}: not run`);
    rows.push({
      benchmark: b.title,
      measure: 'not run in this run',
      value: '—',
      baseline: '—',
      ratio: `run it with \`npm run bench -- --only=${b.id}\``,
    });
    continue;
  }
  console.error(`${step}: running…`);
  const t0 = performance.now();
  try {
    const measured = await b.run({ quick, takeoverRuns, switchoverRuns });
    rows.push(...measured.rows);
    console.error(`${measured.detail}\n  (took ${formatDuration(performance.now() - t0)})\n`);
  } catch (error) {
    failed = true;
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${step} failed:`, error);
    rows.push({ benchmark: b.title, measure: 'FAILED', value: message, baseline: '—', ratio: '—' });
  }
}

const results = renderResults({
  rows,
  machine,
  startedAt,
  tookMs: Date.now() - startedAt.getTime(),
  command,
  smoke: quick,
  reproduce: [
    'Reproduce with `npm run bench` (it builds first). Every ratio compares figures taken in the same run;',
    'absolute figures depend on the machine, ratios much less.',
    quick
      ? 'This smoke run used short leader settings (lease 3 s, retry 0.5 s) for the takeover rows.'
      : `The takeover rows use the production leader settings of each lock store (LEADER_DEFAULTS) and ${takeoverRuns} runs` +
        ' (a kill -9 and a SIGTERM each, about 15 s a run);',
    '`npm run bench -- --takeover-runs=20` measures more. The switchover rows need root and LXD (see the README)',
    `and make ${switchoverRuns} switchover${switchoverRuns === 1 ? '' : 's'} per size for each of the bot and the script; \`--switchover-runs=N\` sets that.`,
    '`--only=ID,…` and `--skip=ID,…` choose benchmarks',
    `(${BENCHMARKS.map((b) => `\`${b.id}\``).join(', ')}); \`--quick\` is a smoke run.`,
  ],
});

const out = values.get('out') ?? (quick ? undefined : join(PACKAGE_ROOT, 'bench', 'RESULTS.md'));
if (out !== undefined) {
  writeFileSync(out, `# Benchmark results\n\n${results}`);
  console.error(`written to ${relative(process.cwd(), out)}\n`);
}
console.log(results);
if (failed) process.exitCode = 1;
