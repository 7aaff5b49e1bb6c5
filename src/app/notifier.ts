// From notifications to outbox entries: the pair view merges both hosts' views of one change into
// one pair-level message (a second view amends the first one's message), operations the bot runs
// get their consequences in their own threads, incidents decide what to say (open, reply, edit the
// parent, or a message of its own), routes decide where. The incident state and the pair view are
// kept on disk so a restart continues the same threads, and recorded in the pair's delivery record
// so the other instance can continue them too.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readJournal, writeFileDurably } from '../adapters/durable-journal.js';
import type { NewEntry, Outbox } from '../adapters/outbox.js';
import { type DeliveryOp, isUrgent, type OutboxEntry } from '../core/delivery.js';
import type { DeliveryRecord } from '../core/delivery-record.js';
import {
  applyNotification,
  type Delivery,
  type Incidents,
  incidentMessage,
  notificationMessage,
  pruneIncidents,
} from '../core/incidents.js';
import type { Message } from '../core/message-tones.js';
import { type Notification, SEVERITY_RANK } from '../core/notification.js';
import {
  causedBy,
  delivered,
  EMPTY_PAIR_VIEW,
  type OperationWindow,
  observe,
  type PairChange,
  type PairView,
  pairMessage,
} from '../core/pair-view.js';
import type { PlatformName } from '../ports/chat.js';
import type { Route } from './config.js';

export function routeMatches(route: Route, n: Notification): boolean {
  if (SEVERITY_RANK[n.severity] < SEVERITY_RANK[route.minSeverity]) return false;
  if (route.kinds !== undefined && !route.kinds.includes(n.kind)) return false;
  if (route.resources !== undefined && (n.resource === null || !route.resources.includes(n.resource)))
    return false;
  return true;
}

/**
 * A stable key for one notification: the same DRBD change seen again (a replay, the other instance
 * taking over) gets the same key, so the platforms' idempotency checks recognise it.
 */
export function notificationKey(n: Notification): string {
  return createHash('sha256')
    .update(JSON.stringify([n.host, n.resource, n.kind, n.at, n.text]))
    .digest('hex')
    .slice(0, 32);
}

/** An operation's plan message, where its consequences are threaded. */
export interface OperationThread extends OperationWindow {
  readonly messageId: string;
}

/** The thread key of an operation's plan message in the outbox. */
export function operationThreadKey(id: string): string {
  return `operation:${id}`;
}

export interface NotifierOptions {
  readonly stateDir: string;
  readonly routes: readonly Route[];
  readonly outbox: Outbox;
  /** Operations running or just finished: what they cause goes into their threads. */
  readonly operations?: () => readonly OperationThread[];
  /** Records the incidents, the pair view and what was taken in (the pair's delivery record). */
  readonly record?: (records: readonly DeliveryRecord[]) => Promise<void>;
  /** A notification already taken in by this pair (a forward sent twice): refused. */
  readonly seen?: (notificationKey: string) => boolean;
  /**
   * The last word on a notification's deliveries before they are written (the on-call workflow,
   * src/app/paging.ts: a silence drops them, a critical gets its mention, a parent its Acknowledge
   * button, an alert its runbook link). `operation`: the notification is a consequence of an
   * operation the bot runs.
   */
  readonly review?: (
    n: Notification,
    entries: readonly NewEntry[],
    context: { readonly incidents: Incidents; readonly operation: boolean },
  ) => NewEntry[];
}

type Target = { readonly platform: PlatformName; readonly channel: string };
const channelOf = (t: Target) => `${t.platform}\u0000${t.channel}`;
const targetOf = (c: string): Target => {
  const [platform = '', channel = ''] = c.split('\u0000');
  return { platform: platform as PlatformName, channel };
};

export class Notifier {
  #incidents: Incidents;
  #pair: PairView;
  #routes: readonly Route[];
  readonly #statePath: string;
  readonly #pairPath: string;
  readonly #options: NotifierOptions;
  #pending: Promise<void> = Promise.resolve();

  constructor(options: NotifierOptions) {
    this.#options = options;
    this.#statePath = join(options.stateDir, 'incidents.json');
    this.#pairPath = join(options.stateDir, 'pair-view.json');
    this.#routes = options.routes;
    this.#incidents = readJournal<Incidents>(this.#statePath).records[0] ?? {};
    this.#pair = readJournal<PairView>(this.#pairPath).records[0] ?? EMPTY_PAIR_VIEW;
  }

  get incidents(): Incidents {
    return this.#incidents;
  }

  get pairView(): PairView {
    return this.#pair;
  }

  /** New routes from a reloaded configuration; open incidents carry on. */
  setRoutes(routes: readonly Route[]): void {
    this.#routes = routes;
  }

