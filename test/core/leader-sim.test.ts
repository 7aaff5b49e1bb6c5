// A randomized simulation of the leader election: two instances, a lock store, and 1000 fault
// schedules of crashes, pauses (SIGSTOP) longer or shorter than the lease, lock-store outages, slow
// answers and clocks that run fast or slow (rate within ±20 %, any offset). Invariant: whenever an
// instance acts, the store agrees that it holds the lease, unexpired, with the token it acts with:
// two leaders never act with valid tokens at the same time. Liveness: after the faults end, someone
// leads within lease + retry + the slowest answer. Seeded, so a failure names its schedule.

import { describe, expect, it } from 'vitest';
import {
  afterAttempt,
  DEFAULT_LEADER_SETTINGS,
  type ElectionState,
  INITIAL_ELECTION,
  LEADER_DEFAULTS,
  type LeaderSettings,
  mayAct,
  onTick,
  validateLeaderSettings,
} from '../../src/core/leader.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Store {
  holder: string | null;
  expiry: number;
  token: number;
}

interface Pending {
  readonly sentReal: number;
  readonly sentLocal: number;
  readonly processAt: number;
  readonly replyAt: number;
  answer?: { held: boolean; holder: string | null; token: number } | 'error';
}

interface Node {
  readonly name: string;
  readonly rate: number;
  readonly offset: number;
  state: ElectionState;
  nextAttemptLocal: number;
  pending: Pending | undefined;
  crashedUntil: number;
  pausedUntil: number;
}

interface Window {
  readonly from: number;
  readonly to: number;
}

interface Schedule {
  readonly crashes: { node: number; at: number; downFor: number }[];
  readonly pauses: { node: number; at: number; pauseFor: number }[];
  readonly outages: Window[];
  readonly slow: Window[];
}

const STEP = 20;
const FAULTS_UNTIL = 90_000;
const RUN_UNTIL = 130_000;
const MAX_LATENCY = 3_000;

function makeSchedule(random: () => number): Schedule {
  const at = () => Math.floor(random() * FAULTS_UNTIL);
  const count = (max: number) => Math.floor(random() * (max + 1));
  return {
    // Every fault is over by FAULTS_UNTIL, so liveness can be judged after it.
    crashes: Array.from({ length: count(3) }, () => {
      const start = at();
      return {
        node: count(1),
        at: start,
        downFor: Math.min(FAULTS_UNTIL - start, 1_000 + random() * 30_000),
      };
    }),
    // Pauses both shorter and much longer than the lease, like SIGSTOP.
    pauses: Array.from({ length: count(4) }, () => {
      const start = at();
      return { node: count(1), at: start, pauseFor: Math.min(FAULTS_UNTIL - start, random() * 40_000) };
    }),
    outages: Array.from({ length: count(3) }, () => {
      const from = at();
      return { from, to: Math.min(FAULTS_UNTIL, from + random() * 25_000) };
    }),
    slow: Array.from({ length: count(3) }, () => {
      const from = at();
      return { from, to: Math.min(FAULTS_UNTIL, from + random() * 10_000) };
    }),
  };
}

const within = (t: number, windows: readonly Window[]) => windows.some((w) => t >= w.from && t < w.to);

function simulate(seed: number, settings: LeaderSettings) {
  const random = rng(seed);
  const schedule = makeSchedule(random);
  const store: Store = { holder: null, expiry: 0, token: 0 };
  const nodes: Node[] = ['alpha', 'beta'].map((name) => ({
    name,
    rate: 0.8 + random() * 0.4,
    offset: random() * 1e9,
    state: INITIAL_ELECTION,
    nextAttemptLocal: 0,
    pending: undefined,
    crashedUntil: -1,
    pausedUntil: -1,
  }));
  const local = (n: Node, t: number) => n.offset + n.rate * t;
  const violations: string[] = [];
  let acts = 0;
  let firstActAfterFaults: number | undefined;

  for (let t = 0; t <= RUN_UNTIL; t += STEP) {
    // The store processes requests whose time has come (even for a paused or crashed sender).
    for (const n of nodes) {
      const p = n.pending;
      if (p === undefined || p.answer !== undefined || t < p.processAt) continue;
      if (within(p.processAt, schedule.outages)) {
        p.answer = 'error';
        continue;
      }
      if (store.holder === n.name && store.expiry > t) {
        store.expiry = t + settings.leaseMs;
      } else if (store.holder === null || store.expiry <= t) {
        store.holder = n.name;
        store.expiry = t + settings.leaseMs;
        store.token += 1;
      }
      p.answer = { held: store.holder === n.name, holder: store.holder, token: store.token };
    }

    for (const [i, n] of nodes.entries()) {
      for (const c of schedule.crashes) {
        if (c.node === i && t >= c.at && t < c.at + STEP) {
          n.crashedUntil = t + c.downFor;
          n.state = INITIAL_ELECTION;
          n.pending = undefined;
        }
      }
      for (const s of schedule.pauses) {
        if (s.node === i && t >= s.at && t < s.at + STEP)
          n.pausedUntil = Math.max(n.pausedUntil, t + s.pauseFor);
      }
      if (t < n.crashedUntil || t < n.pausedUntil) continue;
      const now = local(n, t);
      n.state = onTick(n.state, now, settings).state;
      const p = n.pending;
      if (p !== undefined && p.answer !== undefined && t >= p.replyAt) {
        n.state = afterAttempt(n.state, n.name, p.sentLocal, p.answer, now, settings).state;
        n.pending = undefined;
      }
      if (n.pending === undefined && now >= n.nextAttemptLocal) {
        const latency = within(t, schedule.slow) ? random() * MAX_LATENCY : random() * 200;
        const processAt = t + latency * random();
        n.pending = { sentReal: t, sentLocal: now, processAt, replyAt: t + latency };
        n.nextAttemptLocal = now + settings.retryMs;
      }
      // Act now and then, as the daemon does when a command or an alert comes.
      if (random() < 0.3 && mayAct(n.state, now, settings)) {
        acts += 1;
        if (t > FAULTS_UNTIL && firstActAfterFaults === undefined) firstActAfterFaults = t;
        if (store.holder !== n.name || store.expiry <= t || store.token !== n.state.token) {
          violations.push(
            `seed ${seed}: ${n.name} acted at ${t} ms with token ${n.state.token}; store: ${store.holder} token ${store.token} until ${store.expiry}`,
          );
        }
      }
    }
  }
  return { violations, acts, firstActAfterFaults, schedule };
}

