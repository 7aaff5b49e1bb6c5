// The pair as it runs in production: two real bot processes (`bin/drbd-chatops run`), alpha and
// beta, one DRBD simulator, one fake Slack, one lock store, the peer link between them
// (test/helpers/pair-harness.ts). What a crash, a hung leader and a lost lock store do to what
// reaches the channel. Needs `npm run build` first; the etcd test needs Debian's etcd-server.

import { afterEach, describe, expect, it } from 'vitest';
import { notificationKey } from '../../src/app/notifier.js';
import { LEADER_DEFAULTS } from '../../src/core/leader.js';
import type { Notification } from '../../src/core/notification.js';
import { escapeMrkdwn } from '../../src/render/slack.js';
import { EtcdCluster } from '../fakes/etcd/index.js';
import type { StoredMessage } from '../fakes/slack/index.js';
import { coverage, coverKey } from '../helpers/pair-coverage.js';
import { CHANNEL, type Host, type LockChoice, PairHarness } from '../helpers/pair-harness.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function harness(lock?: LockChoice): Promise<PairHarness> {
  // A lock command is a process per call (a shell script here): it gets the command backend's own
  // timings, whose retry period leaves room for a slow fork on a busy machine (an answer slower than
  // the retry period counts as a failed renewal).
  const h = await PairHarness.create(
    lock === undefined
      ? {}
      : { lock, ...(lock.backend === 'command' ? { leader: LEADER_DEFAULTS.command } : {}) },
  );
  cleanup.push(() => h.close());
  return h;
}

/** Room for a slow CI machine on top of what the design promises. */
const MARGIN_MS = 5_000;

/** The idempotency key a delivery carries in its Slack metadata: `<notification key>:<op>:slack:<channel>`. */
function deliveryKey(m: StoredMessage): string {
  const key = m.metadata?.event_payload.key;
  return typeof key === 'string' ? key : '';
}

/** The notification a message reports (its first 32 hex digits), or undefined (announcements). */
function reportedNotification(m: StoredMessage): string | undefined {
  return /^([0-9a-f]{32}):/.exec(deliveryKey(m))?.[1];
}

/** A folded summary (several deliveries in one message) carries its first entry's key plus `+N`. */
function isSummary(m: StoredMessage): boolean {
  return /\+\d+$/.test(deliveryKey(m));
}

/**
 * Is the notification in the channel: covered by a message (its metadata lists the notifications it
 * reports, a pair-level message both hosts' views, a folded summary all it counts), a message of its
 * own (by its key), or quoted in a folded summary ("• r0: Connection lost: <text>", mrkdwn-escaped)?
 */
function isPosted(h: PairHarness, n: Notification): boolean {
  const key = notificationKey(n);
  if (coverage(h.slack, CHANNEL).covered.has(coverKey(key))) return true;
  const quoted = JSON.stringify(escapeMrkdwn(n.text)).slice(1, -1);
  return h
    .messages()
    .some(
      (m) =>
        reportedNotification(m) === key ||
        (isSummary(m) && JSON.stringify(m.attachments ?? []).includes(quoted)),
    );
}

function describeNotifications(ns: readonly Notification[]): string {
  return ns.map((n) => `${n.host} ${n.kind} ${n.at}`).join(', ');
}

/** Waits until each of the notifications is reported by a message in the channel. */
async function waitUntilPosted(h: PairHarness, ns: () => Notification[], what: string, timeoutMs = 20_000) {
  try {
    await h.slack.waitFor(() => ns().every((n) => isPosted(h, n)), what, timeoutMs);
  } catch (error) {
    const missing = ns().filter((n) => !isPosted(h, n));
    throw new Error(
      `${(error as Error).message}; missing: ${describeNotifications(missing)}; channel: ${h
        .messages()
        .map((m) => m.text)
        .join(' | ')}`,
    );
  }
}

