// The contract every LockStore backend (file, command, etcd) must meet, as one vitest block that each
// backend's test file registers with its own `open`. Timing is real (no fake clock can reach a
// child process or an etcd server), so TTLs are short and "expired" is only asserted well past them.
//
// Points the port leaves open and the contract pins down, so every backend answers alike:
// - read(key) has no caller, so its `held` says whether anyone holds the lease (holder !== null);
// - an expired or released lease reads as {holder: null, expiresAt: null} and keeps its last token;
// - acquireOrRenew that is refused reports the current holder, its expiry and its token.

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LeaseState, LockStore } from '../../../src/ports/leases.js';

export interface LockContractOptions {
  /** The lease length the tests use (default 500 ms). Backends with whole-second TTLs pass 1000. */
  readonly ttlMs?: number;
  /**
   * How far `expiresAt` may stray from "time of the call + ttl" (default 300 ms): a backend whose
   * clock has whole-second resolution needs about 1000.
   */
  readonly expiryToleranceMs?: number;
  /** Time budget of the property test (default 10 s); each run stops early when it is spent. */
  readonly propertyTimeMs?: number;
}

export interface OpenedLockStore {
  readonly store: LockStore;
  readonly cleanup: () => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let keySeq = 0;
/** A key no other test in this process has used: backends may share one store between tests. */
function freshKey(label: string): string {
  keySeq++;
  return `contract-${label}-${process.pid}-${Date.now().toString(36)}-${keySeq}`;
}

export function describeLockContract(
  name: string,
  open: () => Promise<OpenedLockStore>,
  options: LockContractOptions = {},
): void {
  const ttl = options.ttlMs ?? 500;
  const tolerance = options.expiryToleranceMs ?? 300;
  const propertyTimeMs = options.propertyTimeMs ?? 10_000;
  // Well past the TTL (plus the clock tolerance) so a slow machine does not see a live lease.
  const pastExpiry = ttl + tolerance + 400;

  describe(`LockStore contract: ${name}`, () => {
    let opened: OpenedLockStore | undefined;
    let store: LockStore;

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(async () => {
      const current = opened;
      opened = undefined;
      if (current) {
        await current.store.close();
        await current.cleanup();
      }
    });

    /** Calls acquireOrRenew and checks expiresAt against the time around the call. */
    async function acquireTimed(key: string, holder: string): Promise<LeaseState> {
      const before = Date.now();
      const state = await store.acquireOrRenew(key, holder, ttl);
      const after = Date.now();
      if (state.held) {
        expect(state.expiresAt).not.toBeNull();
        expect(state.expiresAt ?? 0).toBeGreaterThanOrEqual(before + ttl - tolerance);
        expect(state.expiresAt ?? 0).toBeLessThanOrEqual(after + ttl + tolerance);
      }
      return state;
    }

    it('reads a never-used key as free with token 0', async () => {
      const state = await store.read(freshKey('unused'));
      expect(state).toEqual({ held: false, holder: null, expiresAt: null, token: 0 });
    });

    it('acquires a free key: held, holder, expiresAt ≈ now + ttl, token ≥ 1', async () => {
      const key = freshKey('free');
      const state = await acquireTimed(key, 'alpha');
      expect(state.held).toBe(true);
      expect(state.holder).toBe('alpha');
      expect(state.token).toBeGreaterThanOrEqual(1);
      expect(Number.isInteger(state.token)).toBe(true);

      const read = await store.read(key);
      expect(read.held).toBe(true);
      expect(read.holder).toBe('alpha');
      expect(read.token).toBe(state.token);
      expect(read.expiresAt).not.toBeNull();
      expect(Math.abs((read.expiresAt ?? 0) - (state.expiresAt ?? 0))).toBeLessThanOrEqual(tolerance);
    });

    it('renewal by the holder keeps the token and extends expiresAt', async () => {
      const key = freshKey('renew');
      const first = await acquireTimed(key, 'alpha');
      await sleep(Math.min(ttl / 2, 400));
      const second = await acquireTimed(key, 'alpha');
      expect(second.held).toBe(true);
      expect(second.holder).toBe('alpha');
      expect(second.token).toBe(first.token);
      // acquireTimed checked it is about the renewal's time + ttl; it never moves back.
      expect(second.expiresAt ?? 0).toBeGreaterThanOrEqual(first.expiresAt ?? 0);
    });

    it('renewals keep a lease alive beyond its first ttl', async () => {
      const key = freshKey('keepalive');
      const first = await acquireTimed(key, 'alpha');
      const until = Date.now() + ttl + tolerance + 300;
      while (Date.now() < until) {
        await sleep(ttl / 4);
        const renewed = await store.acquireOrRenew(key, 'alpha', ttl);
        expect(renewed.held).toBe(true);
        expect(renewed.token).toBe(first.token);
      }
      const other = await store.acquireOrRenew(key, 'beta', ttl);
      expect(other.held).toBe(false);
      expect(other.holder).toBe('alpha');
    });

    it('another holder cannot take an unexpired lease', async () => {
      const key = freshKey('contend');
      const owner = await acquireTimed(key, 'alpha');
      const other = await store.acquireOrRenew(key, 'beta', ttl);
      expect(other.held).toBe(false);
      expect(other.holder).toBe('alpha');
      expect(other.token).toBe(owner.token);
      expect(other.expiresAt).not.toBeNull();
      expect(Math.abs((other.expiresAt ?? 0) - (owner.expiresAt ?? 0))).toBeLessThanOrEqual(tolerance);
      // The failed attempt changed nothing.
      const read = await store.read(key);
      expect(read.holder).toBe('alpha');
      expect(read.token).toBe(owner.token);
    });

    it('after expiry another holder takes the lease with a strictly higher token', async () => {
      const key = freshKey('expire-other');
      const owner = await acquireTimed(key, 'alpha');
      await sleep(pastExpiry);
      const expired = await store.read(key);
      expect(expired.holder).toBeNull();
      expect(expired.held).toBe(false);
      expect(expired.expiresAt).toBeNull();
      expect(expired.token).toBe(owner.token);

      const taker = await acquireTimed(key, 'beta');
      expect(taker.held).toBe(true);
      expect(taker.holder).toBe('beta');
      expect(taker.token).toBeGreaterThan(owner.token);
      // The former holder's renewal now fails: it must not come back with its old token.
      const late = await store.acquireOrRenew(key, 'alpha', ttl);
      expect(late.held).toBe(false);
      expect(late.holder).toBe('beta');
      expect(late.token).toBe(taker.token);
    });

    it('the same holder re-acquiring after expiry gets a higher token', async () => {
      const key = freshKey('expire-same');
      const first = await acquireTimed(key, 'alpha');
      await sleep(pastExpiry);
      const again = await acquireTimed(key, 'alpha');
      expect(again.held).toBe(true);
      expect(again.holder).toBe('alpha');
      expect(again.token).toBeGreaterThan(first.token);
    });

    it('release by the holder frees the key; the next acquire gets a higher token', async () => {
      const key = freshKey('release');
      const first = await acquireTimed(key, 'alpha');
      await store.release(key, 'alpha');
      const read = await store.read(key);
      expect(read.holder).toBeNull();
      expect(read.held).toBe(false);
      expect(read.expiresAt).toBeNull();
      expect(read.token).toBe(first.token);

      const next = await acquireTimed(key, 'beta');
      expect(next.held).toBe(true);
      expect(next.holder).toBe('beta');
      expect(next.token).toBeGreaterThan(first.token);

      await store.release(key, 'beta');
      const back = await acquireTimed(key, 'alpha');
      expect(back.held).toBe(true);
      expect(back.token).toBeGreaterThan(next.token);
    });

    it('release by a non-holder does nothing', async () => {
      const key = freshKey('release-other');
      const owner = await acquireTimed(key, 'alpha');
      await store.release(key, 'beta');
      const read = await store.read(key);
      expect(read.holder).toBe('alpha');
      expect(read.held).toBe(true);
      expect(read.token).toBe(owner.token);
      const other = await store.acquireOrRenew(key, 'beta', ttl);
      expect(other.held).toBe(false);
    });

    it('release of a never-used key and a second release are harmless', async () => {
      const key = freshKey('release-free');
      await store.release(key, 'alpha');
      expect(await store.read(key)).toEqual({ held: false, holder: null, expiresAt: null, token: 0 });
      const first = await acquireTimed(key, 'alpha');
      await store.release(key, 'alpha');
      await store.release(key, 'alpha');
      const read = await store.read(key);
      expect(read.holder).toBeNull();
      expect(read.token).toBe(first.token);
    });

    it('keys are independent', async () => {
      const k1 = freshKey('indep-a');
      const k2 = freshKey('indep-b');
      const a = await acquireTimed(k1, 'alpha');
      const b = await acquireTimed(k2, 'beta');
      expect(a.held).toBe(true);
      expect(b.held).toBe(true);
      expect((await store.read(k1)).holder).toBe('alpha');
      expect((await store.read(k2)).holder).toBe('beta');
      await store.release(k1, 'alpha');
      expect((await store.read(k1)).holder).toBeNull();
      expect((await store.read(k2)).holder).toBe('beta');
      const c = await store.acquireOrRenew(k1, 'beta', ttl);
      expect(c.held).toBe(true);
    });

    it('of 10 holders asking at once, exactly one gets the lease', async () => {
      const key = freshKey('race');
      const holders = Array.from({ length: 10 }, (_, i) => `host-${i}`);
      const results = await Promise.all(holders.map((h) => store.acquireOrRenew(key, h, ttl * 4)));
      const winners = results.filter((r) => r.held);
      expect(winners).toHaveLength(1);
      const winner = winners[0];
      if (!winner) throw new Error('no winner');
      expect(holders).toContain(winner.holder);
      expect(results.indexOf(winner)).toBe(holders.indexOf(winner.holder ?? ''));
      for (const loser of results.filter((r) => !r.held)) {
        expect(loser.holder).toBe(winner.holder);
        expect(loser.token).toBe(winner.token);
      }
      const read = await store.read(key);
      expect(read.holder).toBe(winner.holder);
      expect(read.token).toBe(winner.token);
    });

    it('tokens never decrease and change exactly when the holder changes (random operations)', async () => {
      const holderArb = fc.constantFrom('alpha', 'beta', 'gamma');
      const opArb = fc.oneof(
        fc.record({ op: fc.constant('acquire' as const), holder: holderArb, short: fc.boolean() }),
        fc.record({ op: fc.constant('release' as const), holder: holderArb }),
        fc.record({ op: fc.constant('read' as const) }),
        fc.record({ op: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 40 }) }),
      );
      const deadline = Date.now() + propertyTimeMs;
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
          if (Date.now() > deadline) return; // the time budget is spent: keep the suite bounded
          const key = freshKey('prop');
          let prev: LeaseState = await store.read(key);
          expect(prev.token).toBe(0);
          for (const step of ops) {
            let next: LeaseState;
            if (step.op === 'sleep') {
              await sleep(step.ms);
              continue;
            }
            if (step.op === 'acquire') {
              // A tiny TTL lets leases expire during the sequence (backends may round it up).
              next = await store.acquireOrRenew(key, step.holder, step.short ? 1 : ttl * 4);
              if (next.held) expect(next.holder).toBe(step.holder);
              else {
                expect(next.holder).not.toBeNull();
                expect(next.holder).not.toBe(step.holder);
              }
            } else if (step.op === 'release') {
              await store.release(key, step.holder);
              next = await store.read(key);
              if (prev.holder === step.holder) expect(next.holder).toBeNull();
            } else {
              next = await store.read(key);
            }
            expect(next.token).toBeGreaterThanOrEqual(prev.token);
            if (next.holder !== null) {
              expect(next.token).toBeGreaterThanOrEqual(1);
              // A new holder, or any holder after the key was seen free: a new token.
              if (next.holder !== prev.holder) expect(next.token).toBeGreaterThan(prev.token);
            }
            if (next.holder === null) expect(next.expiresAt).toBeNull();
            else expect(next.expiresAt).not.toBeNull();
            prev = next;
          }
        }),
        { numRuns: 30 },
      );
    });
  });
}
