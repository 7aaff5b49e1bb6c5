// Who speaks for the pair, decided per notification and per delivery. Pure: the daemon describes
// where this instance stands (leading, following a known leader, no leader at all, forwards still
// queued) and these functions say what to do; the daemon only wires and times them.
//
// Why the rules are what they are:
// - One voice: only the leader posts; a follower hands what it sees to the leader over the peer link,
//   so the channel shows both hosts' views without two bots talking.
// - Fail open for criticals: when no leader can be elected (the lock store is down or unreachable for
//   longer than a lease) every instance posts its own criticals, marked, rather than staying silent.
//   Warnings and info wait: two uncoordinated voices are worse than a late warning.
// - Order: a leader that still has forwards queued from its time as a follower sends new
//   notifications through the same queue, so an older "restored" never lands after a newer "lost".
// - A follower without a peer link keeps its criticals for a while, in case nobody turns out to lead.

import type { Severity } from './notification.js';

/** Where this instance stands in its pair, as the daemon sees it right now. */
export interface PairSituation {
  /** Elected with a lock store; false: this instance acts alone (no pair configured). */
  readonly paired: boolean;
  /** It holds the lease and may act. */
  readonly leads: boolean;
  /** No leader could be established for longer than a lease (see core/leader.ts leaderless). */
  readonly leaderless: boolean;
  /** Another instance is known to lead. */
  readonly leaderKnown: boolean;
  /** A peer link to the other instance is configured. */
  readonly peerLink: boolean;
  /** Notifications still queued for the leader in this instance's forward queue. */
  readonly pendingForwards: number;
}

/**
 * What to do with a notification this instance's own DRBD watcher produced:
 * - `notify`: into this instance's notifier (it speaks for the pair);
 * - `notify-fail-open`: into its own notifier although it does not lead (no leader at all; a critical);
 * - `forward`: to the leader over the peer link (durable queue);
 * - `hold`: keep it (a critical without a peer link) until it is known whether anyone leads;
 * - `drop`: the leader reports the pair; nobody needs this instance's copy.
 */
export type Intake = 'notify' | 'notify-fail-open' | 'forward' | 'hold' | 'drop';

export function intake(s: PairSituation, severity: Severity): Intake {
  if (!s.paired) return 'notify';
  if (s.leads) return s.peerLink && s.pendingForwards > 0 ? 'forward' : 'notify';
  if (s.leaderless && severity === 'critical') return 'notify-fail-open';
  if (s.peerLink) return 'forward';
  return severity === 'critical' ? 'hold' : 'drop';
}

/** May a delivery go out from this instance now? */
export type Voice =
  | { readonly type: 'send' }
  /** Send, with a line saying why this instance speaks without being the leader. */
  | { readonly type: 'send-with-note'; readonly note: string }
  | { readonly type: 'hold' };

export function voice(s: PairSituation, severity: Severity, host: string): Voice {
  if (!s.paired || s.leads) return { type: 'send' };
  if (s.leaderless && severity === 'critical') {
    return {
      type: 'send-with-note',
      note: `Sent by ${host} without a leader: the lock store cannot elect one, so each host reports its own critical alerts.`,
    };
  }
  return { type: 'hold' };
}

/** The periodic pair housekeeping of a follower. */
export interface Chores {
  /** Post the held criticals (and the criticals still in the forward queue) now: nobody leads. */
  readonly postHeld: boolean;
  /** Forget the held criticals: a leader is known and reports the same changes from its side. */
  readonly dropHeld: boolean;
  /** Hand deliveries left from this instance's own time as leader to the current leader. */
  readonly handOver: boolean;
}

const NOTHING: Chores = { postHeld: false, dropHeld: false, handOver: false };

export function chores(s: PairSituation): Chores {
  if (!s.paired || s.leads) return NOTHING;
  if (s.leaderless) return { postHeld: true, dropHeld: false, handOver: false };
  // Handing over is tried whenever someone may lead; the leader refuses it if it is not (409).
  return { postHeld: false, dropHeld: s.leaderKnown, handOver: s.peerLink };
}
