// Exactly once, in one voice, across a takeover: two real bot processes (test/helpers/pair-harness.ts)
// with the production leader settings and Slack's pace, a burst of link flaps, then the leader is
// killed (kill -9) or stopped (SIGTERM). Every message's covered notifications are read back from its
// Slack metadata and counted: no message reports what an earlier one covered, the announcement comes
// first, and every notification either host observed is covered exactly once. Needs `npm run build`.

import { afterEach, describe, expect, it } from 'vitest';
import { notificationKey } from '../../src/app/notifier.js';
import { DEFAULT_LEADER_SETTINGS } from '../../src/core/leader.js';
import type { Notification } from '../../src/core/notification.js';
import { burst, coverage, coverKey } from '../helpers/pair-coverage.js';
import { botToken, CHANNEL, type Host, PairHarness } from '../helpers/pair-harness.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function pair(): Promise<PairHarness> {
  const h = await PairHarness.create({ leader: DEFAULT_LEADER_SETTINGS, slackIntervalMs: 1_100 });
  cleanup.push(() => h.close());
  await h.start('alpha');
  await h.waitForLeader('alpha', { timeoutMs: 20_000 });
  await h.start('beta');
  await h.waitForLog(
    'beta',
    (l) => l.msg === 'leader election: leader-changed' && l.leader === 'alpha',
    'beta to follow',
  );
  return h;
}

/** Waits until every notification is covered by a message in the channel (by its metadata). */
async function allCovered(h: PairHarness, ns: readonly Notification[], what: string, timeoutMs = 90_000) {
  const keys = ns.map((n) => coverKey(notificationKey(n)));
  try {
    await h.slack.waitFor(
      () => {
        const covered = coverage(h.slack, CHANNEL).covered;
        return keys.every((k) => covered.has(k));
      },
      what,
      timeoutMs,
    );
  } catch (error) {
    const covered = coverage(h.slack, CHANNEL).covered;
    const missing = ns.filter((n) => !covered.has(coverKey(notificationKey(n))));
    for (const host of ['alpha', 'beta'] as const) {
      const pending = h.pendingOutbox(host).map((e) => `${e.op} ${e.title} [${e.covers.length}]`);
      if (pending.length > 0) console.log(`PENDING ${host}: ${pending.slice(0, 10).join(' | ')}`);
    }
    const probe = missing[0] === undefined ? '' : coverKey(notificationKey(missing[0]));
    const where = h.slack.calls
      .filter(
        (c) =>
          JSON.stringify(c.params).includes(probe) ||
          JSON.stringify(c.params).includes(missing[0]?.text ?? '§'),
      )
      .map(
        (c) =>
          `${c.method} ${JSON.stringify(c.params.metadata ?? null).slice(0, 120)} ${String(c.params.text ?? '').slice(0, 80)}`,
      );
    throw new Error(
      `first missing is in: ${where.join(' || ') || 'no call'}\n` +
        `${(error as Error).message}: ${missing.length} of ${ns.length} missing, e.g. ${missing
          .slice(0, 5)
          .map((n) => `${n.host} ${n.kind} ${n.at}`)
          .join(', ')}\n--- beta:\n${h
          .logs('beta')
          .filter((l) => l.level >= 40 || /record|election|handed|continuing/.test(l.msg))
          .slice(-15)
          .map((l) => JSON.stringify(l).slice(0, 300))
          .join('\n')}`,
    );
  }
}

/**
 * Waits until the leader has taken in every notification (its own and the follower's): each is
 * covered in the channel or queued in its outbox, hence in the follower's copy of the record.
 */
async function takenIn(h: PairHarness, leader: Host, ns: readonly Notification[]) {
  const keys = ns.map(notificationKey);
  await h.slack.waitFor(
    () => {
      const covered = coverage(h.slack, CHANNEL).covered;
      const queued = new Set(h.pendingOutbox(leader).flatMap((e) => e.covers));
      return keys.every((k) => covered.has(coverKey(k)) || queued.has(k));
    },
    `${leader} to take in all ${ns.length} notifications`,
    30_000,
  );
}

function expectExactlyOnce(h: PairHarness, ns: readonly Notification[], survivor: Host, since: number) {
  const c = coverage(h.slack, CHANNEL);
  expect(c.repeated, 'messages reporting notifications an earlier message already covered').toEqual([]);
  expect(c.twice, 'notifications covered by more than one message').toEqual([]);
  const missing = ns.filter((n) => !c.covered.has(coverKey(notificationKey(n))));
  expect(
    missing.map((n) => `${n.host} ${n.kind} ${n.at}`),
    'notifications nobody covered',
  ).toEqual([]);
  // The survivor's first word after the takeover is its announcement.
  const first = h.slack
    .callsTo('chat.postMessage')
    .find((call) => call.at >= since && call.token === botToken(survivor) && call.fault === undefined);
  expect(String(first?.params.text ?? '')).toContain(`${survivor} leads`);
  return c;
}

