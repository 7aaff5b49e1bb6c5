// Leader takeover after a crash, with the production leader settings (lease 15 s, renew deadline
// 10 s, retry 2 s): two real bot processes of one pair (test/helpers/pair-harness.ts), the leader
// is killed with SIGKILL, and the time until the other's "<host> leads, token N; previous leader …"
// arrives at the fake Slack is measured (and until its `became-leader` log line, which comes before
// the chat connection and the post). The killed one is restarted as the follower for the next run,
// so the victim alternates. Slow by design: about lease + a second per run.

import { DEFAULT_LEADER_SETTINGS, type LeaderSettings } from '../src/core/leader.js';
import { EtcdCluster } from '../test/fakes/etcd/cluster.js';
import { type Host, type LockChoice, PairHarness } from '../test/helpers/pair-harness.js';
import type { BenchRow } from './report.js';
import { formatRatio, formatSeconds, median } from './stats.js';

export interface TakeoverOptions {
  readonly backend: 'file' | 'etcd';
  readonly runs: number;
  /** Default: the production settings. */
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
  readonly announcedMedianMs: number;
  readonly announcedMaxMs: number;
  readonly electedMedianMs: number;
  readonly electedMaxMs: number;
  /** lease + retry: the latest a follower can take an expired lease. */
  readonly boundMs: number;
}

const other = (host: Host): Host => (host === 'alpha' ? 'beta' : 'alpha');

export async function benchTakeover(options: TakeoverOptions): Promise<TakeoverResult> {
  const leader = options.leader ?? DEFAULT_LEADER_SETTINGS;
  const timeoutMs = leader.leaseMs + leader.retryMs + 30_000;
  const etcd = options.backend === 'etcd' ? await EtcdCluster.start({ members: 1 }) : undefined;
  const lock: LockChoice =
    etcd === undefined
      ? { backend: 'file' }
      : { backend: 'etcd', hosts: etcd.clientUrls, prefix: '/bench-takeover/' };
  const h = await PairHarness.create({ lock, leader, slackIntervalMs: 1_100 });
  const announcedMs: number[] = [];
  const electedMs: number[] = [];
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
    let current: Host = 'alpha';
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
      // The killed one comes back as the follower, and is the next victim's successor.
      const restartMark = h.logs(current).length;
      await h.start(current);
      await h.waitForLog(
        current,
        (l) => l.msg === 'leader election: leader-changed' && l.leader === survivor,
        `${current} to follow ${survivor}`,
        timeoutMs,
        restartMark,
      );
      current = survivor;
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
    boundMs: leader.leaseMs + leader.retryMs,
  };
}

export function describeTakeover(r: TakeoverResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const { leaseMs, renewDeadlineMs, retryMs } = r.leader;
  return [
    `leader takeover after kill -9, ${r.backend} lock store (${r.runs} runs, lease ${s(leaseMs)}, renew deadline ${s(renewDeadlineMs)}, retry ${s(retryMs)}), median / max:`,
    `  kill → became-leader (log):              ${s(r.electedMedianMs)} / ${s(r.electedMaxMs)}`,
    `  kill → "leads" announcement in Slack:    ${s(r.announcedMedianMs)} / ${s(r.announcedMaxMs)}`,
    `  theoretical bound (lease + retry):       ${s(r.boundMs)}`,
  ].join('\n');
}

export function takeoverRows(r: TakeoverResult): BenchRow[] {
  const { leaseMs, retryMs } = r.leader;
  const benchmark = `leader takeover after kill -9, ${r.backend} lock store (${r.runs} runs, lease ${formatSeconds(leaseMs)}, retry ${formatSeconds(retryMs)})`;
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
    row('kill → became-leader (log)', r.electedMedianMs, r.electedMaxMs),
    row('kill → "leads" announcement in Slack', r.announcedMedianMs, r.announcedMaxMs),
  ];
}
