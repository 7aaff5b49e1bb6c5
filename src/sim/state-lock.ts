// A cross-process lock on the state directory: mkdir is atomic, and a lock left behind by
// a killed process (dead pid, or older than STALE_MS) is broken so the pair never wedges.

import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimError } from './types.js';

const STALE_MS = 10_000;
const TIMEOUT_MS = 15_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function isStale(lockDir: string): boolean {
  try {
    const owner = readFileSync(join(lockDir, 'owner'), 'utf8');
    const pid = Number(owner.split(' ')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
      }
    }
  } catch {
    // No owner file yet: the holder is between mkdir and write; judge by age only.
  }
  try {
    return Date.now() - statSync(lockDir).mtimeMs > STALE_MS;
  } catch {
    return false;
  }
}

let held = 0;

/** Runs fn while holding the directory lock (re-entrant within this process). */
export function withLock<T>(dir: string, fn: () => T): T {
  if (held > 0) {
    held++;
    try {
      return fn();
    } finally {
      held--;
    }
  }
  const lockDir = join(dir, 'lock');
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (isStale(lockDir)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new SimError(`timed out waiting for the lock ${lockDir}`, 20);
      sleepSync(1);
    }
  }
  held = 1;
  try {
    writeFileSync(join(lockDir, 'owner'), `${process.pid} ${Date.now()}`);
    return fn();
  } finally {
    held = 0;
    rmSync(lockDir, { recursive: true, force: true });
  }
}
