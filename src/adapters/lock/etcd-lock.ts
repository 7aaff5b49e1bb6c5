// The etcd backend of the lock port: one etcd cluster can serve many pairs, each under its own
// prefix (e.g. `/drbd-chatops/<pair>/`). Built on etcd's own leases and transactions.
//
// Keys, for a lock key K under the prefix P:
//   P holder/K   value: the holder's name; attached to the holder's etcd lease, so etcd deletes it
//                when the lease runs out (the holder died or stopped renewing).
//   P token/K    value: the name of the holder that got the latest token; no lease, never deleted.
//                It is written in the same transaction that creates `holder/K`, so its
//                mod_revision is the create_revision of that key: the last token survives expiry
//                and release (the port wants `read` of a freed key to still report it).
//
// Fencing token = the create_revision of `holder/K`: etcd's revision counter is cluster-wide and
// only grows, a key created again (new holder, or the same one after its lease ran out) gets a
// higher one, and renewals do not touch it.
//
// acquireOrRenew:
//   - key absent: grant a lease, then one transaction "if holder/K was never created
//     (create_revision = 0): put holder/K = holder with the lease, put token/K". Of any number of
//     contenders exactly one transaction succeeds; the others revoke their lease and look again.
//   - key held by the caller: one keep-alive of its lease (no write, no new revision). If the
//     caller asks for a different TTL, a new lease is granted and swapped in by a transaction that
//     compares value and lease (the put keeps create_revision, so the token stays), then the old
//     lease is revoked. If the keep-alive finds the lease gone, the lease expired: look again (the
//     key is gone too, and taking it anew gives a higher token).
//   - key held by another: not held; its expiry from LeaseTimeToLive.
// release: a transaction deletes holder/K if its value is the caller and its lease is the one just
// read, then the lease is revoked.
//
// TTL: etcd leases count whole seconds, so ttlMs is rounded *up* to whole seconds, at least 1 s
// (`etcdTtlSeconds`): the lease never ends before the caller asked for.
//
// expiresAt precision:
//   - the caller's own lease (acquired or renewed): the local time the grant or keep-alive request
//     was sent + the lease's TTL. etcd starts counting when it handles the request, so this is a
//     lower bound, late by at most one round trip: safe for a leader deciding when to stop acting.
//     (An etcd leader change restarts every lease's TTL, which only makes the real expiry later.)
//   - someone else's lease (read, or acquireOrRenew by another holder): etcd's LeaseTimeToLive
//     reports the remaining time truncated to whole seconds (it ends within [TTL, TTL+1) s), so
//     expiresAt = answer time + TTL s + 0.5 s, within ±0.5 s plus a round trip.
//
// Failures: every call has a deadline of requestTimeoutMs for the whole operation (several RPCs);
// each RPC attempt on one member has dialTimeoutMs, after which (or after a refused connection) the
// etcd3 client's global policy retries on another member (3 attempts), and that member is skipped
// for the next second (SkipFailedMember, instead of etcd3's default breaker that shuts a member out
// for 5 s after 3 failures: a lone member that restarts is used again at once). Anything that goes
// wrong becomes a LockStoreError, at the latest requestTimeoutMs after the call: with no member
// reachable (connection refused) within milliseconds, with members that accept connections but do
// not answer (hung) at the deadline. Measured here: 0.1–7 ms and requestTimeoutMs + 1 ms.

import { Etcd3, type IKeyValue, type IResponseOp, type ITxnRequest, isRecoverableError } from 'etcd3';
import { type LeaseState, type LockStore, LockStoreError } from '../../ports/leases.js';
import { sleep } from '../sleep.js';

