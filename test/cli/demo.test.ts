// The built-in demo, run as a newcomer would (the real binary), at a fast pace.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/drbd-chatops');

for (const dialect of ['9', '8.4'] as const) {
  describe(`drbd-chatops tour --dialect ${dialect}`, () => {
    it('tours the faults, reports them from both hosts and cleans up after itself', async () => {
      const r = await execa(process.execPath, [BIN, 'tour', '--dialect', dialect, '--speed', '0.2'], {
        reject: false,
        timeout: 60_000,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const out = r.stdout;
      for (const expected of [
        /CRIT \[alpha\/r0\] connection-lost: r0: alpha lost its connection to \S+ \(\w+\) while Primary/,
        /INFO \[beta\/r1\] role-changed: r1 on beta is now Secondary \(was Primary\)/,
        /alpha# drbdadm secondary r0 {2}→ exit 11: (r0|0): State change failed: \(-12\) Device is held open by someone/,
        /WARN \[beta\] watcher-gap: The DRBD event stream on beta restarted/,
        /CRIT \[alpha\/r0\] split-brain:/,
        /CRIT \[beta\/r0\] split-brain:/,
        /INFO \[beta\/r0\] resync-finished/,
      ]) {
        expect(out).toMatch(expected);
      }
      const stateDir = /Simulated DRBD \S+ pair in (\S+)/.exec(out)?.[1];
      expect(stateDir).toBeDefined();
      expect(existsSync(dirname(stateDir ?? '/'))).toBe(false);
    });
  });
}

describe('drbd-chatops tour arguments', () => {
  it('rejects a bad dialect or speed with exit 2', async () => {
    for (const args of [
      ['--dialect', '8.3'],
      ['--speed', 'fast'],
      ['--speed', '0'],
    ]) {
      const r = await execa(process.execPath, [BIN, 'tour', ...args], { reject: false, timeout: 20_000 });
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--(dialect|speed) must be/);
    }
  });
});
