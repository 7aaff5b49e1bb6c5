import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, Events2Source } from '../../src/adapters/events2-source.js';
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

function startSource(mode: string, full: 'auto' | 'always' | 'never', log: string) {
  const lines: string[] = [];
  const restarts: string[] = [];
  const watcher = new HostWatcher('alpha');
  const kinds: string[] = [];
  const source: Events2Source = new Events2Source({
    command: process.execPath,
    args: [SCRIPT, 'events2', '--timestamps', '--statistics'],
    full,
    env: { SCRIPT_MODE: mode, SCRIPT_LOG: log },
    backoff: { initialMs: 20, maxMs: 80 },
    logger,
    random: () => 0.5,
    onLine: (line, at) => {
      lines.push(line);
      const result = watcher.feed(line, at);
      kinds.push(...result.notifications.map((n) => n.kind));
      if (result.resyncRequested === true) source.restart('events were skipped');
    },
    onRestart: (reason, at) => {
      restarts.push(reason);
      watcher.restarted(at, reason);
    },
  });
  source.start();
  cleanup.push(() => source.stop());
  return { source, lines, restarts, kinds };
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
