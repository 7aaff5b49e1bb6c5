// From notifications to outbox entries: incidents decide what to say (open, reply, edit the
// parent, or a message of its own), routes decide where. The incident state is kept on disk so a
// restart continues the same threads.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readJournal, writeFileDurably } from '../adapters/journal.js';
import type { NewEntry, Outbox } from '../adapters/outbox.js';
import { isUrgent, type OutboxEntry } from '../core/delivery.js';
import { applyNotification, type Incidents, pruneIncidents } from '../core/incidents.js';
import { type Notification, SEVERITY_RANK } from '../core/notification.js';
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

export class Notifier {
  #incidents: Incidents;
  #routes: readonly Route[];
  readonly #statePath: string;
  readonly #outbox: Outbox;
  #pending: Promise<void> = Promise.resolve();

  constructor(options: { stateDir: string; routes: readonly Route[]; outbox: Outbox }) {
    this.#statePath = join(options.stateDir, 'incidents.json');
    this.#routes = options.routes;
    this.#outbox = options.outbox;
    this.#incidents = readJournal<Incidents>(this.#statePath).records[0] ?? {};
  }

  get incidents(): Incidents {
    return this.#incidents;
  }

  /** New routes from a reloaded configuration; open incidents carry on. */
  setRoutes(routes: readonly Route[]): void {
    this.#routes = routes;
  }

  /**
   * Turn notifications into deliveries and write them to the outbox. Batches are written in call
   * order; the promise resolves once they are on disk.
   */
  notify(notifications: readonly Notification[], options: { readonly verify?: boolean } = {}): Promise<void> {
    if (notifications.length === 0) return this.#pending;
    const entries: NewEntry[] = [];
    for (const n of notifications) {
      const key = notificationKey(n);
      const step = applyNotification(this.#incidents, n);
      this.#incidents = step.incidents;
      const routes = this.#routes.filter((r) => routeMatches(r, n));
      for (const delivery of step.deliveries) {
        for (const route of routes) {
          entries.push({
            // "Notification n was reported on this channel": the same whether this instance posts it as
            // an incident's parent, a reply or on its own, so another leader's post is recognised.
            key:
              delivery.op === 'update-parent'
                ? `${key}:edit:${route.platform}:${route.channel}`
                : `${key}:${route.platform}:${route.channel}`,
            // Possibly posted already by a leader that is gone: ask the platform before posting.
            ...(options.verify === true && delivery.op !== 'update-parent' ? { sending: true } : {}),
            platform: route.platform,
            channel: route.channel,
            op: delivery.op,
            ...('incidentKey' in delivery ? { incidentKey: delivery.incidentKey } : {}),
            message: delivery.message,
            resource: n.resource,
            severity: n.severity,
            urgent: isUrgent(n.severity, delivery.op),
            // Only the message that reports the notification counts it; a parent edit repeats it.
            kinds: delivery.op === 'update-parent' ? {} : { [n.kind]: 1 },
            changes: delivery.op === 'update-parent' ? 0 : 1,
          } satisfies Omit<OutboxEntry, 'id' | 'attempts' | 'createdAt'>);
        }
      }
    }
    const last = notifications.at(-1);
    if (last !== undefined) this.#incidents = pruneIncidents(this.#incidents, Date.parse(last.at));
    const incidents = this.#incidents;
    const run = this.#pending.then(async () => {
      await this.#outbox.enqueue(entries);
      writeFileDurably(this.#statePath, `${JSON.stringify(incidents)}\n`);
    });
    this.#pending = run.catch(() => undefined);
    return run;
  }
}