export interface EtcdLockStoreOptions {
  /** Client URLs of the etcd members, e.g. `['http://10.0.0.1:2379', 'http://10.0.0.2:2379']`. */
  readonly hosts: readonly string[];
  /** Key prefix of this pair, e.g. `/drbd-chatops/pair-a/`; lock keys live under it (see above). */
  readonly prefix: string;
  /**
   * How long one attempt on one member may take (to connect and answer) before the call is tried on
   * another member. Default 1000 ms; never more than requestTimeoutMs.
   */
  readonly dialTimeoutMs?: number;
  /** Deadline of one whole store operation; past it the call rejects with LockStoreError. Default 3000 ms. */
  readonly requestTimeoutMs?: number;
}

export const DEFAULT_ETCD_REQUEST_TIMEOUT_MS = 3_000;
export const DEFAULT_ETCD_DIAL_TIMEOUT_MS = 1_000;

/** The etcd lease TTL for a requested lease length: whole seconds, rounded up, at least 1. */
export function etcdTtlSeconds(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0)
    throw new RangeError(`ttlMs must be a positive number, not ${ttlMs}`);
  return Math.max(1, Math.ceil(ttlMs / 1000));
}

const FREE: LeaseState = { held: false, holder: null, expiresAt: null, token: 0 };
/** How many times acquireOrRenew looks again after losing a race, before it gives up. */
const MAX_RACES = 5;

interface Snapshot {
  /** holder/K, or undefined when nobody holds the key. */
  readonly current: IKeyValue | undefined;
  /** The last token handed out for K (0 = never). */
  readonly lastToken: number;
}

interface PendingCall {
  readonly timer: NodeJS.Timeout;
  readonly reject: (error: Error) => void;
}

/** How long a member that was unreachable is skipped before it is tried again. */
const MEMBER_SKIP_MS = 1_000;

/**
 * Per-member fault policy for the etcd3 client (a cockatiel IPolicy, structurally): after a failure
 * that says the member is unreachable (refused, timed out, unavailable), skip it for `skipMs` so
 * the next attempts go to the other members at once; when every member is being skipped the call
 * fails at once. That keeps a dead member from eating a call's time and makes "etcd is down" show
 * up within milliseconds.
 */
class SkipFailedMember {
  declare readonly _altReturn: never;
  #skipUntil = 0;
  #lastFailure = '';
  readonly #skipMs: number;
  constructor(skipMs: number) {
    this.#skipMs = skipMs;
  }

  readonly onSuccess = () => ({ dispose: () => undefined });
  readonly onFailure = () => ({ dispose: () => undefined });

  async execute<T>(
    fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T,
    signal?: AbortSignal,
  ): Promise<T> {
    if (Date.now() < this.#skipUntil) {
      throw new Error(`member skipped for ${this.#skipMs} ms after a failure: ${this.#lastFailure}`);
    }
    try {
      const result = await fn({ signal: signal ?? new AbortController().signal });
      this.#skipUntil = 0;
      return result;
    } catch (error) {
      if (error instanceof Error && isRecoverableError(error)) {
        this.#skipUntil = Date.now() + this.#skipMs;
        this.#lastFailure = error.message;
      }
      throw error;
    }
  }
}

export class EtcdLockStore implements LockStore {
  readonly backend = 'etcd' as const;
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #hosts: readonly string[];
  readonly #requestTimeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #pending = new Set<PendingCall>();
  #closed = false;

