// Slack's failures mapped onto DeliveryError, so the outbox alone decides whether and when to retry.
// The Web API client runs with retries off and rejectRateLimitedCalls on: every failure lands here.

import { ErrorCode as BoltErrorCode, webApi } from '@slack/bolt';
import { DeliveryError } from '../../ports/chat.js';

/** `ok: false` errors that are Slack's own trouble, worth trying again. */
const RETRYABLE_PLATFORM_ERRORS = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
]);

interface CodedError {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly statusCode?: unknown;
  readonly retryAfter?: unknown;
  readonly data?: { readonly error?: unknown };
  readonly original?: unknown;
  readonly name?: unknown;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Map anything the Web API client, Bolt's respond() or fetch threw; `what` names the call. */
export function toDeliveryError(err: unknown, what: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = (err ?? {}) as CodedError;
  switch (e.code) {
    case webApi.ErrorCode.RateLimitedError: {
      const seconds = typeof e.retryAfter === 'number' ? e.retryAfter : undefined;
      return new DeliveryError(
        `${what}: rate limited by Slack${seconds === undefined ? '' : ` (retry after ${seconds} s)`}`,
        true,
        seconds === undefined ? undefined : seconds * 1000,
        429,
      );
    }
    case webApi.ErrorCode.HTTPError: {
      const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
      return new DeliveryError(
        `${what}: Slack answered HTTP ${status ?? '?'}`,
        status === undefined || retryableStatus(status),
        undefined,
        status,
      );
    }
    case webApi.ErrorCode.RequestError:
      // No answer at all: connection refused or reset, DNS, TLS, the client's timeout.
      return new DeliveryError(`${what}: Slack unreachable: ${describe(e.original ?? err)}`, true);
    case webApi.ErrorCode.PlatformError: {
      const code = typeof e.data?.error === 'string' ? e.data.error : 'unknown_error';
      return new DeliveryError(`${what}: Slack refused: ${code}`, RETRYABLE_PLATFORM_ERRORS.has(code));
    }
    case BoltErrorCode.RespondError: {
      // Bolt's respond(): a response_url post that got a non-2xx answer.
      const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
      return new DeliveryError(
        `${what}: response_url answered HTTP ${status ?? '?'}`,
        status === undefined || retryableStatus(status),
        undefined,
        status,
      );
    }
    default:
      break;
  }
  const message = describe(err);
  // A 429 without a usable Retry-After: the client gives up with a plain Error.
  if (message.startsWith('Retry header did not contain a valid timeout')) {
    return new DeliveryError(`${what}: rate limited by Slack (no Retry-After)`, true, undefined, 429);
  }
  // fetch() itself (response_url posts): network failures and aborts.
  if (
    e.name === 'AbortError' ||
    e.name === 'TimeoutError' ||
    (err instanceof TypeError && message === 'fetch failed')
  ) {
    return new DeliveryError(`${what}: Slack unreachable: ${message}`, true);
  }
  return new DeliveryError(`${what}: ${message}`, false);
}