describe('a takeover after a burst, with the production settings', () => {
  it('kill -9 of the leader: the announcement first, nothing covered twice, every notification once', {
    timeout: 180_000,
  }, async () => {
    const h = await pair();
    await burst(h.pair, 100);
    // Both views reach the leader's record (and its copy on beta); Slack's pace keeps most queued.
    await sleep(500);
    const atCrash = [...h.observed('alpha'), ...h.observed('beta')];
    await takenIn(h, 'alpha', atCrash);
    expect(atCrash.length).toBeGreaterThanOrEqual(200);
    const killedAt = Date.now();
    await h.kill9('alpha');
    const takeover = await h.waitForLeader('beta', { since: killedAt, timeoutMs: 30_000 });
    expect(takeover.previous).toBe('alpha');
    expect(takeover.receivedAt - killedAt).toBeLessThan(
      DEFAULT_LEADER_SETTINGS.leaseMs + DEFAULT_LEADER_SETTINGS.retryMs + 5_000,
    );
    await sleep(3_000);
    const all = [...atCrash, ...h.observed('beta').filter((n) => Date.parse(n.at) >= killedAt - 1_000)];
    await allCovered(h, all, 'every notification covered');
    await sleep(2_000);
    const c = expectExactlyOnce(h, all, 'beta', killedAt);
    // Folded: far fewer messages than notifications.
    expect(c.posts).toBeLessThan(atCrash.length / 4);
  });

  it('SIGTERM of the leader: handed over at once, the announcement first, every notification once', {
    timeout: 180_000,
  }, async () => {
    const h = await pair();
    await burst(h.pair, 100);
    await sleep(500);
    const atStop = [...h.observed('alpha'), ...h.observed('beta')];
    await takenIn(h, 'alpha', atStop);
    const stoppedAt = Date.now();
    await h.stop('alpha');
    const takeover = await h.waitForLeader('beta', { since: stoppedAt, timeoutMs: 30_000 });
    expect(takeover.previous).toBe('alpha');
    // Released, not expired: well within a lease.
    expect(takeover.receivedAt - stoppedAt).toBeLessThan(DEFAULT_LEADER_SETTINGS.leaseMs);
    await sleep(3_000);
    const all = [...atStop, ...h.observed('beta').filter((n) => Date.parse(n.at) >= stoppedAt - 1_000)];
    await allCovered(h, all, 'every notification covered');
    await sleep(2_000);
    expectExactlyOnce(h, all, 'beta', stoppedAt);
    // alpha comes back as the follower: it hands nothing over that was covered.
    await h.start('alpha');
    await sleep(3_000);
    expect(coverage(h.slack, CHANNEL).repeated).toEqual([]);
  });

  it('split-brain → recovery → failover → crash of the new Primary: no stale critical after the takeover', {
    timeout: 180_000,
  }, async () => {
    const h = await pair();
    h.pair.splitBrain('r0');
    await sleep(3_000);
    // Recovered by hand: beta's changes are discarded, it resyncs from alpha.
    h.pair.disconnect('beta', 'r0');
    h.pair.secondary('beta', 'r0');
    h.pair.connect('beta', 'r0', { discardMyData: true });
    h.pair.connect('alpha', 'r0');
    await sleep(3_000);
    // A switchover: alpha hands r0 to beta.
    h.pair.secondary('alpha', 'r0');
    h.pair.primary('beta', 'r0');
    await sleep(3_000);
    const before = [...h.observed('alpha'), ...h.observed('beta')];
    await allCovered(h, before, 'everything before the crash');
    const killedAt = Date.now();
    h.pair.crash('alpha');
    await h.kill9('alpha');
    await h.waitForLeader('beta', { since: killedAt, timeoutMs: 30_000 });
    await sleep(2_000);
    await allCovered(h, h.observed('beta'), "beta's view of the crash");
    await sleep(2_000);
    const after = h.slack.callsTo('chat.postMessage').filter((c) => c.at >= killedAt);
    const texts = after.map((c) => String(c.params.text ?? ''));
    expect(
      texts.filter((t) => /Split-brain|StandAlone/.test(t)),
      `posted after the crash: ${texts.join(' | ')}`,
    ).toEqual([]);
    expect(coverage(h.slack, CHANNEL).repeated).toEqual([]);
  });
});
