// A ChatPlatform implementation that records what it is asked to do and can be told to fail, for
// the outbox's own tests. (The real Slack and Discord clients are tested against the fake servers
// under test/fakes/.)
import type { Message } from '../../src/core/message-tones.js';
import {
  type ChatPlatform,
  type CommandHandler,
  DeliveryError,
  type PlatformName,
  type Posted,
  type PostOptions,
} from '../../src/ports/chat.js';

export interface RecordedPost {
  readonly channel: string;
  readonly message: Message;
  readonly threadOf?: string;
  readonly key: string;
  readonly messageId: string;
  readonly at: number;
}

export class RecordingPlatform implements ChatPlatform {
  readonly posts: RecordedPost[] = [];
  readonly updates: { channel: string; messageId: string; message: Message; at: number }[] = [];
  /** Errors thrown by the next calls, first one first. */
  failures: DeliveryError[] = [];
  /** While true every call fails as if the platform were unreachable. */
  down = false;
  /** Record the post, then never answer (the process "crashes" before it learns the result). */
  hangAfterPost = false;
  #next = 0;
  #releaseHang: (() => void) | undefined;

  /** End a hanging post (so the abandoned sender of a "crashed" outbox can be stopped). */
  releaseHang(): void {
    this.#releaseHang?.();
    this.#releaseHang = undefined;
  }

  constructor(readonly name: PlatformName = 'slack') {}

  async start(_handler: CommandHandler): Promise<void> {}
  async stop(): Promise<void> {}

  #check(): void {
    if (this.down) throw new DeliveryError('connect ECONNREFUSED 127.0.0.1', true);
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
  }

  async post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    this.#check();
    const messageId = `${++this.#next}`;
    this.posts.push({
      channel,
      message,
      key: options.idempotencyKey,
      messageId,
      at: Date.now(),
      ...(options.threadOf === undefined ? {} : { threadOf: options.threadOf }),
    });
    if (this.hangAfterPost) {
      await new Promise<void>((_resolve, reject) => {
        this.#releaseHang = () => reject(new DeliveryError('the process that sent this is gone', true));
      });
    }
    return { messageId };
  }

  async update(channel: string, messageId: string, message: Message): Promise<void> {
    this.#check();
    this.updates.push({ channel, messageId, message, at: Date.now() });
  }

  async findPosted(channel: string, key: string): Promise<Posted | undefined> {
    this.#check();
    const found = this.posts.find((p) => p.channel === channel && p.key === key);
    return found === undefined ? undefined : { messageId: found.messageId };
  }
}
