// The etcd lock backend against a real etcd (Debian's etcd-server): the shared LockStore contract on
// one member, then what only a real cluster shows: members failing under a held lease, the whole
// store unreachable (stopped or hung), and two hosts' clients contending for one pair's lease.

import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdLockStore, etcdTtlSeconds } from '../../src/adapters/lock/etcd-lock.js';
import { type LeaseState, LockStoreError } from '../../src/ports/leases.js';
import { describeLockContract } from '../adapters/lock/contract.js';
import { EtcdCluster, freePorts } from '../fakes/etcd/index.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let prefixSeq = 0;
/** A prefix no other test uses: one etcd serves every test, as one cluster serves many pairs. */
function freshPrefix(label: string): string {
  prefixSeq++;
  return `/drbd-chatops-test/${label}-${process.pid}-${prefixSeq}/`;
}

/** Runs `fn`, returning how long it took to settle and how it settled. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - start, value };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}

/** Retries `fn` until it succeeds or `timeoutMs` passes; returns the value and the failures seen. */
async function eventually<T>(
  fn: () => Promise<T>,
  timeoutMs: number,
  pauseMs = 200,
): Promise<{ value: T; failures: unknown[] }> {
  const failures: unknown[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return { value: await fn(), failures };
    } catch (error) {
      failures.push(error);
      if (Date.now() > deadline) throw error;
      await sleep(pauseMs);
    }
  }
}

