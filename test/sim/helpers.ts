import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EventsOptions, SimulatedPair } from '../../src/sim/pair.js';
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

/** Events each host printed while `action` ran (what a running `events2` stream shows). */
export function eventsDuring(
  pair: SimulatedPair,
  action: () => void,
  opts: EventsOptions = {},
  hosts: string[] = pair.hosts,
): Record<string, string[]> {
  const marks = Object.fromEntries(hosts.map((h) => [h, pair.mark(h)]));
  action();
  return Object.fromEntries(hosts.map((h) => [h, pair.eventsSince(h, marks[h] ?? 0, opts)]));
}

/** Only the helper lines, as `call NAME` / `response NAME status`. */
export function helpers(lines: string[]): string[] {
  return lines
    .filter((l) => / helper name:/.test(l))
    .map((l) => {
      const name = /helper:(\S+)/.exec(l)?.[1] ?? '?';
      const status = /status:(\d+)/.exec(l)?.[1];
      return l.includes('call helper') ? `call ${name}` : `response ${name} ${status ?? '?'}`;
    });
}