  constructor(options: EtcdLockStoreOptions) {
    if (options.hosts.length === 0) throw new RangeError('EtcdLockStore needs at least one host');
    if (options.prefix === '') throw new RangeError('EtcdLockStore needs a non-empty key prefix');
    this.#hosts = [...options.hosts];
    this.#prefix = options.prefix;
    this.#requestTimeoutMs = positive(
      options.requestTimeoutMs ?? DEFAULT_ETCD_REQUEST_TIMEOUT_MS,
      'requestTimeoutMs',
    );
    this.#attemptTimeoutMs = Math.min(
      positive(options.dialTimeoutMs ?? DEFAULT_ETCD_DIAL_TIMEOUT_MS, 'dialTimeoutMs'),
      this.#requestTimeoutMs,
    );
    const attemptMs = this.#attemptTimeoutMs;
    this.#client = new Etcd3({
      hosts: [...this.#hosts],
      // Per attempt (the factory runs for each try on each member); the whole operation is bounded
      // by requestTimeoutMs in `run`. Streams (keep-alive) get their deadline where they are opened.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + attemptMs }),
      // The client's global policy (3 attempts, each on the next member) stays; the per-member
      // circuit breaker (closed for 5 s after 3 failures) is replaced by a shorter skip, so a
      // single member that restarts is used again within a second.
      faultHandling: { host: () => new SkipFailedMember(MEMBER_SKIP_MS) },
    });
  }

  async acquireOrRenew(key: string, holder: string, ttlMs: number): Promise<LeaseState> {
    checkName('holder', holder);
    const ttlSeconds = etcdTtlSeconds(ttlMs);
    return this.#run('acquireOrRenew', key, async (deadline) => {
      const holderKey = this.#holderKey(key);
      const tokenKey = this.#tokenKey(key);
      const holderValue = Buffer.from(holder);
      let snapshot = await this.#snapshot(key);
      let races = 0;
      while (true) {
        checkTime(deadline);
        if (races > MAX_RACES)
          throw new Error(`the key kept changing hands; gave up after ${MAX_RACES} tries`);
        const current = snapshot.current;
        if (current === undefined) {
          checkTime(deadline);
          const sentAt = Date.now();
          const lease = await this.#grant(ttlSeconds);
          const txn = await this.#client.kv.txn({
            compare: [{ key: holderKey, target: 'Create', result: 'Equal', create_revision: 0 }],
            success: [
              { request_put: { key: holderKey, value: holderValue, lease } },
              { request_put: { key: tokenKey, value: holderValue } },
            ],
            failure: this.#snapshotOps(key),
          });
          if (txn.succeeded) {
            return {
              held: true,
              holder,
              expiresAt: sentAt + ttlSeconds * 1000,
              token: revision(txn.header.revision),
            };
          }
          await this.#revokeQuietly(lease);
          snapshot = this.#snapshotFrom(txn.responses);
          races++;
          continue;
        }

        const currentHolder = current.value.toString();
        const token = revision(current.create_revision);
        const lease = current.lease;
        if (lease === '0')
          throw new Error(`${holderKey.toString()} has no lease: not written by drbd-chatops`);

        if (currentHolder !== holder) {
          const remaining = await this.#remainingSeconds(lease);
          if (remaining === null) {
            // Its lease ran out and etcd is deleting the key: look again in a moment.
            await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
            snapshot = await this.#snapshot(key);
            continue;
          }
          return { held: false, holder: currentHolder, expiresAt: remaining.expiresAt, token };
        }

        // Ours: renew the lease we already have.
        const sentAt = Date.now();
        const grantedSeconds = await this.#keepAliveOnce(lease, deadline);
        if (grantedSeconds <= 0) {
          // The lease expired before this renewal: the key went with it. Take it anew (new token).
          snapshot = await this.#snapshot(key);
          continue;
        }
        if (grantedSeconds === ttlSeconds) {
          return { held: true, holder, expiresAt: sentAt + grantedSeconds * 1000, token };
        }
        // A different lease length was asked for: swap in a new lease, keeping the key (and token).
        checkTime(deadline);
        const swapSentAt = Date.now();
        const newLease = await this.#grant(ttlSeconds);
        const swap = await this.#client.kv.txn({
          compare: [
            { key: holderKey, target: 'Value', result: 'Equal', value: holderValue },
            { key: holderKey, target: 'Lease', result: 'Equal', lease },
          ],
          success: [{ request_put: { key: holderKey, value: holderValue, lease: newLease } }],
          failure: this.#snapshotOps(key),
        });
        if (swap.succeeded) {
          await this.#revokeQuietly(lease);
          return { held: true, holder, expiresAt: swapSentAt + ttlSeconds * 1000, token };
        }
        await this.#revokeQuietly(newLease);
        snapshot = this.#snapshotFrom(swap.responses);
        races++;
      }
    });
  }

  async release(key: string, holder: string): Promise<void> {
    checkName('holder', holder);
    return this.#run('release', key, async () => {
      const { current } = await this.#snapshot(key);
      if (current === undefined || current.value.toString() !== holder) return;
      const holderKey = this.#holderKey(key);
      const txn = await this.#client.kv.txn({
        compare: [
          { key: holderKey, target: 'Value', result: 'Equal', value: Buffer.from(holder) },
          { key: holderKey, target: 'Lease', result: 'Equal', lease: current.lease },
        ],
        success: [{ request_delete_range: { key: holderKey } }],
        failure: [],
      });
      // Revoke even if the key changed in between: the lease is ours alone, and whatever it
      // carried (only this key) is no longer the caller's.
      if (txn.succeeded && current.lease !== '0') await this.#revokeQuietly(current.lease);
    });
  }

  async read(key: string): Promise<LeaseState> {
    return this.#run('read', key, async () => {
      const { current, lastToken } = await this.#snapshot(key);
      if (current === undefined) return lastToken === 0 ? FREE : { ...FREE, token: lastToken };
      const token = revision(current.create_revision);
      if (current.lease === '0') throw new Error(`${this.#holderKey(key).toString()} has no lease`);
      const remaining = await this.#remainingSeconds(current.lease);
      // An expired lease whose key etcd has not deleted yet: free already.
      if (remaining === null) return { ...FREE, token };
      return { held: true, holder: current.value.toString(), expiresAt: remaining.expiresAt, token };
    });
  }

  /** Closes the connections; calls still running reject with LockStoreError. No timers are left. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of this.#pending) {
      clearTimeout(call.timer);
      call.reject(new LockStoreError('etcd lock store closed'));
    }
    this.#pending.clear();
    this.#client.close();
  }

  // --- internals -------------------------------------------------------------------------------

  /** Runs one operation under the request deadline; every failure becomes a LockStoreError. */
  #run<T>(operation: string, key: string, body: (deadline: number) => Promise<T>): Promise<T> {
    checkName('key', key);
    const what = `etcd ${operation} ${JSON.stringify(key)} (${this.#hosts.join(', ')})`;
    if (this.#closed) return Promise.reject(new LockStoreError(`${what}: the store is closed`));
    const deadline = Date.now() + this.#requestTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const call: PendingCall = {
        timer: setTimeout(() => {
          this.#pending.delete(call);
          reject(new LockStoreError(`${what}: no answer within ${this.#requestTimeoutMs} ms`));
        }, this.#requestTimeoutMs),
        reject,
      };
      this.#pending.add(call);
      body(deadline).then(
        (value) => {
          clearTimeout(call.timer);
          this.#pending.delete(call);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(call.timer);
          this.#pending.delete(call);
          reject(
            error instanceof LockStoreError
              ? error
              : new LockStoreError(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
                  cause: error,
                }),
          );
        },
      );
    });
  }

  #holderKey(key: string): Buffer {
    return Buffer.from(`${this.#prefix}holder/${key}`);
  }

  #tokenKey(key: string): Buffer {
    return Buffer.from(`${this.#prefix}token/${key}`);
  }

  #snapshotOps(key: string): NonNullable<ITxnRequest['failure']> {
    return [
      { request_range: { key: this.#holderKey(key) } },
      { request_range: { key: this.#tokenKey(key) } },
    ];
  }

  /** holder/K and token/K at one revision. */
  async #snapshot(key: string): Promise<Snapshot> {
    const txn = await this.#client.kv.txn({ compare: [], success: this.#snapshotOps(key), failure: [] });
    return this.#snapshotFrom(txn.responses);
  }

  #snapshotFrom(responses: readonly IResponseOp[]): Snapshot {
    const holderRange = responses[0]?.response_range;
    const tokenRange = responses[1]?.response_range;
    if (holderRange === undefined || tokenRange === undefined)
      throw new Error('unexpected transaction answer');
    const tokenKv = tokenRange.kvs[0];
    return {
      current: holderRange.kvs[0],
      lastToken: tokenKv === undefined ? 0 : revision(tokenKv.mod_revision),
    };
  }

  async #grant(ttlSeconds: number): Promise<string> {
    const granted = await this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds });
    if (granted.error) throw new Error(`lease grant refused: ${granted.error}`);
    return granted.ID;
  }

  async #revokeQuietly(lease: string): Promise<void> {
    try {
      await this.#client.leaseClient.leaseRevoke({ ID: lease });
    } catch {
      // Gone already, or etcd unreachable: an unrevoked lease runs out by itself within its TTL.
    }
  }

  /** The remaining time of a lease, or null when it has run out (or is gone). */
  async #remainingSeconds(lease: string): Promise<{ expiresAt: number } | null> {
    let ttl: number;
    try {
      const answer = await this.#client.leaseClient.leaseTimeToLive({ ID: lease });
      ttl = Number(answer.TTL);
    } catch (error) {
      if (isLeaseNotFound(error)) return null;
      throw error;
    }
    if (!Number.isFinite(ttl) || ttl < 0) return null;
    // etcd truncates: the lease ends within [ttl, ttl + 1) s from now.
    return { expiresAt: Date.now() + ttl * 1000 + 500 };
  }

  /**
   * One LeaseKeepAlive round trip: the lease's granted TTL in seconds, or 0 when it no longer
   * exists. The RPC is a stream, which the etcd3 client does not retry: this does, on another
   * member, when one is unreachable.
   */
  async #keepAliveOnce(lease: string, deadline: number): Promise<number> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.#hosts.length + 2 && Date.now() < deadline; attempt++) {
      try {
        return await this.#keepAliveAttempt(lease, Math.min(deadline, Date.now() + this.#attemptTimeoutMs));
      } catch (error) {
        lastError = error;
        if (this.#closed || !isTransient(error)) throw error;
      }
    }
    throw lastError ?? new Error('keep-alive: no time left');
  }

  async #keepAliveAttempt(lease: string, deadline: number): Promise<number> {
    const stream = await this.#client.leaseClient.leaseKeepAlive({ deadline });
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      stream.on('data', (answer) => {
        if (settled) return;
        settled = true;
        stream.end();
        resolve(Number(answer.TTL));
      });
      stream.on('error', (error) => {
        if (settled) return;
        settled = true;
        reject(error);
      });
      stream.on('end', () => {
        if (settled) return;
        settled = true;
        reject(new Error('keep-alive stream ended without an answer'));
      });
      stream.write({ ID: lease });
    });
  }
}

/** Stops an operation whose caller was already told it timed out from writing anything more. */
function checkTime(deadline: number): void {
  if (Date.now() > deadline) throw new Error('ran out of time');
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number, not ${value}`);
  return value;
}

function checkName(what: string, value: string): void {
  if (typeof value !== 'string' || value === '')
    throw new RangeError(`the lock ${what} must be a non-empty string`);
}

function revision(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`etcd answered an invalid revision ${JSON.stringify(value)}`);
  return n;
}

function isLeaseNotFound(error: unknown): boolean {
  return error instanceof Error && /lease not found/i.test(error.message);
}

/** Errors worth another try on another member: unreachable, timed out, no leader, closed stream. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // gRPC: 4 DEADLINE_EXCEEDED, 14 UNAVAILABLE, 1 CANCELLED
  if (code === 4 || code === 14 || code === 1) return true;
  return /unavailable|deadline|no leader|leader changed|connect|ended without an answer/i.test(error.message);
}
