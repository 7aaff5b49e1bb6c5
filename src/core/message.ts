// One platform-neutral chat message. Everything the bot says is built as a Message and rendered by
// a pure renderer per platform (src/render/): Slack Block Kit, Discord embeds + components, text.

import type { Severity } from './notification.js';

/** `resolved` is how an incident's parent message looks once the resource is healthy again. */
export type Tone = Severity | 'resolved';

export interface MessageField {
  readonly label: string;
  readonly value: string;
  /** Short fields may sit side by side. */
  readonly short?: boolean;
}

/**
 * A button. It carries a serialised command (the same text a person would type, e.g.
 * "failover r0 confirm 7f3a"), so a click goes through exactly the path of a typed command.
 */
export interface MessageAction {
  /** Stable id within the message (Slack action_id, Discord custom_id prefix). */
  readonly id: string;
  readonly label: string;
  readonly command: string;
  readonly style?: 'primary' | 'danger' | 'default';
}

/**
 * Someone a message calls by name (a team member: their id on each platform). Renderers turn it into
 * the platform's own mention (Slack `<@U…>`, Discord `<@id>`), which is what makes a phone ring; a
 * person without an id on that platform is named in plain text.
 */
export interface MentionTarget {
  readonly name: string;
  readonly slack?: string | undefined;
  readonly discord?: string | undefined;
}

/** Who a message pages: the people on call (and whoever an escalation added), or the whole channel. */
export interface Mention {
  readonly people: readonly MentionTarget[];
  /** Everyone active in the channel (Slack `<!here>`, Discord `@here`). */
  readonly here?: boolean;
}

/** A link shown with the message (an alert's runbook). The URL is the operator's, from the configuration. */
export interface MessageLink {
  readonly label: string;
  readonly url: string;
}

export interface Message {
  /**
   * One short line: what happened or what is blocked ("Failover r0 blocked: split-brain not
   * recovered"). The details belong in the body or the fields; a title of several lines is split by
   * `oneLineTitle` (the renderers do it) so the title never carries a whole checklist.
   */
  readonly title: string;
  readonly tone: Tone;
  /** The host that observed it (the pair has two, so this always matters). */
  readonly host?: string;
  readonly resource?: string | null;
  /** Markdown-light body: `code`, *bold* (rendered per platform). */
  readonly body?: string;
  readonly fields?: readonly MessageField[];
  readonly actions?: readonly MessageAction[];
  /** Messages with the same key belong to one incident (one thread). */
  readonly incidentKey?: string;
  /** ISO-8601 time the message is about. */
  readonly at?: string;
  /** Page these people (a critical alert, its repeats and escalations). Mentions only ring on a post. */
  readonly mention?: Mention;
  /** Links shown with it, e.g. the runbook of the alert's kind. */
  readonly links?: readonly MessageLink[];
}

/** Colour per tone, as 0xRRGGBB (Discord embeds) and #rrggbb (Slack attachments). */
export const TONE_COLOURS = {
  info: 0x2f81f7,
  warning: 0xd29922,
  critical: 0xcf222e,
  resolved: 0x2da44e,
} as const satisfies Record<Tone, number>;

/** Emoji per tone so severity is visible at a glance even without colour. */
export const TONE_EMOJI = {
  info: 'ℹ️',
  warning: '⚠️',
  critical: '🚨',
  resolved: '✅',
} as const satisfies Record<Tone, string>;

export const TONE_LABELS = {
  info: 'INFO',
  warning: 'WARNING',
  critical: 'CRITICAL',
  resolved: 'RESOLVED',
} as const satisfies Record<Tone, string>;

export function hexColour(tone: Tone): string {
  return `#${TONE_COLOURS[tone].toString(16).padStart(6, '0')}`;
}

/**
 * The message with a one-line title: anything after the title's first line becomes the start of
 * the body. A CommandError's text ("Failover r0 blocked: …" then its checklist) arrives as a title;
 * every renderer applies this, so chat titles (Discord: 256 characters) never carry a list.
 */
export function oneLineTitle(message: Message): Message {
  const cut = message.title.indexOf('\n');
  if (cut < 0) return message;
  const rest = message.title.slice(cut + 1).trim();
  const body = [rest, message.body ?? ''].filter((s) => s !== '').join('\n');
  return { ...message, title: message.title.slice(0, cut).trim(), ...(body === '' ? {} : { body }) };
}

/** A reply from one piece of text: its first line is the title, the rest the body. */
export function textMessage(text: string, tone: Tone): Message {
  return oneLineTitle({ title: text, tone });
}
