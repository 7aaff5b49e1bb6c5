// Prints event records exactly as `drbdsetup events2` (DRBD 9) or `drbdsetup-84 events2` does.

import type { Dialect } from './types.js';
import type { EventRecord, Fields } from './views.js';

export type ColorMode = 'always' | 'never' | 'auto';

export interface RenderOptions {
  dialect: Dialect;
  timestamps: boolean;
  statistics: boolean;
  full: boolean;
  color: boolean;
  /** drbd-utils 9.14+ computes may_promote/promotion_score for resource lines (DRBD 9). */
  promotion: boolean;
}

export const defaultRenderOptions = (dialect: Dialect, promotion = true): RenderOptions => ({
  dialect,
  timestamps: false,
  statistics: false,
  full: false,
  color: false,
  promotion,
});

/** `2026-11-29T10:15:30.123456+00:00` in local time, like drbdsetup's gettimeofday/localtime. */
export function formatTimestamp(epochMicros: number): string {
  const ms = Math.floor(epochMicros / 1000);
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const offsetMin = -d.getTimezoneOffset();
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const micros = pad(((epochMicros % 1_000_000) + 1_000_000) % 1_000_000, 6);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${micros}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

// SGR codes of drbdsetup_colors.c: local objects get bold variants, the peer's plain ones;
// "normal" states stay uncoloured and transitional states are bold locally only.
type ColorClass = 'transitional' | 'normal' | 'primary' | 'good' | 'bad';
const LOCAL_CODES: Record<ColorClass, string | null> = {
  transitional: '\x1b[1m',
  normal: null,
  primary: '\x1b[1;36m',
  good: '\x1b[1;32m',
  bad: '\x1b[1;31m',
};
const PEER_CODES: Record<ColorClass, string | null> = {
  transitional: null,
  normal: null,
  primary: '\x1b[36m',
  good: '\x1b[32m',
  bad: '\x1b[31m',
};
const STOP = '\x1b[0m';

const ROLE_COLORS: Record<string, ColorClass> = { Primary: 'primary', Secondary: 'normal' };
const CONN_COLORS: Record<string, ColorClass> = {
  StandAlone: 'bad',
  Connecting: 'bad',
  Connected: 'normal',
};
const REPL_COLORS: Record<string, ColorClass> = {
  Established: 'normal',
  SyncSource: 'bad',
  SyncTarget: 'bad',
  VerifyS: 'normal',
  VerifyT: 'normal',
  PausedSyncS: 'normal',
  PausedSyncT: 'bad',
  Ahead: 'normal',
};
const DISK_COLORS: Record<string, ColorClass> = {
  Diskless: 'bad',
  Inconsistent: 'bad',
  Outdated: 'bad',
  UpToDate: 'good',
};

export type ColoredValue = 'role' | 'peer-role' | 'connection' | 'replication' | 'disk' | 'peer-disk';

export function colorize(value: string, what: ColoredValue): string {
  let cls: ColorClass;
  let local = true;
  switch (what) {
    case 'role':
      cls = ROLE_COLORS[value] ?? 'transitional';
      break;
    case 'peer-role':
      cls = ROLE_COLORS[value] ?? 'transitional';
      local = false;
      break;
    case 'connection':
      cls = CONN_COLORS[value] ?? 'transitional';
      break;
    case 'replication':
      cls = REPL_COLORS[value] ?? 'transitional';
      local = ['SyncTarget', 'PausedSyncT', 'Behind'].includes(value);
      break;
    case 'disk':
      cls = DISK_COLORS[value] ?? 'transitional';
      break;
    case 'peer-disk':
      cls = DISK_COLORS[value] ?? 'transitional';
      local = false;
      break;
  }
  const code = (local ? LOCAL_CODES : PEER_CODES)[cls];
  return code ? `${code}${value}${STOP}` : value;
}

function coloredKey(kind: string, key: string): ColoredValue | undefined {
  if (key === 'role') return kind === 'connection' ? 'peer-role' : 'role';
  if (key === 'disk' || key === 'peer-disk' || key === 'connection' || key === 'replication') return key;
  return undefined;
}

class Line {
  readonly #parts: string[] = [];
  readonly #kind: string;
  readonly #color: boolean;
  constructor(kind: string, color: boolean) {
    this.#kind = kind;
    this.#color = color;
  }
  add(fields: Fields, keys: string[]): void {
    for (const key of keys) {
      const value = fields[key];
      if (value === undefined) continue;
      const colored = this.#color ? coloredKey(this.#kind, key) : undefined;
      this.#parts.push(`${key}:${colored ? colorize(value, colored) : value}`);
    }
  }
  get empty(): boolean {
    return this.#parts.length === 0;
  }
  toString(): string {
    return this.#parts.map((p) => ` ${p}`).join('');
  }
}

function fieldsOf9(record: EventRecord, opts: RenderOptions): Line {
  const { kind, info, stats, verb } = record;
  const line = new Line(kind, opts.color);
  const whole = verb !== 'change' || opts.full;
  const statistics = opts.statistics || opts.full;
  const showStats = whole || record.statsChanged;
  const changed = (...keys: string[]) => whole || keys.some((k) => record.changed.includes(k));
  const group = (...keys: string[]) => {
    if (changed(...keys)) line.add(info, keys);
  };
  switch (kind) {
    case 'resource':
      group('role');
      group('suspended');
      group('force-io-failures');
      if (statistics && showStats) line.add(stats, ['write-ordering']);
      if (opts.promotion) group('may_promote', 'promotion_score');
      break;
    case 'device':
      group('backing_dev', 'disk', 'client', 'open', 'quorum');
      // print_device_statistics: al-suspended and blocked only when new or changed (or --full).
      if (statistics && showStats) {
        const keys = ['size', 'read', 'written', 'al-writes', 'bm-writes', 'upper-pending', 'lower-pending'];
        if (whole) keys.push('al-suspended');
        if (verb !== 'change') keys.push('blocked');
        line.add(stats, keys);
      }
      break;
    case 'connection':
      group('connection');
      group('role');
      // print_connection_statistics: congested only when new or changed (or --full).
      if (statistics && showStats)
        line.add(
          stats,
          whole ? ['congested', 'ap-in-flight', 'rs-in-flight'] : ['ap-in-flight', 'rs-in-flight'],
        );
      break;
    case 'peer-device':
      group('replication');
      group('peer-disk', 'peer-client');
      group('resync-suspended');
      if (showStats) {
        line.add(stats, ['done']);
        if (statistics)
          line.add(stats, ['received', 'sent', 'out-of-sync', 'pending', 'unacked', 'dbdt1', 'eta']);
      }
      break;
    case 'path':
      group('established');
      break;
    case 'helper':
      line.add(info, ['helper', 'status']);
      break;
  }
  return line;
}

// drbdsetup-84 (print_notifications) compares each field with the last notification of that
// object on its own and prints only what differs. Its `--statistics` also sets opt_verbose
// (generic_get_cmd, case 's'), so the print_*_statistics functions print every counter they
// have: the device's size … lower-pending on every line, al-suspended/blocked and the resource's
// write-ordering and the connection's congested only when new or changed; the peer-device's
// received sent out-of-sync pending unacked on every line (8.4 has no done/dbdt1/eta).
function fieldsOf84(record: EventRecord, opts: RenderOptions): Line {
  const { kind, info, stats, verb } = record;
  const line = new Line(kind, false);
  const whole = verb !== 'change';
  const each = (...keys: string[]) => {
    line.add(
      info,
      keys.filter((k) => whole || record.changed.includes(k)),
    );
  };
  switch (kind) {
    case 'resource':
      each('role', 'suspended');
      if (opts.statistics && whole) line.add(stats, ['write-ordering']);
      break;
    case 'device':
      each('disk');
      if (opts.statistics) {
        line.add(stats, [
          'size',
          'read',
          'written',
          'al-writes',
          'bm-writes',
          'upper-pending',
          'lower-pending',
        ]);
        if (whole) line.add(stats, ['al-suspended', 'blocked']);
      }
      break;
    case 'connection':
      each('connection', 'role');
      if (opts.statistics && whole) line.add(stats, ['congested']);
      break;
    case 'peer-device':
      each('replication', 'peer-disk', 'resync-suspended');
      if (opts.statistics) line.add(stats, ['received', 'sent', 'out-of-sync', 'pending', 'unacked']);
      break;
    case 'helper':
      line.add(info, ['helper', 'status']);
      break;
    default:
      break;
  }
  return line;
}

/** One printed line, or undefined when these options print nothing for the record. */
export function renderRecord(
  record: EventRecord,
  opts: RenderOptions,
  epochMicros?: number,
): string | undefined {
  const prefix = opts.timestamps && epochMicros !== undefined ? `${formatTimestamp(epochMicros)} ` : '';
  const keys = record.keys.map(([k, v]) => ` ${k}:${v}`).join('');
  const head = `${prefix}${record.verb} ${record.kind}${keys}`;
  if (record.verb === 'destroy') return head;
  const fields = opts.dialect === '9' ? fieldsOf9(record, opts) : fieldsOf84(record, opts);
  if (record.verb === 'change' && fields.empty) return undefined;
  return `${head}${fields.toString()}`;
}

export function renderRecords(records: EventRecord[], opts: RenderOptions, epochMicros?: number): string[] {
  const lines: string[] = [];
  for (const record of records) {
    const line = renderRecord(record, opts, epochMicros);
    if (line !== undefined) lines.push(line);
  }
  return lines;
}

/**
 * drbd-utils before 9.28 (drbdsetup.c print_notifications, `printf("- skipped %d\n", skipped)`)
 * and drbdsetup-84 print a gap in the kernel's sequence numbers before the next event and before
 * its timestamp; `%d` of an unsigned difference, so events out of order give a negative N.
 */
export function skippedLine(n: number): string {
  return `- skipped ${n}`;
}

export function endOfDump(opts: RenderOptions, epochMicros?: number): string {
  const prefix = opts.timestamps && epochMicros !== undefined ? `${formatTimestamp(epochMicros)} ` : '';
  return `${prefix}exists -`;
}
