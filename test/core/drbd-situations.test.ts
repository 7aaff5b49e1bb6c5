// Every DRBD situation of test/core/drbd-situations.ts, replayed from hand-written events2 streams
// in DRBD's own format (both dialects where DRBD 8.4 has the situation) through the real watcher:
// the notifications an operator needs, in order, with their severity and the facts their text must
// state. The same replay renders docs/drbd-situations.md, which must match the file in the repo.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALERT_KINDS, type Notification } from '../../src/core/notification.js';
import {
  renderSituationsMarkdown,
  replayLines,
  replayStream,
  SITUATIONS,
  SITUATIONS_DIR,
} from './drbd-situations.js';

const DOCS = join(import.meta.dirname, '../../docs/drbd-situations.md');

function summary(notifications: readonly Notification[]): string[] {
  return notifications.map((n) => `${n.kind} ${n.severity}`);
}

describe('DRBD situations, replayed through the watcher', () => {
  for (const situation of SITUATIONS) {
    describe(situation.title, () => {
      for (const replay of situation.replays) {
        it(replay.stream, () => {
          const { notifications, errors } = replayStream(replay.stream);
          expect(errors).toEqual([]);
          // Exactly these notifications, in this order: nothing missing, nothing said twice.
          expect(summary(notifications)).toEqual(replay.expect.map((e) => `${e.kind} ${e.severity}`));
          replay.expect.forEach((expected, i) => {
            const n = notifications[i];
            for (const fragment of expected.says ?? []) expect(n?.text).toContain(fragment);
            for (const fragment of expected.never ?? []) expect(n?.text).not.toContain(fragment);
            if (expected.details !== undefined) expect(n?.details).toMatchObject(expected.details);
          });
          for (const n of notifications) {
            expect(ALERT_KINDS).toContain(n.kind);
            expect(new Date(n.at).toISOString()).toBe(n.at);
          }
        });
      }
    });
  }

  it('covers every stream in the fixture directory', () => {
    const used = new Set(SITUATIONS.flatMap((s) => s.replays.map((r) => r.stream)));
    const files = readdirSync(SITUATIONS_DIR).filter((f) => f.endsWith('.events2'));
    expect(files.filter((f) => !used.has(f))).toEqual([]);
    expect([...used].filter((f) => !files.includes(f))).toEqual([]);
  });
});

describe('helper statuses in either encoding', () => {
  it('reads fence-peer answers given as exit codes as well as wait statuses', () => {
    const stream = readFileSync(
      join(SITUATIONS_DIR, 'drbd9-fence-peer-outdated.alpha.events2'),
      'utf8',
    ).split('\n');
    const plain = stream.map((l) => l.replace('helper:fence-peer status:1024', 'helper:fence-peer status:4'));
    expect(plain).not.toEqual(stream);
    const wait = replayLines('alpha', stream).notifications;
    const exit = replayLines('alpha', plain).notifications;
    expect(summary(exit)).toEqual(summary(wait));
    expect(exit.find((n) => n.kind === 'fencing')?.details).toMatchObject({
      outcome: 'peer-outdated',
      exitCode: 4,
    });
  });

  it('calls a handler that could not be started broken, with the error', () => {
    const stream = readFileSync(join(SITUATIONS_DIR, 'drbd9-fence-peer-broken.alpha.events2'), 'utf8').split(
      '\n',
    );
    // -ENOENT (no drbdadm) printed with %u.
    const missing = stream.map((l) =>
      l.replace('helper:fence-peer status:256', 'helper:fence-peer status:4294967294'),
    );
    const failed = replayLines('alpha', missing).notifications.find((n) => n.kind === 'helper-failed');
    expect(failed?.severity).toBe('critical');
    expect(failed?.text).toContain('could not be started (error -2)');
  });
});

describe('handlers that take the node down', () => {
  it('pri-on-incon-degr and pri-lost are critical and name the node', () => {
    const primary = [
      'exists resource name:r0 role:Primary suspended:no',
      'exists connection name:r0 peer-node-id:0 conn-name:peer connection:Connecting role:Unknown',
      'exists device name:r0 volume:0 minor:0 disk:Inconsistent',
      'exists peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:Off peer-disk:DUnknown resync-suspended:no',
      'exists -',
    ];
    const { notifications } = replayLines('alpha', [
      ...primary,
      'call helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:pri-on-incon-degr',
      'response helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:pri-on-incon-degr status:0',
      'call helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:pri-lost',
    ]);
    const lost = notifications.filter((n) => n.kind === 'primary-lost');
    expect(lost.map((n) => n.severity)).toEqual(['critical', 'critical']);
    expect(lost[0]?.text).toContain('without access to UpToDate data');
    expect(lost[1]?.text).toContain('older than peer');
    for (const n of lost) expect(n.text).toContain('reboots');
  });
});

describe('docs/drbd-situations.md', () => {
  it('is the rendering of the situations above (npm run docs:situations rewrites it)', async () => {
    await expect(renderSituationsMarkdown()).toMatchFileSnapshot(DOCS);
  });
});
