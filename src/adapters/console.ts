// The console platform: messages rendered as text on a terminal, commands typed on it. For
// development and the demo, so everything can be tried without Slack or Discord.

import { createInterface, type Interface } from 'node:readline';
import type { Message, Tone } from '../core/message-tones.js';
import type { ChatPlatform, CommandHandler, Posted, PostOptions } from '../ports/chat.js';
import { renderText } from '../render/plain-text.js';

const COLOURS = {
  info: '\x1b[36m',
  warning: '\x1b[33m',
  critical: '\x1b[1;31m',
  resolved: '\x1b[32m',
  ok: '\x1b[32m',
} as const satisfies Record<Tone, string>;
const RESET = '\x1b[0m';

export interface ConsoleOptions {
  readonly output: NodeJS.WritableStream & { isTTY?: boolean };
  /** Where typed commands come from; none: output only. */
  readonly input?: NodeJS.ReadableStream;
  readonly userName?: string;
}

export class ConsolePlatform implements ChatPlatform {
  readonly name = 'console' as const;
  readonly #output: ConsoleOptions['output'];
  readonly #input: NodeJS.ReadableStream | undefined;
  readonly #user: string;
  readonly #color: boolean;
  readonly #posted = new Map<string, string>();
  #lines: Interface | undefined;
  #next = 0;
  #inflight = new Set<Promise<void>>();

  constructor(options: ConsoleOptions) {
    this.#output = options.output;
    this.#input = options.input;
    this.#user = options.userName ?? process.env.USER ?? 'console';
    this.#color = options.output.isTTY === true;
  }

  #print(prefix: string, message: Message): void {
    const text = renderText(message)
      .split('\n')
      .map((line, i) => (i === 0 ? line : `    ${line}`))
      .join('\n');
    const coloured = this.#color ? `${COLOURS[message.tone]}${text}${RESET}` : text;
    this.#output.write(`${prefix}${coloured}\n`);
  }

  async start(handler: CommandHandler): Promise<void> {
    if (this.#input === undefined) return;
    this.#lines = createInterface({ input: this.#input, crlfDelay: Number.POSITIVE_INFINITY });
    this.#lines.on('line', (line) => {
      // "/drbd status r0", "/status r0" and "status r0" all mean the same.
      const text = line
        .trim()
        .replace(/^\/drbd\s+/, '')
        .replace(/^\//, '');
      if (text === '') return;
      const run = (async () => {
        const replyId = `reply-${++this.#next}`;
        try {
          const reply = await handler(
            {
              platform: 'console',
              text,
              userId: this.#user,
              userName: this.#user,
              roles: [],
              channelId: 'console',
              source: 'slash-command',
            },
            { update: async (message) => this.#print(`  ↻ ${replyId} `, message) },
          );
          this.#print('  ⮑ ', reply.message);
        } catch (err) {
          this.#output.write(`  ⮑ internal error: ${(err as Error).message}\n`);
        }
      })();
      this.#inflight.add(run);
      void run.finally(() => this.#inflight.delete(run));
    });
  }

  async stop(): Promise<void> {
    this.#lines?.close();
    await Promise.all(this.#inflight);
  }

  async post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    const existing = this.#posted.get(options.idempotencyKey);
    if (existing !== undefined) return { messageId: existing };
    const messageId = `m${++this.#next}`;
    this.#posted.set(options.idempotencyKey, messageId);
    this.#print(`[#${channel}${options.threadOf === undefined ? '' : ` ↳ ${options.threadOf}`}] `, message);
    return { messageId };
  }

  async update(channel: string, messageId: string, message: Message): Promise<void> {
    this.#print(`[#${channel} ✎ ${messageId}] `, message);
  }

  async findPosted(_channel: string, idempotencyKey: string): Promise<Posted | undefined> {
    const messageId = this.#posted.get(idempotencyKey);
    return messageId === undefined ? undefined : { messageId };
  }
}
