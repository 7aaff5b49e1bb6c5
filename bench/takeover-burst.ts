// A burst, then a takeover: two real bot processes of one pair with the production leader settings
// and Slack's pace (1 message / 1.1 s per channel), `flaps` link failures and recoveries of r0 back to
// back (both hosts report each), then — once the leader has taken in every notification — the leader
// is killed (kill -9) or stopped (SIGTERM). Counted from the fake Slack: the messages posted, how many
// distinct notifications they cover (read back from each message's metadata), and whether any message
// reported a notification an earlier one already covered. The figure the issue started from: after
// 200 flaps and a kill -9 the new leader posted 301 messages and announced itself after 351 s.

import { notificationKey } from '../src/app/notifier.js';
import { LEADER_DEFAULTS } from '../src/core/leader.js';
import type { Notification } from '../src/core/notification.js';
import { burst, coverage, coverKey } from '../test/helpers/pair-coverage.js';
import { botToken, CHANNEL, PairHarness } from '../test/helpers/pair-harness.js';
import type { BenchRow } from './report.js';
import { formatCount, formatSeconds } from './stats.js';

export interface BurstTakeoverResult {
  readonly how: 'kill -9' | 'SIGTERM';
  readonly flaps: number;
  readonly notifications: number;
  readonly covered: number;
  readonly repeated: number;
  readonly postsBefore: number;
  readonly postsAfter: number;
  readonly announcedMs: number;
  /** The new leader's first post after the takeover was its announcement. */
  readonly announcementFirst: boolean;
  readonly drainedMs: number;
}

export async function benchBurstTakeover(
  how: 'kill -9' | 'SIGTERM',
  flaps: number,
): Promise<BurstTakeoverResult> {
  const leader = LEADER_DEFAULTS.file;
  const h = await PairHarness.create({ leader, slackIntervalMs: 1_100 });
  try {
    await h.start('alpha');
    await h.waitForLeader('alpha', { timeoutMs: 30_000 });
    await h.start('beta');
    await h.waitForLog(
      'beta',
      (l) => l.msg === 'leader election: leader-changed' && l.leader === 'alpha',
      'beta to follow',
    );
    await burst(h.pair, flaps);
    await new Promise((r) => setTimeout(r, 500));
    const taken = [...h.observed('alpha'), ...h.observed('beta')];
    const keys = taken.map(notificationKey);
    await h.slack.waitFor(
      () => {
        const covered = coverage(h.slack, CHANNEL).covered;
        const queued = new Set(h.pendingOutbox('alpha').flatMap((e) => e.covers));
        return keys.every((k) => covered.has(coverKey(k)) || queued.has(k));
      },
      'the leader to take in the burst',
      60_000,
    );
    const postsBefore = coverage(h.slack, CHANNEL).posts;
    const at = Date.now();
    if (how === 'kill -9') await h.kill9('alpha');
    else await h.stop('alpha');
    const announcement = await h.waitForLeader('beta', { since: at, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 1_000));
    const all: Notification[] = [
      ...taken,
      ...h.observed('beta').filter((n) => Date.parse(n.at) >= at - 1_000),
    ];
    const allKeys = [...new Set(all.map((n) => coverKey(notificationKey(n))))];
    await h.slack.waitFor(
      () => {
        const covered = coverage(h.slack, CHANNEL).covered;
        return allKeys.every((k) => covered.has(k));
      },
      'every notification covered',
      300_000,
    );
    const drainedAt = Date.now();
    const c = coverage(h.slack, CHANNEL);
    const first = h.slack
      .callsTo('chat.postMessage')
      .find((call) => call.at >= at && call.token === botToken('beta') && call.fault === undefined);
    return {
      how,
      flaps,
      notifications: allKeys.length,
      covered: allKeys.filter((k) => c.covered.has(k)).length,
      repeated: c.repeated.length,
      postsBefore,
      postsAfter: c.posts - postsBefore,
      announcedMs: announcement.receivedAt - at,
      announcementFirst: String(first?.params.text ?? '').includes('beta leads'),
      drainedMs: drainedAt - at,
    };
  } finally {
    await h.close();
  }
}

export function describeBurstTakeover(r: BurstTakeoverResult): string {
  return [
    `burst of ${r.flaps} link flaps, then ${r.how} of the leader (file lock store, defaults, Slack pace 1.1 s):`,
    `  distinct notifications: ${r.notifications}, covered: ${r.covered}, reported twice: ${r.repeated}`,
    `  messages before / after the takeover: ${r.postsBefore} / ${r.postsAfter} (announcement first: ${r.announcementFirst})`,
    `  ${r.how} → announcement: ${formatSeconds(r.announcedMs)}; → everything covered: ${formatSeconds(r.drainedMs)}`,
  ].join('\n');
}

export function burstTakeoverRows(r: BurstTakeoverResult): BenchRow[] {
  const benchmark = `burst of ${r.flaps} link flaps (${formatCount(r.notifications)} notifications from both hosts), then ${r.how} of the leader (defaults, Slack pace 1.1 s)`;
  return [
    {
      benchmark,
      measure: 'messages posted (before + after the takeover)',
      value: `${r.postsBefore} + ${r.postsAfter}; ${r.covered} of ${r.notifications} notifications covered, ${r.repeated} messages reporting a covered one again`,
      baseline: 'one message per notification',
      ratio: `${formatCount(r.notifications / Math.max(1, r.postsBefore + r.postsAfter))} notifications per message`,
    },
    {
      benchmark,
      measure: `${r.how} → new leader's announcement (posted first: ${r.announcementFirst ? 'yes' : 'NO'})`,
      value: formatSeconds(r.announcedMs),
      baseline: `${r.how} → every notification covered: ${formatSeconds(r.drainedMs)}`,
      ratio: `${formatCount((100 * r.announcedMs) / Math.max(1, r.drainedMs))} % of it`,
    },
  ];
}