describe('etcd lock store on one member', () => {
  let etcd: EtcdCluster;
  const stores: EtcdLockStore[] = [];
  const open = (options: Partial<ConstructorParameters<typeof EtcdLockStore>[0]> = {}) => {
    const store = new EtcdLockStore({ hosts: etcd.clientUrls, prefix: freshPrefix('single'), ...options });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await etcd?.stop();
  });

  describeLockContract(
    'etcd (one member)',
    async () => ({ store: open(), cleanup: async () => undefined }),
    // etcd leases count whole seconds: 1000 ms is exact, and expiresAt of someone else's lease is
    // known to ±0.5 s (LeaseTimeToLive truncates to seconds). etcd also revokes expired leases on its
    // own schedule (and raises TTLs below 1.5 × its election timeout), late on a loaded machine, so
    // "expired" is only checked well after the TTL.
    { ttlMs: 1000, expiryToleranceMs: 2500 },
  );

  it('rounds lease lengths up to whole seconds, at least one', () => {
    expect(etcdTtlSeconds(1)).toBe(1);
    expect(etcdTtlSeconds(999)).toBe(1);
    expect(etcdTtlSeconds(1000)).toBe(1);
    expect(etcdTtlSeconds(1001)).toBe(2);
    expect(etcdTtlSeconds(15_000)).toBe(15);
    expect(() => etcdTtlSeconds(0)).toThrow(RangeError);
    expect(() => etcdTtlSeconds(Number.NaN)).toThrow(RangeError);
  });

  it('keeps each pair under its own prefix; the token is the create revision; renewals write nothing', async () => {
    const pairA = freshPrefix('pair-a');
    const pairB = freshPrefix('pair-b');
    const a = open({ prefix: pairA });
    const b = open({ prefix: pairB });
    const leaderA = await a.acquireOrRenew('leader', 'alpha', 5000);
    const leaderB = await b.acquireOrRenew('leader', 'beta', 5000);
    expect(leaderA.held).toBe(true);
    expect(leaderB.held).toBe(true);
    expect(leaderB.token).toBeGreaterThan(leaderA.token);

    const raw = new Etcd3({ hosts: etcd.clientUrls });
    try {
      const keys = await raw.getAll().prefix(pairA).strings();
      expect(keys).toEqual({ [`${pairA}holder/leader`]: 'alpha', [`${pairA}token/leader`]: 'alpha' });
      const before = await raw.get(`${pairA}holder/leader`).exec();
      const kv = before.kvs[0];
      expect(Number(kv?.create_revision)).toBe(leaderA.token);
      expect(kv?.lease).not.toBe('0');

      // Renewals are lease keep-alives: same token, no new revision of the key.
      for (let i = 0; i < 3; i++) {
        const renewed = await a.acquireOrRenew('leader', 'alpha', 5000);
        expect(renewed).toMatchObject({ held: true, holder: 'alpha', token: leaderA.token });
      }
      const after = await raw.get(`${pairA}holder/leader`).exec();
      expect(after.kvs[0]?.mod_revision).toBe(kv?.mod_revision);

      // A different lease length swaps in a new lease (one write) and keeps the token.
      const longer = await a.acquireOrRenew('leader', 'alpha', 9500);
      expect(longer).toMatchObject({ held: true, token: leaderA.token });
      const swapped = (await raw.get(`${pairA}holder/leader`).exec()).kvs[0];
      expect(swapped?.create_revision).toBe(kv?.create_revision);
      expect(swapped?.lease).not.toBe(kv?.lease);
      const lease = await raw.leaseClient.leaseTimeToLive({ ID: swapped?.lease ?? '0' });
      expect(lease.grantedTTL).toBe('10');
      const old = await raw.leaseClient.leaseTimeToLive({ ID: kv?.lease ?? '0' });
      expect(old.TTL).toBe('-1'); // the replaced lease was revoked

      // The other pair was not touched.
      expect(await b.read('leader')).toMatchObject({ held: true, holder: 'beta', token: leaderB.token });

      // Release revokes the lease and leaves only the token record.
      await a.release('leader', 'alpha');
      expect(await raw.getAll().prefix(pairA).strings()).toEqual({ [`${pairA}token/leader`]: 'alpha' });
      const revoked = await raw.leaseClient.leaseTimeToLive({ ID: swapped?.lease ?? '0' });
      expect(revoked.TTL).toBe('-1');
    } finally {
      raw.close();
    }
  });

  it('two hosts contend: only one holds; when it stops renewing the other takes over with a higher token', async () => {
    const prefix = freshPrefix('two-hosts');
    // Two hosts of one pair: separate clients (connections) on the same prefix.
    const alphaStore = open({ prefix });
    const betaStore = open({ prefix });
    const ttlMs = 2000;

    const [alphaFirst, betaFirst] = await Promise.all([
      alphaStore.acquireOrRenew('leader', 'alpha', ttlMs),
      betaStore.acquireOrRenew('leader', 'beta', ttlMs),
    ]);
    expect([alphaFirst.held, betaFirst.held].filter(Boolean)).toHaveLength(1);
    const [winnerStore, loserStore, winner, loser] = alphaFirst.held
      ? [alphaStore, betaStore, 'alpha', 'beta']
      : [betaStore, alphaStore, 'beta', 'alpha'];
    const won = alphaFirst.held ? alphaFirst : betaFirst;

    // While the winner renews, the loser keeps failing to take it.
    for (let i = 0; i < 6; i++) {
      await sleep(500);
      expect(await winnerStore.acquireOrRenew('leader', winner, ttlMs)).toMatchObject({
        held: true,
        token: won.token,
      });
      expect(await loserStore.acquireOrRenew('leader', loser, ttlMs)).toMatchObject({
        held: false,
        holder: winner,
        token: won.token,
      });
    }

    // The winner's host dies: no release, no more renewals.
    const lastRenewal = await winnerStore.acquireOrRenew('leader', winner, ttlMs);
    await winnerStore.close();
    let takeover: LeaseState | undefined;
    const deadline = Date.now() + ttlMs + 5000;
    while (Date.now() < deadline) {
      const attempt = await loserStore.acquireOrRenew('leader', loser, ttlMs);
      if (attempt.held) {
        takeover = attempt;
        break;
      }
      expect(attempt.holder).toBe(winner);
      await sleep(200);
    }
    const takenAt = Date.now();
    expect(takeover, 'the surviving host took over').toBeDefined();
    expect(takeover?.holder).toBe(loser);
    expect(takeover?.token).toBeGreaterThan(won.token);
    // Not before the dead holder's lease ran out (its own lower bound, less etcd's checking period).
    expect(takenAt).toBeGreaterThanOrEqual((lastRenewal.expiresAt ?? 0) - 100);

    // The old holder comes back (a new process): it must not get its lease or token back.
    const comeback = open({ prefix });
    expect(await comeback.acquireOrRenew('leader', winner, ttlMs)).toMatchObject({
      held: false,
      holder: loser,
      token: takeover?.token,
    });
  });

  it('close() rejects calls still waiting and leaves no timers behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const store = new EtcdLockStore({ hosts: etcd.clientUrls, prefix: freshPrefix('close') });
    await store.acquireOrRenew('leader', 'alpha', 1000);
    await store.acquireOrRenew('leader', 'alpha', 1000);
    await store.read('leader');
    await store.close();
    await sleep(50);
    expect(timers()).toBeLessThanOrEqual(before);
    await expect(store.read('leader')).rejects.toBeInstanceOf(LockStoreError);

    // A call stuck on a hung member is rejected by close() at once, not at its deadline.
    const hung = new EtcdLockStore({
      hosts: etcd.clientUrls,
      prefix: freshPrefix('close'),
      requestTimeoutMs: 20_000,
    });
    await hung.read('leader');
    etcd.pauseMember(0);
    try {
      const pending = timed(() => hung.acquireOrRenew('leader', 'alpha', 1000));
      await sleep(200);
      await hung.close();
      const result = await pending;
      expect(result.error).toBeInstanceOf(LockStoreError);
      expect(result.ms).toBeLessThan(2000);
    } finally {
      etcd.resumeMember(0);
    }
    await etcd.waitHealthy();
  });
});

