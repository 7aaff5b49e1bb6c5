// `drbd-chatops audit` against an audit log written by the AuditLog adapter.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/adapters/audit-log.js';
import { tempDir } from '../helpers/cleanup.js';

const BIN = join(import.meta.dirname, '../../bin/drbd-chatops');
const actor = { platform: 'slack' as const, userId: 'UALICE', userName: 'alice', member: 'alice' };

async function writeLog(dir: string): Promise<void> {
  const log = new AuditLog(join(dir, 'audit.ndjson'));
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const base = { host: 'alpha', command: 'ip-set web1 198.51.100.20' };
  await log.append({ ...base, at: at(120), event: 'requested', operation: 'aaaa0001', actor, token: 3 });
  await log.append({ ...base, at: at(119), event: 'confirmed', operation: 'aaaa0001', actor, token: 3 });
  await log.append({
    ...base,
    at: at(118),
    event: 'step',
    operation: 'aaaa0001',
    token: 3,
    step: {
      id: 'stop',
      label: 'Stop web1',
      host: 'alpha',
      status: 'done',
      durationMs: 812,
      runs: [{ argv: ['lxc', 'stop', 'web1'], exitCode: 0, durationMs: 810 }],
    },
  });
  await log.append({
    ...base,
    at: at(5),
    event: 'refused',
    operation: null,
    actor: { platform: 'discord', userId: '99', userName: 'eve' },
    reason: 'eve may not request ip-set',
  });
  await log.close();
  appendFileSync(join(dir, 'audit.ndjson'), '{"torn');
}

describe('drbd-chatops audit', () => {
  it('prints, filters and reports unreadable lines', async () => {
    const dir = tempDir();
    await writeLog(dir);
    const all = await execa(BIN, ['audit', '--state-dir', dir], { reject: false, timeout: 20_000 });
    expect(all.exitCode).toBe(0);
    const lines = all.stdout.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(
      /alpha aaaa0001 step: ip-set web1 198.51.100.20 · token 3 · Stop web1 on alpha: done in 812 ms \[lxc stop web1 → 0, 810 ms\]$/,
    );
    expect(all.stderr).toMatch(/1 unreadable line\(s\)/);
    const mine = await execa(
      BIN,
      ['audit', '--state-dir', dir, '--user', 'alice', '--since', '3h', '--json'],
      { timeout: 20_000 },
    );
    expect(mine.stdout.split('\n').map((l) => JSON.parse(l).event)).toEqual(['requested', 'confirmed']);
    const recent = await execa(BIN, ['audit', '--state-dir', dir, '--since', '30m'], { timeout: 20_000 });
    expect(recent.stdout).toMatch(
      /refused by eve \(discord:99\): ip-set web1 198.51.100.20 · eve may not request ip-set$/,
    );
    const one = await execa(
      BIN,
      ['audit', '--state-dir', dir, '--operation', 'aaaa0001', '--event', 'step'],
      { timeout: 20_000 },
    );
    expect(one.stdout.split('\n')).toHaveLength(1);
  });

  it('rejects bad filters with exit 2', async () => {
    const bad = await execa(BIN, ['audit', '--state-dir', tempDir(), '--since', 'yesterday'], {
      reject: false,
      timeout: 20_000,
    });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--since: "yesterday" is neither an ISO time nor 30m\/12h\/7d/);
    const event = await execa(BIN, ['audit', '--state-dir', tempDir(), '--event', 'nap'], {
      reject: false,
      timeout: 20_000,
    });
    expect(event.exitCode).toBe(2);
  });
});
