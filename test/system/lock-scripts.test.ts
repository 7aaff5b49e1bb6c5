// The reference scripts in deploy/ driven through CommandLockStore, against the same contract as
// every other backend: lock-dir.sh on a temporary directory, lock-gcs.sh against a fake GCS JSON API
// on loopback. Plus what only the scripts have: stale guards, storage errors, preconditions.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandLockStore } from '../../src/adapters/lock/command-lock.js';
import { LockStoreError } from '../../src/ports/leases.js';
import { describeLockContract } from '../adapters/lock/contract.js';
import { FakeGcs } from '../fakes/gcs/fake-gcs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOCK_DIR_SH = join(ROOT, 'deploy/lock-dir.sh');
const LOCK_GCS_SH = join(ROOT, 'deploy/lock-gcs.sh');
// .ci/run installs curl; without it the GCS script cannot be checked, which is a failure.
const hasCurl = spawnSync('curl', ['--version']).status === 0;

// Scripts work in whole seconds: the TTL is 1 s and expiry is known to the millisecond at best.
const SCRIPT_OPTIONS = { ttlMs: 1000, expiryToleranceMs: 1100, propertyTimeMs: 5000 } as const;

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-lock-dir-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function gcsStore(fake: FakeGcs, env: Record<string, string> = {}): CommandLockStore {
  return new CommandLockStore({
    command: LOCK_GCS_SH,
    timeoutMs: 15_000,
    env: {
      GCS_ENDPOINT: fake.endpoint,
      GCS_BUCKET: 'pair-locks',
      GCS_ACCESS_TOKEN: 'test-token',
      GCS_CURL_TIMEOUT: '5',
      ...env,
    },
  });
}