describe('etcd lock store with the store unreachable', () => {
  it('a closed port: every operation rejects with LockStoreError within milliseconds', async () => {
    const [port] = await freePorts(1);
    const requestTimeoutMs = 2000;
    const store = new EtcdLockStore({ hosts: [`http://127.0.0.1:${port}`], prefix: '/x/', requestTimeoutMs });
    try {
      const results = [
        await timed(() => store.acquireOrRenew('leader', 'alpha', 5000)),
        await timed(() => store.read('leader')),
        await timed(() => store.release('leader', 'alpha')),
        await timed(() => store.acquireOrRenew('leader', 'alpha', 5000)),
      ];
      for (const result of results) {
        expect(result.error).toBeInstanceOf(LockStoreError);
        expect(result.ms).toBeLessThan(requestTimeoutMs + 500);
      }
      console.log(`closed port: rejected after ${results.map((r) => r.ms.toFixed(1)).join(', ')} ms`);
      expect(String(results[0]?.error)).toMatch(/ECONNREFUSED|UNAVAILABLE|skipped/);
    } finally {
      await store.close();
    }
  });

  it('all members stopped, then hung: rejects within requestTimeoutMs; recovers when etcd is back', async () => {
    const etcd = await EtcdCluster.start({ members: 3 });
    const requestTimeoutMs = 1500;
    const store = new EtcdLockStore({
      hosts: etcd.clientUrls,
      prefix: freshPrefix('down'),
      requestTimeoutMs,
    });
    try {
      const held = await store.acquireOrRenew('leader', 'alpha', 10_000);
      expect(held.held).toBe(true);

      // Stopped: connections refused.
      for (let i = 0; i < 3; i++) await etcd.stopMember(i);
      const stopped = [
        await timed(() => store.acquireOrRenew('leader', 'alpha', 10_000)),
        await timed(() => store.read('leader')),
        await timed(() => store.acquireOrRenew('leader', 'alpha', 10_000)),
      ];
      for (const result of stopped) {
        expect(result.error).toBeInstanceOf(LockStoreError);
        expect(result.ms).toBeLessThan(requestTimeoutMs + 500);
      }

      // Back: the holder still has its lease (etcd restarts lease TTLs on a new raft leader).
      await Promise.all([0, 1, 2].map((i) => etcd.startMember(i)));
      const back = await eventually(() => store.acquireOrRenew('leader', 'alpha', 10_000), 10_000);
      expect(back.value).toMatchObject({ held: true, token: held.token });

      // Hung: ports open, nothing answers. The deadline decides.
      for (let i = 0; i < 3; i++) etcd.pauseMember(i);
      const hung = [
        await timed(() => store.acquireOrRenew('leader', 'alpha', 10_000)),
        await timed(() => store.read('leader')),
      ];
      for (const result of hung) {
        expect(result.error).toBeInstanceOf(LockStoreError);
        expect(result.ms).toBeLessThan(requestTimeoutMs + 500);
      }
      for (let i = 0; i < 3; i++) etcd.resumeMember(i);
      const resumed = await eventually(() => store.acquireOrRenew('leader', 'alpha', 10_000), 10_000);
      expect(resumed.value).toMatchObject({ held: true, token: held.token });

      console.log(
        `all members stopped: rejected after ${stopped.map((r) => r.ms.toFixed(1)).join(', ')} ms; ` +
          `all hung: after ${hung.map((r) => r.ms.toFixed(1)).join(', ')} ms (requestTimeoutMs ${requestTimeoutMs})`,
      );
    } finally {
      await store.close();
      await etcd.stop();
    }
  });
});

