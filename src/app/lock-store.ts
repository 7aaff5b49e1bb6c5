// Builds the lock store the configuration names. The etcd client (gRPC and its protobufs) costs
// about 25 MiB and half a second to load, so it is loaded only when the configuration names etcd,
// on the store's first use; the file and command stores are a few lines of Node each.

import { CommandLockStore } from '../adapters/lock/command-lock.js';
import { FileLockStore } from '../adapters/lock/file-lock.js';
import type { LeaseState, LockStore } from '../ports/leases.js';
import type { Config } from './config.js';

type EtcdSettings = Extract<NonNullable<Config['lock']>, { backend: 'etcd' }>;

/** The etcd store, imported on first use. */
class LazyEtcdLockStore implements LockStore {
  readonly backend = 'etcd';
  #store: Promise<LockStore> | undefined;
  constructor(readonly settings: EtcdSettings) {}

  #load(): Promise<LockStore> {
    this.#store ??= import('../adapters/lock/etcd-lock.js').then(
      ({ EtcdLockStore }) =>
        new EtcdLockStore({
          hosts: this.settings.hosts,
          prefix: this.settings.prefix,
          requestTimeoutMs: this.settings.requestTimeoutMs,
        }),
    );
    return this.#store;
  }
  async acquireOrRenew(key: string, holder: string, ttlMs: number): Promise<LeaseState> {
    return (await this.#load()).acquireOrRenew(key, holder, ttlMs);
  }
  async release(key: string, holder: string): Promise<void> {
    return (await this.#load()).release(key, holder);
  }
  async read(key: string): Promise<LeaseState> {
    return (await this.#load()).read(key);
  }
  async close(): Promise<void> {
    // Never loaded: nothing to close (and nothing to load just to close it).
    if (this.#store !== undefined) await (await this.#store).close();
  }
}

export function createLockStore(lock: NonNullable<Config['lock']>): LockStore {
  switch (lock.backend) {
    case 'file':
      return new FileLockStore({ dir: lock.dir });
    case 'command':
      return new CommandLockStore({ command: lock.command, args: lock.args, timeoutMs: lock.timeoutMs });
    case 'etcd':
      return new LazyEtcdLockStore(lock);
  }
}
