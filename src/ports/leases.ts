// The lock port: leases with fencing tokens in the store the pair already trusts for DRBD fencing.
// The leader election (src/core/leader.ts) and the fence observation use it; backends live in
// src/adapters/lock/ (file, command, etcd) and all pass the same contract tests.

/** What the store says about one key. */
export interface LeaseState {
  /** True when `holder` (the caller of acquireOrRenew) holds the lease now. */
  readonly held: boolean;
  /** Who holds it, or null when nobody does (never taken, released or expired). */
  readonly holder: string | null;
  /** When the current holder's lease runs out (ms since the epoch), or null. */
  readonly expiresAt: number | null;
  /**
   * Fencing token: strictly increases every time the lease changes hands (including a holder
   * re-acquiring after its lease expired); unchanged by renewals. 0 = never held.
   */
  readonly token: number;
}

export interface LockStore {
  readonly backend: 'file' | 'command' | 'etcd';
  /**
   * Take the lease if it is free or expired, or renew it if `holder` holds it. Never takes it from
   * another holder whose lease has not expired (then `held` is false and the state says who has it).
   */
  acquireOrRenew(key: string, holder: string, ttlMs: number): Promise<LeaseState>;
  /** Give the lease up if `holder` holds it; does nothing otherwise. */
  release(key: string, holder: string): Promise<void>;
  read(key: string): Promise<LeaseState>;
  close(): Promise<void>;
}

/** The store could not be asked (unreachable, timed out, broken answer): nothing is known. */
export class LockStoreError extends Error {
  readonly code = 'LOCK_STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LockStoreError';
  }
}
