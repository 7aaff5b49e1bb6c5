// Message → Discord embed + button components. Buttons carry the serialised command in their
// custom_id (`cmd:<command>`), so a click arrives as the same text a person would type.

import {
  type Mention,
  type Message,
  oneLineTitle,
  TONE_COLOURS,
  TONE_EMOJI,
  TONE_LABELS,
} from '../core/message-tones.js';
import { clipLine, essentialLength, fitText, formatTime, lineWeight } from '../core/text-format.js';
import { type RenderOptions, zoneOf } from './options.js';

export interface DiscordEmbed {
  readonly title: string;
  readonly description?: string;
  readonly color: number;
  readonly fields?: readonly { name: string; value: string; inline: boolean }[];
  readonly footer?: { text: string };
}

/** A button that sends its command back (custom_id), or a link button (style 5) that opens a URL. */
export type DiscordButton =
  | {
      readonly type: 2;
      readonly style: 1 | 2 | 4;
      readonly label: string;
      readonly custom_id: string;
    }
  | { readonly type: 2; readonly style: 5; readonly label: string; readonly url: string };

/** Which mentions in `content` may ping: only the people named (and `@here` when asked for). */
export interface DiscordAllowedMentions {
  readonly parse: readonly 'everyone'[];
  readonly users: readonly string[];
}

export interface DiscordRendered {
  /** Mentions only: embeds never ping, so the people paged are named in the message content. */
  readonly content?: string;
  readonly allowed_mentions?: DiscordAllowedMentions;
  readonly embeds: readonly DiscordEmbed[];
  readonly components: readonly { type: 1; components: readonly DiscordButton[] }[];
}

export const BUTTON_PREFIX = 'cmd:';

/**
 * Discord's limits: embed title 256, description 4096, 25 fields (name 256, value 1024), footer
 * 2048, 6000 characters in all embeds of a message; 5 rows of 5 buttons, custom_id 100, label 80.
 */
export const DISCORD_LIMITS = {
  title: 256,
  description: 4_096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1_024,
  footer: 2_048,
  total: 6_000,
  customId: 100,
  buttonLabel: 80,
  buttons: 25,
  content: 2_000,
  url: 512,
} as const;

const STYLES = { primary: 1, default: 2, danger: 4 } as const;

interface Field {
  name: string;
  value: string;
  inline: boolean;
}

/**
 * Keep the embed within the 6000 characters Discord allows in all. The text with the most to spare
 * (the description or a field value) is shortened line by line first, never below what keeps its
 * failed lines whole (fitText, essentialLength); then fields are left out from the end, those
 * without a failed line first; only then may the description lose more. The title, which says what
 * decides, is never shortened for this.
 */
function fitTotal(fixed: number, description: string | undefined, fields: Field[]): string | undefined {
  let desc = description;
  const total = () =>
    fixed + (desc?.length ?? 0) + fields.reduce((s, f) => s + f.name.length + f.value.length, 0);
  const floor = (text: string) => Math.min(text.length, Math.max(60, essentialLength(text)));
  for (let guard = 0; guard < 100 && total() > DISCORD_LIMITS.total; guard++) {
    const excess = total() - DISCORD_LIMITS.total;
    const texts = [
      ...(desc === undefined
        ? []
        : [
            {
              text: desc,
              set: (t: string) => {
                desc = t;
              },
            },
          ]),
      ...fields.map((f) => ({
        text: f.value,
        set: (t: string) => {
          f.value = t;
        },
      })),
    ];
    const roomiest = texts.reduce<(typeof texts)[number] | undefined>(
      (a, t) => (a === undefined || t.text.length - floor(t.text) > a.text.length - floor(a.text) ? t : a),
      undefined,
    );
    if (roomiest === undefined || roomiest.text.length <= floor(roomiest.text)) break;
    const next = fitText(roomiest.text, Math.max(floor(roomiest.text), roomiest.text.length - excess));
    if (next.length >= roomiest.text.length) break;
    roomiest.set(next);
  }
  let dropped = 0;
  while (total() > DISCORD_LIMITS.total && fields.length > 0) {
    const plain = fields.findLastIndex((f) => !f.value.split('\n').some((l) => lineWeight(l) === 2));
    fields.splice(plain >= 0 ? plain : fields.length - 1, 1);
    dropped++;
  }
  const note = { name: 'More', value: `${dropped} more fields not shown`, inline: false };
  if (dropped > 0 && total() + note.name.length + note.value.length <= DISCORD_LIMITS.total)
    fields.push(note);
  if (desc !== undefined && total() > DISCORD_LIMITS.total) {
    desc = fitText(desc, Math.max(0, desc.length - (total() - DISCORD_LIMITS.total)));
  }
  return desc;
}

