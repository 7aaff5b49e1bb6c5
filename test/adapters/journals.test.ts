// The durable journals after crashes and damage: a torn last line is moved aside before the next
// append (the audit log included), and records that do not match their schema are quarantined
// instead of breaking start-up.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AuditLog, readAudit } from '../../src/adapters/audit-log.js';
import { Journal, quarantinePath, readJournal, repairTornTail } from '../../src/adapters/durable-journal.js';
import { OperationStore } from '../../src/adapters/operation-store.js';
import { tempDir } from '../helpers/cleanup.js';

const record = (n: number) =>
  ({
    at: `2026-12-06T03:00:0${n}.000Z`,
    event: 'step',
    host: 'alpha',
    operation: 'aabbccdd',
    command: 'failover r0',
  }) as const;

describe('a torn last line', () => {
  it('is moved aside, and the next record starts on its own line', async () => {
    const dir = tempDir();
    const path = join(dir, 'audit.ndjson');
    // Two complete records, then a crash in the middle of the third.
    const complete = `${JSON.stringify(record(1))}\n${JSON.stringify(record(2))}\n`;
    const torn = '{"at":"2026-12-06T03:00:03.000Z","event":"st';
    writeFileSync(path, complete + torn);
    const warnings: unknown[] = [];
    const audit = new AuditLog(path, { onRepair: (t) => warnings.push(t) });
    await audit.open();
    await audit.append({
      ...record(4),
      event: 'interrupted',
      reason: 'the bot stopped while this was running',
    });
    await audit.close();
    const { records, damaged } = readAudit(path);
    expect(damaged).toBe(0);
    expect(records.map((r) => r.event)).toEqual(['step', 'step', 'interrupted']);
    expect(warnings).toHaveLength(1);
    const { movedTo, bytes } = warnings[0] as { movedTo: string; bytes: number };
    expect(bytes).toBe(Buffer.byteLength(torn));
    expect(readFileSync(movedTo, 'utf8')).toBe(torn);
  });

  it('leaves a journal that ends with a newline alone', () => {
    const dir = tempDir();
    const path = join(dir, 'j.ndjson');
    writeFileSync(path, '{"a":1}\n');
    expect(repairTornTail(path)).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n');
    expect(repairTornTail(join(dir, 'missing'))).toBeUndefined();
  });

  it('is repaired by every journal before its first append', async () => {
    const dir = tempDir();
    const path = join(dir, 'j.ndjson');
    writeFileSync(path, '{"a":1}\n{"a":');
    const journal = new Journal<{ a: number }>(path);
    await journal.append([{ a: 2 }]);
    await journal.close();
    expect(readJournal(path)).toEqual({ records: [{ a: 1 }, { a: 2 }], damaged: 0, quarantined: 0 });
    expect(readdirSync(dir).filter((f) => f.startsWith('j.ndjson.torn-'))).toHaveLength(1);
  });
});

describe('records checked on load', () => {
  it('quarantines what does not match the schema and keeps the rest', () => {
    const dir = tempDir();
    const path = join(dir, 'j.ndjson');
    writeFileSync(path, '{"n":1}\n{"n":"two"}\nnot json\n{"n":3}\n');
    const loaded = readJournal(path, { schema: z.object({ n: z.number() }) });
    expect(loaded).toEqual({ records: [{ n: 1 }, { n: 3 }], damaged: 1, quarantined: 1 });
    const kept = readFileSync(quarantinePath(path), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; line: string });
    expect(kept.map((k) => [k.line, k.reason])).toEqual([
      ['{"n":"two"}', 'n: Invalid input: expected number, received string'],
      ['not json', 'not JSON'],
    ]);
  });

  it('an incomplete operation record does not stop the store from opening', async () => {
    const dir = tempDir();
    const path = join(dir, 'operations.ndjson');
    // Well-formed JSON, but a running operation without its plan's steps: recovery would throw.
    const incomplete = { id: '0badc0de', state: 'running', plan: { title: 'failover r0' }, token: 3 };
    writeFileSync(path, `${JSON.stringify(incomplete)}\n`);
    const store = new OperationStore(path);
    expect(await store.open()).toEqual({ damaged: 0, quarantined: 1 });
    expect(store.all()).toEqual([]);
    await store.close();
    expect(existsSync(quarantinePath(path))).toBe(true);
    // The journal was compacted without it: the next start finds nothing to quarantine again.
    const again = new OperationStore(path);
    expect(await again.open()).toEqual({ damaged: 0, quarantined: 0 });
    await again.close();
  });
});
