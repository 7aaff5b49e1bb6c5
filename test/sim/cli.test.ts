import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SIM_BIN, tempDir } from './helpers.js';

describe('drbdsetup-sim command line', () => {
  let dir: string;
  let cleanup: () => void;

  const run = (args: string[], env: Record<string, string> = {}) =>
    execa(SIM_BIN, args, {
      env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: 'alpha', ...env },
      extendEnv: false,
      stripFinalNewline: false,
      timeout: 20_000,
      reject: false,
    });

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });
  afterEach(() => cleanup());

  it('needs DRBD_SIM_DIR and an initialised directory', async () => {
    const noDir = await execa(SIM_BIN, ['status'], {
      env: {},
      extendEnv: false,
      timeout: 20_000,
      reject: false,
    });
    expect(noDir.exitCode).toBe(20);
    expect(noDir.stderr).toContain('DRBD_SIM_DIR is not set');
    const empty = await run(['status']);
    expect(empty.exitCode).toBe(20);
    expect(empty.stderr).toContain('not an initialised DRBD simulator directory');
  });

  it('initialises a DRBD 9 pair and runs verbs as drbdadm calls them', async () => {
    expect(
      (
        await run([
          'sim',
          'init',
          '--hosts',
          'alpha,beta',
          '--resources',
          'r0:0,r1:1',
          '--primary',
          'r1=beta',
        ])
      ).exitCode,
    ).toBe(0);
    const status = await run(['status', 'r1']);
    expect(status.stdout).toBe(
      'r1 role:Secondary\n  disk:UpToDate\n  beta role:Primary\n    peer-disk:UpToDate\n\n',
    );
    expect((await run(['role', 'r1'])).stdout).toBe('Secondary\n');
    expect((await run(['cstate', 'r0', '1'])).stdout).toBe('Connected\n');
    expect((await run(['dstate', '1'])).stdout).toBe('UpToDate/UpToDate\n');

    const refused = await run(['primary', 'r1']);
    expect(refused.exitCode).toBe(11);
    expect(refused.stderr).toBe('r1: State change failed: (-1) Multiple primaries not allowed by config\n');

    expect((await run(['disconnect', 'r0', '1'])).exitCode).toBe(0);
    expect((await run(['cstate', 'r0', '1'])).stdout).toBe('StandAlone\n');
    expect((await run(['connect', 'r0', '1', '--discard-my-data'])).exitCode).toBe(0);

    const acting = await run(['role', 'r0'], { DRBD_SIM_HOST: '', __DRBD_NODE__: 'beta' });
    expect(acting.stdout).toBe('Secondary\n');

    const colored = await run(['events2', '--now', '--color=always', 'r1']);
    expect(colored.stdout).toContain('connection:Connected role:\x1b[36mPrimary\x1b[0m');

    const state = JSON.parse((await run(['sim', 'state'])).stdout) as { dialect: string; hosts: string[] };
    expect(state).toMatchObject({ dialect: '9', hosts: ['alpha', 'beta'] });
  });

  it('rejects bad arguments with exit 2 and unknown resources like drbdsetup', async () => {
    await run(['sim', 'init', '--hosts', 'alpha,beta', '--resources', 'r0:0']);
    const bad = await run(['sim', 'crash']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('expected HOST');
    expect((await run(['sim', 'crash', 'gamma'])).exitCode).toBe(2);
    expect((await run(['sim', 'frobnicate'])).exitCode).toBe(2);
    expect((await run(['sim', 'resync', 'r0'])).exitCode).toBe(2);
    const unknown = await run(['sim', 'link-down', 'r9']);
    expect(unknown.exitCode).toBe(10);
    expect(unknown.stderr).toBe('r9: No such resource\n');
    const status = await run(['status', 'r9']);
    expect(status).toMatchObject({ exitCode: 10, stderr: 'r9: No such resource\n' });
    expect((await run(['primary', 'r9'])).stderr).toBe('r9: Failure: (158) Unknown resource\n');
    const stranger = await run(['status'], { DRBD_SIM_HOST: 'gamma' });
    expect(stranger.exitCode).toBe(20);
    expect(stranger.stderr).toContain("host 'gamma' is not part of the simulated pair");
  });

  it('speaks the 8.4 dialect: minors, address pairs, and only three events2 options', async () => {
    await run(['sim', 'init', '--hosts', 'alpha,beta', '--resources', 'r0:0', '--dialect', '8.4']);
    const full = await run(['events2', '--full']);
    expect(full.exitCode).toBe(20);
    expect(full.stderr).toContain("unrecognized option '--full'");
    const refused = await run(['primary', '0'], { DRBD_SIM_HOST: 'beta' });
    expect(refused).toMatchObject({
      exitCode: 11,
      stderr: '0: State change failed: (-1) Multiple primaries not allowed by config\n',
    });
    expect((await run(['disconnect', 'ipv4:10.0.0.1:7789', 'ipv4:10.0.0.2:7789'])).exitCode).toBe(0);
    expect((await run(['cstate', '0'])).stdout).toBe('StandAlone\n');
    const now = await run(['events2', '--now']);
    expect(now.stdout).toBe(
      'exists resource name:r0 role:Primary suspended:no\nexists device name:r0 volume:0 minor:0 disk:UpToDate\nexists -\n',
    );
    expect((await run(['connect', 'r0', 'ipv4:10.0.0.1:7789', 'ipv4:10.0.0.2:7789'])).exitCode).toBe(0);
    expect((await run(['role', '0'])).stdout).toBe('Primary/Secondary\n');
  });

  it('injects faults from the command line', async () => {
    await run(['sim', 'init', '--hosts', 'alpha,beta', '--resources', 'r0:0', '--no-usermode-helper']);
    expect((await run(['sim', 'open', 'alpha', 'r0', 'multipathd'])).exitCode).toBe(0);
    expect((await run(['secondary', 'r0'])).exitCode).toBe(11);
    expect((await run(['sim', 'close', 'alpha', 'r0', 'multipathd'])).exitCode).toBe(0);
    expect((await run(['sim', 'split-brain', 'r0'])).exitCode).toBe(0);
    expect((await run(['cstate', 'r0', '1'])).stdout).toBe('StandAlone\n');
    expect((await run(['sim', 'disk-fail', 'beta', 'r0'])).exitCode).toBe(0);
    expect((await run(['dstate', '0'], { DRBD_SIM_HOST: 'beta' })).stdout).toBe('Diskless/DUnknown\n');
    expect((await run(['sim', 'crash', 'beta'])).exitCode).toBe(0);
    expect((await run(['status'], { DRBD_SIM_HOST: 'beta' })).exitCode).toBe(20);
    expect((await run(['sim', 'boot', 'beta'])).exitCode).toBe(0);
    expect((await run(['sim', 'tick'])).exitCode).toBe(0);
  });
});
