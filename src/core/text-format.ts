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

/**
 * "1 change", "3 changes": a count with its noun, never "1 changes". `many` for irregular plurals
 * ("1 entry", "2 entries").
 */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * The zone every time in a message is shown in, unless the caller passes another. One zone for all
 * messages, written beside each time, so nobody at 3 a.m. has to guess whether "03:12" is the
 * server's, UTC or their own clock (node-cron's schedules run in the host's zone; the times they
 * produce are shown here converted, with the zone named).
 */
export const MESSAGE_TIME_ZONE = 'UTC';

function parts(at: Date, zone: string): Record<string, string> {
  const formatted = new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).formatToParts(at);
  return Object.fromEntries(formatted.map((p) => [p.type, p.value]));
}

/**
 * A time as people read it: "2026-12-06 03:12 UTC", or "03:12 UTC" when it falls on the same day
 * (in that zone) as `sameDayAs` — an expiry ten minutes after the request needs no date. Pure: the
 * zone (an IANA name such as "UTC" or "Europe/Berlin") is passed in, never read from the host.
 */
export function formatTime(
  at: number | string | Date,
  zone: string,
  options: { readonly sameDayAs?: number } = {},
): string {
  const date = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(date.getTime())) return 'unknown time';
  const p = parts(date, zone);
  const time = `${p.hour}:${p.minute} ${p.timeZoneName}`;
  const day = `${p.year}-${p.month}-${p.day}`;
  if (options.sameDayAs !== undefined) {
    const other = parts(new Date(options.sameDayAs), zone);
    if (`${other.year}-${other.month}-${other.day}` === day) return time;
  }
  return `${day} ${time}`;
}

/**
 * How important a line of a list is when a message must be shortened: a failed check or step, an
 * alert (the line that decides what the reader does) is never dropped; a passed check or a step not
 * started yet goes first.
 */
export function lineWeight(line: string): 0 | 1 | 2 {
  const start = line.trimStart();
  if (/^(❌|🚨|⛔)/u.test(start)) return 2;
  if (/^(✅|◻️|☑️)/u.test(start)) return 0;
  return 1;
}

/** Cut a line to `max` characters with an ellipsis, never inside an HTML entity such as `&amp;`. */
export function clipLine(line: string, max: number): string {
  if (line.length <= max) return line;
  if (max <= 1) return '…'.slice(0, Math.max(0, max));
  return `${line.slice(0, max - 1).replace(/&[a-z]{0,5}$/i, '')}…`;
}

/**
 * The least `fitText` can make of a text without cutting a deciding line: those lines and the note
 * that says how many others were left out.
 */
export function essentialLength(text: string): number {
  const deciding = text.split('\n').filter((l) => lineWeight(l) === 2);
  const others = text.split('\n').length - deciding.length;
  return deciding.reduce((sum, l) => sum + l.length + 1, 0) + (others > 0 ? 30 : 0);
}

/**
 * Make a multi-line text fit `max` characters while keeping what decides: first the long lines
 * that do not decide anything are shortened, then such lines are left out (the least important
 * first, from the end; one line says how many), and only when the deciding lines alone are too long
 * are they shortened too, each to an equal share. Line order is kept.
 */
export function fitText(text: string, max: number): string {
  if (text.length <= max) return text;
  let lines = text.split('\n');
  const length = (ls: readonly string[]) => ls.reduce((sum, l) => sum + l.length + 1, -1);
  for (const cap of [240, 160, 100, 60]) {
    lines = lines.map((l) => (lineWeight(l) === 2 ? l : clipLine(l, cap)));
    if (length(lines) <= max) return lines.join('\n');
  }
  // Leave lines out, lowest weight first and from the end, until the rest and a note fit.
  const kept = lines.map((line, index) => ({ line, index, weight: lineWeight(line) }));
  const order = [...kept].sort((a, b) => a.weight - b.weight || b.index - a.index);
  const dropped = new Set<number>();
  const note = (n: number) => `… ${n === 1 ? '1 more line' : `${n} more lines`} not shown`;
  const remaining = () => kept.filter((k) => !dropped.has(k.index)).map((k) => k.line);
  for (const candidate of order) {
    if (candidate.weight === 2) break;
    dropped.add(candidate.index);
    if (length([...remaining(), note(dropped.size)]) <= max) {
      return [...remaining(), note(dropped.size)].join('\n');
    }
  }
  // Only deciding lines are left and they still do not fit: each gets an equal share.
  const rest = remaining();
  const withNote = dropped.size > 0 ? [...rest, note(dropped.size)] : rest;
  const share = Math.floor((max - (withNote.length - 1)) / withNote.length);
  if (share >= 20) {
    const shared = withNote.map((l) => clipLine(l, share));
    if (length(shared) <= max) return shared.join('\n');
  }
  return clipLine(withNote.join('\n'), max);
}

/** One pre-flight check of a plan, as shown in its checklist. */
export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** A few words for the title when it fails: "split-brain not recovered". Default: its name. */
  readonly reason?: string;
  /**
   * Checks whose failure explains this one's (both hosts Primary is what a split-brain looks like):
   * when one of them failed too, this one stays in the list but not in the title.
   */
  readonly impliedBy?: readonly string[];
}

export function checkLine(check: CheckResult): string {
  return `${check.ok ? '✅' : '❌'} ${check.name}: ${check.detail}`;
}

/** Titles stay short enough for a phone's notification and Discord's 256 characters. */
const MAX_BLOCKED_TITLE = 160;

/**
 * The failed checks that decide, in checklist order: those not explained by another failed one.
 */
export function decidingChecks(checks: readonly CheckResult[]): CheckResult[] {
  const failed = new Set(checks.filter((c) => !c.ok).map((c) => c.name));
  return checks.filter((c) => !c.ok && !(c.impliedBy ?? []).some((name) => failed.has(name)));
}

/**
 * A refusal as one text: a short title naming the deciding failed check(s) ("Failover r0 blocked:
 * split-brain not recovered"), then the whole checklist, one check a line. A message made from it
 * (textMessage, or any renderer) puts the title in the title and the list in the body.
 */
export function blockedText(
  what: string,
  checks: readonly CheckResult[],
  after: readonly string[] = [],
): string {
  const deciding = decidingChecks(checks);
  // Should the failures all explain one another, each of them is named rather than none.
  const reasons = (deciding.length > 0 ? deciding : checks.filter((c) => !c.ok)).map(
    (c) => c.reason ?? c.name,
  );
  if (reasons.length === 0) return [`${what} blocked`, ...checks.map(checkLine), ...after].join('\n');
  const head = `${what} blocked: `;
  let shown = reasons.length;
  const title = (n: number) =>
    `${head}${reasons.slice(0, n).join(', ')}${n < reasons.length ? ` and ${reasons.length - n} more` : ''}`;
  while (shown > 1 && title(shown).length > MAX_BLOCKED_TITLE) shown--;
  return [clipLine(title(shown), MAX_BLOCKED_TITLE), ...checks.map(checkLine), ...after].join('\n');
}
