// The notifier and the outbox together on the pair's views: one message per pair-level change, each
// notification covered once, an operation's consequences in its thread. Against a recording platform.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox } from '../../src/adapters/outbox.js';
import { createLogger } from '../../src/app/log.js';
import { Notifier, notificationKey, type OperationThread } from '../../src/app/notifier.js';
import type { Message } from '../../src/core/message-tones.js';
import type { AlertKind, Notification, Severity } from '../../src/core/notification.js';
import type { Posted, PostOptions, UpdateOptions } from '../../src/ports/chat.js';
import { onCleanup } from '../helpers/cleanup.js';
import { RecordingPlatform } from '../helpers/recording-platform.js';
import { until } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent', format: 'json' });
const T0 = Date.parse('2026-11-29T10:00:00Z');

function n(
  host: string,
  kind: AlertKind,
  severity: Severity,
  ms: number,
  details: Notification['details'] = {},
): Notification {
  return {
    kind,
    severity,
    host,
    resource: 'r0',
    text: `${host}: ${kind}`,
    details,
    at: new Date(T0 + ms).toISOString(),
  };
}

/** A recording platform that also keeps what each post and edit says it covers. */
class CoveringPlatform extends RecordingPlatform {
  readonly covers = new Map<string, Set<string>>();
  readonly edits: { messageId: string; message: Message }[] = [];
  override async post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    const posted = await super.post(channel, message, options);
    this.covers.set(posted.messageId, new Set(options.covers ?? []));
    return posted;
  }
  override async update(channel: string, messageId: string, message: Message, options?: UpdateOptions) {
    await super.update(channel, messageId, message);
    this.edits.push({ messageId, message });
    if (options !== undefined) this.covers.set(messageId, new Set(options.covers));
  }
  /** How many messages cover each notification key. */
  count(): Map<string, number> {
    const out = new Map<string, number>();
    for (const set of this.covers.values()) for (const k of set) out.set(k, (out.get(k) ?? 0) + 1);
    return out;
  }
}

async function setup(operations: OperationThread[] = [], intervalMs = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-notifier-pair-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const slack = new CoveringPlatform('slack');
  const outbox = new Outbox({
    dir: join(dir, 'outbox'),
    platforms: new Map([['slack', slack]]),
    logger,
    minIntervalMs: { slack: intervalMs },
  });
  await outbox.open();
  onCleanup(() => outbox.stop());
  const notifier = new Notifier({
    stateDir: dir,
    routes: [{ platform: 'slack', channel: 'C1', minSeverity: 'info' }],
    outbox,
    operations: () => operations,
  });
  return { slack, outbox, notifier };
}

/** Every notification covered by exactly one message. */
function expectCoveredOnce(slack: CoveringPlatform, ns: readonly Notification[]) {
  const count = slack.count();
  expect(ns.map((x) => count.get(notificationKey(x)) ?? 0)).toEqual(ns.map(() => 1));
}

describe('the notifier on both hosts’ views', () => {
  it('a link lost on both ends is one incident message showing both, each view covered once', async () => {
    const { slack, outbox, notifier } = await setup();
    const ns = [
      n('alpha', 'connection-lost', 'critical', 0, { peer: 'beta' }),
      n('beta', 'connection-lost', 'warning', 30, { peer: 'alpha' }),
    ];
    await notifier.notify([ns[0] as Notification]);
    await until(() => outbox.depth === 0, 'the alert');
    await notifier.notify([ns[1] as Notification]);
    await until(() => outbox.depth === 0, 'the amendment');
    expect(slack.posts).toHaveLength(1);
    const latest = slack.edits.at(-1)?.message;
    expect(latest?.host).toBe('alpha, beta');
    expect(latest?.fields?.map((f) => f.label)).toEqual(
      expect.arrayContaining(['Seen from alpha', 'Seen from beta']),
    );
    expectCoveredOnce(slack, ns);
  });

  it('a burst of flaps from both hosts: folded, each notification covered once', async () => {
    const { slack, outbox, notifier } = await setup([], 20);
    const ns: Notification[] = [];
    for (let i = 0; i < 40; i++) {
      for (const host of ['alpha', 'beta']) {
        ns.push(
          n(host, 'connection-lost', host === 'alpha' ? 'critical' : 'warning', i * 100, { peer: 'x' }),
        );
        ns.push(n(host, 'connection-restored', 'info', i * 100 + 50, { peer: 'x' }));
      }
    }
    // alpha's own first (its first alert already posted), beta's forwarded in a batch a little later.
    const alpha = ns.filter((x) => x.host === 'alpha');
    await notifier.notify(alpha.slice(0, 1));
    await until(() => outbox.depth === 0, 'the first alert');
    await notifier.notify(alpha.slice(1));
    await notifier.notify(ns.filter((x) => x.host === 'beta'));
    await until(() => outbox.depth === 0, 'the outbox to drain', 20_000);
    expectCoveredOnce(slack, ns);
    expect(slack.posts.length).toBeLessThan(ns.length / 4);
  });

  it('a failover: four role changes are one message in the plan’s thread', async () => {
    const op: OperationThread = {
      id: 'op1',
      command: 'failover',
      resource: 'r0',
      from: T0 - 1_000,
      to: undefined,
      platform: 'slack',
      channel: 'C1',
      messageId: 'plan-1',
    };
    const { slack, outbox, notifier } = await setup([op]);
    const swap = [
      n('alpha', 'role-changed', 'info', 0, { field: 'role', old: 'Primary', new: 'Secondary' }),
      n('beta', 'role-changed', 'info', 10, {
        field: 'role',
        old: 'Primary',
        new: 'Secondary',
        peer: 'alpha',
      }),
      n('beta', 'role-changed', 'info', 2_000, { field: 'role', old: 'Secondary', new: 'Primary' }),
      n('alpha', 'role-changed', 'info', 2_010, {
        field: 'role',
        old: 'Secondary',
        new: 'Primary',
        peer: 'beta',
      }),
    ];
    // alpha's own view goes out first; the other three arrive together (beta's forwarded batch).
    await notifier.notify(swap.slice(0, 1));
    await until(() => outbox.depth === 0, 'the first view');
    await notifier.notify(swap.slice(1));
    await until(() => outbox.depth === 0, 'the other views');
    expect(slack.posts).toHaveLength(1);
    expect(slack.posts[0]?.threadOf).toBe('plan-1');
    const shown = slack.edits.filter((e) => e.messageId === slack.posts[0]?.messageId).at(-1)?.message;
    expect(shown?.title).toBe('r0 moved to beta: beta Primary, alpha Secondary');
    expectCoveredOnce(slack, swap);
  });
});
