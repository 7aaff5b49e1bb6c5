// What the rules engine says: one notification per thing a person should know. The `kind` names
// are a public interface: routing, filters and incident grouping key on them, so never rename one.

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Severities in order, for "at least warning" routes and "the worst of" incidents and summaries. */
export const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const satisfies Record<Severity, number>;

export function worseSeverity(a: Severity, b: Severity): Severity {
  return SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b;
}

export const ALERT_KINDS = [
  'split-brain',
  'split-brain-resolved',
  'standalone',
  'connection-lost',
  'connection-restored',
  'role-changed',
  'dual-primary',
  'disk-degraded',
  'disk-restored',
  'peer-disk-degraded',
  'peer-disk-restored',
  'resync-started',
  'resync-finished',
  'resync-paused',
  'resync-resumed',
  'ahead-behind',
  'out-of-sync',
  'quorum-lost',
  'quorum-restored',
  'suspended',
  'resumed',
  'helper-failed',
  'fencing',
  'primary-lost',
  'resource-added',
  'resource-removed',
  'watcher-gap',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export type DetailValue = string | number | boolean | null;

export interface Notification {
  readonly kind: AlertKind;
  readonly severity: Severity;
  /** The host whose DRBD reported it. */
  readonly host: string;
  /** The resource, or null for what concerns the whole host (the event stream itself). */
  readonly resource: string | null;
  /** One or two sentences a person on call can act on. */
  readonly text: string;
  readonly details: Readonly<Record<string, DetailValue>>;
  /** When it happened (ISO-8601), from the event's timestamp when the stream has them. */
  readonly at: string;
}
