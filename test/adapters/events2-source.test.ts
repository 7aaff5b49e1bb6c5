import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  backoffDelay,
  Events2Source,
  type StreamEnding,
  stderrTail,
} from '../../src/adapters/events2-source.js';
import { createLogger } from '../../src/app/log.js';
import { HostWatcher } from '../../src/core/watcher.js';
import { until } from '../helpers/wait.js';

const SCRIPT = join(import.meta.dirname, '../fixtures/bin/scripted-drbdsetup.mjs');
const logger = createLogger({ level: 'silent', format: 'json' });

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-source-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function startSource(
  mode: string,
  full: 'auto' | 'always' | 'never',
  log: string,
  extra: { env?: Record<string, string>; command?: string } = {},
) {
  const lines: string[] = [];
  const restarts: string[] = [];
  const endings: StreamEnding[] = [];
  const watcher = new HostWatcher('alpha');
  const kinds: string[] = [];
  const source: Events2Source = new Events2Source({
    command: extra.command ?? process.execPath,
    args: [SCRIPT, 'events2', '--timestamps', '--statistics'],
    full,
    env: { SCRIPT_MODE: mode, SCRIPT_LOG: log, ...extra.env },
    backoff: { initialMs: 20, maxMs: 80 },
    logger,
    random: () => 0.5,
    onLine: (line, at) => {
      lines.push(line);
      const result = watcher.feed(line, at);
      kinds.push(...result.notifications.map((n) => n.kind));
      if (result.resyncRequested === true) source.restart('events were skipped');
    },
    onEnded: (ending) => endings.push(ending),
    onRestart: (reason, at) => {
      restarts.push(reason);
      watcher.restarted(at, reason);
    },
  });
  source.start();
  cleanup.push(() => source.stop());
  return { source, lines, restarts, kinds, endings };
}

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the maximum, with bounded jitter', () => {
    const b = { initialMs: 1_000, maxMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, b, () => 1))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
    expect(backoffDelay(0, b, () => 0)).toBe(800);
    expect(backoffDelay(1_000, b, () => 1)).toBe(30_000);
  });
});

describe('Events2Source', () => {
  it('restarts a stream that ends, tells the watcher, and reports the gap', async () => {
    const log = join(tempDir(), 'starts.log');
    const { restarts, kinds } = startSource('exit-after-dump', 'never', log);
    await until(() => restarts.length >= 3, 'three restarts');
    expect(restarts[0]).toBe('drbdsetup exited with code 20');
    // Each fresh dump flips the role, so every resync finds a missed change.
    await until(() => kinds.includes('role-changed'), 'a missed role change');
    expect(kinds.filter((k) => k === 'watcher-gap').length).toBeGreaterThanOrEqual(2);
    const starts = readFileSync(log, 'utf8').trim().split('\n');
    expect(starts[0]).toBe('events2 --timestamps --statistics');
  });

  it('drops --full for good when drbdsetup refuses it (8.4)', async () => {
    const log = join(tempDir(), 'starts.log');
    const { lines, source } = startSource('refuse-full', 'auto', log);
    await until(() => lines.includes('exists -'), 'the dump without --full');
    expect(source.args).not.toContain('--full');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'events2 --timestamps --statistics --full',
      'events2 --timestamps --statistics',
    ]);
  });

  it('keeps --full when it is accepted', async () => {
    const log = join(tempDir(), 'starts.log');
    const { lines, source } = startSource('stay', 'auto', log);
    await until(() => lines.includes('exists -'), 'the dump');
    expect(source.args).toContain('--full');
  });

  it('restarts at once for a fresh dump after "- skipped N"', async () => {
    const log = join(tempDir(), 'starts.log');
    const { restarts } = startSource('skip', 'never', log);
    await until(() => restarts.length >= 1, 'a restart');
    expect(restarts[0]).toBe('events were skipped');
  });

  it('tells at once how a stream ended: the exit code and the end of stderr', async () => {
    const dir = tempDir();
    const flag = join(dir, 'fail');
    const { lines, endings, source } = startSource('stay', 'never', join(dir, 'starts.log'), {
      env: { SCRIPT_FAIL_FLAG: flag },
    });
    await until(() => lines.includes('exists -'), 'the dump');
    expect(endings).toEqual([]);
    writeFileSync(flag, '');
    await until(() => endings.length >= 3, 'the stream ending and two failed restarts');
    expect(endings[0]).toMatchObject({
      reason: 'drbdsetup exited with code 20',
      exitCode: 20,
      stderrTail: 'drbdsetup: netlink: Permission denied\nevents2: giving up',
      printed: true,
    });
    // The restarts fail before printing anything.
    expect(endings.slice(1).every((e) => !e.printed && e.exitCode === 20)).toBe(true);
    expect(source.streaming).toBe(false);
    rmSync(flag);
    await until(() => source.streaming, 'the stream back');
  });

  it('says why drbdsetup could not run at all', async () => {
    const dir = tempDir();
    const missing = join(dir, 'no-such-drbdsetup');
    const { endings } = startSource('stay', 'never', join(dir, 'starts.log'), { command: missing });
    await until(() => endings.length >= 1, 'the failed start');
    expect(endings[0]?.reason).toMatch(/^could not run .*no-such-drbdsetup.*ENOENT/);
    expect(endings[0]?.printed).toBe(false);
  });

  it('stops the stream it started', async () => {
    const log = join(tempDir(), 'starts.log');
    const { lines, source } = startSource('stay', 'never', log);
    await until(() => lines.includes('exists -'), 'the dump');
    await source.stop();
    const startsBefore = readFileSync(log, 'utf8');
    await new Promise((r) => setTimeout(r, 200));
    expect(readFileSync(log, 'utf8')).toBe(startsBefore);
  });
});

describe('stderrTail', () => {
  it('keeps the last lines, without colours, control characters or blank lines, within the limit', () => {
    expect(stderrTail('')).toBe('');
    expect(stderrTail('\u001b[31mfailed\u001b[0m\r\n\n  twice\u0007 \n')).toBe('failed\ntwice');
    const long = `${'x'.repeat(500)}\nthe end`;
    const tail = stderrTail(long, 50);
    expect(tail).toHaveLength(50);
    expect(tail.startsWith('…')).toBe(true);
    expect(tail.endsWith('\nthe end')).toBe(true);
  });
});
