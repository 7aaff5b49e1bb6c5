import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox } from '../../src/adapters/outbox.js';
import type { Route } from '../../src/app/config.js';
import { createLogger } from '../../src/app/log.js';
import { Notifier, routeMatches } from '../../src/app/notifier.js';
import type { AlertKind, Notification, Severity } from '../../src/core/notification.js';
import { onCleanup } from '../helpers/cleanup.js';
import { RecordingPlatform } from '../helpers/recording-platform.js';
import { until } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent', format: 'json' });
const T0 = Date.parse('2026-11-29T10:00:00Z');

function n(
  kind: AlertKind,
  severity: Severity,
  offsetMs: number,
  resource: string | null = 'r0',
): Notification {
  return {
    kind,
    severity,
    host: 'alpha',
    resource,
    text: kind,
    details: {},
    at: new Date(T0 + offsetMs).toISOString(),
  };
}

describe('routeMatches', () => {
  const route: Route = { platform: 'slack', channel: 'C1', minSeverity: 'warning' };
  it('filters by severity, kind and resource', () => {
    expect(routeMatches(route, n('connection-lost', 'warning', 0))).toBe(true);
    expect(routeMatches(route, n('role-changed', 'info', 0))).toBe(false);
    expect(routeMatches({ ...route, kinds: ['split-brain'] }, n('connection-lost', 'critical', 0))).toBe(
      false,
    );
    expect(routeMatches({ ...route, resources: ['r1'] }, n('connection-lost', 'critical', 0))).toBe(false);
    expect(routeMatches({ ...route, resources: ['r1'] }, n('watcher-gap', 'warning', 0, null))).toBe(false);
  });
});

describe('Notifier', () => {
  async function setup(routes: Route[], dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-notifier-'))) {
    const slack = new RecordingPlatform('slack');
    const discord = new RecordingPlatform('discord');
    const outbox = new Outbox({
      dir: join(dir, 'outbox'),
      platforms: new Map([
        ['slack', slack],
        ['discord', discord],
      ]),
      logger,
      minIntervalMs: { slack: 0, discord: 0, console: 0 },
    });
    await outbox.open();
    onCleanup(() => outbox.stop());
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    return { notifier: new Notifier({ stateDir: dir, routes, outbox }), slack, discord, outbox, dir };
  }

  it('sends each notification to every matching route, as one incident thread per channel', async () => {
    const { notifier, slack, discord, outbox } = await setup([
      { platform: 'slack', channel: 'C-ops', minSeverity: 'info' },
      { platform: 'discord', channel: '42', minSeverity: 'critical' },
    ]);
    await notifier.notify([n('connection-lost', 'critical', 0), n('connection-restored', 'info', 5_000)]);
    await until(() => outbox.depth === 0, 'delivery');
    expect(slack.posts.map((p) => [p.message.title, p.threadOf === undefined])).toEqual([
      ['r0: Replication link — Connection lost', true],
      ['r0: Connection restored', false],
    ]);
    expect(slack.updates.at(-1)?.message.tone).toBe('resolved');
    // Discord only takes critical: the parent, but not the info reply nor the resolving edit's trigger.
    expect(discord.posts.map((p) => p.message.title)).toEqual(['r0: Replication link — Connection lost']);
  });

  it('keeps incidents across a restart, so the same thread continues', async () => {
    const first = await setup([{ platform: 'slack', channel: 'C1', minSeverity: 'info' }]);
    await first.notifier.notify([n('connection-lost', 'critical', 0)]);
    await until(() => first.outbox.depth === 0, 'delivery');
    await first.outbox.stop();
    const second = await setup([{ platform: 'slack', channel: 'C1', minSeverity: 'info' }], first.dir);
    expect(second.notifier.incidents['r0/connection']?.changes).toBe(1);
    await second.notifier.notify([n('connection-restored', 'info', 1_000)]);
    await until(() => second.outbox.depth === 0, 'delivery');
    expect(second.slack.posts[0]?.threadOf).toBe(first.slack.posts[0]?.messageId);
  });
});
