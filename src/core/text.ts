// Notifications as one line of plain text, for the terminal and logs. Chat renderings come from
// the platform renderers; this is the lowest common denominator.

import type { Notification, Severity } from './notification.js';

const MARKS = {
  info: 'INFO',
  warning: 'WARN',
  critical: 'CRIT',
} as const satisfies Record<Severity, string>;

// ANSI SGR colours per severity, used only when writing to a terminal.
const COLOURS = {
  info: '\x1b[32m',
  warning: '\x1b[33m',
  critical: '\x1b[1;31m',
} as const satisfies Record<Severity, string>;

const RESET = '\x1b[0m';

export function formatNotificationLine(n: Notification, options: { color: boolean }): string {
  const time = n.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const mark = options.color ? `${COLOURS[n.severity]}${MARKS[n.severity]}${RESET}` : MARKS[n.severity];
  return `${time} ${mark} [${n.host}${n.resource === null ? '' : `/${n.resource}`}] ${n.kind}: ${n.text}`;
}
