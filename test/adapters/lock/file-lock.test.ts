import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { FileLockStore } from '../../../src/adapters/lock/file-lock.js';
import { LockStoreError } from '../../../src/ports/leases.js';
import { tempDir } from '../../helpers/cleanup.js';
import { describeLockContract } from './contract.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describeLockContract('file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-file-lock-'));
  return {
    store: new FileLockStore({ dir }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString(),
  );
}

describe('FileLockStore', () => {
  it('refuses keys that are not plain file names', async () => {
    const store = new FileLockStore({ dir: tempDir('drbd-chatops-file-lock-') });
    for (const key of ['', '../r0', '..', '.hidden', 'a/b', 'a\\b', 'r0\n', '-r0', 'r 0', 'x'.repeat(129)]) {
      await expect(store.acquireOrRenew(key, 'alpha', 1000), JSON.stringify(key)).rejects.toThrow(
        /invalid lock key/,
      );
      await expect(store.read(key), JSON.stringify(key)).rejects.toThrow(RangeError);
      await expect(store.release(key, 'alpha'), JSON.stringify(key)).rejects.toThrow(RangeError);
    }
    await expect(store.acquireOrRenew('r0', '', 1000)).rejects.toThrow(RangeError);
    await expect(store.acquireOrRenew('r0', 'alpha', 0)).rejects.toThrow(RangeError);
  });

  it('creates its directory, writes the record whole and leaves no guard or temp file behind', async () => {
    const dir = join(tempDir('drbd-chatops-file-lock-'), 'nested', 'locks');
    const store = new FileLockStore({ dir, now: () => 1_000_000 });
    expect(await store.acquireOrRenew('r0', 'alpha', 5000)).toEqual({
      held: true,
      holder: 'alpha',
      expiresAt: 1_005_000,
      token: 1,
    });
    expect(JSON.parse(readFileSync(join(dir, 'r0.lease'), 'utf8'))).toEqual({
      holder: 'alpha',
      expiresAt: 1_005_000,
      token: 1,
    });
    expect(spawnSync('ls', ['-A', dir]).stdout.toString().trim().split('\n')).toEqual(['r0.lease']);
  });

  it('decides expiry with its clock', async () => {
    let now = 1_000_000;
    const store = new FileLockStore({ dir: tempDir('drbd-chatops-file-lock-'), now: () => now });
    await store.acquireOrRenew('r0', 'alpha', 5000);
    now += 4999;
    expect((await store.acquireOrRenew('r0', 'beta', 5000)).held).toBe(false);
    now += 1;
    expect(await store.read('r0')).toEqual({ held: false, holder: null, expiresAt: null, token: 1 });
    expect(await store.acquireOrRenew('r0', 'beta', 5000)).toMatchObject({ held: true, token: 2 });
  });

  it('recovers a guard left by a crashed process on this host (dead pid) at once', async () => {
    const dir = tempDir('drbd-chatops-file-lock-');
    writeFileSync(join(dir, 'r0.guard'), `${hostname()} ${deadPid()} 0123456789abcdef ${Date.now()}\n`);
    const store = new FileLockStore({ dir, guardTimeoutMs: 2000 });
    const started = Date.now();
    expect((await store.acquireOrRenew('r0', 'alpha', 1000)).held).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(existsSync(join(dir, 'r0.guard'))).toBe(false);
  });

  it('recovers a guard older than staleGuardMs whatever its owner, and an empty one', async () => {
    const dir = tempDir('drbd-chatops-file-lock-');
    const guard = join(dir, 'r0.guard');
    writeFileSync(guard, `other-host ${process.pid} 0123456789abcdef ${Date.now()}\n`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(guard, old, old);
    const store = new FileLockStore({ dir, guardTimeoutMs: 2000 });
    expect((await store.acquireOrRenew('r0', 'alpha', 1000)).held).toBe(true);

    writeFileSync(guard, '');
    const quick = new FileLockStore({ dir, guardTimeoutMs: 3000, staleGuardMs: 300 });
    expect((await quick.acquireOrRenew('r0', 'alpha', 1000)).held).toBe(true);
  });

  it('waits for a live guard, then fails with LockStoreError', async () => {
    const dir = tempDir('drbd-chatops-file-lock-');
    writeFileSync(join(dir, 'r0.guard'), `${hostname()} ${process.pid} 0123456789abcdef ${Date.now()}\n`);
    const store = new FileLockStore({ dir, guardTimeoutMs: 300 });
    await expect(store.acquireOrRenew('r0', 'alpha', 1000)).rejects.toThrow(LockStoreError);
    await expect(store.release('r0', 'alpha')).rejects.toThrow(
      /timed out after 300 ms waiting for the guard/,
    );
    // A read needs no guard.
    expect((await store.read('r0')).token).toBe(0);
  });

  it('reports a corrupt record or an unusable directory as LockStoreError', async () => {
    const dir = tempDir('drbd-chatops-file-lock-');
    writeFileSync(join(dir, 'r0.lease'), '{"holder":"alpha"');
    writeFileSync(join(dir, 'r1.lease'), '{"holder":"alpha","expiresAt":null,"token":1}');
    const store = new FileLockStore({ dir });
    await expect(store.read('r0')).rejects.toThrow(LockStoreError);
    await expect(store.acquireOrRenew('r1', 'alpha', 1000)).rejects.toThrow(/unexpected shape/);

    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    await expect(new FileLockStore({ dir: file }).read('r0')).rejects.toThrow(LockStoreError);
    await expect(new FileLockStore({ dir: join(file, 'sub') }).acquireOrRenew('r0', 'a', 1)).rejects.toThrow(
      LockStoreError,
    );
  });

  it('refuses calls after close()', async () => {
    const store = new FileLockStore({ dir: tempDir('drbd-chatops-file-lock-') });
    await store.close();
    await expect(store.read('r0')).rejects.toBeInstanceOf(LockStoreError);
  });
});

/**
 * The store's source, compiled for plain Node into `dir` with its relative imports intact, so child
 * processes run exactly what is under test without a build step.
 */
function compileForChildren(dir: string): string {
  for (const file of ['src/ports/leases.ts', 'src/adapters/sleep.ts', 'src/adapters/lock/file-lock.ts']) {
    const out = ts.transpileModule(readFileSync(join(ROOT, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const target = join(dir, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, out);
  }
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const child = join(dir, 'contender.js');
  writeFileSync(
    child,
    `import { FileLockStore } from './src/adapters/lock/file-lock.js';
const [dir, name, runMs] = process.argv.slice(2);
const store = new FileLockStore({ dir });
const end = Date.now() + Number(runMs);
let heldFor = 0;
while (Date.now() < end) {
  const t0 = Date.now();
  const s = await store.acquireOrRenew('shared', name, 150);
  const t1 = Date.now();
  if (s.held) {
    process.stdout.write(JSON.stringify({ name, t0, t1, token: s.token, expiresAt: s.expiresAt }) + '\\n');
    // Give it up now and then so the lease changes hands while the others keep asking.
    if (++heldFor % 5 === 0) {
      const r0 = Date.now();
      await store.release('shared', name);
      process.stdout.write(JSON.stringify({ name, released: s.token, t0: r0, t1: Date.now() }) + '\\n');
    }
  }
  await new Promise((r) => setTimeout(r, Math.random() * 8));
}
`,
  );
  return child;
}

describe('FileLockStore across processes', () => {
  it('never lets two processes hold the lease at once', async () => {
    const dir = tempDir('drbd-chatops-file-lock-');
    const child = compileForChildren(tempDir('drbd-chatops-file-lock-'));
    const names = ['p1', 'p2', 'p3', 'p4'];
    const runs = await Promise.all(
      names.map((name) => execa(process.execPath, [child, dir, name, '2000'], { timeout: 20_000 })),
    );
    interface Held {
      name: string;
      t0: number;
      t1: number;
      token: number;
      expiresAt: number;
    }
    interface Released {
      name: string;
      released: number;
      t0: number;
      t1: number;
    }
    const lines = runs.flatMap((r) =>
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Held | Released),
    );
    const held = lines.filter((l): l is Held => 'token' in l);
    const releases = new Map(lines.filter((l): l is Released => 'released' in l).map((l) => [l.released, l]));
    const byToken = new Map<number, Held[]>();
    for (const h of held) byToken.set(h.token, [...(byToken.get(h.token) ?? []), h]);
    const tokens = [...byToken.keys()].sort((a, b) => a - b);
    // Real contention: the lease changed hands many times, between different processes.
    expect(tokens.length).toBeGreaterThan(10);
    expect(new Set(held.map((h) => h.name)).size).toBeGreaterThan(1);
    for (const [token, list] of byToken) {
      // One token, one holder.
      expect(new Set(list.map((h) => h.name)).size, `token ${token}`).toBe(1);
    }
    // Each call decides at some moment between its start (t0) and its return (t1). The holding with
    // the next token was decided after every renewal of the previous one (a renewal that started
    // after the new holder's call had returned would be two holders at once), and after the previous
    // lease was released or had run out.
    for (let i = 1; i < tokens.length; i++) {
      const prevToken = tokens[i - 1] ?? 0;
      const prev = byToken.get(prevToken) ?? [];
      const next = byToken.get(tokens[i] ?? 0) ?? [];
      const taken = Math.min(...next.map((h) => h.t1));
      const what = `token ${prevToken} → ${tokens[i]}`;
      expect(taken, what).toBeGreaterThanOrEqual(Math.max(...prev.map((h) => h.t0)));
      const release = releases.get(prevToken);
      if (release) expect(taken, what).toBeGreaterThanOrEqual(release.t0);
      else expect(taken, what).toBeGreaterThanOrEqual(Math.max(...prev.map((h) => h.expiresAt)));
    }
  });
});
