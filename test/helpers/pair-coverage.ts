// What the channel says it covers: every notification message carries its idempotency key and the
// notification keys it reports in its Slack metadata (`covers`: the first 16 hex digits of each,
// comma-separated; compare with coverKey()). Read back from the
// fake Slack's calls, in the order they arrived, and from the messages as they stand now.

import type { SimulatedPair } from '../../src/sim/pair.js';
import type { ApiCall, FakeSlack } from '../fakes/slack/fake-slack.js';

interface Payload {
  readonly key?: unknown;
  readonly covers?: unknown;
}

function payloadOf(call: ApiCall): Payload | undefined {
  const raw = call.params.metadata;
  const metadata = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  return (metadata as { event_payload?: Payload } | undefined)?.event_payload;
}

const list = (covers: unknown): string[] =>
  typeof covers === 'string' && covers !== '' ? covers.split(',') : [];

/** How a notification key appears in a message's metadata. */
export function coverKey(notificationKey: string): string {
  return notificationKey.slice(0, 16);
}

export interface Coverage {
  /** Notification keys covered by at least one message. */
  readonly covered: ReadonlySet<string>;
  /** Posts or edits that reported notifications an earlier message already covered. */
  readonly repeated: readonly string[];
  /** Notification keys that more than one message (as they stand now) covers. */
  readonly twice: readonly string[];
  /** chat.postMessage calls that went through. */
  readonly posts: number;
}

export function coverage(slack: FakeSlack, channel: string): Coverage {
  const byMessage = new Map<string, Set<string>>();
  const covered = new Set<string>();
  const repeated: string[] = [];
  let posts = 0;
  for (const call of slack.calls) {
    if (call.fault !== undefined) continue;
    if (call.method !== 'chat.postMessage' && call.method !== 'chat.update') continue;
    if (call.params.channel !== channel) continue;
    if (call.method === 'chat.postMessage') posts += 1;
    const payload = payloadOf(call);
    if (payload === undefined || typeof payload.key !== 'string') continue;
    const mine = byMessage.get(payload.key) ?? new Set<string>();
    const added = list(payload.covers).filter((k) => !mine.has(k));
    const again = added.filter((k) => covered.has(k));
    if (again.length > 0)
      repeated.push(`${call.method} ${String(call.params.text ?? '')} (${again.length} already covered)`);
    for (const k of added) {
      mine.add(k);
      covered.add(k);
    }
    byMessage.set(payload.key, mine);
  }
  const count = new Map<string, number>();
  for (const m of slack.messages(channel)) {
    for (const k of list(m.metadata?.event_payload.covers)) count.set(k, (count.get(k) ?? 0) + 1);
  }
  return {
    covered,
    repeated,
    twice: [...count].filter(([, n]) => n > 1).map(([k]) => k),
    posts,
  };
}

/** `flaps` link failures and recoveries of r0, back to back: 2 × flaps changes per host. */
export async function burst(pair: SimulatedPair, flaps: number): Promise<void> {
  for (let i = 0; i < flaps; i++) {
    pair.linkDown('r0');
    await new Promise((r) => setTimeout(r, 5));
    pair.linkUp('r0');
    await new Promise((r) => setTimeout(r, 5));
  }
}
