// This instance's part in its pair, carried out: the pure decisions of core/pair-voice.ts (send,
// send with a note, forward, hold, drop) applied to notifications and outbox entries; the leader's
// chores every retry period (criticals held while nobody leads, a former leader's leftovers, the
// follower's copy of the delivery record, the other host's blindness); and the two ends of a change
// of leader: a new leader continuing the pair's delivery record, a leader stopping on purpose
// handing over at once.

import type { Gate, Outbox } from '../adapters/outbox.js';
import type { OutboxEntry } from '../core/delivery.js';
import { hostIncidentKey } from '../core/incidents.js';
import type { Notification } from '../core/notification.js';
import { chores, intake, type PairSituation, voice } from '../core/pair-voice.js';
import {
  DEFAULT_STREAM_DOWN,
  outageTakenOver,
  peerOutageStep,
  primaryOf,
  type StreamHealth,
} from '../core/stream-health.js';
import type { Config } from './config.js';
import type { DeliveryReplica } from './delivery-replica.js';
import type { LeaderElector } from './leader-elector.js';
import type { Logger } from './log.js';
import type { Notifier } from './notifier.js';
import type { Paging } from './paging.js';
import type { PeerLink } from './peer.js';
import type { RunningWatch } from './watch.js';

export interface PairCoordinatorOptions {
  readonly config: () => Config;
  readonly logger: Logger;
  /** Present when the instances of a pair elect a leader; absent: this instance acts alone. */
  readonly elector: LeaderElector | undefined;
  readonly peer: PeerLink | undefined;
  readonly replica: DeliveryReplica | undefined;
  readonly outbox: Outbox;
  readonly notifier: Notifier;
  readonly paging: Paging;
  readonly watch: () => RunningWatch | undefined;
}

/** An outage of the other host's stream, taken over from a former leader that died blind. */
interface PeerOutage {
  readonly host: string;
  readonly health: StreamHealth;
  readonly primary: readonly string[];
}

export class PairCoordinator {
  readonly #o: PairCoordinatorOptions;
  readonly #logger: Logger;
  #batch: Notification[] = [];
  #flushScheduled = false;
  /** A follower's criticals without a peer link, kept in case nobody turns out to lead. */
  #heldCriticals: Notification[] = [];
  #peerOutage: PeerOutage | undefined;

  constructor(options: PairCoordinatorOptions) {
    this.#o = options;
    this.#logger = options.logger;
  }

  /** Where this instance stands in its pair now (for the pure decisions of core/pair-voice.ts). */
  situation(): PairSituation {
    const { elector, peer } = this.#o;
    const state = elector?.state;
    return {
      paired: elector !== undefined,
      leads: elector?.mayAct() ?? true,
      leaderless: elector?.leaderless() ?? false,
      leaderKnown: state?.role === 'follower' && state.leader !== null,
      peerLink: peer !== undefined,
      pendingForwards: peer?.pending ?? 0,
    };
  }

