// Leader election over a lease with fencing tokens, in the spirit of Kubernetes' leader election.
// Pure: the elector (src/app/leader-elector.ts) feeds it the results of the lock store calls and
// the local monotonic clock, and asks it whether this instance may act.
//
// Why it is safe: a renewal counts from the moment its request was *sent* (the store can only have
// started the lease later), and the leader stops acting `renewDeadlineMs` after that, while the
// store keeps the lease for `leaseMs` after it processed the request. Nobody else can get the lease
// before it expires in the store, so as long as the local clock does not run slow by more than
// (leaseMs − renewDeadlineMs) / leaseMs (a third with the defaults), the old leader has stopped
// before a new one can start. Clock offsets between the hosts do not matter: each side only uses
// its own clock's differences, and the store uses its own.
//
// A planned stop does not wait for the lease to run out: the leader releases it and tells the
// follower, which tries at once (see src/app/leader-elector.ts attemptNow).

export interface LeaderSettings {
  /** How long the store keeps a lease that is not renewed. */
  readonly leaseMs: number;
  /** A leader that could not renew for this long stops acting (before its lease can expire). */
  readonly renewDeadlineMs: number;
  /** How often a leader renews and a follower tries to take over. */
  readonly retryMs: number;
}

/**
 * Defaults per lock backend, chosen from measured renewal latencies (bench/lock-renewal.ts,
 * bench/RESULTS.md): a crashed leader is replaced within about lease + retry, so the lease is as
 * short as the backend allows while keeping
 * - retry ≥ 10 × the backend's p99 renewal time (an answer slower than retry counts as a failure),
 * - at least three renewal attempts before the renew deadline (one slow or lost answer is no reason
 *   to step down),
 * - lease − renew deadline ≥ a third of the lease (the safety margin against a local clock running
 *   slow, as before).
 * file and etcd answer in milliseconds; a command runs a program (a shell script, curl to a bucket),
 * so it gets a longer retry. The kill -9 → announcement time is then about 7–8 s (file, etcd) and
 * 8–9 s (command) instead of 15–17 s; a planned stop releases the lease and hands over at once.
 */
export const LEADER_DEFAULTS = {
  file: { leaseMs: 6_000, renewDeadlineMs: 4_000, retryMs: 1_000 },
  etcd: { leaseMs: 6_000, renewDeadlineMs: 4_000, retryMs: 1_000 },
  command: { leaseMs: 7_000, renewDeadlineMs: 4_500, retryMs: 1_500 },
} as const satisfies Record<'file' | 'command' | 'etcd', LeaderSettings>;

/** The file backend's defaults: what the pair uses when nothing says otherwise (tests, the demo). */
export const DEFAULT_LEADER_SETTINGS: LeaderSettings = LEADER_DEFAULTS.file;

/** Problems with the settings, or none. lease > renew deadline > 1.2 × retry, as Kubernetes demands. */
export function validateLeaderSettings(s: LeaderSettings): string[] {
  const problems: string[] = [];
  if (!(s.leaseMs > s.renewDeadlineMs)) {
    problems.push(`leaseMs (${s.leaseMs}) must be greater than renewDeadlineMs (${s.renewDeadlineMs})`);
  }
  if (!(s.renewDeadlineMs > 1.2 * s.retryMs)) {
    problems.push(
      `renewDeadlineMs (${s.renewDeadlineMs}) must be greater than 1.2 × retryMs (${1.2 * s.retryMs})`,
    );
  }
  if (s.retryMs <= 0) problems.push('retryMs must be positive');
  return problems;
}

export interface Leading {
  readonly role: 'leader';
  readonly token: number;
  /** Local monotonic time when the request behind the last successful renewal was sent. */
  readonly renewedAt: number;
}

export interface Following {
  readonly role: 'follower';
  /** Who leads as far as we know, and with which token (0 and null when nobody or unknown). */
  readonly leader: string | null;
  readonly token: number;
}

export type ElectionState = Leading | Following;

export const INITIAL_ELECTION: Following = { role: 'follower', leader: null, token: 0 };

