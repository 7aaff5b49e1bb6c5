// The simulator as the `-s` backend of the real drbdadm (drbd-utils): drbdadm parses a real
// resource file, pretends to be a host (__DRBD_NODE__) and calls drbdsetup-sim.

import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';

const SIM_BIN = resolve(import.meta.dirname, '../../bin/drbdsetup-sim');
const DRBDADM_84 = '/lib/drbd/drbdadm-84';

function findOnPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

// 127.0.0.2 is not configured on this machine: drbdadm would refuse to connect from "beta"
// without disable-ip-verification.
const RES_9 = `global { disable-ip-verification; }
resource r0 {
  device /dev/drbd0;
  disk /dev/vg/r0;
  meta-disk internal;
  on alpha { node-id 0; address 127.0.0.1:7789; }
  on beta { node-id 1; address 127.0.0.2:7789; }
}
resource r1 {
  device /dev/drbd1;
  disk /dev/vg/r1;
  meta-disk internal;
  on alpha { node-id 0; address 127.0.0.1:7790; }
  on beta { node-id 1; address 127.0.0.2:7790; }
}
`;

const RES_84 = `global { disable-ip-verification; }
resource r0 {
  device /dev/drbd0;
  disk /dev/vg/r0;
  meta-disk internal;
  on alpha { address 127.0.0.1:7789; }
  on beta { address 127.0.0.2:7789; }
}
`;