  /** May this instance send chat messages now? Leaders send; without any leader, criticals fail open. */
  gate(entry: OutboxEntry): Gate {
    const decision = voice(this.situation(), entry.severity, this.#o.config().host);
    if (decision.type === 'send') return { send: true };
    if (decision.type === 'send-with-note') return { send: true, note: decision.note };
    return { send: false };
  }

  /**
   * A notification of this host: to the notifier (the leader, or a critical failing open), to the
   * leader over the peer link, held, or dropped. Notifications of one burst of lines are written to
   * the outbox together: one fsync for the batch instead of one per notification.
   */
  take(n: Notification): void {
    const peer = this.#o.peer;
    switch (intake(this.situation(), n.severity)) {
      case 'notify':
      case 'notify-fail-open':
        this.#toNotifier(n);
        return;
      case 'forward':
        // The leader reports the pair; a leader that just took over with older notifications still
        // queued keeps the order through the same queue.
        if (peer !== undefined) this.#forward(peer, n);
        return;
      case 'hold':
        this.#heldCriticals.push(n);
        return;
      case 'drop':
        return;
    }
  }

  #forward(peer: PeerLink, n: Notification): void {
    peer
      .forward([n])
      .catch((err: Error) => this.#logger.error({ err }, 'could not queue a notification for the leader'));
  }

  #toNotifier(n: Notification): void {
    this.#batch.push(n);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const batch = this.#batch;
      this.#batch = [];
      this.#o.notifier.notify(batch).catch((err: Error) => {
        this.#logger.error(
          { err, notifications: batch.length },
          'could not write notifications to the outbox',
        );
      });
    });
  }

  /**
   * Every retry period: when no leader can be established, the criticals that waited for one are
   * posted by this instance (fail open); when another instance leads, deliveries left from this
   * one's own time as leader are handed to it. A leader brings its follower's copy of the delivery
   * record up to date and watches the other host's blindness.
   */
  async chores(): Promise<void> {
    const situation = this.situation();
    if (situation.leads) {
      this.#o.replica?.heartbeat();
      await this.#watchPeerStream();
    }
    const todo = chores(situation);
    if (todo.postHeld) {
      const waiting = [...this.#heldCriticals, ...((await this.#o.peer?.takeCritical()) ?? [])];
      this.#heldCriticals = [];
      if (waiting.length > 0) await this.#o.notifier.notify(waiting);
      return;
    }
    // Someone else leads and reports its own view of the same changes.
    if (todo.dropHeld) this.#heldCriticals = [];
    if (todo.handOver) await this.#handOverLeftovers();
  }

  /** A follower that still holds deliveries from its time as leader hands them to the leader. */
  async #handOverLeftovers(): Promise<void> {
    const { peer, outbox } = this.#o;
    if (peer === undefined || outbox.depth === 0) return;
    try {
      const handed = await outbox.handOver((entries) => peer.handOver(entries));
      if (handed > 0) this.#logger.info({ handed }, 'handed unsent deliveries to the leader');
    } catch (err) {
      this.#logger.debug({ err }, 'could not hand deliveries to the leader yet');
    }
  }

  /**
   * A former leader's unsent deliveries (it comes back as the follower). What the pair's delivery
   * record shows as posted or queued here already is dropped; an entry whose send it had started is
   * checked with the platform by its key first. Edits of its incident parents go where the record
   * says the parents are; those it cannot find are dropped by the outbox.
   */
  async adopt(entries: readonly OutboxEntry[]): Promise<void> {
    const ledger = this.#o.replica?.ledger;
    const fresh = entries.filter((e) => ledger === undefined || !ledger.knows(e));
    if (fresh.length < entries.length) {
      this.#logger.info(
        { handed: entries.length, known: entries.length - fresh.length },
        'deliveries handed over by the former leader: those already covered are dropped',
      );
    }
    await this.#o.outbox.enqueue(
      fresh
        .filter((e) => ledger !== undefined || e.op !== 'update-parent')
        .map(({ id: _id, attempts: _a, createdAt: _c, absorbed: _ab, ...e }) =>
          e.op === 'update-parent' || e.op === 'amend' || e.sending !== true ? e : { ...e, sending: true },
        ),
    );
  }

  /**
   * A new leader continues from the pair's delivery record: the former leader's incidents and pair
   * view, acknowledgements and silences, where its messages are, what it had queued but not posted
   * (in order), and an outage of its own stream it can no longer report. A record that was not
   * refreshed for longer than the former leader could have gone on alone may be behind it: then
   * every queued post is checked with the platform by its key before it is posted.
   */
  async continueRecord(): Promise<void> {
    const { replica, notifier, outbox, paging } = this.#o;
    if (replica === undefined) return;
    const ledger = replica.ledger;
    const config = this.#o.config();
    const self = config.host;
    if (ledger.origin !== '' && ledger.origin !== self) {
      const { leaseMs, retryMs } = config.leader;
      const age = replica.mirrorAgeMs();
      const stale = age !== undefined && age > leaseMs + 2 * retryMs + 2_000;
      const takeover = ledger.takeover(stale);
      await notifier.adopt(takeover.incidents, takeover.pair);
      paging.adopt(takeover.oncall);
      await outbox.adopt(takeover);
      if (takeover.stream !== undefined && takeover.stream.host !== self) {
        // The former leader was blind on its own host: nobody else would say so now.
        const { host, health, primary } = takeover.stream;
        const taken = outageTakenOver(health, host, Date.now(), self);
        if (!taken.health.up) this.#peerOutage = { host, health: taken.health, primary };
        if (taken.notification !== undefined) await notifier.notify([taken.notification]);
      }
      this.#logger.info(
        { from: ledger.origin, queued: takeover.entries.length, stale, covered: ledger.covered.size },
        'continuing the delivery record of the former leader',
      );
    }
    ledger.rebase(self, {
      entries: outbox.entries(),
      parents: outbox.parents,
      incidents: notifier.incidents,
      pair: notifier.pairView,
    });
    const watch = this.#o.watch();
    if (watch !== undefined) await this.recordStream(watch.health(), primaryOf(watch.lastKnownState()));
    replica.ready();
  }

  /** The leader's own event stream, in the pair's delivery record (a follower's would overwrite the leader's). */
  recordStream(health: StreamHealth, primary: readonly string[]): Promise<void> {
    const { replica, elector } = this.#o;
    if (replica === undefined || !(elector?.mayAct() ?? true)) return Promise.resolve();
    return replica.record([{ stream: { host: this.#o.config().host, health, primary } }]);
  }

  /**
   * The leader's watch over the other host's event stream, while there is something to watch: an
   * outage taken over from a former leader that died blind (warned and escalated here while that
   * instance does not answer), or the other host's open stream incident (resolved here once its
   * instance answers with a live stream, since a restarted instance never says so itself).
   */
  async #watchPeerStream(): Promise<void> {
    const peer = this.#o.peer;
    const config = this.#o.config();
    const host = config.peer?.name;
    if (peer === undefined || host === undefined) return;
    const incident = this.#o.notifier.incidents[hostIncidentKey(host)];
    const open =
      incident === undefined || incident.resolvedAt !== undefined
        ? undefined
        : {
            since: Date.parse(String(incident.latest.details.downSince ?? '')) || incident.openedAt,
            cause: String(incident.latest.details.cause ?? 'unknown'),
          };
    const tracked = this.#peerOutage?.host === host ? this.#peerOutage : undefined;
    if (tracked === undefined && open === undefined) return;
    const primary = tracked?.primary ?? [];
    const step = peerOutageStep({
      health: tracked?.health,
      peer: await peer.peerStream(),
      open,
      now: Date.now(),
      settings: config.drbd.streamDown ?? DEFAULT_STREAM_DOWN,
      host,
      primary,
    });
    this.#peerOutage = step.health === undefined ? undefined : { host, health: step.health, primary };
    if (step.notification !== undefined) await this.#o.notifier.notify([step.notification]);
  }

  /**
   * A planned stop of the leader: no new send starts, the one in progress finishes, the follower gets
   * every record, then the lease is released and the follower told so; it takes over within a
   * moment. What is queued here is the follower's now (it has it in its copy) and is dropped here,
   * so a later start does not hand it over again. False (nothing changed) when the follower cannot
   * take it: then this instance flushes as before and the lease is released afterwards.
   */
  async handOverOnStop(): Promise<boolean> {
    const { elector, replica, peer, outbox } = this.#o;
    if (elector === undefined || replica === undefined || peer === undefined || !elector.mayAct())
      return false;
    await outbox.pause(10_000);
    if (!(await replica.flush(2_000))) {
      this.#logger.info('the follower does not have the whole delivery record; flushing before handing over');
      outbox.resume();
      return false;
    }
    await elector.stop();
    await peer.tellReleased();
    const left = await outbox.release();
    this.#logger.info({ left }, 'handed over to the follower: lease released, queued deliveries are its now');
    return true;
  }
}
