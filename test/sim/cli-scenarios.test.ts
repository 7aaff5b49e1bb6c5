// The scenario commands through the drbdsetup-sim executable: what they print to a running
// `events2` stream, and that bad input is refused with exit 2 and changes nothing.

import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SIM_BIN, tempDir } from './helpers.js';

function spawnEvents(dir: string, host: string) {
  return execa(SIM_BIN, ['events2', '--timestamps'], {
    env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: host, TZ: 'UTC' },
    timeout: 20_000,
    reject: false,
  });
}

type Child = ReturnType<typeof spawnEvents>;

describe('drbdsetup-sim sim scenario commands', () => {
  let dir: string;
  let cleanup: () => void;
  const children: Child[] = [];

  const run = (args: string[], host = 'alpha') =>
    execa(SIM_BIN, args, {
      env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: host },
      extendEnv: false,
      stripFinalNewline: false,
      timeout: 20_000,
      reject: false,
    });

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await child;
    }
    cleanup();
  });

  it('init takes the DRBD configuration the scenarios honour', async () => {
    const init = await run([
      'sim',
      'init',
      '--hosts',
      'alpha,beta,gamma',
      '--clients',
      'gamma',
      '--resources',
      'r0:0',
      '--fencing',
      'resource-and-stonith',
      '--fence-exit',
      '7',
      '--quorum',
      'majority',
      '--after-sb-0pri',
      'discard-zero-changes',
    ]);
    expect(init).toMatchObject({ exitCode: 0, stderr: '' });
    const state = JSON.parse((await run(['sim', 'state'])).stdout) as {
      hosts: string[];
      clients: string[];
      resources: { fencing: string; fenceExit: number; quorum: string; afterSb0pri: string }[];
    };
    expect(state.hosts).toEqual(['alpha', 'beta', 'gamma']);
    expect(state.clients).toEqual(['gamma']);
    expect(state.resources[0]).toMatchObject({
      fencing: 'resource-and-stonith',
      fenceExit: 7,
      quorum: 'majority',
      afterSb0pri: 'discard-zero-changes',
    });
    expect((await run(['status', 'r0'], 'gamma')).stdout).toContain('  disk:Diskless client:yes\n');
  });

  it('refuses bad input with exit 2 and leaves the state alone', async () => {
    await run(['sim', 'init', '--hosts', 'alpha,beta', '--resources', 'r0:0']);
    const before = (await run(['sim', 'state'])).stdout;
    const bad: [string[], RegExp][] = [
      [['sim', 'fence-peer', 'r0'], /fence-peer needs --exit N/],
      [['sim', 'fence-peer', 'r0', '--exit', '300'], /fence-peer needs --exit N/],
      [['sim', 'link-down', 'r0', '--cause', 'Gremlins'], /--cause must be one of NetworkFailure/],
      [['sim', 'link-down', 'r0', '--between', 'alpha'], /--between needs two hosts/],
      [['sim', 'split-brain', 'r0', '--after-sb-0pri', 'flip-a-coin'], /invalid after-sb-0pri policy/],
      [['sim', 'split-brain', 'r0', '--victim', 'gamma'], /unknown host 'gamma'/],
      [['sim', 'split-brain', 'r0', '--victim-holders', 'mount'], /need --victim/],
      [['sim', 'quorum-lost', 'alpha', 'r0', '--on-no-quorum', 'panic'], /--on-no-quorum must be one of/],
      [['sim', 'skip', 'alpha', 'three'], /skip needs an integer N/],
      [['sim', 'skip', 'alpha', '3'], /prints no '- skipped' lines/],
      [['sim', 'new-resource', 'r1'], /new-resource needs RES:MINOR/],
      [['sim', 'full-sync', 'r0'], /full-sync needs --source HOST/],
      [['sim', 'verify', 'r0', '--seconds', '0'], /--seconds needs a positive number/],
      [['sim', 'helper', 'alpha', 'r0', 'Fence Peer'], /expected HOST RES NAME|invalid helper name/],
    ];
    for (const [args, message] of bad) {
      const result = await run(args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    // A name already configured is DRBD's configuration error (exit 10), not a usage error.
    expect(await run(['sim', 'new-resource', 'r0:5'])).toMatchObject({
      exitCode: 10,
      stderr: 'r0: resource name or minor 5 already in use\n',
    });
    expect((await run(['sim', 'state'])).stdout).toBe(before);
    // DRBD 8.4 has no quorum, clients or third node.
    expect(
      (await run(['sim', 'init', '--hosts', 'a,b,c', '--resources', 'r0:0', '--dialect', '8.4'])).exitCode,
    ).toBe(2);
    await run(['sim', 'init', '--hosts', 'alpha,beta', '--resources', 'r0:0', '--dialect', '8.4']);
    const quorum = await run(['sim', 'quorum-lost', 'alpha', 'r0']);
    expect(quorum).toMatchObject({ exitCode: 2, stderr: 'quorum needs DRBD 9 (this pair speaks 8.4)\n' });
  });

  it('a running events2 stream shows fence-peer, the helper command and `- skipped N` (8.4)', async () => {
    await run(['sim', 'init', '--hosts', 'alpha,beta', '--resources', 'r0:0', '--dialect', '8.4']);
    const child = spawnEvents(dir, 'alpha');
    children.push(child);
    const lines: string[] = [];
    const waitFor = (match: (l: string) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out:\n${lines.join('\n')}`)), 10_000);
        const check = () => {
          if (lines.some(match)) {
            clearTimeout(timer);
            resolve();
          } else setTimeout(check, 20);
        };
        check();
      });
    if (!child.stdout) throw new Error('no stdout');
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    await waitFor((l) => l.endsWith(' exists -'));
    expect((await run(['sim', 'skip', 'alpha', '-5'])).exitCode).toBe(0);
    expect((await run(['sim', 'fence-peer', 'r0', '--exit', '5'])).exitCode).toBe(0);
    expect((await run(['sim', 'helper', 'alpha', 'r0', 'pri-on-incon-degr', '--exit', '1'])).exitCode).toBe(
      0,
    );
    await waitFor((l) => l.includes('helper:pri-on-incon-degr status:256'));
    const stream = lines.slice(lines.findIndex((l) => l.endsWith(' exists -')) + 1);
    const body = stream.map((l) => (l.startsWith('- ') ? l : l.replace(/^\S+ /, '')));
    expect(body).toEqual([
      '- skipped -5',
      'change connection name:r0 peer-node-id:0 conn-name:peer connection:NetworkFailure role:Unknown',
      'change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:Off peer-disk:DUnknown',
      'call helper name:r0 peer-node-id:0 conn-name:peer helper:fence-peer',
      'change connection name:r0 peer-node-id:0 conn-name:peer connection:Unconnected',
      'change connection name:r0 peer-node-id:0 conn-name:peer connection:Connecting',
      'response helper name:r0 peer-node-id:0 conn-name:peer helper:fence-peer status:1280',
      'change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 peer-disk:Outdated',
      'call helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:pri-on-incon-degr',
      'response helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:pri-on-incon-degr status:256',
    ]);
    // Timestamps everywhere except on the skip line (printed before the timestamp).
    expect(stream.filter((l) => !l.startsWith('- ')).every((l) => /^\d{4}-\d\d-\d\dT/.test(l))).toBe(true);
  });

  it('scenario commands change what status shows', async () => {
    await run(['sim', 'init', '--hosts', 'alpha,beta', '--resources', 'r0:0', '--resync-seconds', '30']);
    expect(
      (
        await run([
          'sim',
          'split-brain',
          'r0',
          '--after-sb-0pri',
          'discard-least-changes',
          '--primaries',
          'none',
          '--victim',
          'beta',
        ])
      ).exitCode,
    ).toBe(0);
    expect((await run(['status', 'r0'], 'beta')).stdout).toMatch(
      /^r0 role:Secondary\n {2}disk:Inconsistent\n {2}alpha role:Secondary\n {4}replication:SyncTarget peer-disk:UpToDate done:/,
    );
    expect((await run(['sim', 'pause-sync', 'r0', '--host', 'beta'])).exitCode).toBe(0);
    expect((await run(['status', 'r0'], 'alpha')).stdout).toContain(
      'replication:PausedSyncS peer-disk:Inconsistent',
    );
    expect((await run(['status', 'r0'], 'alpha')).stdout).toContain(' resync-suspended:peer\n');
    expect((await run(['sim', 'suspend-io', 'alpha', 'r0'])).exitCode).toBe(0);
    expect((await run(['status', 'r0'], 'alpha')).stdout).toMatch(/^r0 role:Secondary suspended:user\n/);
    expect((await run(['sim', 'detach', 'beta', 'r0'])).exitCode).toBe(0);
    expect((await run(['dstate', '0'], 'beta')).stdout).toBe('Diskless/UpToDate\n');
    expect((await run(['sim', 'new-resource', 'r1:1', '--primary', 'beta'])).exitCode).toBe(0);
    expect((await run(['cstate', 'r1', '1'], 'alpha')).stdout).toBe('Connected\n');
    expect((await run(['dstate', '1'], 'alpha')).stdout).toBe('Inconsistent/UpToDate\n');
  });
});
