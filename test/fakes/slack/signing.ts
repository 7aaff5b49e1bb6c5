// What Slack does to the requests it sends an app in HTTP mode: a form body signed with the app's
// signing secret (v0 = HMAC-SHA256 over `v0:timestamp:body`).

import { createHmac } from 'node:crypto';

export interface SlackSignatureHeaders {
  readonly 'X-Slack-Signature': string;
  readonly 'X-Slack-Request-Timestamp': string;
}

/** The headers Slack would send with `body`; `timestampSec` defaults to now. */
export function signSlackRequest(
  signingSecret: string,
  body: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const hash = createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${body}`).digest('hex');
  return { 'X-Slack-Signature': `v0=${hash}`, 'X-Slack-Request-Timestamp': String(timestampSec) };
}

/** application/x-www-form-urlencoded, as Slack sends slash commands. */
export function encodeForm(fields: Readonly<Record<string, string>>): string {
  return new URLSearchParams(fields).toString();
}

/** Interactivity payloads travel as one form field `payload` holding JSON. */
export function encodeInteractivePayload(payload: unknown): string {
  return encodeForm({ payload: JSON.stringify(payload) });
}

export interface SignedPostOptions {
  readonly signingSecret: string;
  /** Sign with this time instead of now (a stale or future request). */
  readonly timestampSec?: number;
  /** Send a signature that does not match the body. */
  readonly tamper?: boolean;
  /** Leave out both signature headers. */
  readonly unsigned?: boolean;
}

/** POST a form body to an app's request URL the way Slack does; answers status and body text. */
export async function postSignedForm(
  url: string,
  body: string,
  options: SignedPostOptions,
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (options.unsigned !== true) {
    const signed = signSlackRequest(options.signingSecret, body, options.timestampSec);
    Object.assign(headers, signed);
    if (options.tamper === true) {
      headers['X-Slack-Signature'] = signSlackRequest(
        `${options.signingSecret}-wrong`,
        body,
        options.timestampSec,
      )['X-Slack-Signature'];
    }
  }
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, text: await response.text() };
}
