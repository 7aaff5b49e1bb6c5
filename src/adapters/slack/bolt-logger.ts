// Bolt, its Socket Mode client and its Web API client log through this adapter over the project's
// pino logger. It never goes below warn (their debug output carries whole payloads, response URLs
// and socket tickets), and it scrubs anything token-shaped from what it does pass on.

import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from '../../ports/logger.js';

const SEVERITY: Record<LogLevel, number> = {
  [LogLevel.DEBUG]: 0,
  [LogLevel.INFO]: 1,
  [LogLevel.WARN]: 2,
  [LogLevel.ERROR]: 3,
};

const SCRUBBERS: readonly [RegExp, string][] = [
  [/\bxox[a-z]-[A-Za-z0-9-]+/g, 'xox?-[redacted]'],
  [/\bxapp-[A-Za-z0-9-]+/g, 'xapp-[redacted]'],
  [/\bBearer\s+[^\s"',]+/gi, 'Bearer [redacted]'],
  [/https:\/\/hooks\.slack\.com\/[^\s"',)]+/g, '[response_url]'],
  [/([?&]ticket=)[^&\s"',)]+/g, '$1[redacted]'],
  [/("?(?:token|signing_secret|signingSecret)"?\s*[:=]\s*"?)[^\s"',}]+/gi, '$1[redacted]'],
];

/** Remove anything that looks like a Slack credential or a response URL. */
export function scrubSecrets(text: string): string {
  return SCRUBBERS.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

function render(part: unknown): string {
  if (part instanceof Error) {
    const code = (part as { code?: unknown }).code;
    return typeof code === 'string' ? `${part.message} (${code})` : part.message;
  }
  if (typeof part === 'string') return part;
  try {
    return JSON.stringify(part) ?? String(part);
  } catch {
    return String(part);
  }
}

/** A Bolt logger writing to `logger` at warn or quieter, whatever level Bolt asks for. */
export function createBoltLogger(logger: Logger, floor: LogLevel = LogLevel.WARN): BoltLogger {
  const log = logger.child({ component: 'slack-bolt' });
  let level = floor;
  let name = 'bolt';
  const emit = (at: LogLevel, parts: unknown[]): void => {
    if (SEVERITY[at] < SEVERITY[level]) return;
    const text = scrubSecrets(parts.map(render).join(' '));
    if (at === LogLevel.ERROR) log.error({ source: name }, text);
    else if (at === LogLevel.WARN) log.warn({ source: name }, text);
    else if (at === LogLevel.INFO) log.info({ source: name }, text);
    else log.debug({ source: name }, text);
  };
  return {
    debug: (...parts: unknown[]) => emit(LogLevel.DEBUG, parts),
    info: (...parts: unknown[]) => emit(LogLevel.INFO, parts),
    warn: (...parts: unknown[]) => emit(LogLevel.WARN, parts),
    error: (...parts: unknown[]) => emit(LogLevel.ERROR, parts),
    setLevel: (requested: LogLevel) => {
      level = SEVERITY[requested] < SEVERITY[floor] ? floor : requested;
    },
    getLevel: () => level,
    setName: (newName: string) => {
      name = newName;
    },
  };
}
