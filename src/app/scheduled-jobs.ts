// The leader's scheduled jobs (config.schedules, the on-call rotation): reconciling both hosts'
// DRBD views with the kernel's, the daily digest, and the on-call handover. The scheduler runs each
// slot once per pair, and a slot missed while nobody led is run by the next leader.

import { digestMessage } from '../core/digest.js';
import type { OnCall } from '../core/policy.js';
import { formatTime, MESSAGE_TIME_ZONE } from '../core/text-format.js';
import type { LockStore } from '../ports/leases.js';
import type { Announcer } from './announcements.js';
import type { LeadershipView } from './command-registry.js';
import type { Config } from './config.js';
import type { Notifier } from './notifier.js';
import type { Operations } from './operations.js';
import type { PairHosts } from './pair-hosts.js';
import type { PeerLink } from './peer.js';
import type { ScheduledJob } from './scheduler.js';

export interface ScheduledJobsContext {
  readonly config: Config;
  readonly hosts: PairHosts;
  readonly peer: PeerLink | undefined;
  readonly token: () => number;
  readonly announcer: Announcer;
  readonly notifier: Notifier;
  readonly operations: Operations;
  readonly outbox: { readonly depth: number; readonly deadLetters: number };
  readonly lockStore: LockStore | undefined;
  readonly leadership: () => Promise<LeadershipView>;
  readonly onCall: () => OnCall;
}

export function scheduledJobs(c: ScheduledJobsContext): ScheduledJob[] {
  const config = c.config;
  const jobs: ScheduledJob[] = [];
  if (config.schedules.reconcile !== null) {
    jobs.push({
      name: 'reconcile',
      cron: config.schedules.reconcile,
      run: async () => {
        await c.hosts.reconcileLocal();
        await c.peer?.askReconcile(c.token());
      },
    });
  }
  if (config.schedules.digest !== null) {
    // A digest missed while nobody led (up to 6 hours) is posted by the next leader.
    jobs.push({
      name: 'digest',
      cron: config.schedules.digest,
      catchUpMs: 6 * 3_600_000,
      run: (slot) => digest(c, slot),
    });
  }
  const rotation = config.oncall.rotation;
  if (rotation !== undefined && config.oncall.announce) {
    jobs.push({
      name: 'oncall-handover',
      cron: rotation.handover,
      catchUpMs: 3_600_000,
      run: async (slot) => {
        const roster = c.onCall();
        const names = (people: readonly { name: string }[]) =>
          people.map((m) => m.name).join(', ') || 'nobody';
        await c.announcer.announce(
          `On call now: ${names(roster.now)}${roster.handoverAt === null ? '' : ` (next: ${names(roster.next)} from ${formatTime(roster.handoverAt, MESSAGE_TIME_ZONE)})`}`,
          `handover:${slot.toISOString()}`,
        );
      },
    });
  }
  return jobs;
}

/** The daily digest: both hosts, open and recent incidents, operations, delivery, leadership, on call. */
async function digest(c: ScheduledJobsContext, slot: Date): Promise<void> {
  const hosts = await c.hosts.states();
  const peerName = c.config.peer?.name;
  let lockStoreProblem: string | null = null;
  if (c.lockStore !== undefined) {
    try {
      await c.lockStore.read(c.config.leader.key);
    } catch (err) {
      lockStoreProblem = (err as Error).message;
    }
  }
  const view = await c.leadership();
  const message = digestMessage({
    now: Date.now(),
    hosts,
    silent: peerName !== undefined && !hosts.some((h) => h.host === peerName) ? [peerName] : [],
    incidents: c.notifier.incidents,
    operations: c.operations.list(),
    outbox: { depth: c.outbox.depth, deadLetters: c.outbox.deadLetters },
    leader: { host: view.leader, token: view.token },
    lockStoreProblem,
    onCall: c.onCall().now.map((m) => m.name),
  });
  await c.announcer.post(message, `digest:${slot.toISOString()}`);
}
