import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeHelperStatus,
  EVENTS2_OBJECTS,
  EVENTS2_VERBS,
  IDENTITY_KEYS,
  parseEvents2Line,
} from '../../src/drbd/events2.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/events2');

function fixtureFiles(): string[] {
  const own = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.events2'))
    .map((f) => join(FIXTURES, f));
  const upstream = readdirSync(join(FIXTURES, 'drbd-utils'))
    .filter((f) => f.endsWith('.events2'))
    .map((f) => join(FIXTURES, 'drbd-utils', f));
  const situations = readdirSync(join(FIXTURES, 'situations'))
    .filter((f) => f.endsWith('.events2'))
    .map((f) => join(FIXTURES, 'situations', f));
  return [...own, ...upstream, ...situations];
}

function event(line: string) {
  const record = parseEvents2Line(line);
  if (record.type !== 'event') throw new Error(`expected an event, got ${JSON.stringify(record)}`);
  return record;
}

describe('parseEvents2Line', () => {
  it('splits identity keys from fields and keeps the order-independent values', () => {
    const e = event(
      'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:SyncSource peer-disk:Inconsistent done:37.50',
    );
    expect(e.verb).toBe('change');
    expect(e.object).toBe('peer-device');
    expect({ ...e.id }).toEqual({ name: 'r0', 'peer-node-id': '1', 'conn-name': 'beta', volume: '0' });
    expect({ ...e.fields }).toEqual({
      replication: 'SyncSource',
      'peer-disk': 'Inconsistent',
      done: '37.50',
    });
    expect(e.timestamp).toBeUndefined();
  });

  it('splits a value at the first colon only (addresses)', () => {
    const e = event(
      'create path name:r0 peer-node-id:1 conn-name:beta local:ipv4:10.0.0.1:7789 peer:ipv6:[fe80::1]:7789 established:no',
    );
    expect(e.id.local).toBe('ipv4:10.0.0.1:7789');
    expect(e.id.peer).toBe('ipv6:[fe80::1]:7789');
    expect(e.fields.established).toBe('no');
  });

  it('reads the --timestamps prefix into the stamp and epoch milliseconds', () => {
    const e = event('2026-11-29T10:15:30.123456+01:00 change resource name:r0 role:Primary');
    expect(e.timestamp).toBe('2026-11-29T10:15:30.123456+01:00');
    expect(e.time).toBe(Date.parse('2026-11-29T09:15:30.123Z'));
    expect(e.fields.role).toBe('Primary');
  });

  it('takes the new value of --diff fields and keeps the old one', () => {
    const e = event('change resource name:r0 role:Secondary->Primary may_promote:UNKNOWN->no');
    expect(e.fields.role).toBe('Primary');
    expect(e.previous.role).toBe('Secondary');
    expect(e.fields.may_promote).toBe('no');
    expect(e.previous.may_promote).toBe('UNKNOWN');
  });

  it('strips --color escapes and CRLF', () => {
    const e = event(
      'change connection name:r0 peer-node-id:1 conn-name:beta connection:\x1b[1;32mConnected\x1b[0m\r',
    );
    expect(e.fields.connection).toBe('Connected');
    expect(event('\x1b[33mchange\x1b[0m resource name:r0 role:Secondary\r\n').fields.role).toBe('Secondary');
  });

  it('recognises the end of the initial dump, with and without a timestamp', () => {
    expect(parseEvents2Line('exists -')).toEqual({ type: 'end-of-dump' });
    expect(parseEvents2Line('2026-11-29T10:15:30.123456+00:00 exists -')).toMatchObject({
      type: 'end-of-dump',
      timestamp: '2026-11-29T10:15:30.123456+00:00',
    });
  });

  it('recognises "- skipped N" gap lines', () => {
    expect(parseEvents2Line('- skipped 12')).toEqual({ type: 'skipped', count: 12 });
    expect(parseEvents2Line('2026-11-29T10:15:30.123456+00:00 - skipped 3')).toMatchObject({
      type: 'skipped',
      count: 3,
    });
    expect(parseEvents2Line('- skipped many').type).toBe('error');
  });

  it('reads the signed count drbd-utils before 9.28 print with %d, negative when events came out of order', () => {
    expect(parseEvents2Line('- skipped -3')).toEqual({ type: 'skipped', count: -3 });
    expect(parseEvents2Line('2026-11-29T10:15:30.123456-07:00 - skipped -1')).toMatchObject({
      type: 'skipped',
      count: -1,
      time: Date.parse('2026-11-29T17:15:30.123Z'),
    });
    expect(parseEvents2Line('- skipped --3').type).toBe('error');
  });

  it('decodes helper statuses given as wait statuses (the kernel) or as plain exit codes', () => {
    expect(decodeHelperStatus(0)).toEqual({ exitCode: 0 });
    expect(decodeHelperStatus(4 * 256)).toEqual({ exitCode: 4 });
    expect(decodeHelperStatus(7 << 8)).toEqual({ exitCode: 7 });
    expect(decodeHelperStatus(5)).toEqual({ exitCode: 5 });
    // Killed by SIGKILL after exiting nothing: low bits of a wait status above 255 (core flag 0x80).
    expect(decodeHelperStatus(0x100 + 9)).toEqual({ signal: 9 });
    // -ENOENT printed with %u by drbdsetup.
    expect(decodeHelperStatus(4294967294)).toEqual({ errno: -2 });
  });

  it('parses every verb and object drbdsetup prints', () => {
    for (const verb of EVENTS2_VERBS) {
      expect(event(`${verb} resource name:r0`).verb).toBe(verb);
    }
    for (const object of EVENTS2_OBJECTS) {
      const identity = IDENTITY_KEYS[object].map(
        (k) => `${k}:${k === 'volume' || k === 'minor' ? '0' : 'x'}`,
      );
      expect(event(`change ${object} ${identity.join(' ')}`).object).toBe(object);
    }
  });

  it('parses helper calls and responses with their status', () => {
    const call = event(
      'call helper name:r0 peer-node-id:1 conn-name:beta volume:0 minor:0 helper:split-brain',
    );
    expect(call.id.helper).toBe('split-brain');
    const response = event(
      'response helper name:r0 peer-node-id:1 conn-name:beta volume:0 minor:0 helper:split-brain status:256',
    );
    expect(response.fields.status).toBe('256');
  });

  it('reads the DRBD 8.4 dialect (peer-node-id:0 conn-name:peer, 8.4 state names)', () => {
    const e = event(
      'change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:PausedSyncT',
    );
    expect(e.id['conn-name']).toBe('peer');
    expect(e.fields.replication).toBe('PausedSyncT');
    expect(event('destroy connection name:r0 peer-node-id:0 conn-name:peer').verb).toBe('destroy');
  });

  it('reads connection lines of older drbd-utils without peer-node-id', () => {
    const e = event(
      'exists connection name:test0 conn-name:peer connection:Connected role:Secondary congested:no',
    );
    expect(e.id['peer-node-id']).toBeUndefined();
    expect(e.id['conn-name']).toBe('peer');
  });

  it('keeps fields it does not know as strings', () => {
    const e = event('change device name:r0 volume:0 minor:0 disk:UpToDate future-field:some-value x:');
    expect(e.fields['future-field']).toBe('some-value');
    expect(e.fields.x).toBe('');
  });

  it('turns bad lines into error records that name the problem', () => {
    expect(parseEvents2Line('')).toEqual({ type: 'empty' });
    expect(parseEvents2Line('   \r')).toEqual({ type: 'empty' });
    const cases: [string, RegExp][] = [
      ['hello world', /unknown verb "hello"/],
      ['change', /unknown object ""/],
      ['change gizmo name:r0', /unknown object "gizmo"/],
      ['change resource role:Primary', /resource line without name/],
      ['change device name:r0 disk:UpToDate', /device line without volume/],
      ['change device name:r0 volume:zero', /volume must be a number/],
      ['change resource name:r0 garbage', /expected key:value/],
      ['change resource name:r0 :empty-key', /expected key:value/],
      ['create - extra', /only valid as "exists -"/],
      ['exists - trailing', /only valid as "exists -"/],
    ];
    for (const [line, reason] of cases) {
      const record = parseEvents2Line(line);
      expect(record.type, line).toBe('error');
      if (record.type === 'error') {
        expect(record.reason).toMatch(reason);
        expect(record.line).toBe(line);
      }
    }
  });

  it('parses every line of the real-format reference streams without an error', () => {
    for (const file of fixtureFiles()) {
      if (file.includes('garbage')) continue;
      const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      expect(lines.length, file).toBeGreaterThan(0);
      for (const line of lines) {
        const record = parseEvents2Line(line);
        expect(record.type, `${file}: ${line}`).not.toBe('error');
      }
    }
  });

  it('keys cannot reach the prototype of the parsed records', () => {
    const e = event('change resource name:r0 __proto__:polluted constructor:x');
    expect(Object.entries(e.fields)).toContainEqual(['__proto__', 'polluted']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseEvents2Line under fuzzing', () => {
  const token = fc.oneof(
    fc.constantFrom(
      ...EVENTS2_VERBS,
      ...EVENTS2_OBJECTS,
      '-',
      'skipped',
      'exists',
      '->',
      ':',
      '\x1b[1m',
      '\r',
    ),
    fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 })).map(([k, v]) => `${k}:${v}`),
    fc.string({ maxLength: 10 }),
    fc.integer().map(String),
  );

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (line) => {
        const record = parseEvents2Line(line);
        expect(['event', 'end-of-dump', 'skipped', 'empty', 'error']).toContain(record.type);
      }),
      { numRuns: 5_000 },
    );
  });

  it('never throws on token soup that looks like events2', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 12 }), fc.boolean(), (tokens, stamped) => {
        const line = `${stamped ? '2026-11-29T10:15:30.123456+00:00 ' : ''}${tokens.join(' ')}`;
        const record = parseEvents2Line(line);
        if (record.type === 'error') expect(record.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 5_000 },
    );
  });

  it('reads back every well-formed line it is given', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/);
    const value = fc.stringMatching(/^[A-Za-z0-9_.:-]{0,12}$/).filter((v) => !v.includes('->'));
    const fieldKey = fc
      .stringMatching(/^[a-z][a-z_-]{0,10}$/)
      .filter((k) => !(IDENTITY_KEYS['peer-device'] as readonly string[]).includes(k) && k !== '__proto__');
    fc.assert(
      fc.property(
        fc.constantFrom(...EVENTS2_VERBS),
        name,
        fc.nat(31),
        fc.dictionary(fieldKey, value, { maxKeys: 6 }),
        (verb, resource, volume, fields) => {
          const rest = Object.entries(fields).map(([k, v]) => `${k}:${v}`);
          const line = [
            verb,
            'peer-device',
            `name:${resource}`,
            'peer-node-id:1',
            'conn-name:beta',
            `volume:${volume}`,
            ...rest,
          ].join(' ');
          const e = event(line);
          expect(e.id.name).toBe(resource);
          expect(e.id.volume).toBe(String(volume));
          expect({ ...e.fields }).toEqual(fields);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