/** No DRBD change is reported twice: each notification key appears in at most one posted message. */
function expectNoDuplicates(h: PairHarness): void {
  const seen = new Map<string, string[]>();
  for (const m of h.messages()) {
    const key = reportedNotification(m);
    if (key === undefined) continue;
    seen.set(key, [...(seen.get(key) ?? []), m.text]);
  }
  const twice = [...seen.values()].filter((texts) => texts.length > 1);
  expect(twice, 'messages reporting the same DRBD change twice').toEqual([]);
  const covered = coverage(h.slack, CHANNEL);
  expect(covered.repeated, 'messages reporting a notification an earlier one covered').toEqual([]);
  expect(covered.twice, 'notifications covered by two messages').toEqual([]);
  const announcements = h.announcements().map((a) => a.text);
  expect(new Set(announcements).size, `announcements: ${announcements.join(' | ')}`).toBe(
    announcements.length,
  );
}

/** Waits until the host's outbox on disk is empty (every delivery confirmed, parent edits included). */
async function drained(h: PairHarness, host: Host): Promise<void> {
  await h.slack.waitFor(() => h.pendingOutbox(host).length === 0, `${host}'s outbox to drain`, 20_000);
}

/** Starts alpha, waits until it leads, then starts beta and waits until beta knows who leads. */
async function startPair(h: PairHarness): Promise<void> {
  await h.start('alpha');
  const first = await h.waitForLeader('alpha', { timeoutMs: 20_000 });
  expect(first.previous).toBeNull();
  expect(first.postedBy).toBe('alpha');
  await h.start('beta');
  await h.waitForLog(
    'beta',
    (l) => l.msg === 'leader election: leader-changed' && l.leader === 'alpha',
    'beta to learn that alpha leads',
  );
}

/**
 * kill -9 of the leader, then what must follow: the other leads within lease + retry (+ a margin)
 * with a higher fencing token, and says so in the channel itself.
 */
async function killLeaderAndTakeOver(h: PairHarness, leader: Host, survivor: Host) {
  const { leaseMs, retryMs } = h.leader;
  const before = h.announcements().find((a) => a.host === leader);
  const killedAt = Date.now();
  await h.kill9(leader);
  const takeover = await h.waitForLeader(survivor, {
    since: killedAt,
    timeoutMs: leaseMs + retryMs + MARGIN_MS + 10_000,
  });
  expect(takeover.receivedAt - killedAt, 'takeover time (ms)').toBeLessThan(leaseMs + retryMs + MARGIN_MS);
  expect(takeover.previous).toBe(leader);
  expect(takeover.postedBy).toBe(survivor);
  expect(takeover.token).toBeGreaterThan(before?.token ?? 0);
  expect(takeover.text).toContain(`${survivor} leads, token ${takeover.token}; previous leader ${leader}`);
  return { killedAt, takeover };
}