/** What changed, for the log and the chat ("alpha leads, token 42; previous leader beta"). */
export type ElectionEvent =
  | { readonly type: 'became-leader'; readonly token: number; readonly previous: string | null }
  | { readonly type: 'stepped-down'; readonly reason: string; readonly token: number }
  | { readonly type: 'leader-changed'; readonly leader: string | null; readonly token: number };

export interface AttemptOutcome {
  readonly state: ElectionState;
  readonly events: readonly ElectionEvent[];
}

/**
 * The answer to one acquireOrRenew call, sent at local time `sentAt`. `result` is the store's
 * answer, or `error` when the store could not be asked.
 */
export function afterAttempt(
  state: ElectionState,
  self: string,
  sentAt: number,
  answer: { readonly held: boolean; readonly holder: string | null; readonly token: number } | 'error',
  now: number,
  settings: LeaderSettings,
): AttemptOutcome {
  if (answer === 'error') {
    // Nothing learnt. A leader keeps acting until its renew deadline (checked by mayAct / onTick).
    return onTick(state, now, settings);
  }
  if (answer.held) {
    if (state.role === 'leader' && state.token === answer.token) {
      // A renewal. An answer older than the one we have (out of order) does not move the clock back.
      return { state: { ...state, renewedAt: Math.max(state.renewedAt, sentAt) }, events: [] };
    }
    const previous = state.role === 'follower' ? state.leader : self;
    const events: ElectionEvent[] = [];
    if (state.role === 'leader') {
      events.push({ type: 'stepped-down', reason: 'the lease was lost and taken again', token: state.token });
    }
    events.push({
      type: 'became-leader',
      token: answer.token,
      previous: previous === self ? null : previous,
    });
    // Judge the new lease from the time this request was sent, like a renewal.
    if (now - sentAt >= settings.renewDeadlineMs) {
      // The answer took so long that the lease may be nearly over: do not act on it.
      return { state: { role: 'follower', leader: self, token: answer.token }, events: [] };
    }
    return { state: { role: 'leader', token: answer.token, renewedAt: sentAt }, events };
  }
  // Someone else holds it (or nobody, if it was released meanwhile).
  const events: ElectionEvent[] = [];
  if (state.role === 'leader') {
    events.push({
      type: 'stepped-down',
      reason: `the lease is held by ${answer.holder ?? 'nobody'}`,
      token: state.token,
    });
  }
  if (state.role === 'leader' || state.leader !== answer.holder || state.token !== answer.token) {
    events.push({ type: 'leader-changed', leader: answer.holder, token: answer.token });
  }
  return {
    state: { role: 'follower', leader: answer.holder, token: answer.token },
    events,
  };
}

/** Time passes: a leader past its renew deadline steps down, at once. */
export function onTick(state: ElectionState, now: number, settings: LeaderSettings): AttemptOutcome {
  if (state.role === 'leader' && now - state.renewedAt >= settings.renewDeadlineMs) {
    return {
      state: { role: 'follower', leader: null, token: state.token },
      events: [
        {
          type: 'stepped-down',
          reason: 'could not renew the lease before the renew deadline',
          token: state.token,
        },
      ],
    };
  }
  return { state, events: [] };
}

/** May this instance act (run commands, post as the leader) at local time `now`? */
export function mayAct(state: ElectionState, now: number, settings: LeaderSettings): state is Leading {
  return state.role === 'leader' && now - state.renewedAt < settings.renewDeadlineMs;
}

/**
 * Fail open for alerts: when the lock store has not answered for longer than a lease (it is down,
 * or unreachable from here), no leader can be established, and every instance posts critical alerts
 * itself rather than staying silent. `failingSince` is when the first of the unanswered attempts
 * since the last answer was sent (undefined while the store answers). Counting from there, not from
 * the last answer, matters after a pause: a process resumed from SIGSTOP has heard nothing for a
 * long time, but it has not seen the store fail, and its next attempt learns who leads.
 */
export function leaderless(
  state: ElectionState,
  now: number,
  failingSince: number | undefined,
  settings: LeaderSettings,
): boolean {
  if (mayAct(state, now, settings) || failingSince === undefined) return false;
  return now - failingSince > settings.leaseMs;
}
