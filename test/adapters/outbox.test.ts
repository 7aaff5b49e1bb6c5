import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type NewEntry, Outbox } from '../../src/adapters/outbox.js';
import { createLogger } from '../../src/app/log.js';
import { isUrgent } from '../../src/core/delivery.js';
import type { AlertKind, Severity } from '../../src/core/notification.js';
import { DeliveryError } from '../../src/ports/chat.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { RecordingPlatform } from '../helpers/recording-platform.js';
import { until } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent', format: 'json' });

async function openOutbox(dir: string, platform: RecordingPlatform, minIntervalMs = 0): Promise<Outbox> {
  const outbox = new Outbox({
    dir,
    platforms: new Map([['slack', platform]]),
    logger,
    minIntervalMs: { slack: minIntervalMs, discord: minIntervalMs, console: 0 },
    backoff: { initialMs: 20, maxMs: 100 },
    random: () => 0.5,
  });
  await outbox.open();
  onCleanup(() => outbox.stop());
  return outbox;
}

let n = 0;
function delivery(
  op: NewEntry['op'],
  severity: Severity = 'info',
  extra: { incidentKey?: string; kind?: AlertKind; resource?: string } = {},
): NewEntry {
  n += 1;
  const kind = extra.kind ?? 'role-changed';
  return {
    key: `key-${n}`,
    platform: 'slack',
    channel: 'C1',
    op,
    ...(extra.incidentKey === undefined ? {} : { incidentKey: extra.incidentKey }),
    message: { title: `message ${n}`, tone: severity, body: kind },
    resource: extra.resource ?? 'r0',
    severity,
    urgent: isUrgent(severity, op),
    kinds: op === 'update-parent' ? {} : { [kind]: 1 },
    changes: op === 'update-parent' ? 0 : 1,
  };
}

function journalText(dir: string): string {
  return readFileSync(join(dir, 'outbox.ndjson'), 'utf8');
}

