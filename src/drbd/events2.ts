// Parser for the lines `drbdsetup events2` prints, on DRBD 9 and on DRBD 8.4 kernels driven by
// drbd-utils 9. One pure function, `parseEvents2Line`, turns one line into one record. It never
// throws: a line it cannot make sense of becomes an `error` record, so a garbled stream can be
// logged and skipped without stopping the watcher (drbd-reactor's habit: lenient with input).

export const EVENTS2_VERBS = ['exists', 'create', 'change', 'destroy', 'call', 'response', 'rename'] as const;
export type Events2Verb = (typeof EVENTS2_VERBS)[number];

export const EVENTS2_OBJECTS = ['resource', 'device', 'connection', 'peer-device', 'path', 'helper'] as const;
export type Events2Object = (typeof EVENTS2_OBJECTS)[number];

/** Keys that name the object a line is about; every other key is a field of that object. */
export const IDENTITY_KEYS = {
  resource: ['name'],
  device: ['name', 'volume', 'minor'],
  connection: ['name', 'peer-node-id', 'conn-name'],
  'peer-device': ['name', 'peer-node-id', 'conn-name', 'volume'],
  path: ['name', 'peer-node-id', 'conn-name', 'local', 'peer'],
  helper: ['name', 'peer-node-id', 'conn-name', 'volume', 'minor', 'helper'],
} as const satisfies Record<Events2Object, readonly string[]>;

/**
 * Which identity keys must be present. Older drbd-utils print connection lines without
 * peer-node-id, and device lines may omit minor, so those are optional; an object cannot be
 * addressed without the rest.
 */
const REQUIRED_KEYS = {
  resource: ['name'],
  device: ['name', 'volume'],
  connection: ['name', 'conn-name'],
  'peer-device': ['name', 'conn-name', 'volume'],
  path: ['name', 'conn-name'],
  helper: ['name', 'helper'],
} as const satisfies Record<Events2Object, readonly string[]>;

export interface Events2Event {
  readonly type: 'event';
  /** The stamp exactly as printed (`--timestamps`), if any. */
  readonly timestamp?: string;
  /** Milliseconds since the epoch of `timestamp`, if it was present and valid. */
  readonly time?: number;
  readonly verb: Events2Verb;
  readonly object: Events2Object;
  /** The identity keys that were present, e.g. {name: 'r0', volume: '0', minor: '0'}. */
  readonly id: Readonly<Record<string, string>>;
  /** Every other key with its (new) value, unknown keys included, in line order. */
  readonly fields: Readonly<Record<string, string>>;
  /** Old values of `--diff` fields (`role:Secondary->Primary` gives previous.role = 'Secondary'). */
  readonly previous: Readonly<Record<string, string>>;
}

/** `exists -`: the initial dump is complete; from here on every line is a live event. */
export interface Events2EndOfDump {
  readonly type: 'end-of-dump';
  readonly timestamp?: string;
  readonly time?: number;
}

/**
 * `- skipped N`: the sequence numbers of the kernel's events jumped, so events were lost or arrived
 * out of order and the state may be stale. drbd-utils before 9.28 print N with `%d` as the difference
 * of two sequence numbers (`user/v9/drbdsetup.c`, `user/v84/drbdsetup.c`: `printf("- skipped %d\n",
 * skipped)`), so it can be negative; 9.28 and later reorder events and print no such line.
 */
export interface Events2Skipped {
  readonly type: 'skipped';
  /** Any value but 0 means the order of events is unreliable; negative means it went backwards. */
  readonly count: number;
  readonly timestamp?: string;
  readonly time?: number;
}

export interface Events2Empty {
  readonly type: 'empty';
}

export interface Events2Error {
  readonly type: 'error';
  readonly line: string;
  readonly reason: string;
}

export type Events2Record = Events2Event | Events2EndOfDump | Events2Skipped | Events2Empty | Events2Error;

// SGR and other CSI sequences as `--color` prints them around state values.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
const ANSI_ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/g;

// drbdsetup prints `2026-11-29T10:15:30.123456+00:00`; accept any ISO-8601 date-time with an offset.
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))[ \t]+/;

const VERBS: ReadonlySet<string> = new Set(EVENTS2_VERBS);
const OBJECTS: ReadonlySet<string> = new Set(EVENTS2_OBJECTS);
const IDENTITY_SETS: Record<Events2Object, ReadonlySet<string>> = {
  resource: new Set(IDENTITY_KEYS.resource),
  device: new Set(IDENTITY_KEYS.device),
  connection: new Set(IDENTITY_KEYS.connection),
  'peer-device': new Set(IDENTITY_KEYS['peer-device']),
  path: new Set(IDENTITY_KEYS.path),
  helper: new Set(IDENTITY_KEYS.helper),
};

const DIFF_ARROW = '->';

function isVerb(word: string): word is Events2Verb {
  return VERBS.has(word);
}

function isObject(word: string): word is Events2Object {
  return OBJECTS.has(word);
}

/** Milliseconds since the epoch, or undefined; Date.parse copes with the 6-digit fraction. */
function parseTime(stamp: string): number | undefined {
  const ms = Date.parse(stamp);
  return Number.isFinite(ms) ? ms : undefined;
}

