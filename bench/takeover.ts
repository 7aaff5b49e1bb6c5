// Leader takeover, with the production leader settings of the lock backend (LEADER_DEFAULTS): two
// real bot processes of one pair (test/helpers/pair-harness.ts); each run kills the leader with
// SIGKILL and, once the other leads and the killed one is back as the follower, stops the new
// leader with SIGTERM (a planned stop: it releases the lease and tells the follower). Measured: the
// time until the other's "<host> leads, token N; previous leader …" arrives at the fake Slack, and
// until its `became-leader` log line. The stopped one is restarted as the follower for the next run.
// Slow by design: about lease + a few seconds per run.

import { LEADER_DEFAULTS, type LeaderSettings } from '../src/core/leader.js';
import { EtcdCluster } from '../test/fakes/etcd/cluster.js';
import { type Host, type LockChoice, PairHarness } from '../test/helpers/pair-harness.js';
import type { BenchRow } from './report.js';
import { formatRatio, formatSeconds, median } from './stats.js';

export interface TakeoverOptions {
  readonly backend: 'file' | 'etcd';
  readonly runs: number;
  /** Default: the production settings of the backend. */
  readonly leader?: LeaderSettings;
}

export interface TakeoverResult {
  readonly backend: 'file' | 'etcd';
  readonly runs: number;
  readonly leader: LeaderSettings;
  /** kill -9 → the survivor's announcement received by Slack, per run. */
  readonly announcedMs: readonly number[];
  /** kill -9 → the survivor's `leader election: became-leader` log line, per run. */
  readonly electedMs: readonly number[];
  /** SIGTERM → the follower's announcement received by Slack, per run. */
  readonly termAnnouncedMs: readonly number[];
  readonly termAnnouncedMedianMs: number;
  readonly termAnnouncedMaxMs: number;
  readonly announcedMedianMs: number;
  readonly announcedMaxMs: number;
  readonly electedMedianMs: number;
  readonly electedMaxMs: number;
  /** lease + retry: the latest a follower can take an expired lease. */
  readonly boundMs: number;
}

const other = (host: Host): Host => (host === 'alpha' ? 'beta' : 'alpha');

async function restartAsFollower(h: PairHarness, host: Host, leader: Host, timeoutMs: number): Promise<void> {
  const mark = h.logs(host).length;
  await h.start(host);
  await h.waitForLog(
    host,
    (l) => l.msg === 'leader election: leader-changed' && l.leader === leader,
    `${host} to follow ${leader}`,
    timeoutMs,
    mark,
  );
}