describe('Outbox', () => {
  it('delivers, and keeps nothing once the platform confirmed', async () => {
    const dir = tempDir('drbd-chatops-outbox-');
    const slack = new RecordingPlatform();
    const outbox = await openOutbox(dir, slack);
    await outbox.enqueue([delivery('post')]);
    await until(() => outbox.depth === 0, 'delivery');
    expect(slack.posts.map((p) => p.message.title)).toEqual([`message ${n}`]);
  });

  it('is on disk before any attempt, and a restart delivers it exactly once', async () => {
    const dir = tempDir('drbd-chatops-outbox-');
    const down = new RecordingPlatform();
    down.down = true;
    const first = await openOutbox(dir, down);
    await first.enqueue([delivery('post', 'warning'), delivery('post', 'info', { resource: 'r1' })]);
    expect(journalText(dir)).toContain('"put"');
    await first.stop();

    const up = new RecordingPlatform();
    const second = await openOutbox(dir, up);
    expect(second.depth).toBe(2);
    await until(() => second.depth === 0, 'delivery after restart');
    expect(up.posts).toHaveLength(2);
  });

  it('retries retryable failures with backoff and honours Retry-After', async () => {
    const dir = tempDir('drbd-chatops-outbox-');
    const slack = new RecordingPlatform();
    slack.failures = [
      new DeliveryError('ratelimited', true, 300, 429),
      new DeliveryError('internal_error', true, undefined, 500),
    ];
    const outbox = await openOutbox(dir, slack);
    const started = Date.now();
    await outbox.enqueue([delivery('post')]);
    await until(() => outbox.depth === 0, 'delivery after retries');
    expect(slack.posts).toHaveLength(1);
    expect((slack.posts[0]?.at ?? 0) - started).toBeGreaterThanOrEqual(300);
  });

  it('keeps a refused delivery as a dead letter instead of retrying forever', async () => {
    const dir = tempDir('drbd-chatops-outbox-');
    const slack = new RecordingPlatform();
    slack.failures = [new DeliveryError('channel_not_found', false, undefined, 200)];
    const outbox = await openOutbox(dir, slack);
    await outbox.enqueue([delivery('post'), delivery('post', 'info', { resource: 'r1' })]);
    await until(() => outbox.depth === 0, 'the queue to empty');
    const dead = readdirSync(dir).filter((f) => f.startsWith('dead-letter-'));
    expect(dead).toHaveLength(1);
    expect(readFileSync(join(dir, dead[0] ?? ''), 'utf8')).toContain('channel_not_found');
    expect(slack.posts).toHaveLength(1);
    // The outbox says how many it keeps, now and after a restart (the digest shows the count).
    expect(outbox.deadLetters).toBe(1);
    await outbox.stop(0);
    const again = await openOutbox(dir, new RecordingPlatform());
    expect(again.deadLetters).toBe(1);
  });

  it('does not post twice when the process dies between sending and confirming', async () => {
    const dir = tempDir('drbd-chatops-outbox-');
    const slack = new RecordingPlatform();
    slack.hangAfterPost = true;
    const first = new Outbox({
      dir,
      platforms: new Map([['slack', slack]]),
      logger,
      minIntervalMs: { slack: 0, discord: 0, console: 0 },
    });
    await first.open();
    onCleanup(async () => {
      slack.releaseHang();
      await first.stop();
    });
    await first.enqueue([delivery('post', 'critical', { kind: 'split-brain' })]);
    await until(() => slack.posts.length === 1, 'the first post');
    // "Crash": abandon the first outbox without stopping it; a new process opens the same files.
    slack.hangAfterPost = false;
    const second = await openOutbox(dir, slack);
    await until(() => second.depth === 0, 'settling the interrupted send');
    expect(slack.posts).toHaveLength(1);
  });

  it('threads replies under the incident parent and edits the parent', async () => {
    const dir = tempDir('drbd-chatops-outbox-');
    const slack = new RecordingPlatform();
    const outbox = await openOutbox(dir, slack);
    await outbox.enqueue([
      delivery('open', 'critical', { incidentKey: 'r0/connection', kind: 'connection-lost' }),
      delivery('reply', 'info', { incidentKey: 'r0/connection', kind: 'connection-restored' }),
      delivery('update-parent', 'info', { incidentKey: 'r0/connection' }),
    ]);
    await until(() => outbox.depth === 0, 'delivery');
    const parent = slack.posts[0]?.messageId;
    expect(slack.posts[1]?.threadOf).toBe(parent);
    expect(slack.updates.map((u) => u.messageId)).toEqual([parent]);
    expect(outbox.parentOf('slack', 'C1', 'r0/connection')).toBe(parent);
    // The parent ids survive a restart.
    await outbox.stop();
    const again = await openOutbox(dir, slack);
    expect(again.parentOf('slack', 'C1', 'r0/connection')).toBe(parent);
  });

  it('folds a burst under the channel rate limit and counts every change', async () => {
    const dir = tempDir('drbd-chatops-outbox-');
    const slack = new RecordingPlatform();
    const outbox = await openOutbox(dir, slack, 200);
    await outbox.enqueue([
      delivery('open', 'warning', { incidentKey: 'r0/connection', kind: 'connection-lost' }),
    ]);
    const burst = Array.from({ length: 60 }, (_, i) =>
      delivery('reply', i % 2 === 0 ? 'warning' : 'info', {
        incidentKey: 'r0/connection',
        kind: i % 2 === 0 ? 'connection-lost' : 'connection-restored',
      }),
    );
    for (const item of burst) await outbox.enqueue([item]);
    await until(() => outbox.depth === 0, 'the burst to drain');
    expect(slack.posts.length).toBeLessThanOrEqual(5);
    const counted = slack.posts
      .slice(1)
      .map(
        (p) =>
          /^r0: (\d+) changes$/.exec(p.message.title)?.[1] ??
          (p.message.title.startsWith('message') ? '1' : '0'),
      )
      .reduce((sum, v) => sum + Number(v), 0);
    expect(counted).toBe(60);
    expect(existsSync(join(dir, 'outbox.ndjson'))).toBe(true);
  });

  it('sends an urgent alert before queued info traffic', async () => {
    const dir = tempDir('drbd-chatops-outbox-');
    const slack = new RecordingPlatform();
    slack.down = true;
    const outbox = await openOutbox(dir, slack);
    await outbox.enqueue([
      delivery('post', 'info', { resource: 'r1' }),
      delivery('post', 'info', { resource: 'r2' }),
      delivery('open', 'critical', { incidentKey: 'r0/connection', kind: 'split-brain' }),
    ]);
    slack.down = false;
    await until(() => outbox.depth === 0, 'delivery');
    expect(slack.posts[0]?.message.tone).toBe('critical');
  });
});
