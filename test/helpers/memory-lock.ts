// A LockStore in memory with the port's semantics and a switch to make it unreachable, for the
// leader elector's own tests. (The real backends pass the contract suite in test/adapters/lock/.)
import { type LeaseState, type LockStore, LockStoreError } from '../../src/ports/leases.js';

export class MemoryLockStore implements LockStore {
  readonly backend = 'file' as const;
  down = false;
  /** Extra time each call takes. */
  delayMs = 0;
  readonly #leases = new Map<string, { holder: string | null; expiresAt: number; token: number }>();

  async #ready(): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.down) throw new LockStoreError('lock store unreachable (test)');
  }

  #state(key: string, caller: string | null): LeaseState {
    const lease = this.#leases.get(key);
    const live = lease !== undefined && lease.holder !== null && lease.expiresAt > Date.now();
    return {
      held: live && lease.holder === caller,
      holder: live ? lease.holder : null,
      expiresAt: live ? lease.expiresAt : null,
      token: lease?.token ?? 0,
    };
  }

  async acquireOrRenew(key: string, holder: string, ttlMs: number): Promise<LeaseState> {
    await this.#ready();
    const lease = this.#leases.get(key);
    const now = Date.now();
    if (lease !== undefined && lease.holder === holder && lease.expiresAt > now) {
      lease.expiresAt = now + ttlMs;
    } else if (lease === undefined || lease.holder === null || lease.expiresAt <= now) {
      this.#leases.set(key, { holder, expiresAt: now + ttlMs, token: (lease?.token ?? 0) + 1 });
    }
    return this.#state(key, holder);
  }

  async release(key: string, holder: string): Promise<void> {
    await this.#ready();
    const lease = this.#leases.get(key);
    if (lease?.holder === holder) lease.holder = null;
  }

  async read(key: string): Promise<LeaseState> {
    await this.#ready();
    return this.#state(key, null);
  }

  async close(): Promise<void> {}
}
