// Message → Slack Block Kit. The blocks sit in an attachment so the message gets a coloured bar per
// tone; `text` is the fallback Slack shows in notifications and screen readers.

import { hexColour, type Message, TONE_EMOJI, TONE_LABELS } from '../core/message.js';

export interface SlackRendered {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
  readonly attachments: readonly { color: string; blocks: readonly SlackBlock[] }[];
}

export type SlackBlock = Readonly<Record<string, unknown>>;

/** Slack's limits: section text 3000 chars, 10 fields of 2000, 25 elements per actions block. */
const MAX_TEXT = 3_000;
const MAX_FIELDS = 10;
const MAX_BUTTONS = 25;

/** Characters Slack's mrkdwn treats as control characters must be escaped in text we did not write. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function context(message: Message): string {
  return [
    message.host === undefined ? undefined : `host *${escapeMrkdwn(message.host)}*`,
    message.resource === undefined || message.resource === null
      ? undefined
      : `resource *${escapeMrkdwn(message.resource)}*`,
    message.at === undefined
      ? undefined
      : `<!date^${Math.floor(Date.parse(message.at) / 1000)}^{date_short_pretty} {time_secs}|${message.at}>`,
  ]
    .filter((part) => part !== undefined)
    .join(' · ');
}

export function renderSlack(message: Message): SlackRendered {
  const emoji = TONE_EMOJI[message.tone];
  const title = `${emoji} *${TONE_LABELS[message.tone]}* ${escapeMrkdwn(message.title)}`;
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: clip(title, MAX_TEXT) } }];
  const meta = context(message);
  if (meta !== '') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: meta }] });
  if (message.body !== undefined && message.body !== '') {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: clip(escapeMrkdwn(message.body), MAX_TEXT) },
    });
  }
  const fields = message.fields ?? [];
  for (let i = 0; i < fields.length; i += MAX_FIELDS) {
    blocks.push({
      type: 'section',
      fields: fields.slice(i, i + MAX_FIELDS).map((f) => ({
        type: 'mrkdwn',
        text: clip(`*${escapeMrkdwn(f.label)}*\n${escapeMrkdwn(f.value)}`, 2_000),
      })),
    });
  }
  const actions = (message.actions ?? []).slice(0, MAX_BUTTONS);
  if (actions.length > 0) {
    blocks.push({
      type: 'actions',
      elements: actions.map((a) => ({
        type: 'button',
        action_id: `drbd:${a.id}`,
        text: { type: 'plain_text', text: clip(a.label, 75) },
        value: clip(a.command, 2_000),
        ...(a.style === 'primary' || a.style === 'danger' ? { style: a.style } : {}),
      })),
    });
  }
  const where = [message.resource, message.host].filter((p) => p !== undefined && p !== null).join(' on ');
  const text = `${emoji} ${TONE_LABELS[message.tone]}: ${message.title}${where === '' ? '' : ` (${where})`}`;
  return {
    text: clip(text, MAX_TEXT),
    blocks: [],
    attachments: [{ color: hexColour(message.tone), blocks }],
  };
}