describe('leader election', () => {
  it('validates its settings like Kubernetes: lease > renew deadline > 1.2 × retry', () => {
    expect(validateLeaderSettings(DEFAULT_LEADER_SETTINGS)).toEqual([]);
    expect(validateLeaderSettings({ leaseMs: 10_000, renewDeadlineMs: 10_000, retryMs: 2_000 })).toHaveLength(
      1,
    );
    expect(validateLeaderSettings({ leaseMs: 15_000, renewDeadlineMs: 2_000, retryMs: 2_000 })[0]).toMatch(
      /1.2 × retryMs/,
    );
  });

  // Fixed timings, so the figures below read as they are (lease 15 s, renew deadline 10 s).
  const CLASSIC: LeaderSettings = { leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 };

  it('a leader that cannot renew steps down at its renew deadline, before its lease can expire', () => {
    const s = CLASSIC;
    let state = afterAttempt(
      INITIAL_ELECTION,
      'alpha',
      1_000,
      { held: true, holder: 'alpha', token: 7 },
      1_050,
      s,
    );
    expect(state.events).toEqual([{ type: 'became-leader', token: 7, previous: null }]);
    expect(mayAct(state.state, 10_999, s)).toBe(true);
    state = afterAttempt(state.state, 'alpha', 3_000, 'error', 4_000, s);
    expect(mayAct(state.state, 10_999, s)).toBe(true);
    expect(mayAct(state.state, 11_000, s)).toBe(false);
    const down = onTick(state.state, 11_000, s);
    expect(down.events[0]).toMatchObject({ type: 'stepped-down', token: 7 });
  });

  it('does not act on an answer that arrives after the renew deadline (a process resumed from SIGSTOP)', () => {
    const s = CLASSIC;
    const late = afterAttempt(
      INITIAL_ELECTION,
      'alpha',
      0,
      { held: true, holder: 'alpha', token: 3 },
      30_000,
      s,
    );
    expect(mayAct(late.state, 30_000, s)).toBe(false);
  });

  it.each(Object.entries(LEADER_DEFAULTS))(
    'never lets two leaders act at once with the %s defaults, over 1000 random fault schedules',
    (_backend, settings) => {
      expect(validateLeaderSettings(settings)).toEqual([]);
      let acts = 0;
      for (let seed = 1; seed <= 1_000; seed++) {
        const result = simulate(seed, settings);
        expect(result.violations, `seed ${seed}`).toEqual([]);
        acts += result.acts;
        // Liveness: once the faults are over, someone leads within lease + retry + the slowest answer.
        const bound = FAULTS_UNTIL + settings.leaseMs + settings.retryMs + 1_000;
        expect(
          result.firstActAfterFaults ?? Number.POSITIVE_INFINITY,
          `seed ${seed} never recovered`,
        ).toBeLessThan(bound);
      }
      expect(acts).toBeGreaterThan(1_000);
    },
  );

  it('would catch an unsafe rule: acting until the lease itself expires is refuted by the simulation', () => {
    // The same simulation with the renew deadline equal to the lease (no safety margin) must find
    // violations, or it is not testing anything.
    const unsafe: LeaderSettings = { leaseMs: 15_000, renewDeadlineMs: 15_000 * 1.3, retryMs: 2_000 };
    const found = Array.from({ length: 200 }, (_, i) => simulate(5_000 + i, unsafe).violations.length).reduce(
      (a, b) => a + b,
      0,
    );
    expect(found).toBeGreaterThan(0);
  });
});
