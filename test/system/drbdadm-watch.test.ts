// End to end on the real parts available here: Debian's drbdadm parses a real resource file and
// drives the DRBD simulator; the `drbd-chatops watch` binary reads the simulator's events2 stream
// and must report what drbdadm did, in both DRBD dialects.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';
import { onCleanup } from '../helpers/cleanup.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SIM_BIN = join(ROOT, 'bin/drbdsetup-sim');
const CHATOPS_BIN = join(ROOT, 'bin/drbd-chatops');

const RESOURCE_FILES = {
  '9': `global { disable-ip-verification; }
resource r0 {
  device /dev/drbd0; disk /dev/vg/r0; meta-disk internal;
  on alpha { node-id 0; address 127.0.0.1:7789; }
  on beta { node-id 1; address 127.0.0.2:7789; }
}
`,
  '8.4': `global { disable-ip-verification; }
resource r0 {
  device /dev/drbd0; disk /dev/vg/r0; meta-disk internal;
  on alpha { address 127.0.0.1:7789; }
  on beta { address 127.0.0.2:7789; }
}
`,
} as const;

const DRBDADM = { '9': 'drbdadm', '8.4': '/lib/drbd/drbdadm-84' } as const;

/** Collects a child's stdout and waits for lines matching a pattern. */
function follow(child: { stdout: NodeJS.ReadableStream | null }) {
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return {
    get text() {
      return out;
    },
    async waitFor(pattern: RegExp, what: string, timeoutMs = 15_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output so far:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

for (const dialect of ['9', '8.4'] as const) {
  describe(`drbdadm → simulator → drbd-chatops watch (DRBD ${dialect})`, () => {
    it('reports a switchover, a refused demotion and a split-brain with its recovery', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-e2e-'));
      onCleanup(() => rmSync(dir, { recursive: true, force: true }));
      const stateDir = join(dir, 'pair');
      const pair = SimulatedPair.init(stateDir, {
        hosts: ['alpha', 'beta'],
        resources: [{ name: 'r0', minor: 0 }],
        dialect,
        primary: { r0: 'alpha' },
        addresses: { alpha: '127.0.0.1', beta: '127.0.0.2' },
        resyncSeconds: 1,
      });
      writeFileSync(join(dir, 'r0.res'), RESOURCE_FILES[dialect]);
      writeFileSync(
        join(dir, 'config.yaml'),
        [
          'host: alpha',
          'log: {level: info, format: json}',
          'drbd:',
          `  drbdsetup: ${JSON.stringify(SIM_BIN)}`,
          `  env: {DRBD_SIM_DIR: ${JSON.stringify(stateDir)}, DRBD_SIM_HOST: alpha}`,
        ].join('\n'),
      );
      const drbdadm = (host: string, ...args: string[]) =>
        execa(DRBDADM[dialect], ['-c', join(dir, 'r0.res'), '-s', SIM_BIN, ...args], {
          env: { __DRBD_NODE__: host, DRBD_SIM_DIR: stateDir },
          reject: false,
          timeout: 30_000,
        });

      const watch = execa(process.execPath, [CHATOPS_BIN, 'watch', '--config', join(dir, 'config.yaml')], {
        reject: false,
        timeout: 120_000,
      });
      onCleanup(async () => {
        watch.kill('SIGTERM');
        await watch;
      });
      const out = follow(watch);
      // Changes count from the moment the first dump is read (a loaded machine may take seconds).
      const log = follow({ stdout: watch.stderr });
      await log.waitFor(/watching: the DRBD state is read/, 'the watcher to read the DRBD state', 60_000);

      // Planned switchover, done with the real drbdadm.
      expect((await drbdadm('alpha', 'secondary', 'r0')).exitCode).toBe(0);
      await out.waitFor(/role-changed: r0 on alpha is now Secondary \(was Primary\)/, 'local demotion');
      expect((await drbdadm('beta', 'primary', 'r0')).exitCode).toBe(0);
      await out.waitFor(/role-changed: r0: peer \S+ is now Primary/, 'peer promotion');

      // A refusal is relayed by drbdadm with DRBD's message and exit code, and changes nothing.
      const refused = await drbdadm('alpha', 'primary', 'r0');
      expect(refused.exitCode).toBe(11);
      expect(refused.stderr).toContain('State change failed: (-1) Multiple primaries not allowed by config');

      // Split-brain, recovered the way the alert says, with drbdadm.
      pair.splitBrain('r0');
      await out.waitFor(
        /CRIT \[alpha\/r0\] split-brain: Split-brain on r0 on alpha/,
        'the split-brain alert',
      );
      await out.waitFor(/CRIT \[alpha\/r0\] standalone: .*follows the split-brain/, 'the StandAlone alert');
      expect((await drbdadm('alpha', 'secondary', 'r0')).exitCode).toBe(0);
      expect((await drbdadm('alpha', 'connect', '--discard-my-data', 'r0')).exitCode).toBe(0);
      expect((await drbdadm('beta', 'connect', 'r0')).exitCode).toBe(0);
      await out.waitFor(/INFO \[alpha\/r0\] connection-restored/, 'the connection coming back');
      await out.waitFor(/INFO \[alpha\/r0\] resync-started: r0: resync started, \S+ → alpha/, 'the resync');
      await out.waitFor(/INFO \[alpha\/r0\] resync-finished/, 'the resync finishing');
      expect(out.text).not.toMatch(/dual-primary/);
    });
  });
}
