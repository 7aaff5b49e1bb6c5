// Runs the leader election (src/core/leader.ts) against a lock store: tries to take or renew the
// lease every retry period, steps down the moment the renew deadline passes, and tells listeners
// about every change of leadership. Time is the monotonic clock, never the wall clock.

import { performance } from 'node:perf_hooks';
import {
  afterAttempt,
  type ElectionEvent,
  type ElectionState,
  INITIAL_ELECTION,
  type LeaderSettings,
  leaderless,
  mayAct,
  onTick,
} from '../core/leader.js';
import { type LockStore, LockStoreError } from '../ports/leases.js';
import type { Logger } from './log.js';

export interface LeaderElectorOptions {
  readonly store: LockStore;
  /** The lease's key in the store, e.g. "leader" under the pair's prefix. */
  readonly key: string;
  /** This instance's name (the host name). */
  readonly self: string;
  readonly settings: LeaderSettings;
  readonly logger: Logger;
  readonly onEvent?: (event: ElectionEvent) => void;
  /** Monotonic milliseconds; injectable for tests. */
  readonly now?: () => number;
}

export class LeaderElector {
  readonly #options: LeaderElectorOptions;
  readonly #now: () => number;
  #state: ElectionState = INITIAL_ELECTION;
  /** When the first attempt of the current run of store failures was sent; undefined while it answers. */
  #failingSince: number | undefined;
  #attemptTimer: NodeJS.Timeout | undefined;
  #tickTimer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  #stopped = false;
  /** attemptNow() came while an attempt was in flight: make another one as soon as it ends. */
  #again = false;

  constructor(options: LeaderElectorOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get state(): ElectionState {
    return this.#state;
  }

  /** True while this instance may act as the leader (commands, chat connections). */
  mayAct(): boolean {
    return mayAct(this.#state, this.#now(), this.#options.settings);
  }

  /** The fencing token to act with, when leading. */
  get token(): number | undefined {
    return this.mayAct() ? this.#state.token : undefined;
  }

  /** No leader could be established for longer than a lease: alerts fail open. */
  leaderless(): boolean {
    return leaderless(this.#state, this.#now(), this.#failingSince, this.#options.settings);
  }

  start(): void {
    const { retryMs } = this.#options.settings;
    this.#attemptTimer = setInterval(() => this.#attempt(), retryMs);
    // Step down promptly: check the deadline several times per retry period.
    this.#tickTimer = setInterval(
      () => this.#apply(onTick(this.#state, this.#now(), this.#options.settings)),
      Math.max(50, retryMs / 4),
    );
    this.#attempt();
  }

  /**
   * Try to take the lease now instead of at the next retry: the leader said it released it (a
   * planned stop), so waiting for the next period would only make the pair speechless for longer.
   * Safe at any time: the store decides, exactly as for a periodic attempt.
   */
  attemptNow(): void {
    if (this.#stopped) return;
    if (this.#inflight === undefined) {
      this.#attempt();
      return;
    }
    this.#again = true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#attemptTimer);
    clearInterval(this.#tickTimer);
    await this.#inflight;
    if (this.#state.role === 'leader') {
      // Hand over at once instead of letting the peer wait for the lease to expire.
      await this.#options.store.release(this.#options.key, this.#options.self).catch((err: Error) => {
        this.#options.logger.warn({ err }, 'could not release the leader lease; it will expire');
      });
      this.#apply({
        state: { role: 'follower', leader: null, token: this.#state.token },
        events: [{ type: 'stepped-down', reason: 'shutting down', token: this.#state.token }],
      });
    }
  }

  #apply(outcome: { state: ElectionState; events: readonly ElectionEvent[] }): void {
    this.#state = outcome.state;
    for (const event of outcome.events) {
      // `token` is a redacted key in the logs (secrets); a fencing token is not secret.
      const { token, ...rest } = event;
      this.#options.logger.info(
        { ...rest, fencingToken: token, self: this.#options.self },
        `leader election: ${event.type}`,
      );
      this.#options.onEvent?.(event);
    }
  }

  #attempt(): void {
    if (this.#stopped || this.#inflight !== undefined) return;
    const { store, key, self, settings } = this.#options;
    const sentAt = this.#now();
    // An answer slower than the retry period is as good as none: the next attempt is due.
    const timeout = new Promise<'error'>((resolve) =>
      setTimeout(() => resolve('error'), settings.retryMs).unref(),
    );
    this.#inflight = Promise.race([
      store.acquireOrRenew(key, self, settings.leaseMs).catch((err: unknown) => {
        if (!(err instanceof LockStoreError)) this.#options.logger.error({ err }, 'lock store call failed');
        else this.#options.logger.warn({ err }, 'lock store unavailable');
        return 'error' as const;
      }),
      timeout,
    ])
      .then((answer) => {
        if (this.#stopped && answer !== 'error' && answer.held && this.#state.role !== 'leader') {
          // Stopped while a take-over was in flight: give the lease back right away.
          void store.release(key, self).catch(() => undefined);
          return;
        }
        if (answer === 'error') this.#failingSince ??= sentAt;
        else this.#failingSince = undefined;
        this.#apply(afterAttempt(this.#state, self, sentAt, answer, this.#now(), settings));
      })
      .finally(() => {
        this.#inflight = undefined;
        if (this.#again) {
          this.#again = false;
          this.#attempt();
        }
      });
  }
}