describe('two bot processes of one pair', () => {
  it('kill -9 of the leader: the other takes over within lease + retry, says so, and reports every change once', async () => {
    const h = await harness();
    await startPair(h);

    // Before the crash: the link fails; the leader posts its own view and the one beta forwards.
    h.pair.linkDown('r0');
    await waitUntilPosted(
      h,
      () => [...h.observed('alpha'), ...h.observed('beta')],
      'both views of the link failure',
    );
    await drained(h, 'alpha');
    const alphaBefore = h.observed('alpha');
    expect(alphaBefore.map((n) => n.kind)).toContain('connection-lost');
    expect(
      h.chatCalls().every((c) => c.by === 'alpha'),
      'only the leader talks to Slack',
    ).toBe(true);

    // The crash, and a change right behind it, while nobody leads: beta sees the link return, cannot
    // forward it (alpha is gone) and keeps it in its durable forward queue.
    const crash = killLeaderAndTakeOver(h, 'alpha', 'beta');
    await sleep(200);
    h.pair.linkUp('r0');
    const { killedAt } = await crash;

    // After the takeover: more changes, seen and posted by beta alone.
    await sleep(500);
    h.pair.linkDown('r0');
    await sleep(1_000);
    h.pair.linkUp('r0');

    // Everything beta saw (before the crash: forwarded to and posted by alpha; after it: its own) is
    // in the channel, each change exactly once.
    await sleep(1_000);
    await waitUntilPosted(h, () => h.observed('beta'), 'every change beta observed', 20_000);
    const betaAfter = h.observed('beta').filter((n) => Date.parse(n.at) >= killedAt);
    expect(betaAfter.map((n) => n.kind)).toEqual(
      expect.arrayContaining(['connection-restored', 'connection-lost']),
    );
    // alpha's view up to the crash was delivered before it; what alpha "saw" after it died, nobody saw.
    expect(alphaBefore.every((n) => isPosted(h, n))).toBe(true);
    await sleep(1_500);
    expectNoDuplicates(h);
    // After the crash only beta talks to Slack (alpha is dead; no stale process posts).
    expect(h.chatCalls().filter((c) => c.call.at >= killedAt && c.by !== 'beta')).toEqual([]);
  });

  // Fails today: beta ingests what it could not forward while nobody led (its durable forward
  // queue) only at the queue's next backoff retry (up to 10 s later), after what it collected
  // directly as the leader, so an older "connection restored" resolves the newer outage.
  it('after a takeover, what the new leader saw while nobody led is reported before what it sees as leader', async () => {
    const h = await harness();
    await startPair(h);
    h.pair.linkDown('r0');
    await waitUntilPosted(h, () => [...h.observed('alpha'), ...h.observed('beta')], 'the link failure');
    await drained(h, 'alpha');

    const crash = killLeaderAndTakeOver(h, 'alpha', 'beta');
    await sleep(200);
    // Nobody leads: beta sees the link come back and keeps that for the leader it cannot reach.
    h.pair.linkUp('r0');
    await crash;
    // beta leads: the link fails again, and stays down.
    h.pair.linkDown('r0');
    await waitUntilPosted(h, () => h.observed('beta'), 'every change beta observed');
    await drained(h, 'beta');
    await sleep(1_000);
    expect(h.pair.cstate('beta', 'r0')).not.toBe('Connected');
    // The channel's latest word on r0's replication link must be that it is down.
    const parents = h
      .messages()
      .filter((m) => m.thread_ts === undefined && m.text.includes('r0: Replication link'));
    expect(
      parents.map((m) => m.text),
      'incident parents about r0, oldest first',
    ).not.toHaveLength(0);
    expect(parents.at(-1)?.text).toContain('Connection lost');
    expectNoDuplicates(h);
  });

  /**
   * Freezes alpha (the leader) with SIGSTOP until beta has taken over and a lease more has passed;
   * `whileFrozen` runs in between. Returns when alpha, continued, has stepped down and learnt that
   * beta leads.
   */
  async function freezeLeader(
    h: PairHarness,
    whileFrozen: () => Promise<void>,
  ): Promise<{ resumedAt: number }> {
    const { leaseMs, retryMs, renewDeadlineMs } = h.leader;
    const stoppedAt = Date.now();
    h.sigstop('alpha');
    const takeover = await h.waitForLeader('beta', {
      since: stoppedAt,
      timeoutMs: leaseMs + retryMs + MARGIN_MS + 10_000,
    });
    expect(takeover.receivedAt - stoppedAt).toBeLessThan(leaseMs + retryMs + MARGIN_MS);
    expect(takeover.previous).toBe('alpha');
    expect(takeover.postedBy).toBe('beta');
    await whileFrozen();
    // Frozen for well over a lease.
    await sleep(Math.max(0, stoppedAt + leaseMs + 1_500 - Date.now()));

    const resumedAt = Date.now();
    const logMark = h.logs('alpha').length;
    h.sigcont('alpha');
    // It notices at once that it missed its renew deadline, and learns who leads now.
    const down = await h.waitForLog(
      'alpha',
      (l) => l.msg === 'leader election: stepped-down',
      'alpha to step down',
      5_000,
      logMark,
    );
    expect(down.time - resumedAt).toBeLessThan(renewDeadlineMs);
    await h.waitForLog(
      'alpha',
      (l) => l.msg === 'leader election: leader-changed' && l.leader === 'beta',
      'alpha to learn that beta leads',
      10_000,
      logMark,
    );
    return { resumedAt };
  }

  /** Nothing from alpha after `since`: no Slack call with its token, no "alpha leads" again. */
  function expectSilent(h: PairHarness, since: number): void {
    const fromAlpha = h.chatCalls().filter((c) => c.by === 'alpha' && c.call.at >= since);
    expect(
      fromAlpha.map(
        (c) =>
          `${c.call.method} ${String(c.call.params.text ?? '')}${JSON.stringify(c.call.params.attachments ?? '').includes('without a leader') ? ' [sent without a leader]' : ''}`,
      ),
      'Slack calls made by alpha after SIGCONT',
    ).toEqual([]);
    expect(h.announcements().filter((a) => a.host === 'alpha')).toHaveLength(1);
    expect(h.announcements().filter((a) => a.receivedAt >= since)).toEqual([]);
  }

  it('a leader frozen (SIGSTOP) for longer than the lease is replaced, and after SIGCONT it does not post', async () => {
    const h = await harness();
    await startPair(h);
    const { resumedAt } = await freezeLeader(h, async () => undefined);

    // A change after the resume: alpha's critical view goes to the leader, beta posts it.
    h.pair.linkDown('r0');
    await waitUntilPosted(
      h,
      () => [...h.observed('alpha'), ...h.observed('beta')],
      'both views, through beta',
    );
    h.pair.linkUp('r0');
    await waitUntilPosted(
      h,
      () => [...h.observed('alpha'), ...h.observed('beta')],
      'the recovery, both views',
    );
    await sleep(2_000);
    expectSilent(h, resumedAt);
    // No message claims to be sent without a leader: there was one all along.
    expect(h.messages().filter((m) => JSON.stringify(m).includes('without a leader'))).toEqual([]);
    expectNoDuplicates(h);
  });

  // Fails today: src/core/leader.ts leaderless() counts from the process start when the state is
  // "leader past its deadline" or "stepped down, leader unknown", so the instant a frozen leader
  // resumes it believes nobody leads and posts its pending critical alert itself ("Sent by alpha
  // without a leader"), ~20 ms before the lock store tells it that beta leads.
  it('a critical alert that waited in the frozen leader goes through the new leader, not "without a leader"', async () => {
    const h = await harness();
    await startPair(h);
    const { resumedAt } = await freezeLeader(h, async () => {
      // While alpha is frozen the link fails: beta (now leading) reports its view; alpha's own view
      // (critical: it is Primary) waits in its frozen event stream.
      h.pair.linkDown('r0');
      await waitUntilPosted(h, () => h.observed('beta'), "beta's view of the link failure");
    });
    await waitUntilPosted(h, () => h.observed('alpha'), "alpha's critical alert, through the leader");
    await sleep(2_000);
    expectSilent(h, resumedAt);
    expect(h.messages().filter((m) => JSON.stringify(m).includes('without a leader'))).toEqual([]);
    expectNoDuplicates(h);
  });

  it('lock store unreachable: the leader steps down within the renew deadline and criticals fail open', async () => {
    const h = await harness({ backend: 'command' });
    await startPair(h);
    const { renewDeadlineMs, leaseMs, retryMs } = h.leader;

    // The shared directory of deploy/lock-dir.sh disappears: every `lock` exits 2 (unknown).
    const mark = h.logs('alpha').length;
    const lostAt = Date.now();
    h.setLockStoreReachable(false);
    const down = await h.waitForLog(
      'alpha',
      (l) => l.msg === 'leader election: stepped-down',
      'alpha to step down',
      renewDeadlineMs + MARGIN_MS,
      mark,
    );
    // The last renewal was sent at most one retry period before the store went; the deadline counts from it.
    expect(down.time - lostAt).toBeLessThanOrEqual(renewDeadlineMs + 500);
    expect(String(down.reason)).toContain('renew deadline');
    expect(
      h
        .logs('alpha')
        .slice(mark)
        .some((l) => l.msg === 'lock store unavailable'),
    ).toBe(true);

    // A critical alert while nobody can lead: alpha (Primary) loses its replication link.
    const linkDownAt = Date.now();
    h.pair.linkDown('r0');
    await h.slack.waitFor(
      () =>
        h
          .messages()
          .some((m) => JSON.stringify(m.attachments ?? []).includes('Sent by alpha without a leader')),
      'the fail-open critical alert from alpha',
      leaseMs + MARGIN_MS,
    );
    const failOpen = h
      .messages()
      .find((m) => JSON.stringify(m.attachments ?? []).includes('without a leader'));
    expect(failOpen?.text).toBe('🚨 CRITICAL: r0: Replication link — Connection lost (r0 on alpha)');
    const call = h
      .chatCalls()
      .find((c) => c.call.method === 'chat.postMessage' && c.call.params.text === failOpen?.text);
    expect(call?.by).toBe('alpha');
    expect((call?.call.at ?? Number.POSITIVE_INFINITY) - linkDownAt).toBeLessThan(leaseMs + retryMs);
    // beta's view is a warning (it is Secondary): not posted without a leader.
    await sleep(1_000);
    expect(h.chatCalls().filter((c) => c.by === 'beta')).toEqual([]);

    // The store comes back: a leader is elected again (a new token) and beta's view gets through.
    const backAt = Date.now();
    h.setLockStoreReachable(true);
    await h.slack.waitFor(
      () => h.announcements().some((a) => a.receivedAt >= backAt && a.token >= 2),
      'a leader after the store came back',
      leaseMs + retryMs + MARGIN_MS,
    );
    await waitUntilPosted(h, () => h.observed('beta'), "beta's view, once someone leads");
  });

  it('the leader dies holding undelivered messages: they stay on its disk, and go out once when it is back', async () => {
    const h = await harness();
    await startPair(h);

    // Slack refuses posts for a while: the leader's outbox holds its own view and the one beta
    // forwarded (beta dropped it from its queue once alpha had it on disk).
    h.slack.inject('chat.postMessage', { kind: 'http-error', status: 503 }, 10_000);
    h.pair.linkDown('r0');
    const held = () => [...h.observed('alpha'), ...h.observed('beta')];
    await h.slack.waitFor(
      () => {
        const pending = new Set(h.pendingOutbox('alpha').map((e) => e.key.slice(0, 32)));
        return held().length >= 2 && held().every((n) => pending.has(notificationKey(n)));
      },
      "both views in alpha's outbox",
      20_000,
    );
    const heldAtCrash = held();
    await h.kill9('alpha');
    h.slack.clearFaults();

    const takeover = await h.waitForLeader('beta', { timeoutMs: 20_000 });
    expect(takeover.previous).toBe('alpha');
    // Nothing is lost: the deliveries are on alpha's disk, where only alpha can read them.
    const onDisk = new Set(h.pendingOutbox('alpha').map((e) => e.key.slice(0, 32)));
    expect(heldAtCrash.every((n) => onDisk.has(notificationKey(n)))).toBe(true);

    // alpha comes back as a follower and hands them to the leader, which posts each exactly once
    // (an attempt alpha had started is checked with Slack first).
    await h.start('alpha');
    await waitUntilPosted(h, () => heldAtCrash, 'the deliveries alpha held when it died', 30_000);
    await drained(h, 'alpha');
    await sleep(1_500);
    expectNoDuplicates(h);
    expect(h.chatCalls().filter((c) => c.by === 'alpha' && c.call.at >= takeover.receivedAt)).toEqual([]);
  });
});

describe('two bot processes of one pair, on etcd', () => {
  it('kill -9 of the leader: the other takes over through a real etcd within lease + retry', async () => {
    const etcd = await EtcdCluster.start({ members: 1 });
    cleanup.push(() => etcd.stop());
    const h = await harness({ backend: 'etcd', hosts: etcd.clientUrls, prefix: '/pair-test/' });
    await startPair(h);
    h.pair.linkDown('r0');
    await waitUntilPosted(
      h,
      () => [...h.observed('alpha'), ...h.observed('beta')],
      'both views of the link failure',
    );
    await drained(h, 'alpha');

    const { killedAt } = await killLeaderAndTakeOver(h, 'alpha', 'beta');
    h.pair.linkUp('r0');
    await waitUntilPosted(h, () => h.observed('beta'), 'every change beta observed');
    expect(
      h.observed('beta').some((n) => n.kind === 'connection-restored' && Date.parse(n.at) >= killedAt),
    ).toBe(true);
    await sleep(1_000);
    expectNoDuplicates(h);
    expect(h.chatCalls().filter((c) => c.call.at >= killedAt && c.by !== 'beta')).toEqual([]);
  });
});