  /**
   * Continue from the pair's delivery record (this instance just took over): the incidents and the
   * pair view as the former leader left them, so its threads go on and its old news stays old.
   */
  adopt(incidents: Incidents | undefined, pair: PairView | undefined): Promise<void> {
    const run = this.#pending.then(async () => {
      if (incidents !== undefined) this.#incidents = incidents;
      if (pair !== undefined) this.#pair = pair;
      this.#persist();
    });
    this.#pending = run.catch(() => undefined);
    return run;
  }

  #persist(): void {
    writeFileDurably(this.#statePath, `${JSON.stringify(this.#incidents)}\n`);
    writeFileDurably(this.#pairPath, `${JSON.stringify(this.#pair)}\n`);
  }

  /**
   * Turn notifications into deliveries and write them to the outbox. Batches are written in call
   * order; the promise resolves once they are on disk (and in the delivery record).
   */
  notify(notifications: readonly Notification[]): Promise<void> {
    if (notifications.length === 0) return this.#pending;
    const run = this.#pending.then(async () => {
      const entries: NewEntry[] = [];
      const taken: string[] = [];
      const threads = new Map<string, OperationThread>();
      const operations = this.#options.operations?.() ?? [];
      for (const n of notifications) {
        const key = notificationKey(n);
        if (taken.includes(key) || this.#options.seen?.(key) === true) continue;
        taken.push(key);
        const operation = causedBy(n, operations) as OperationThread | undefined;
        if (operation !== undefined) threads.set(operation.id, operation);
        const deliveries = this.#deliveries(n, key, operation);
        entries.push(
          ...(this.#options.review?.(n, deliveries, {
            incidents: this.#incidents,
            operation: operation !== undefined,
          }) ?? deliveries),
        );
      }
      const last = notifications.at(-1);
      if (last !== undefined) this.#incidents = pruneIncidents(this.#incidents, Date.parse(last.at));
      // An operation's plan message is where its consequences are threaded.
      for (const op of threads.values()) {
        await this.#options.outbox.setParent(
          op.platform as PlatformName,
          op.channel,
          operationThreadKey(op.id),
          op.messageId,
        );
      }
      await this.#options.outbox.enqueue(entries);
      this.#persist();
      await this.#options.record?.([{ incidents: this.#incidents }, { pair: this.#pair }, { seen: taken }]);
    });
    this.#pending = run.catch(() => undefined);
    return run;
  }

  #deliveries(n: Notification, key: string, operation: OperationThread | undefined): NewEntry[] {
    const observed = observe(this.#pair, n, key);
    this.#pair = observed.view;
    const change = observed.change;
    const step = applyNotification(this.#incidents, n);
    this.#incidents = step.incidents;
    const routed = this.#routes
      .filter((r) => routeMatches(r, n))
      .map((r) => ({ platform: r.platform, channel: r.channel }));
    const opTarget: Target | undefined =
      operation === undefined
        ? undefined
        : { platform: operation.platform as PlatformName, channel: operation.channel };

    if (observed.amends && change?.delivery !== undefined)
      return this.#amend(n, key, change, step.deliveries);

    const out: NewEntry[] = [];
    let reported: { op: 'open' | 'reply' | 'post'; incidentKey?: string; channels: string[] } | undefined;
    for (const d of step.deliveries) {
      const placed = placeDelivery(d, operation);
      const targets =
        d.op === 'update-parent'
          ? uniqueTargets([...routed, ...(opTarget === undefined ? [] : [opTarget])])
          : opTarget !== undefined
            ? [opTarget]
            : routed;
      const reports = d.op !== 'update-parent';
      for (const t of targets) {
        out.push(
          this.#entry(n, key, t, {
            op: placed.op,
            message: d.message,
            ...(placed.incidentKey === undefined ? {} : { incidentKey: placed.incidentKey }),
            ...(placed.threadKey === undefined ? {} : { threadKey: placed.threadKey }),
            ...(reports && change !== undefined ? { ref: change.key } : {}),
            reports,
            // In the incident's own thread a summary shows the incident's state; not in an operation's.
            ...(placed.op === 'reply' && d.op === 'reply' && placed.incidentKey === d.incidentKey
              ? { state: this.#toneOf(d.incidentKey) }
              : {}),
          }),
        );
      }
      if (reports && reported === undefined) {
        reported = {
          op: placed.op === 'open' ? 'open' : placed.op === 'reply' ? 'reply' : 'post',
          ...(placed.op === 'open' ? { incidentKey: placed.incidentKey ?? '' } : {}),
          ...(placed.op === 'reply' && placed.incidentKey !== undefined
            ? { incidentKey: placed.incidentKey }
            : {}),
          channels: targets.map(channelOf),
        };
      }
    }
    if (change !== undefined && reported !== undefined)
      this.#pair = delivered(this.#pair, change.key, reported);
    return out;
  }

  /**
   * Another host's view of a change already reported: its message is amended to show both views (an
   * incident's parent is edited; a reply or a message of its own is amended, or replaced while it
   * still waits). The incident's own parent edit still goes out; nothing else is said.
   */
  #amend(n: Notification, key: string, change: PairChange, deliveries: readonly Delivery[]): NewEntry[] {
    const via = change.delivery;
    if (via === undefined) return [];
    const targets = via.channels.map(targetOf);
    const out: NewEntry[] = [];
    if (via.op === 'open' && via.incidentKey !== undefined) {
      const incident = this.#incidents[via.incidentKey];
      if (incident === undefined) return [];
      const message = pairMessage(change, incidentMessage(incident, Date.parse(n.at)));
      for (const t of targets) {
        out.push(
          this.#entry(n, key, t, {
            op: 'update-parent',
            incidentKey: via.incidentKey,
            message,
            reports: true,
          }),
        );
      }
      return out;
    }
    const first = change.evidence[0];
    const base = notificationMessage(
      {
        kind: first?.kind ?? n.kind,
        severity: first?.severity ?? n.severity,
        host: first?.host ?? n.host,
        resource: change.resource,
        text: first?.text ?? n.text,
        details: {},
        at: first?.at ?? n.at,
      },
      via.incidentKey,
    );
    const message = pairMessage(change, base);
    const single = notificationMessage(n, via.incidentKey);
    for (const t of targets) {
      out.push(
        this.#entry(n, key, t, {
          op: 'amend',
          message,
          ref: change.key,
          reports: true,
          fallback: {
            op: via.incidentKey === undefined ? 'post' : 'reply',
            ...(via.incidentKey === undefined ? {} : { incidentKey: via.incidentKey }),
            message: single,
          },
        }),
      );
    }
    // The incident's parent still shows the current state (who reported it, how many changes).
    for (const d of deliveries) {
      if (d.op !== 'update-parent') continue;
      for (const t of targets) {
        out.push(
          this.#entry(n, key, t, {
            op: 'update-parent',
            incidentKey: d.incidentKey,
            message: d.message,
            reports: false,
          }),
        );
      }
    }
    return out;
  }

  #toneOf(incidentKey: string) {
    const incident = this.#incidents[incidentKey];
    if (incident === undefined) return undefined;
    return incident.resolvedAt !== undefined ? ('resolved' as const) : incident.severity;
  }

  #entry(
    n: Notification,
    key: string,
    t: Target,
    d: {
      readonly op: DeliveryOp;
      readonly message: Message;
      readonly incidentKey?: string;
      readonly threadKey?: string;
      readonly ref?: string;
      readonly fallback?: OutboxEntry['fallback'];
      readonly state?: OutboxEntry['state'] | undefined;
      /** This entry's message reports the notification (counts it, covers it). */
      readonly reports: boolean;
    },
  ): NewEntry {
    const suffix = d.op === 'update-parent' ? ':edit' : d.op === 'amend' ? ':amend' : '';
    return {
      // "Notification n was reported on this channel": the same whether this instance posts it as
      // an incident's parent, a reply or on its own, so another leader's post is recognised.
      key: `${key}${suffix}:${t.platform}:${t.channel}`,
      platform: t.platform,
      channel: t.channel,
      op: d.op,
      ...(d.incidentKey === undefined ? {} : { incidentKey: d.incidentKey }),
      ...(d.threadKey === undefined ? {} : { threadKey: d.threadKey }),
      ...(d.ref === undefined ? {} : { ref: d.ref }),
      ...(d.fallback === undefined ? {} : { fallback: d.fallback }),
      ...(d.state === undefined ? {} : { state: d.state }),
      message: d.message,
      resource: n.resource,
      severity: n.severity,
      urgent: isUrgent(n.severity, d.op),
      // Only the message that reports the notification counts it; a parent edit repeats it.
      kinds: d.reports ? { [n.kind]: 1 } : {},
      changes: d.reports ? 1 : 0,
      ...(d.reports ? { covers: [key] } : {}),
    } satisfies NewEntry;
  }
}

function uniqueTargets(targets: readonly Target[]): Target[] {
  return [...new Map(targets.map((t) => [channelOf(t), t])).values()];
}

/** Where a delivery goes when an operation caused it: into the operation's thread. */
function placeDelivery(
  d: Delivery,
  operation: OperationThread | undefined,
): { op: DeliveryOp; incidentKey?: string; threadKey?: string } {
  if (operation === undefined || d.op === 'update-parent') {
    return { op: d.op, ...('incidentKey' in d ? { incidentKey: d.incidentKey } : {}) };
  }
  const thread = operationThreadKey(operation.id);
  // A problem the operation opens (a resync after a recovery) gets its parent inside the thread.
  if (d.op === 'open') return { op: 'open', incidentKey: d.incidentKey, threadKey: thread };
  return { op: 'reply', incidentKey: thread };
}
