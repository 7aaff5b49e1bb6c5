// The one reply a slash command or a button click gets, and its later replacements. The first put
// posts it, every later put replaces it. Public replies are channel messages (chat.postMessage, in
// the alert's thread for a click) so they can be edited any number of times with chat.update;
// private replies go through the response_url as ephemeral messages, which only it can replace.

import type { RespondArguments, RespondFn } from '@slack/bolt';
import type { Message } from '../../core/message-tones.js';
import type { Logger } from '../../ports/logger.js';
import type { SlackContent } from './content.js';

export interface ReplyOrigin {
  readonly channelId: string;
  readonly source: 'slash-command' | 'button';
  /** For a click: the thread the reply goes to (the clicked message's thread, or the message itself). */
  readonly threadTs?: string;
  /** Bolt's respond() over the request's response_url. */
  readonly respond: RespondFn;
}

export interface ReplyTransport {
  render(message: Message): SlackContent;
  /** chat.postMessage; answers the ts. */
  postMessage(channel: string, content: SlackContent, threadTs: string | undefined): Promise<string>;
  /** chat.update. */
  updateMessage(channel: string, ts: string, content: SlackContent): Promise<void>;
}

type Posted =
  | { readonly kind: 'channel'; readonly channel: string; readonly ts: string }
  | { readonly kind: 'response-url'; readonly visibility: 'ephemeral' | 'in_channel' };

export class SlackReply {
  #posted: Posted | undefined;
  #queue: Promise<void> = Promise.resolve();

  readonly #origin: ReplyOrigin;
  readonly #transport: ReplyTransport;
  readonly #log: Logger;
  constructor(origin: ReplyOrigin, transport: ReplyTransport, log: Logger) {
    this.#origin = origin;
    this.#transport = transport;
    this.#log = log;
  }

  /**
   * Post or replace the reply. `privately` undefined keeps the current reply's visibility (public
   * when there is none yet). Puts run one after the other, in call order.
   */
  put(message: Message, privately: boolean | undefined): Promise<void> {
    const next = this.#queue.then(() => this.#send(message, privately));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #send(message: Message, privately: boolean | undefined): Promise<void> {
    const content = this.#transport.render(message);
    const current = this.#posted;
    const ephemeral = privately ?? (current?.kind === 'response-url' && current.visibility === 'ephemeral');
    if (ephemeral) {
      // A slash command's ephemeral reply can be replaced through its response_url. For a click,
      // replace_original would replace the clicked message itself, so a new ephemeral is posted.
      const replace =
        this.#origin.source === 'slash-command' &&
        current?.kind === 'response-url' &&
        current.visibility === 'ephemeral';
      await this.#respond({ ...content, response_type: 'ephemeral', replace_original: replace });
      this.#posted = { kind: 'response-url', visibility: 'ephemeral' };
      return;
    }
    if (current?.kind === 'channel') {
      await this.#transport.updateMessage(current.channel, current.ts, content);
      return;
    }
    if (current?.kind === 'response-url' && current.visibility === 'in_channel') {
      await this.#respond({ ...content, response_type: 'in_channel', replace_original: true });
      return;
    }
    try {
      const ts = await this.#transport.postMessage(this.#origin.channelId, content, this.#origin.threadTs);
      this.#posted = { kind: 'channel', channel: this.#origin.channelId, ts };
    } catch (err) {
      // Typically not_in_channel / channel_not_found (a DM or a channel the bot was not invited to):
      // the response_url can still answer there.
      this.#log.warn(
        { channel: this.#origin.channelId, reason: err instanceof Error ? err.message : String(err) },
        'slack: posting the reply as a channel message failed; answering through the response_url',
      );
      await this.#respond({ ...content, response_type: 'in_channel', replace_original: false });
      this.#posted = { kind: 'response-url', visibility: 'in_channel' };
    }
  }

  async #respond(args: RespondArguments): Promise<void> {
    await this.#origin.respond(args);
  }
}
