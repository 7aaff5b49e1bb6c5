// How long one lease renewal (acquireOrRenew by the holder) takes per lock backend: the figures the
// leader defaults per backend are chosen from (src/core/leader.ts LEADER_DEFAULTS: retry ≥ 10 × the
// p99, three attempts before the renew deadline). file: a directory on local disk; command: the
// reference script deploy/lock-dir.sh (a shell script per call) and deploy/lock-gcs.sh against the
// fake GCS on loopback (curl per request; a real bucket adds its network round trips); etcd: one
// real member on loopback.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CommandLockStore } from '../src/adapters/lock/command-lock.js';
import { FileLockStore } from '../src/adapters/lock/file-lock.js';
import { PACKAGE_ROOT } from '../src/adapters/package-paths.js';
import { LEADER_DEFAULTS } from '../src/core/leader.js';
import type { LockStore } from '../src/ports/leases.js';
import { EtcdCluster } from '../test/fakes/etcd/cluster.js';
import { FakeGcs } from '../test/fakes/gcs/fake-gcs.js';
import type { BenchRow } from './report.js';
import { formatMs, median, percentile } from './stats.js';

export interface RenewalResult {
  readonly store: string;
  readonly backend: keyof typeof LEADER_DEFAULTS;
  readonly calls: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

async function measure(store: LockStore, calls: number): Promise<number[]> {
  const out: number[] = [];
  await store.acquireOrRenew('bench-leader', 'alpha', 6_000);
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const lease = await store.acquireOrRenew('bench-leader', 'alpha', 6_000);
    out.push(performance.now() - t0);
    if (!lease.held) throw new Error('the lease was not renewed');
  }
  return out;
}

function result(store: string, backend: RenewalResult['backend'], ms: readonly number[]): RenewalResult {
  return {
    store,
    backend,
    calls: ms.length,
    p50Ms: median(ms),
    p99Ms: percentile(ms, 99),
    maxMs: Math.max(...ms),
  };
}

export async function benchLockRenewal(calls: number): Promise<RenewalResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-bench-locks-'));
  const results: RenewalResult[] = [];
  try {
    const file = new FileLockStore({ dir: join(dir, 'file') });
    results.push(result('file (local directory)', 'file', await measure(file, calls)));
    await file.close();
    mkdirSync(join(dir, 'dir'));
    const lockDir = new CommandLockStore({
      command: join(PACKAGE_ROOT, 'deploy', 'lock-dir.sh'),
      args: ['--dir', join(dir, 'dir')],
      timeoutMs: 8_000,
    });
    results.push(result('command: deploy/lock-dir.sh', 'command', await measure(lockDir, calls)));
    await lockDir.close();
    const gcs = await FakeGcs.start({ token: 'bench-token' });
    const endpoint = gcs.endpoint;
    try {
      const lockGcs = new CommandLockStore({
        command: join(PACKAGE_ROOT, 'deploy', 'lock-gcs.sh'),
        args: ['--bucket', 'bench'],
        timeoutMs: 8_000,
        env: { GCS_ENDPOINT: endpoint, GCS_ACCESS_TOKEN: 'bench-token' },
      });
      results.push(
        result('command: deploy/lock-gcs.sh (fake GCS, loopback)', 'command', await measure(lockGcs, calls)),
      );
      await lockGcs.close();
    } finally {
      await gcs.stop();
    }
    const etcd = await EtcdCluster.start({ members: 1 });
    try {
      const { EtcdLockStore } = await import('../src/adapters/lock/etcd-lock.js');
      const store = new EtcdLockStore({ hosts: etcd.clientUrls, prefix: '/bench/', requestTimeoutMs: 3_000 });
      results.push(result('etcd (1 member, loopback)', 'etcd', await measure(store, calls)));
      await store.close();
    } finally {
      await etcd.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

export function describeLockRenewal(rs: readonly RenewalResult[]): string {
  return [
    'lease renewal (acquireOrRenew by the holder), p50 / p99 / max:',
    ...rs.map(
      (r) =>
        `  ${r.store.padEnd(50)} ${formatMs(r.p50Ms)} / ${formatMs(r.p99Ms)} / ${formatMs(r.maxMs)} (retry default ${LEADER_DEFAULTS[r.backend].retryMs} ms)`,
    ),
  ].join('\n');
}

export function lockRenewalRows(rs: readonly RenewalResult[]): BenchRow[] {
  return rs.map((r) => ({
    benchmark: `lease renewal per lock store (${r.calls} renewals each)`,
    measure: r.store,
    value: `p50 ${formatMs(r.p50Ms)} / p99 ${formatMs(r.p99Ms)} / max ${formatMs(r.maxMs)}`,
    baseline: `default retry for ${r.backend}: ${LEADER_DEFAULTS[r.backend].retryMs} ms (an answer slower than that counts as a failure)`,
    ratio: `p99 is ${((100 * r.p99Ms) / LEADER_DEFAULTS[r.backend].retryMs).toFixed(1)} % of the retry`,
  }));
}
