// DRBD state names and the few facts about them the rules depend on. DRBD 8.4 names that pass
// through drbd-utils 9 unchanged (SyncSource, PausedSyncT, WFBitMapS …) are the same words, so
// one table serves both dialects.

export const ROLES = ['Unknown', 'Primary', 'Secondary'] as const;
export type Role = (typeof ROLES)[number];

export const CONNECTION_STATES = [
  'StandAlone',
  'Disconnecting',
  'Unconnected',
  'Timeout',
  'BrokenPipe',
  'NetworkFailure',
  'ProtocolError',
  'TearDown',
  'Connecting',
  'Connected',
] as const;

export const DISK_STATES = [
  'Diskless',
  'Attaching',
  'Detaching',
  'Failed',
  'Negotiating',
  'Inconsistent',
  'Outdated',
  'DUnknown',
  'Consistent',
  'UpToDate',
] as const;
export type DiskState = (typeof DISK_STATES)[number];

export const REPLICATION_STATES = [
  'Off',
  'Established',
  'StartingSyncS',
  'StartingSyncT',
  'WFBitMapS',
  'WFBitMapT',
  'WFSyncUUID',
  'SyncSource',
  'SyncTarget',
  'VerifyS',
  'VerifyT',
  'PausedSyncS',
  'PausedSyncT',
  'Ahead',
  'Behind',
] as const;

/** Replication states in which a resync is running or about to (DRBD 9 and 8.4 names). */
export const RESYNC_STATES: ReadonlySet<string> = new Set([
  'StartingSyncS',
  'StartingSyncT',
  'WFBitMapS',
  'WFBitMapT',
  'WFSyncUUID',
  'SyncSource',
  'SyncTarget',
  'PausedSyncS',
  'PausedSyncT',
]);

/** Replication states in which this node is the source of the resync. */
const RESYNC_SOURCE_STATES: ReadonlySet<string> = new Set([
  'StartingSyncS',
  'WFBitMapS',
  'SyncSource',
  'PausedSyncS',
]);

/** The resync moves data (or is paused while doing so), past the handshake's bitmap exchange. */
const SYNCING_STATES: ReadonlySet<string> = new Set([
  'SyncSource',
  'SyncTarget',
  'PausedSyncS',
  'PausedSyncT',
]);

/**
 * Replication states that cap this node's disk below UpToDate (`drbd_state.c`, sanitize_state():
 * L_WF_BITMAP_T, L_STARTING_SYNC_T, L_WF_SYNC_UUID and L_BEHIND → max_disk_state D_OUTDATED;
 * L_SYNC_TARGET and L_PAUSED_SYNC_T → D_INCONSISTENT). The same table exists in DRBD 8.4.
 */
const LOCAL_DISK_CAPPING_STATES: ReadonlySet<string> = new Set([
  'WFBitMapT',
  'StartingSyncT',
  'WFSyncUUID',
  'SyncTarget',
  'PausedSyncT',
  'Behind',
]);

/**
 * Replication states that cap the peer's disk as this node sees it (same function: L_WF_BITMAP_S,
 * L_STARTING_SYNC_S, L_PAUSED_SYNC_S and L_AHEAD → max_peer_disk_state D_CONSISTENT;
 * L_SYNC_SOURCE → D_INCONSISTENT).
 */
const PEER_DISK_CAPPING_STATES: ReadonlySet<string> = new Set([
  'WFBitMapS',
  'StartingSyncS',
  'SyncSource',
  'PausedSyncS',
  'Ahead',
]);

export function isResyncing(replication: string | undefined): boolean {
  return replication !== undefined && RESYNC_STATES.has(replication);
}

export function isResyncSource(replication: string | undefined): boolean {
  return replication !== undefined && RESYNC_SOURCE_STATES.has(replication);
}

/** A resync that moves data: the bitmaps are exchanged and one side is being overwritten. */
export function isSyncing(replication: string | undefined): boolean {
  return replication !== undefined && SYNCING_STATES.has(replication);
}

export function isPausedSync(replication: string | undefined): boolean {
  return replication === 'PausedSyncS' || replication === 'PausedSyncT';
}

export function isVerifying(replication: string | undefined): boolean {
  return replication === 'VerifyS' || replication === 'VerifyT';
}

/** Ahead/Behind: on-congestion pull-ahead stopped replicating writes until the link keeps up. */
export function isCongested(replication: string | undefined): boolean {
  return replication === 'Ahead' || replication === 'Behind';
}

/** This replication state by itself explains a local disk below UpToDate. */
export function capsLocalDisk(replication: string | undefined): boolean {
  return replication !== undefined && LOCAL_DISK_CAPPING_STATES.has(replication);
}

/** This replication state by itself explains the peer's disk below UpToDate. */
export function capsPeerDisk(replication: string | undefined): boolean {
  return replication !== undefined && PEER_DISK_CAPPING_STATES.has(replication);
}

/** The peer device carries replication traffic (anything past the handshake). */
export function replicates(replication: string | undefined): boolean {
  return replication !== undefined && replication !== 'Off';
}

export type DiskHealth = 'healthy' | 'degraded' | 'lost' | 'transient';

/**
 * How bad a disk state is. `lost` means no local data at all (Failed, Diskless), `degraded` means
 * data that must not be trusted as current, `transient` states pass by within a state change.
 */
export function diskHealth(disk: string | undefined): DiskHealth {
  switch (disk) {
    case 'UpToDate':
      return 'healthy';
    case 'Failed':
    case 'Diskless':
      return 'lost';
    case 'Outdated':
    case 'Inconsistent':
    case 'Consistent':
      return 'degraded';
    default:
      // Attaching, Detaching, Negotiating, DUnknown and names we do not know.
      return 'transient';
  }
}

/** The states a disk passes through while a backing device is being attached. */
export function isAttaching(disk: string | undefined): boolean {
  return disk === 'Attaching' || disk === 'Negotiating';
}

/**
 * The parts of a comma list such as `suspended:no-data,fencing` or `resync-suspended:user,peer`;
 * `no` (and an absent value) is the empty list.
 */
export function flagList(value: string | undefined): string[] {
  if (value === undefined || value === '' || value === 'no') return [];
  return value.split(',').filter((part) => part !== '');
}
