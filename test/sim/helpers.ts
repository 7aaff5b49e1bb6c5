import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Clock } from '../../src/sim/state.js';

export const SIM_BIN = resolve(import.meta.dirname, '../../bin/drbdsetup-sim');

export function tempDir(prefix = 'drbd-sim-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clock the test moves by hand, so resync progress is deterministic. */
export class ManualClock implements Clock {
  private micros = Date.UTC(2026, 10, 29, 10, 15, 30) * 1000;
  nowMs(): number {
    return Math.floor(this.micros / 1000);
  }
  nowMicros(): number {
    this.micros += 1;
    return this.micros;
  }
  advance(ms: number): void {
    this.micros += ms * 1000;
  }
}
