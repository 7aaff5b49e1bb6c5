// Building chat messages: the tone colours and emoji, and the helpers that make a Message.
// Everything the bot says is built as a Message and rendered by a pure renderer per platform
// (src/render/): Slack Block Kit, Discord embeds + components, text. The Message type itself lives
// in src/ports/chat-message.ts (the chat port shares it without depending on the core) and is
// re-exported here, so the core and the commands import messages from one place.

import type { Message, Tone } from '../ports/chat-message.js';
import type { Severity } from './notification.js';

export type {
  Mention,
  MentionTarget,
  Message,
  MessageAction,
  MessageField,
  MessageLink,
  Tone,
} from '../ports/chat-message.js';

/** Every severity is a tone (a notification's message takes its severity's colour). */
export type SeverityIsTone = Severity extends Tone ? true : never;

/** Colour per tone, as 0xRRGGBB (Discord embeds) and #rrggbb (Slack attachments). */
export const TONE_COLOURS = {
  info: 0x2f81f7,
  warning: 0xd29922,
  critical: 0xcf222e,
  resolved: 0x2da44e,
  ok: 0x2da44e,
} as const satisfies Record<Tone, number>;

/** Emoji per tone so severity is visible at a glance even without colour. */
export const TONE_EMOJI = {
  info: 'ℹ️',
  warning: '⚠️',
  critical: '🚨',
  resolved: '✅',
  ok: '✅',
} as const satisfies Record<Tone, string>;

export const TONE_LABELS = {
  info: 'INFO',
  warning: 'WARNING',
  critical: 'CRITICAL',
  resolved: 'RESOLVED',
  // Green without a problem behind it (a change done, a healthy digest): not "resolved".
  ok: 'OK',
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