function withTime<T extends object>(record: T, stamp: string | undefined): T {
  if (stamp === undefined) return record;
  const time = parseTime(stamp);
  return time === undefined ? { ...record, timestamp: stamp } : { ...record, timestamp: stamp, time };
}

function error(line: string, reason: string): Events2Error {
  return { type: 'error', line, reason };
}

/**
 * Parse one line of `drbdsetup events2` output. Accepts the options `--timestamps`,
 * `--statistics`, `--full`, `--diff` (the new value is taken, the old one kept in `previous`)
 * and `--color`, and CRLF line ends.
 */
export function parseEvents2Line(input: string): Events2Record {
  // Strings from a child process can be anything; never let a non-string reach the regexes.
  if (typeof input !== 'string') return error(String(input), 'not a string');
  let line = input.replace(ANSI_ESCAPE, '');
  if (line.endsWith('\n')) line = line.slice(0, -1);
  if (line.endsWith('\r')) line = line.slice(0, -1);
  line = line.trim();
  if (line === '') return { type: 'empty' };

  let stamp: string | undefined;
  const ts = TIMESTAMP.exec(line);
  if (ts?.[1] !== undefined) {
    stamp = ts[1];
    line = line.slice(ts[0].length);
  }

  const words = line.split(/[ \t]+/);
  const [first, second, ...rest] = words;

  if (first === '-' && second === 'skipped') {
    const count = rest.length === 1 && /^[-+]?\d+$/.test(rest[0] ?? '') ? Number(rest[0]) : Number.NaN;
    if (!Number.isSafeInteger(count)) return error(input, 'malformed "- skipped N" line');
    return withTime({ type: 'skipped', count } as Events2Skipped, stamp);
  }

  if (first === undefined || !isVerb(first))
    return error(input, `unknown verb ${JSON.stringify(first ?? '')}`);
  if (second === '-') {
    if (first !== 'exists' || rest.length > 0) return error(input, '"-" is only valid as "exists -"');
    return withTime({ type: 'end-of-dump' } as Events2EndOfDump, stamp);
  }
  if (second === undefined || !isObject(second)) {
    return error(input, `unknown object ${JSON.stringify(second ?? '')}`);
  }

  const identity = IDENTITY_SETS[second];
  // Null-prototype records: a key such as `__proto__:x` from a garbled line stays plain data.
  const id: Record<string, string> = Object.create(null);
  const fields: Record<string, string> = Object.create(null);
  const previous: Record<string, string> = Object.create(null);
  for (const word of rest) {
    const colon = word.indexOf(':');
    if (colon <= 0) return error(input, `expected key:value, got ${JSON.stringify(word)}`);
    const key = word.slice(0, colon);
    const value = word.slice(colon + 1);
    if (identity.has(key)) {
      id[key] = value;
      continue;
    }
    // `--diff` prints old->new; values such as addresses never contain the arrow.
    const arrow = value.indexOf(DIFF_ARROW);
    if (arrow >= 0) {
      previous[key] = value.slice(0, arrow);
      fields[key] = value.slice(arrow + DIFF_ARROW.length);
    } else {
      fields[key] = value;
    }
  }

  for (const key of REQUIRED_KEYS[second]) {
    if (id[key] === undefined) return error(input, `${second} line without ${key}`);
  }
  if (id.volume !== undefined && !/^\d+$/.test(id.volume)) {
    return error(input, `volume must be a number, got ${JSON.stringify(id.volume)}`);
  }

  const event: Events2Event = { type: 'event', verb: first, object: second, id, fields, previous };
  return withTime(event, stamp);
}

/** What a `response helper … status:N` says about how the handler ended. */
export interface HelperOutcome {
  /** The handler's exit code, when it exited by itself. */
  readonly exitCode?: number;
  /** The signal that killed the handler. */
  readonly signal?: number;
  /** A negative errno: the kernel could not run the handler at all (no drbdadm, out of memory …). */
  readonly errno?: number;
}

/**
 * Decode the `status:` of a helper response. The kernel passes on what call_usermodehelper(…,
 * UMH_WAIT_PROC) returned: the raw wait status (DRBD 9 `drbd/drbd_nl.c` drbd_khelper():
 * `notify_helper(NOTIFY_RESPONSE, device, connection, cmd, ret)`; DRBD 8.4 the same; the kernel itself
 * reads the exit code as `(ret >> 8) & 0xff`, e.g. in conn_try_outdate_peer()), and drbd-utils prints
 * it with `%u` (`user/v9/drbdsetup_events2.c` print_helper(), `user/v84/drbdsetup.c`). So exit code 4
 * is `status:1024` and a negative errno prints as a number near 2^32. Streams that carry the exit code
 * itself exist too (drbd-utils' own test data prints `status:1`, simulators may): a value of 1–255 is
 * taken as such an exit code. As a wait status it would mean "killed by signal N", which handlers
 * practically never are; either way only 3–7 of fence-peer are outcomes, everything else is a fault.
 */
export function decodeHelperStatus(status: number): HelperOutcome {
  if (!Number.isSafeInteger(status)) return {};
  if (status < 0) return { errno: status };
  if (status >= 2 ** 31) return { errno: status - 2 ** 32 };
  if (status < 256) return { exitCode: status };
  const low = status & 0x7f;
  if (low === 0) return { exitCode: (status >> 8) & 0xff };
  return { signal: low };
}
