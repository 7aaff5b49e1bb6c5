// The lock backends that need no server: `file` (one machine: the demo and tests) and `command` (the
// operator's own fence storage through a script; deploy/lock-dir.sh and deploy/lock-gcs.sh are
// reference scripts). The etcd backend lives beside them in etcd-lock.ts.

export {
  assertCommandLockHolder,
  assertCommandLockKey,
  type CommandLeaseRecord,
  CommandLockStore,
  type CommandLockStoreOptions,
  parseLeaseLine,
} from './command-lock.js';
export { EtcdLockStore, etcdTtlSeconds } from './etcd-lock.js';
export { assertFileLockKey, FileLockStore, type FileLockStoreOptions } from './file-lock.js';
