// discord.js / @discordjs/rest errors → DeliveryError, so the outbox decides whether and when to
// retry: 429 carries its retry-after, 5xx / timeouts / connection failures are worth another try,
// and the other 4xx (Unknown Channel, Missing Access, Invalid Form Body) are not.

import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { DeliveryError } from '../../ports/chat.js';

/** Discord's JSON error codes the adapter looks at. */
export const DiscordErrorCode = {
  UnknownChannel: 10003,
  UnknownMessage: 10008,
  UnknownInteraction: 10062,
  MissingAccess: 50001,
  ThreadAlreadyCreated: 160004,
} as const;

export function isDiscordApiError(err: unknown, code?: number): err is DiscordAPIError {
  return err instanceof DiscordAPIError && (code === undefined || err.code === code);
}

/** Socket and DNS errors (ECONNREFUSED, ECONNRESET, EAI_AGAIN …) and undici's (UND_ERR_SOCKET …). */
const NETWORK_CODE = /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/;

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause === undefined || cause === err ? undefined : errorCode(cause);
}

/** `what` says what was attempted ("post to 123"); it never contains a token. */
export function toDeliveryError(err: unknown, what: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof RateLimitError) {
    const retryAfterMs = Math.max(0, Math.ceil(err.retryAfter > 0 ? err.retryAfter : err.timeToReset));
    const scope = err.global ? 'global' : err.scope;
    return new DeliveryError(
      `${what}: rate limited by Discord (${scope}), retry after ${retryAfterMs} ms`,
      true,
      retryAfterMs,
      429,
    );
  }
  if (err instanceof DiscordAPIError) {
    const status = err.status;
    let retryAfterMs: number | undefined;
    if (status === 429) {
      const seconds = (err.rawError as { retry_after?: unknown }).retry_after;
      if (typeof seconds === 'number') retryAfterMs = Math.ceil(seconds * 1000);
    }
    const retryable = status === 429 || status === 408 || status >= 500;
    return new DeliveryError(
      `${what}: Discord answered ${status} (code ${err.code}): ${err.message}`,
      retryable,
      retryAfterMs,
      status,
    );
  }
  if (err instanceof HTTPError) {
    return new DeliveryError(
      `${what}: Discord answered ${err.status} ${err.message}`,
      true,
      undefined,
      err.status,
    );
  }
  const e = err as Error | undefined;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return new DeliveryError(`${what}: Discord did not answer in time`, true);
  }
  const code = errorCode(err);
  const detail = e instanceof Error ? e.message : String(err);
  if (code !== undefined && NETWORK_CODE.test(code)) {
    return new DeliveryError(`${what}: cannot reach Discord: ${detail} (${code})`, true);
  }
  // Anything else is unexpected (a bug, or the client stopped): still retryable, since dropping a
  // notification is worse than trying it again.
  return new DeliveryError(`${what}: unexpected error: ${detail}`, true);
}

/** Fields of an error safe for a log line: no request bodies, no webhook URLs (they hold tokens). */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof DiscordAPIError) {
    return {
      type: 'DiscordAPIError',
      status: err.status,
      code: err.code,
      message: err.message,
      method: err.method,
    };
  }
  if (err instanceof RateLimitError) {
    return { type: 'RateLimitError', route: err.route, retryAfter: err.retryAfter, global: err.global };
  }
  if (err instanceof HTTPError) return { type: 'HTTPError', status: err.status, message: err.message };
  if (err instanceof Error) return { type: err.name, message: err.message, stack: err.stack };
  return { type: typeof err, message: String(err) };
}
