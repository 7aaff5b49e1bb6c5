// Message → Slack Block Kit. The blocks sit in an attachment so the message gets a coloured bar per
// tone; `text` is the fallback Slack shows in notifications and screen readers.

import {
  hexColour,
  type Mention,
  type Message,
  type MessageLink,
  oneLineTitle,
  TONE_EMOJI,
  TONE_LABELS,
} from '../core/message-tones.js';
import { clipLine, fitText, formatTime } from '../core/text-format.js';
import { type RenderOptions, zoneOf } from './options.js';

export interface SlackRendered {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
  readonly attachments: readonly { color: string; blocks: readonly SlackBlock[] }[];
}

export type SlackBlock = Readonly<Record<string, unknown>>;

/**
 * Slack's limits: section text 3000 characters, 10 fields of 2000 per section, 25 elements per
 * actions block, 50 blocks per message. Longer text is shortened line by line (fitText), so a
 * failed check is never what gets cut.
 */
export const SLACK_LIMITS = {
  sectionText: 3_000,
  fieldsPerSection: 10,
  fieldText: 2_000,
  buttons: 25,
  blocks: 50,
  buttonText: 75,
  buttonValue: 2_000,
} as const;

/** Characters Slack's mrkdwn treats as control characters must be escaped in text we did not write. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function context(message: Message, zone: string): string {
  return [
    message.host === undefined ? undefined : `host *${escapeMrkdwn(message.host)}*`,
    message.resource === undefined || message.resource === null
      ? undefined
      : `resource *${escapeMrkdwn(message.resource)}*`,
    message.at === undefined ? undefined : formatTime(message.at, zone),
  ]
    .filter((part) => part !== undefined)
    .join(' · ');
}

/**
 * The mention as Slack writes it: `<@U…>` pages the person (a member without a Slack id is named in
 * plain text), `<!here>` the channel. It leads the message's top-level text, which is what the
 * notification shows and what makes the phone ring.
 */
export function slackMention(mention: Mention | undefined): string {
  if (mention === undefined) return '';
  const people = mention.people.map((p) =>
    p.slack !== undefined && /^[UW][A-Z0-9]+$/.test(p.slack) ? `<@${p.slack}>` : `@${escapeMrkdwn(p.name)}`,
  );
  return [...(mention.here === true ? ['<!here>'] : []), ...people].join(' ');
}

/** A link Slack shows as `<url|label>`: a URL cannot hold `|` or `>`, a label cannot hold `|`. */
function slackLink(link: MessageLink): string | undefined {
  if (!/^https?:\/\/[^\s<>|]+$/.test(link.url)) return undefined;
  return `<${link.url}|${escapeMrkdwn(link.label.replace(/\|/g, '/'))}>`;
}

function fieldText(label: string, value: string): string {
  const head = `*${clipLine(escapeMrkdwn(label), 200)}*\n`;
  return `${head}${fitText(escapeMrkdwn(value === '' ? '—' : value), SLACK_LIMITS.fieldText - head.length)}`;
}

export function renderSlack(input: Message, options: RenderOptions = {}): SlackRendered {
  const message = oneLineTitle(input);
  const emoji = TONE_EMOJI[message.tone];
  const title = `${emoji} *${TONE_LABELS[message.tone]}* ${escapeMrkdwn(message.title)}`;
  const blocks: SlackBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: clipLine(title, SLACK_LIMITS.sectionText) } },
  ];
  const meta = context(message, zoneOf(options));
  if (meta !== '') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: meta }] });
  if (message.body !== undefined && message.body !== '') {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: fitText(escapeMrkdwn(message.body), SLACK_LIMITS.sectionText) },
    });
  }
  const actions = (message.actions ?? []).slice(0, SLACK_LIMITS.buttons);
  const fields = message.fields ?? [];
  const links = (message.links ?? []).map(slackLink).filter((l) => l !== undefined);
  // Room for the field sections within the block limit (the links and actions blocks come last).
  const room =
    SLACK_LIMITS.blocks - blocks.length - (actions.length > 0 ? 1 : 0) - (links.length > 0 ? 1 : 0);
  const sections: SlackBlock[] = [];
  for (let i = 0; i < fields.length; i += SLACK_LIMITS.fieldsPerSection) {
    sections.push({
      type: 'section',
      fields: fields.slice(i, i + SLACK_LIMITS.fieldsPerSection).map((f) => ({
        type: 'mrkdwn',
        text: fieldText(f.label, f.value),
      })),
    });
  }
  if (sections.length > room) {
    const left = fields.length - (room - 1) * SLACK_LIMITS.fieldsPerSection;
    sections.splice(room - 1, sections.length, {
      type: 'section',
      text: { type: 'mrkdwn', text: `… ${left} more fields not shown` },
    });
  }
  blocks.push(...sections);
  if (links.length > 0) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: clipLine(`📖 ${links.join(' · ')}`, SLACK_LIMITS.sectionText) }],
    });
  }
  if (actions.length > 0) {
    blocks.push({
      type: 'actions',
      elements: actions.map((a) => ({
        type: 'button',
        action_id: `drbd:${a.id}`,
        text: { type: 'plain_text', text: clipLine(a.label, SLACK_LIMITS.buttonText) },
        value: clipLine(a.command, SLACK_LIMITS.buttonValue),
        ...(a.style === 'primary' || a.style === 'danger' ? { style: a.style } : {}),
      })),
    });
  }
  const where = [message.resource, message.host].filter((p) => p !== undefined && p !== null).join(' on ');
  const mention = slackMention(message.mention);
  const text = `${mention === '' ? '' : `${mention} `}${emoji} ${TONE_LABELS[message.tone]}: ${message.title}${where === '' ? '' : ` (${where})`}`;
  return {
    text: clipLine(text, SLACK_LIMITS.sectionText),
    blocks: [],
    attachments: [{ color: hexColour(message.tone), blocks }],
  };
}
