// The port every chat platform adapter implements (Slack, Discord, the terminal and web consoles).
// Adapters are thin: they render with src/render/, call the platform through its real client
// library, and map the platform's errors onto DeliveryError so the outbox can decide whether and
// when to retry.

import type { Message } from './chat-message.js';

export const PLATFORM_NAMES = ['slack', 'discord', 'console', 'web'] as const;
export type PlatformName = (typeof PLATFORM_NAMES)[number];

export interface PostOptions {
  /** Post as a reply in the thread of this platform message id (Slack ts, Discord message id). */
  readonly threadOf?: string;
  /**
   * Stable per notification. Adapters make a retried post idempotent with it: Discord sends it as
   * the message nonce with enforce_nonce; Slack stores it in the message metadata and `findPosted`
   * looks it up after a crash.
   */
  readonly idempotencyKey: string;
  /**
   * The notifications (by notification key) this message reports. Slack keeps them in the message
   * metadata beside the key, so what each message covers can be read back from the channel.
   */
  readonly covers?: readonly string[];
}

/** An edit that reports more (another host's view of the same change): the message's key and covers. */
export interface UpdateOptions {
  /** The key the message was posted with (its metadata keeps it). */
  readonly idempotencyKey: string;
  /** Every notification the edited message reports now. */
  readonly covers: readonly string[];
}

export interface Posted {
  /** Slack `ts`, Discord message id. */
  readonly messageId: string;
}

/** A slash command or a button click, as the platform delivered it. */
export interface IncomingCommand {
  readonly platform: PlatformName;
  /** The command line without the slash command itself: "status r0", "failover r0 confirm 7f3a". */
  readonly text: string;
  /** Platform user id (Slack U…, Discord snowflake) and a display name for messages. */
  readonly userId: string;
  readonly userName: string;
  /** Slack user group ids / Discord role ids the user has, where the platform tells. */
  readonly roles: readonly string[];
  readonly channelId: string;
  /** `button` when it came from a click on one of our messages. */
  readonly source: 'slash-command' | 'button';
}

/**
 * What a command handler answers. The adapter has already acknowledged the request (Slack ack,
 * Discord deferReply) before the handler runs, so a handler may take its time; `update` edits the
 * same reply later (progress of a long command).
 */
export interface CommandReply {
  readonly message: Message;
  /** Only the requester sees it (Slack ephemeral, Discord ephemeral flag). */
  readonly private?: boolean;
  /**
   * How the command went, as the registry knows it (for metrics and logs, never guessed from the
   * message): ran, refused with a reason the person can act on, or failed inside the bot.
   */
  readonly outcome?: 'ok' | 'refused' | 'error';
  /** The command it was ("ip-set"), when the text named one. */
  readonly command?: string;
}

export interface CommandContext {
  /** Replace the reply with a new message (e.g. live progress). */
  update(message: Message): Promise<void>;
}

export type CommandHandler = (command: IncomingCommand, context: CommandContext) => Promise<CommandReply>;

export class DeliveryError extends Error {
  readonly code = 'DELIVERY_FAILED';
  constructor(
    message: string,
    /** Worth trying again later (5xx, 429, connection errors); false for bad requests. */
    readonly retryable: boolean,
    /** What the platform asked for (429 Retry-After), in milliseconds. */
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface ChatPlatform {
  readonly name: PlatformName;
  /** Connect (Socket Mode / gateway / HTTP listener) and start taking commands. */
  start(handler: CommandHandler): Promise<void>;
  /** Disconnect; pending command replies are finished first where possible. */
  stop(): Promise<void>;
  post(channel: string, message: Message, options: PostOptions): Promise<Posted>;
  update(channel: string, messageId: string, message: Message, options?: UpdateOptions): Promise<void>;
  /**
   * After a crash between sending and recording the result: the message already posted with this
   * idempotency key, if the platform can tell. Returns undefined when none was found.
   */
  findPosted(channel: string, idempotencyKey: string): Promise<Posted | undefined>;
}