describeLockContract(
  'command: deploy/lock-dir.sh',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-lock-dir-'));
    return {
      store: new CommandLockStore({ command: LOCK_DIR_SH, args: ['--dir', dir], timeoutMs: 15_000 }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  SCRIPT_OPTIONS,
);

describe('deploy/lock-dir.sh', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    execa(LOCK_DIR_SH, args, { reject: false, timeout: 20_000, env });

  it('prints the record and keeps it in KEY.lease', async () => {
    const dir = tempDir();
    const locked = await run(['--dir', dir, 'lock', 'r0', 'alpha', '30']);
    expect(locked.exitCode).toBe(0);
    expect(locked.stdout).toMatch(/^holder=alpha expires=\d+\.\d{3} token=1$/);
    expect(readFileSync(join(dir, 'r0.lease'), 'utf8')).toMatch(/^alpha \d+ 1\n$/);
    const refused = await run(['--dir', dir, 'lock', 'r0', 'beta', '30']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout).toMatch(/^holder=alpha expires=\d+\.\d{3} token=1$/);
    expect(existsSync(join(dir, 'r0.guard'))).toBe(false);
  });

  it('takes the directory from LOCK_DIR', async () => {
    const dir = tempDir();
    const r = await run(['status', 'r0'], { LOCK_DIR: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('holder=- expires=- token=0');
  });

  it('refuses keys that are not plain file names, bad TTLs and a missing directory with status 2', async () => {
    const dir = tempDir();
    for (const key of ['../r0', '.hidden', 'a/b', 'r0;id', '-r0']) {
      const r = await run(['--dir', dir, 'lock', key, 'alpha', '5']);
      expect(r.exitCode, key).toBe(2);
      expect(r.stderr).toMatch(/invalid key/);
    }
    expect((await run(['--dir', dir, 'lock', 'r0', 'alpha', '0'])).exitCode).toBe(2);
    expect((await run(['--dir', dir, 'lock', 'r0', 'alpha', '1.5'])).exitCode).toBe(2);
    expect((await run(['--dir', join(dir, 'missing'), 'status', 'r0'])).exitCode).toBe(2);
    expect((await run(['--dir', dir, 'frobnicate', 'r0'])).exitCode).toBe(2);
    expect((await run([])).exitCode).toBe(2);
  });

  it('a corrupt lease file is an error (status 2), never "held by someone else"', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'r0.lease'), 'garbage\n');
    const r = await run(['--dir', dir, 'lock', 'r0', 'alpha', '5']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/corrupt lease file/);
  });

  it('breaks a guard left by a dead process on this host', async () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    const guard = join(dir, 'r0.guard');
    mkdirSync(guard);
    writeFileSync(join(guard, 'owner'), `${hostname()} ${dead} ${Math.floor(Date.now() / 1000)}\n`);
    const started = Date.now();
    const r = await run(['--dir', dir, 'lock', 'r0', 'alpha', '5']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/broke the stale guard/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('breaks a guard older than LOCK_DIR_STALE_SECONDS, even from another host', async () => {
    const dir = tempDir();
    const guard = join(dir, 'r0.guard');
    mkdirSync(guard);
    writeFileSync(join(guard, 'owner'), `other-host 1 ${Math.floor(Date.now() / 1000) - 60}\n`);
    const r = await run(['--dir', dir, 'lock', 'r0', 'alpha', '5'], { LOCK_DIR_STALE_SECONDS: '5' });
    expect(r.exitCode).toBe(0);
  });

  it('waits for a live guard and gives up with status 2 (not 1) after LOCK_DIR_WAIT_SECONDS', async () => {
    const dir = tempDir();
    const guard = join(dir, 'r0.guard');
    mkdirSync(guard);
    writeFileSync(join(guard, 'owner'), `${hostname()} ${process.pid} ${Math.floor(Date.now() / 1000)}\n`);
    const r = await run(['--dir', dir, 'lock', 'r0', 'alpha', '5'], { LOCK_DIR_WAIT_SECONDS: '1' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/timed out waiting/);
  });
});

describe('deploy/lock-gcs.sh against a fake GCS', () => {
  it('has curl to run the script with', () => {
    expect(hasCurl, 'curl is not installed: apt-get install -y curl').toBe(true);
  });

  describeLockContract(
    'command: deploy/lock-gcs.sh',
    async () => {
      const fake = await FakeGcs.start({ token: 'test-token' });
      return { store: gcsStore(fake), cleanup: () => fake.stop() };
    },
    SCRIPT_OPTIONS,
  );

  async function startFake(): Promise<FakeGcs> {
    const fake = await FakeGcs.start({ token: 'test-token' });
    cleanup.push(() => fake.stop());
    return fake;
  }

  it('writes only with a generation precondition (0 when creating) and keeps the record in KEY.lease', async () => {
    const fake = await startFake();
    const store = gcsStore(fake, { GCS_PREFIX: 'drbd-chatops/' });
    const first = await store.acquireOrRenew('r0', 'alpha', 5000);
    expect(first).toMatchObject({ held: true, holder: 'alpha', token: 1 });
    const stored = fake.object('pair-locks', 'drbd-chatops/r0.lease');
    expect(stored?.content).toMatch(/^alpha \d+ 1\n$/);
    await store.acquireOrRenew('r0', 'alpha', 5000);
    const uploads = fake.requests.filter((r) => r.method === 'POST');
    expect(uploads).toHaveLength(2);
    expect(uploads[0]?.path).toContain('ifGenerationMatch=0');
    expect(uploads[0]?.path).toContain('name=drbd-chatops%2Fr0.lease');
    expect(uploads[1]?.path).toContain(`ifGenerationMatch=${stored?.generation}`);
  });

  it('a write that loses the race (412) re-reads and reports the live winner with exit 1', async () => {
    const fake = await startFake();
    const store = gcsStore(fake);
    fake.putObject('pair-locks', 'r0.lease', '- 0 4\n');
    const until = Date.now() + 30_000;
    // The other host writes between this script's read and its write.
    fake.beforeNextUpload(() => fake.putObject('pair-locks', 'r0.lease', `beta ${until} 5\n`));
    const refused = await store.acquireOrRenew('r0', 'alpha', 5000);
    expect(refused).toEqual({ held: false, holder: 'beta', expiresAt: until, token: 5 });
    expect(fake.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([412]);
    expect(fake.object('pair-locks', 'r0.lease')?.content).toBe(`beta ${until} 5\n`);
  });

  it('after a lost race on an already expired lease it tries again and wins with the next token', async () => {
    const fake = await startFake();
    const store = gcsStore(fake);
    fake.beforeNextUpload(() => fake.putObject('pair-locks', 'r0.lease', `beta ${Date.now() - 1000} 7\n`));
    const won = await store.acquireOrRenew('r0', 'alpha', 5000);
    expect(won).toMatchObject({ held: true, holder: 'alpha', token: 8 });
    expect(fake.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([412, 200]);
  });

  it('unlock only clears the lease of its holder, with a precondition, and keeps the token', async () => {
    const fake = await startFake();
    const store = gcsStore(fake);
    await store.acquireOrRenew('r0', 'alpha', 5000);
    await store.release('r0', 'beta');
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    const gen = fake.object('pair-locks', 'r0.lease')?.generation;
    await store.release('r0', 'alpha');
    expect(fake.object('pair-locks', 'r0.lease')?.content).toBe('- 0 1\n');
    expect(fake.requests.filter((r) => r.method === 'POST').at(-1)?.path).toContain(
      `ifGenerationMatch=${gen}`,
    );
  });

  it('answers a server error, a refused token or an unreachable endpoint with LockStoreError', async () => {
    const fake = await startFake();
    fake.failNext(503);
    await expect(gcsStore(fake).acquireOrRenew('r0', 'alpha', 5000)).rejects.toThrow(/HTTP 503/);
    await expect(gcsStore(fake, { GCS_ACCESS_TOKEN: 'wrong' }).read('r0')).rejects.toThrow(/HTTP 401/);
    await expect(gcsStore(fake, { GCS_ENDPOINT: 'http://127.0.0.1:9' }).read('r0')).rejects.toBeInstanceOf(
      LockStoreError,
    );
    fake.putObject('pair-locks', 'r0.lease', 'UNLOCKED\n');
    await expect(gcsStore(fake).read('r0')).rejects.toThrow(/does not hold a lease record/);
  });
});