export async function benchTakeover(options: TakeoverOptions): Promise<TakeoverResult> {
  const leader = options.leader ?? LEADER_DEFAULTS[options.backend];
  const timeoutMs = leader.leaseMs + leader.retryMs + 30_000;
  const etcd = options.backend === 'etcd' ? await EtcdCluster.start({ members: 1 }) : undefined;
  const lock: LockChoice =
    etcd === undefined
      ? { backend: 'file' }
      : { backend: 'etcd', hosts: etcd.clientUrls, prefix: '/bench-takeover/' };
  const h = await PairHarness.create({ lock, leader, slackIntervalMs: 1_100 });
  const announcedMs: number[] = [];
  const electedMs: number[] = [];
  const termAnnouncedMs: number[] = [];
  try {
    await h.start('alpha');
    await h.waitForLeader('alpha', { timeoutMs });
    await h.start('beta');
    await h.waitForLog(
      'beta',
      (l) => l.msg === 'leader election: leader-changed' && l.leader === 'alpha',
      'beta to follow',
      timeoutMs,
    );
    const current: Host = 'alpha';
    for (let run = 0; run < options.runs; run++) {
      const survivor = other(current);
      // Kill at a random point of the renewal cycle, not right after the follower's first attempt,
      // so the figures cover the whole range (lease − retry … lease + retry).
      await new Promise((resolve) => setTimeout(resolve, Math.random() * leader.retryMs * 2));
      const mark = h.logs(survivor).length;
      const killedAt = Date.now();
      await h.kill9(current);
      const announcement = await h.waitForLeader(survivor, { since: killedAt, timeoutMs });
      if (announcement.previous !== current) {
        throw new Error(`run ${run}: unexpected announcement ${announcement.text}`);
      }
      const elected = await h.waitForLog(
        survivor,
        (l) => l.msg === 'leader election: became-leader',
        'the became-leader log line',
        5_000,
        mark,
      );
      announcedMs.push(announcement.receivedAt - killedAt);
      electedMs.push(elected.time - killedAt);
      // The killed one comes back as the follower.
      await restartAsFollower(h, current, survivor, timeoutMs);
      // A planned stop of the new leader: the lease is released and the follower told at once.
      const stoppedAt = Date.now();
      await h.stop(survivor);
      const handedTo = await h.waitForLeader(current, { since: stoppedAt, timeoutMs });
      if (handedTo.previous !== survivor)
        throw new Error(`run ${run}: unexpected announcement ${handedTo.text}`);
      termAnnouncedMs.push(handedTo.receivedAt - stoppedAt);
      await restartAsFollower(h, survivor, current, timeoutMs);
    }
  } finally {
    await h.close();
    await etcd?.stop();
  }
  return {
    backend: options.backend,
    runs: options.runs,
    leader,
    announcedMs,
    electedMs,
    announcedMedianMs: median(announcedMs),
    announcedMaxMs: Math.max(...announcedMs),
    electedMedianMs: median(electedMs),
    electedMaxMs: Math.max(...electedMs),
    termAnnouncedMs,
    termAnnouncedMedianMs: median(termAnnouncedMs),
    termAnnouncedMaxMs: Math.max(...termAnnouncedMs),
    boundMs: leader.leaseMs + leader.retryMs,
  };
}

export function describeTakeover(r: TakeoverResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const { leaseMs, renewDeadlineMs, retryMs } = r.leader;
  return [
    `leader takeover after kill -9 and SIGTERM, ${r.backend} lock store (${r.runs} runs each, lease ${s(leaseMs)}, renew deadline ${s(renewDeadlineMs)}, retry ${s(retryMs)}), median / max:`,
    `  kill → became-leader (log):              ${s(r.electedMedianMs)} / ${s(r.electedMaxMs)}`,
    `  kill → "leads" announcement in Slack:    ${s(r.announcedMedianMs)} / ${s(r.announcedMaxMs)}`,
    `  SIGTERM → "leads" announcement in Slack: ${s(r.termAnnouncedMedianMs)} / ${s(r.termAnnouncedMaxMs)}`,
    `  theoretical bound (lease + retry):       ${s(r.boundMs)}`,
  ].join('\n');
}

export function takeoverRows(r: TakeoverResult): BenchRow[] {
  const { leaseMs, retryMs } = r.leader;
  const benchmark = `leader takeover, ${r.backend} lock store (${r.runs} runs each, defaults: lease ${formatSeconds(leaseMs)}, retry ${formatSeconds(retryMs)})`;
  // Not measured: the settings' bound, the latest a follower can take an expired lease.
  const baseline = `bound lease + retry: ${formatSeconds(r.boundMs)}`;
  const row = (measure: string, medianMs: number, maxMs: number): BenchRow => ({
    benchmark,
    measure,
    value: `median ${formatSeconds(medianMs)} / max ${formatSeconds(maxMs)}`,
    baseline,
    ratio: `${formatRatio(medianMs / r.boundMs)} the bound (median), ${formatRatio(maxMs / r.boundMs)} (max)`,
  });
  return [
    row('kill -9 → became-leader (log)', r.electedMedianMs, r.electedMaxMs),
    row('kill -9 → "leads" announcement in Slack', r.announcedMedianMs, r.announcedMaxMs),
    {
      benchmark,
      measure: 'SIGTERM → "leads" announcement in Slack (lease released, follower told)',
      value: `median ${formatSeconds(r.termAnnouncedMedianMs)} / max ${formatSeconds(r.termAnnouncedMaxMs)}`,
      baseline: `kill -9 → announcement: median ${formatSeconds(r.announcedMedianMs)}`,
      ratio: `${formatRatio(r.termAnnouncedMedianMs / r.announcedMedianMs)} the kill -9 time (median)`,
    },
  ];
}