describe('real drbdadm driving drbdsetup-sim', () => {
  let dir: string;
  let drbdadm: string;

  beforeAll(() => {
    const found = findOnPath('drbdadm');
    if (!found)
      throw new Error(
        'drbdadm not found: install drbd-utils (apt-get install drbd-utils) for the system tests',
      );
    drbdadm = found;
    accessSync(DRBDADM_84, constants.X_OK);
    dir = mkdtempSync(join(tmpdir(), 'drbdadm-sim-'));
    writeFileSync(join(dir, 'r9.res'), RES_9);
    writeFileSync(join(dir, 'r84.res'), RES_84);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const adm = (binary: string, config: string, stateDir: string, host: string, args: string[]) =>
    execa(binary, ['-c', join(dir, config), '-s', SIM_BIN, ...args], {
      env: { __DRBD_NODE__: host, DRBD_SIM_DIR: stateDir },
      stripFinalNewline: false,
      timeout: 30_000,
      reject: false,
    });

  describe('DRBD 9 (drbdadm 9.x)', () => {
    let state: string;
    const run = (host: string, ...args: string[]) => adm(drbdadm, 'r9.res', state, host, args);

    beforeAll(() => {
      state = join(dir, 'state9');
      SimulatedPair.init(state, {
        hosts: ['alpha', 'beta'],
        resources: [
          { name: 'r0', minor: 0 },
          { name: 'r1', minor: 1 },
        ],
        addresses: { alpha: '127.0.0.1', beta: '127.0.0.2' },
        resyncSeconds: 1,
      });
    });

    it('relays refusals with the real message and exit code', async () => {
      const second = await run('beta', 'primary', 'r0');
      expect(second.exitCode).toBe(11);
      expect(second.stderr).toContain(
        'r0: State change failed: (-1) Multiple primaries not allowed by config',
      );
      expect(second.stderr).toContain(`Command '${SIM_BIN} primary r0' terminated with exit code 11`);

      SimulatedPair.open(state).diskFail('beta', 'r1');
      expect((await run('alpha', 'secondary', 'r1')).exitCode).toBe(0);
      const noData = await run('beta', 'primary', 'r1');
      expect(noData.exitCode).toBe(17);
      expect(noData.stderr).toContain('r1: State change failed: (-2) Need access to UpToDate data');
      expect(noData.stderr).toContain(`Command '${SIM_BIN} primary r1' terminated with exit code 17`);
    });

    it('refuses secondary while a holder has the device open, then demotes', async () => {
      const pair = SimulatedPair.open(state);
      pair.openDevice('alpha', 'r0', 'multipathd');
      const held = await run('alpha', 'secondary', 'r0');
      expect(held.exitCode).toBe(11);
      expect(held.stderr).toContain('r0: State change failed: (-12) Device is held open by someone');
      pair.closeDevice('alpha', 'r0', 'multipathd');
      expect((await run('alpha', 'secondary', 'r0')).exitCode).toBe(0);
      expect((await run('beta', 'primary', 'r0')).exitCode).toBe(0);
      const status = await run('alpha', 'status', 'r0');
      expect(status.exitCode).toBe(0);
      expect(status.stdout).toBe(
        'r0 role:Secondary\n  disk:UpToDate\n  beta role:Primary\n    peer-disk:UpToDate\n\n',
      );
      expect((await run('alpha', 'role', 'r0')).stdout.trim()).toBe('Secondary');
      expect((await run('alpha', 'cstate', 'r0')).stdout.trim()).toBe('Connected');
    });

    it('recovers from a split-brain with disconnect / connect --discard-my-data', async () => {
      const pair = SimulatedPair.open(state);
      pair.splitBrain('r0');
      const broken = await run('beta', 'status', 'r0');
      expect(broken.stdout).toBe('r0 role:Primary\n  disk:UpToDate\n  alpha connection:StandAlone\n\n');

      // alpha is the victim.
      expect((await run('alpha', 'disconnect', 'r0')).exitCode).toBe(0);
      expect((await run('alpha', 'secondary', 'r0')).exitCode).toBe(0);
      expect((await run('alpha', 'connect', '--discard-my-data', 'r0')).exitCode).toBe(0);
      expect((await run('beta', 'connect', 'r0')).exitCode).toBe(0);
      const syncing = await run('alpha', 'status', 'r0');
      expect(syncing.stdout).toMatch(
        /^r0 role:Secondary\n {2}disk:Inconsistent\n {2}beta role:Primary\n {4}replication:SyncTarget peer-disk:UpToDate done:/,
      );
      await new Promise((r) => setTimeout(r, 1200));
      const healed = await run('alpha', 'status', 'r0');
      expect(healed.stdout).toBe(
        'r0 role:Secondary\n  disk:UpToDate\n  beta role:Primary\n    peer-disk:UpToDate\n\n',
      );
    });
  });

  describe('DRBD 8.4 (drbdadm-84)', () => {
    let state: string;
    const run = (host: string, ...args: string[]) => adm(DRBDADM_84, 'r84.res', state, host, args);

    beforeAll(() => {
      state = join(dir, 'state84');
      SimulatedPair.init(state, {
        hosts: ['alpha', 'beta'],
        resources: [{ name: 'r0', minor: 0 }],
        dialect: '8.4',
        addresses: { alpha: '127.0.0.1', beta: '127.0.0.2' },
        resyncSeconds: 1,
      });
    });

    it('honours -s and names the minor in refusals', async () => {
      const refused = await run('beta', 'primary', 'r0');
      expect(refused.exitCode).toBe(11);
      expect(refused.stderr).toContain(
        '0: State change failed: (-1) Multiple primaries not allowed by config',
      );
      expect(refused.stderr).toContain(`Command '${SIM_BIN} primary 0' terminated with exit code 11`);
      const status = await run('alpha', 'status', 'r0');
      expect(status.stdout).toBe(
        'r0 role:Primary\n  disk:UpToDate\n  peer role:Secondary\n    replication:Established peer-disk:UpToDate\n\n',
      );
      expect((await run('alpha', 'role', 'r0')).stdout.trim()).toBe('Primary/Secondary');
    });

    it('refuses secondary with a holder and recovers a split-brain by address-pair disconnect', async () => {
      const pair = SimulatedPair.open(state);
      pair.openDevice('alpha', 'r0', 'multipathd');
      const held = await run('alpha', 'secondary', 'r0');
      expect(held.exitCode).toBe(11);
      expect(held.stderr).toContain('0: State change failed: (-12) Device is held open by someone');
      pair.closeDevice('alpha', 'r0', 'multipathd');

      pair.splitBrain('r0');
      expect((await run('beta', 'cstate', 'r0')).stdout.trim()).toBe('StandAlone');
      expect((await run('beta', 'disconnect', 'r0')).exitCode).toBe(0);
      expect((await run('beta', 'secondary', 'r0')).exitCode).toBe(0);
      expect((await run('beta', 'connect', '--discard-my-data', 'r0')).exitCode).toBe(0);
      expect((await run('alpha', 'connect', 'r0')).exitCode).toBe(0);
      expect((await run('beta', 'cstate', 'r0')).stdout.trim()).toBe('SyncTarget');
      await new Promise((r) => setTimeout(r, 1200));
      expect((await run('beta', 'dstate', 'r0')).stdout.trim()).toBe('UpToDate/UpToDate');
      // A plain disconnect of the healthy pair goes through the address pair too.
      expect((await run('alpha', 'disconnect', 'r0')).exitCode).toBe(0);
      expect((await run('beta', 'status', 'r0')).stdout).toBe(
        'r0 role:Secondary\n  disk:UpToDate\n  peer connection:Connecting\n\n',
      );
    });
  });
});
