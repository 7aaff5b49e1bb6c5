// Wiring shared by the Slack tests: a configuration pointing at the fake, a logger whose output the
// test can read (to prove no token ever reaches it), and a collector of handled commands.

import { Writable } from 'node:stream';
import { type Config, parseConfig } from '../../../src/app/config.js';
import { createLogger, type Logger } from '../../../src/app/log.js';
import type { CommandContext, IncomingCommand } from '../../../src/ports/chat.js';
import type { FakeSlack } from './fake-slack.js';

export type SlackSection = NonNullable<Config['slack']>;

export function slackConfig(fake: FakeSlack, overrides: Record<string, unknown> = {}): SlackSection {
  const slack = parseConfig({ slack: { apiUrl: fake.apiUrl, ...overrides } }).slack;
  if (slack === undefined) throw new Error('no slack section');
  return slack;
}

export interface CapturedLog {
  readonly logger: Logger;
  /** Every line written so far. */
  text(): string;
  /** Parsed lines. */
  lines(): Record<string, unknown>[];
}

export function captureLog(level = 'debug'): CapturedLog {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const logger = createLogger({ level, format: 'json', destination });
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export interface HandledCommand {
  readonly command: IncomingCommand;
  readonly context: CommandContext;
  readonly at: number;
}
