// Logging with pino: JSON lines in production (journald keeps them), readable on a terminal.
// Secrets never reach a log line: known secret-bearing keys are redacted wherever they appear.

import { createRequire } from 'node:module';
import { pino } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { Logger } from '../ports/logger.js';

export type { Logger } from '../ports/logger.js';

export interface LogOptions {
  readonly level: string;
  readonly format: 'auto' | 'json' | 'pretty';
  /** Where to write; stderr by default so stdout stays free for command output. */
  readonly destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

export const REDACTED_KEYS = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'secret',
  'password',
  'authorization',
  'headers.authorization',
];

export function createLogger(options: LogOptions): Logger {
  const destination = options.destination ?? process.stderr;
  const usePretty = options.format === 'pretty' || (options.format === 'auto' && destination.isTTY === true);
  const redact = { paths: [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => `*.${k}`)], censor: '[redacted]' };
  const base = { level: options.level, redact, base: { pid: process.pid } };
  if (usePretty) {
    // Loaded only for a terminal: a daemon logging JSON to journald does not pay for it at start-up.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(base, pretty({ destination, colorize: destination.isTTY === true, sync: true }));
  }
  return pino(base, destination);
}
