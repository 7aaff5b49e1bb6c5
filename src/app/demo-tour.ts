// The built-in demo: a simulated pair (alpha + beta, resources r0 and r1), one watcher per host
// reading the simulator's real events2 output, and a scripted tour of the faults an operator of
// such a pair meets. Needs nothing but Node: no DRBD, no chat platform.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIMULATOR_BIN } from '../adapters/package-paths.js';
import { sleep as pause, until } from '../adapters/sleep.js';
import type { Notification } from '../core/notification.js';
import { SimulatedPair } from '../sim/pair.js';
import type { Dialect } from '../sim/types.js';
import { parseConfig } from './config.js';
import type { Logger } from './log.js';
import { type RunningWatch, startWatch } from './watch.js';

export const DEMO_HOSTS = ['alpha', 'beta'] as const;

/** Run `fn` after `ms` normal-speed milliseconds. */
type Later = (ms: number, fn: () => void) => void;

interface Step {
  readonly say: string;
  readonly act: (pair: SimulatedPair, print: (line: string) => void, later: Later) => void;
  /** How long to let the watchers report before the next step, in normal-speed milliseconds. */
  readonly settleMs: number;
}

function showCommand(
  print: (line: string) => void,
  host: string,
  command: string,
  result: { exitCode: number; stderr: string },
) {
  const outcome =
    result.exitCode === 0 ? 'ok' : `exit ${result.exitCode}: ${result.stderr.trim().split('\n')[0]}`;
  print(`    ${host}# drbdadm ${command}  → ${outcome}`);
}

const TOUR: readonly Step[] = [
  {
    say: 'A healthy pair: r0 is Primary on alpha, r1 on beta, both Connected and UpToDate. The watchers stay quiet.',
    act: () => {},
    settleMs: 1_500,
  },
  {
    say: 'The replication link of r0 fails for two seconds, then comes back.',
    act: (pair, _print, later) => {
      pair.linkDown('r0');
      later(2_000, () => pair.linkUp('r0'));
    },
    settleMs: 5_500,
  },
  {
    say: 'Planned switchover of r1 from beta to alpha.',
    act: (pair, print) => {
      showCommand(print, 'beta', 'secondary r1', pair.secondary('beta', 'r1'));
      showCommand(print, 'alpha', 'primary r1', pair.primary('alpha', 'r1'));
    },
    settleMs: 1_500,
  },
  {
    say: 'multipathd holds /dev/drbd0 open on alpha: demoting r0 is refused, as on a real Ubuntu 20.04 host.',
    act: (pair, print) => {
      pair.openDevice('alpha', 'r0', 'multipathd');
      showCommand(print, 'alpha', 'secondary r0', pair.secondary('alpha', 'r0'));
      pair.closeDevice('alpha', 'r0', 'multipathd');
    },
    settleMs: 1_000,
  },
  {
    say: 'beta crashes, and boots again a few seconds later.',
    act: (pair, _print, later) => {
      pair.crash('beta');
      later(2_500, () => pair.boot('beta'));
    },
    settleMs: 6_000,
  },
  {
    say: 'A split-brain on r0: the link fails, both sides are promoted and written to, the link returns.',
    act: (pair) => pair.splitBrain('r0'),
    settleMs: 2_000,
  },
  {
    say: 'Recovery as the alert says: beta is the victim, alpha the survivor.',
    act: (pair, print) => {
      showCommand(print, 'beta', 'secondary r0', pair.secondary('beta', 'r0'));
      showCommand(
        print,
        'beta',
        'connect --discard-my-data r0',
        pair.connect('beta', 'r0', { discardMyData: true }),
      );
      showCommand(print, 'alpha', 'connect r0', pair.connect('alpha', 'r0'));
    },
    settleMs: 4_500,
  },
];

export interface DemoOptions {
  readonly dialect: Dialect;
  /** Multiplies every pause; 1 is reading speed, tests use less. */
  readonly speed: number;
  readonly logger: Logger;
  readonly print: (line: string) => void;
  readonly onNotification: (host: string, notification: Notification) => void;
  /** Ends the tour early (Ctrl-C); the simulator and watchers are still cleaned up. */
  readonly signal?: AbortSignal;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-demo-'));
  const stateDir = join(dir, 'pair');
  const watches: RunningWatch[] = [];
  const scaled = (ms: number) => Math.max(10, ms * options.speed);
  const aborted = () => options.signal?.aborted === true;
  const sleep = (ms: number) => pause(scaled(ms), options.signal);
  const pending = new Set<NodeJS.Timeout>();
  const later: Later = (ms, fn) => {
    const timer = setTimeout(() => {
      pending.delete(timer);
      fn();
    }, scaled(ms));
    pending.add(timer);
  };
  try {
    const pair = SimulatedPair.init(stateDir, {
      hosts: [...DEMO_HOSTS],
      resources: [
        { name: 'r0', minor: 0 },
        { name: 'r1', minor: 1 },
      ],
      dialect: options.dialect,
      primary: { r0: 'alpha', r1: 'beta' },
      // Resyncs take 2 s at reading speed, like every pause of the tour.
      resyncSeconds: 2 * options.speed,
    });
    for (const host of DEMO_HOSTS) {
      const config = parseConfig({
        host,
        drbd: {
          drbdsetup: SIMULATOR_BIN,
          env: { DRBD_SIM_DIR: stateDir, DRBD_SIM_HOST: host },
          // A crashed host's stream comes back quickly once it boots.
          restartBackoff: { initialMs: scaled(500), maxMs: scaled(2_000) },
        },
      });
      watches.push(
        startWatch(config, options.logger.child({ host }), (n) => options.onNotification(host, n)),
      );
    }
    options.print(`Simulated DRBD ${options.dialect} pair in ${stateDir}`);
    for (const [index, step] of TOUR.entries()) {
      await sleep(index === 0 ? 800 : 300);
      // Each step is meant to be seen by both hosts: wait until both streams are live again.
      await until(() => aborted() || watches.every((w) => w.isLive()), 15_000);
      if (aborted()) break;
      options.print(`\n▶ ${step.say}`);
      step.act(pair, options.print, later);
      await sleep(step.settleMs);
    }
    if (aborted()) return;
    options.print(
      '\nThat was the tour. Replay any recorded stream with `drbd-chatops replay --host NAME FILE`.',
    );
  } finally {
    for (const timer of pending) clearTimeout(timer);
    await Promise.all(watches.map((w) => w.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