describe('etcd lock store on a three-member cluster', () => {
  let etcd: EtcdCluster;
  const stores: EtcdLockStore[] = [];
  const open = (prefix: string) => {
    const store = new EtcdLockStore({ hosts: etcd.clientUrls, prefix, requestTimeoutMs: 2000 });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    etcd = await EtcdCluster.start({ members: 3 });
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await etcd?.stop();
  });

  for (const which of ['a follower', 'the raft leader'] as const) {
    it(`keeps the lease and its token while ${which} is down; tokens stay monotonic`, async () => {
      const prefix = freshPrefix('cluster');
      const alpha = open(prefix);
      const beta = open(prefix);
      const ttlMs = 6000;
      const tokens: number[] = [];

      const first = await alpha.acquireOrRenew('leader', 'alpha', ttlMs);
      expect(first.held).toBe(true);
      tokens.push(first.token);

      const leader = await etcd.leaderIndex();
      const victim = which === 'the raft leader' ? leader : (leader + 1) % 3;
      await etcd.stopMember(victim, { signal: 'SIGKILL' });
      try {
        // The holder renews through the other two (a new raft leader may take a moment to elect).
        const renewed = await eventually(() => alpha.acquireOrRenew('leader', 'alpha', ttlMs), 8000);
        expect(renewed.value).toMatchObject({ held: true, holder: 'alpha', token: first.token });
        for (let i = 0; i < 10; i++) {
          expect(await alpha.acquireOrRenew('leader', 'alpha', ttlMs)).toMatchObject({
            held: true,
            token: first.token,
          });
          expect(await beta.acquireOrRenew('leader', 'beta', ttlMs)).toMatchObject({
            held: false,
            holder: 'alpha',
            token: first.token,
          });
          expect(await beta.read('leader')).toMatchObject({ holder: 'alpha', token: first.token });
        }

        // Hand-overs while one member is down: each new holder gets a higher token.
        let holder = alpha;
        let holderName = 'alpha';
        for (let i = 0; i < 4; i++) {
          await holder.release('leader', holderName);
          const [next, nextName] = holder === alpha ? [beta, 'beta'] : [alpha, 'alpha'];
          const taken = await next.acquireOrRenew('leader', nextName, ttlMs);
          expect(taken).toMatchObject({ held: true, holder: nextName });
          tokens.push(taken.token);
          holder = next;
          holderName = nextName;
        }
        console.log(
          `${which} (member ${victim}) down: first renewal after ${renewed.failures.length} failed tries; tokens ${tokens.join(' < ')}`,
        );
      } finally {
        await etcd.startMember(victim);
        await etcd.waitHealthy();
      }

      // And after it is back.
      const current = await beta.read('leader');
      expect(current.holder).not.toBeNull();
      expect(current.token).toBe(tokens.at(-1));
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] ?? 0);
    });
  }
});
