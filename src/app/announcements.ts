// What the bot says on its own account, not about a DRBD change: a leadership change, the on-call
// handover, the daily digest. Each goes once to every channel the routes name, under a key: posts
// are checked with the platform by key before sending, so a message a former leader already posted
// is not posted again.

import type { Outbox } from '../adapters/outbox.js';
import type { Message } from '../core/message-tones.js';
import type { Severity } from '../core/notification.js';
import type { Config } from './config.js';

const SEVERITY_OF_TONE: Partial<Record<Message['tone'], Severity>> = {
  critical: 'critical',
  warning: 'warning',
};

export class Announcer {
  readonly #config: () => Config;
  readonly #outbox: Outbox;

  constructor(config: () => Config, outbox: Outbox) {
    this.#config = config;
    this.#outbox = outbox;
  }

  /**
   * A leadership change or a hand-over. `first`: sent before anything already queued (a new
   * leader's announcement goes out within a moment of taking the lease).
   */
  async announce(title: string, key = `leader:${title}`, first = false): Promise<void> {
    const message: Message = { title, tone: 'info', host: this.#config().host, at: new Date().toISOString() };
    await this.post(message, key, first);
  }

  /** One message to every channel of the routes, named by `key`. */
  async post(message: Message, key: string, first = false): Promise<void> {
    const channels = new Map(this.#config().routes.map((r) => [`${r.platform}\u0000${r.channel}`, r]));
    await this.#outbox.enqueue(
      [...channels.values()].map((route) => ({
        key: `${key}:${route.platform}:${route.channel}`,
        platform: route.platform,
        channel: route.channel,
        op: 'post' as const,
        message,
        resource: null,
        severity: SEVERITY_OF_TONE[message.tone] ?? 'info',
        urgent: false,
        kinds: {},
        changes: 0,
        sending: true,
        ...(first ? { first: true } : {}),
      })),
    );
  }
}
