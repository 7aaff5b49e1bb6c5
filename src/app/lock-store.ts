// Builds the lock store the configuration names.

import { CommandLockStore } from '../adapters/lock/command-lock.js';
import { EtcdLockStore } from '../adapters/lock/etcd-lock.js';
import { FileLockStore } from '../adapters/lock/file-lock.js';
import type { LockStore } from '../ports/lock.js';
import type { Config } from './config.js';

export function createLockStore(lock: NonNullable<Config['lock']>): LockStore {
  switch (lock.backend) {
    case 'file':
      return new FileLockStore({ dir: lock.dir });
    case 'command':
      return new CommandLockStore({ command: lock.command, args: lock.args, timeoutMs: lock.timeoutMs });
    case 'etcd':
      return new EtcdLockStore({
        hosts: lock.hosts,
        prefix: lock.prefix,
        requestTimeoutMs: lock.requestTimeoutMs,
      });
  }
}
