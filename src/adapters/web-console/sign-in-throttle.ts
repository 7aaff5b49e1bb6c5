// Failed sign-ins to the web console, counted per presented token rather than per client address:
// behind a proxy or NAT a whole team shares one address, so an address-based lock-out lets one person
// typing wrong tokens (or one attacker) lock everybody out.
//
// The limits:
// - per presented token (keyed by its sha256, never the token): after FAILURES_PER_TOKEN failures
//   within TOKEN_WINDOW_MS, that same wrong token is answered 429 for the rest of the window. It stops
//   a script or a stale bookmark retrying a revoked token, and keeps the log to a few lines per token.
// - globally: at most GLOBAL_FAILURES_PER_MINUTE failures per minute are answered 401 and logged one
//   by one (a token bucket holding as many, refilled evenly over the minute); beyond that every failure
//   is answered 429 and counted into one summary log line a minute, and is not remembered per token,
//   so a flood of distinct wrong tokens neither fills the log nor the memory (at most MAX_TRACKED_TOKENS
//   tokens are remembered, the oldest forgotten first).
//
// Neither limit ever refuses a valid token: the web console compares every presented token before it
// asks this throttle anything, and a configured token never fails, so it never gains a count. What
// this does NOT do is slow down someone guessing tokens: without a client identity, any rule that
// stops answering a guesser also stops answering the team. Guessing is made hopeless by the tokens
// themselves (at least 16 characters; the demo's and the README's are 128-bit random), not by this.
//
// Time is passed in (milliseconds), so the rules are tested without a clock.

export const FAILURES_PER_TOKEN = 5;
export const TOKEN_WINDOW_MS = 15 * 60_000;
export const GLOBAL_FAILURES_PER_MINUTE = 60;
export const MAX_TRACKED_TOKENS = 1_000;
const MINUTE_MS = 60_000;

/** What to answer a failed sign-in. */
export type FailureVerdict =
  /** Counted: answer "unknown token" (401) and log it. */
  | { readonly kind: 'counted' }
  /** This token has failed too often, or all failures together are over the limit: 429, no log line. */
  | {
      readonly kind: 'throttled';
      readonly reason: 'token' | 'global';
      readonly retryAfterMs: number;
    };

interface TokenFailures {
  count: number;
  readonly since: number;
}

export class SignInThrottle {
  readonly #perToken = new Map<string, TokenFailures>();
  /** Failures the global bucket still allows (fractional while it refills). */
  #allowance = GLOBAL_FAILURES_PER_MINUTE;
  #refilledAt: number | undefined;
  #suppressed = 0;
  #suppressedSince: number | undefined;

  /** Failures remembered per token (for tests and the bound). */
  get tracked(): number {
    return this.#perToken.size;
  }

  /** A presented token (its key) was not a configured one. */
  failed(key: string, now: number): FailureVerdict {
    this.#refill(now);
    const known = this.#perToken.get(key);
    const current = known !== undefined && now - known.since < TOKEN_WINDOW_MS ? known : undefined;
    if (current !== undefined && current.count >= FAILURES_PER_TOKEN) {
      // Already refused for this token: no new count, no share of the global allowance.
      return { kind: 'throttled', reason: 'token', retryAfterMs: current.since + TOKEN_WINDOW_MS - now };
    }
    if (this.#allowance < 1) {
      this.#suppressed += 1;
      this.#suppressedSince ??= now;
      return {
        kind: 'throttled',
        reason: 'global',
        retryAfterMs: Math.ceil(((1 - this.#allowance) * MINUTE_MS) / GLOBAL_FAILURES_PER_MINUTE),
      };
    }
    this.#allowance -= 1;
    if (current === undefined) {
      this.#perToken.delete(key);
      this.#perToken.set(key, { count: 1, since: now });
      for (const oldest of this.#perToken.keys()) {
        if (this.#perToken.size <= MAX_TRACKED_TOKENS) break;
        this.#perToken.delete(oldest);
      }
    } else {
      current.count += 1;
    }
    return { kind: 'counted' };
  }

  /**
   * Failures answered 429 because of the global limit since the last call, once a minute has passed
   * since the first of them (for one summary log line); undefined when there is nothing to tell yet.
   */
  takeSuppressed(now: number): number | undefined {
    if (this.#suppressedSince === undefined || now - this.#suppressedSince < MINUTE_MS) return undefined;
    const count = this.#suppressed;
    this.#suppressed = 0;
    this.#suppressedSince = undefined;
    return count;
  }

  /** Forget windows that have passed. */
  sweep(now: number): void {
    for (const [key, failures] of [...this.#perToken]) {
      if (now - failures.since >= TOKEN_WINDOW_MS) this.#perToken.delete(key);
    }
    this.#refill(now);
  }

  #refill(now: number): void {
    if (this.#refilledAt !== undefined && now > this.#refilledAt) {
      const earned = ((now - this.#refilledAt) * GLOBAL_FAILURES_PER_MINUTE) / MINUTE_MS;
      this.#allowance = Math.min(GLOBAL_FAILURES_PER_MINUTE, this.#allowance + earned);
    }
    if (this.#refilledAt === undefined || now > this.#refilledAt) this.#refilledAt = now;
  }
}
