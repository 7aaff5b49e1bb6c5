import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';
import { SIM_BIN, tempDir } from './helpers.js';

function spawnEventsProcess(dir: string, host: string, args: string[]) {
  return execa(SIM_BIN, ['events2', ...args], {
    env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: host, TZ: 'UTC' },
    timeout: 20_000,
    reject: false,
  });
}

type Child = ReturnType<typeof spawnEventsProcess>;

/** Collects stdout lines of a child and lets the test wait for one matching a predicate. */
class LineReader {
  readonly lines: string[] = [];
  private waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  constructor(child: Child) {
    const stdout = child.stdout;
    if (!stdout) throw new Error('no stdout');
    createInterface({ input: stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    });
  }
  waitFor(match: (line: string) => boolean, timeoutMs = 5000): Promise<string> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out; got:\n${this.lines.join('\n')}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }
}

describe('drbdsetup-sim events2 as a streaming process', () => {
  let dir: string;
  let cleanup: () => void;
  const children: Child[] = [];

  const spawnEvents = (host: string, args: string[]): Child => {
    const child = spawnEventsProcess(dir, host, args);
    children.push(child);
    return child;
  };

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    SimulatedPair.init(dir, {
      hosts: ['alpha', 'beta'],
      resources: [
        { name: 'r0', minor: 0 },
        { name: 'r1', minor: 1 },
      ],
      resyncSeconds: 0.6,
    });
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await child;
    }
    cleanup();
  });

  it('prints the dump, then each change within milliseconds, with timestamps and statistics', async () => {
    const child = spawnEvents('alpha', ['--timestamps', '--statistics']);
    const reader = new LineReader(child);
    const end = await reader.waitFor((l) => l.endsWith(' exists -'));
    expect(end).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 exists -$/);
    expect(reader.lines).toHaveLength(11);
    expect(reader.lines[0]).toMatch(
      / exists resource name:r0 role:Primary suspended:no force-io-failures:no write-ordering:flush may_promote:no promotion_score:10102$/,
    );

    const pair = SimulatedPair.open(dir);
    const started = performance.now();
    expect(pair.secondary('alpha', 'r0').exitCode).toBe(0);
    const line = await reader.waitFor((l) => l.includes('change resource name:r0'));
    const latencyMs = performance.now() - started;
    expect(line).toMatch(
      /^\S+ change resource name:r0 role:Secondary may_promote:yes promotion_score:10102$/,
    );
    expect(latencyMs).toBeLessThan(1000);
  });

  it('follows a resync to its end by ticking on its own', async () => {
    const reader = new LineReader(spawnEvents('beta', ['r0']));
    await reader.waitFor((l) => l === 'exists -');
    SimulatedPair.open(dir).resync('r0', { seconds: 0.6 });
    await reader.waitFor((l) => l.includes('replication:SyncTarget'));
    await reader.waitFor((l) => /change peer-device .* done:\d+\.\d\d$/.test(l) && !l.includes('done:0.00'));
    const finished = await reader.waitFor(
      (l) => l.startsWith('change') && l.includes('replication:Established'),
    );
    expect(finished).toBe(
      'change peer-device name:r0 peer-node-id:0 conn-name:alpha volume:0 replication:Established',
    );
    expect(reader.lines).toContain(
      'change device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:UpToDate client:no open:no quorum:yes',
    );
    expect(reader.lines.some((l) => l.includes('name:r1'))).toBe(false);
  });

  it('exits non-zero when its host crashes; a stream started after boot prints the fresh dump', async () => {
    const child = spawnEvents('beta', []);
    const reader = new LineReader(child);
    await reader.waitFor((l) => l === 'exists -');
    const pair = SimulatedPair.open(dir);
    pair.crash('beta');
    const result = await child;
    expect(result.exitCode).toBe(20);
    expect(result.stderr).toContain('host went down');

    const whileDown = await execa(SIM_BIN, ['events2', '--now'], {
      env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: 'beta' },
      timeout: 20_000,
      reject: false,
    });
    expect(whileDown.exitCode).toBe(20);
    expect(whileDown.stderr).toContain("Could not connect to 'drbd' generic netlink family");

    pair.boot('beta');
    const fresh = await execa(SIM_BIN, ['events2', '--now', 'r0'], {
      env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: 'beta' },
      timeout: 20_000,
      reject: false,
    });
    expect(fresh.exitCode).toBe(0);
    // alpha stayed Primary while beta was down, so beta comes back as SyncTarget.
    expect(fresh.stdout.split('\n')[0]).toBe(
      'exists resource name:r0 role:Secondary suspended:no force-io-failures:no may_promote:no promotion_score:10001',
    );
    expect(fresh.stdout).toContain(
      'replication:SyncTarget peer-disk:UpToDate peer-client:no resync-suspended:no done:',
    );
    expect(fresh.stdout.split('\n').at(-1)).toBe('exists -');
  });
});
