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

export function isResyncing(replication: string | undefined): boolean {
  return replication !== undefined && RESYNC_STATES.has(replication);
}

export function isResyncSource(replication: string | undefined): boolean {
  return replication !== undefined && RESYNC_SOURCE_STATES.has(replication);
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