/**
 * The mention as Discord writes it: `<@id>` pings the person (a member without a Discord id is named
 * in plain text), `@here` the channel; allowed_mentions lets exactly those ping and nothing else.
 */
export function discordMention(
  mention: Mention | undefined,
): { content: string; allowed_mentions: DiscordAllowedMentions } | undefined {
  if (mention === undefined) return undefined;
  const users: string[] = [];
  const words: string[] = mention.here === true ? ['@here'] : [];
  for (const p of mention.people) {
    if (p.discord !== undefined && /^\d{5,25}$/.test(p.discord)) {
      users.push(p.discord);
      words.push(`<@${p.discord}>`);
    } else {
      // Plain text, with markdown and mention characters taken out of the name.
      words.push(`@${p.name.replace(/[*_~`|<>@]/g, '')}`);
    }
  }
  if (words.length === 0) return undefined;
  return {
    content: clipLine(words.join(' '), DISCORD_LIMITS.content),
    allowed_mentions: { parse: mention.here === true ? ['everyone'] : [], users: [...new Set(users)] },
  };
}

export function renderDiscord(input: Message, options: RenderOptions = {}): DiscordRendered {
  const message = oneLineTitle(input);
  const footer = [
    message.host === undefined ? undefined : `host ${message.host}`,
    message.resource ?? undefined,
    message.at === undefined ? undefined : formatTime(message.at, zoneOf(options)),
  ]
    .filter((p) => p !== undefined)
    .join(' · ');
  const title = clipLine(
    `${TONE_EMOJI[message.tone]} ${TONE_LABELS[message.tone]} ${message.title}`,
    DISCORD_LIMITS.title,
  );
  const footerText = clipLine(footer, DISCORD_LIMITS.footer);
  const all = message.fields ?? [];
  const shown = all.length > DISCORD_LIMITS.fields ? all.slice(0, DISCORD_LIMITS.fields - 1) : all;
  const fields: Field[] = shown.map((f) => ({
    name: clipLine(f.label === '' ? '—' : f.label, DISCORD_LIMITS.fieldName),
    value: fitText(f.value === '' ? '—' : f.value, DISCORD_LIMITS.fieldValue),
    inline: f.short === true,
  }));
  if (shown.length < all.length) {
    fields.push({ name: 'More', value: `${all.length - shown.length} more fields not shown`, inline: false });
  }
  const body =
    message.body === undefined || message.body === ''
      ? undefined
      : fitText(message.body, DISCORD_LIMITS.description);
  const description = fitTotal(title.length + footerText.length, body, fields);
  const embed: DiscordEmbed = {
    title,
    color: TONE_COLOURS[message.tone],
    ...(description === undefined ? {} : { description }),
    ...(fields.length === 0 ? {} : { fields }),
    ...(footerText === '' ? {} : { footer: { text: footerText } }),
  };
  const buttons: DiscordButton[] = (message.actions ?? [])
    .filter((a) => BUTTON_PREFIX.length + a.command.length <= DISCORD_LIMITS.customId)
    .slice(0, DISCORD_LIMITS.buttons)
    .map((a) => ({
      type: 2,
      style: STYLES[a.style ?? 'default'],
      label: clipLine(a.label, DISCORD_LIMITS.buttonLabel),
      custom_id: `${BUTTON_PREFIX}${a.command}`,
    }));
  // Links (a runbook) as link buttons: they open the page and never reach the bot.
  for (const link of message.links ?? []) {
    if (buttons.length >= DISCORD_LIMITS.buttons) break;
    if (link.url.length > DISCORD_LIMITS.url || !/^https?:\/\/\S+$/.test(link.url)) continue;
    buttons.push({
      type: 2,
      style: 5,
      label: clipLine(`📖 ${link.label}`, DISCORD_LIMITS.buttonLabel),
      url: link.url,
    });
  }
  const components = [];
  for (let i = 0; i < buttons.length; i += 5) {
    components.push({ type: 1 as const, components: buttons.slice(i, i + 5) });
  }
  const mention = discordMention(message.mention);
  return { ...(mention === undefined ? {} : mention), embeds: [embed], components };
}
