// Message → Discord embed + button components. Buttons carry the serialised command in their
// custom_id (`cmd:<command>`), so a click arrives as the same text a person would type.

import { type Message, TONE_COLOURS, TONE_EMOJI, TONE_LABELS } from '../core/message.js';

export interface DiscordEmbed {
  readonly title: string;
  readonly description?: string;
  readonly color: number;
  readonly fields?: readonly { name: string; value: string; inline: boolean }[];
  readonly footer?: { text: string };
  readonly timestamp?: string;
}

export interface DiscordButton {
  readonly type: 2;
  readonly style: 1 | 2 | 4;
  readonly label: string;
  readonly custom_id: string;
}

export interface DiscordRendered {
  readonly embeds: readonly DiscordEmbed[];
  readonly components: readonly { type: 1; components: readonly DiscordButton[] }[];
}

export const BUTTON_PREFIX = 'cmd:';
/** Discord's limits: title 256, description 4096, 25 fields (name 256, value 1024), custom_id 100. */
const MAX_CUSTOM_ID = 100;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const STYLES = { primary: 1, default: 2, danger: 4 } as const;

export function renderDiscord(message: Message): DiscordRendered {
  const footer = [
    message.host === undefined ? undefined : `host ${message.host}`,
    message.resource ?? undefined,
  ]
    .filter((p) => p !== undefined)
    .join(' · ');
  const embed: DiscordEmbed = {
    title: clip(`${TONE_EMOJI[message.tone]} ${TONE_LABELS[message.tone]} ${message.title}`, 256),
    color: TONE_COLOURS[message.tone],
    ...(message.body === undefined || message.body === '' ? {} : { description: clip(message.body, 4_096) }),
    ...(message.fields === undefined || message.fields.length === 0
      ? {}
      : {
          fields: message.fields.slice(0, 25).map((f) => ({
            name: clip(f.label, 256),
            value: clip(f.value === '' ? '—' : f.value, 1_024),
            inline: f.short === true,
          })),
        }),
    ...(footer === '' ? {} : { footer: { text: footer } }),
    ...(message.at === undefined ? {} : { timestamp: message.at }),
  };
  const buttons: DiscordButton[] = (message.actions ?? [])
    .filter((a) => BUTTON_PREFIX.length + a.command.length <= MAX_CUSTOM_ID)
    .map((a) => ({
      type: 2,
      style: STYLES[a.style ?? 'default'],
      label: clip(a.label, 80),
      custom_id: `${BUTTON_PREFIX}${a.command}`,
    }));
  const components = [];
  for (let i = 0; i < buttons.length && i < 25; i += 5) {
    components.push({ type: 1 as const, components: buttons.slice(i, i + 5) });
  }
  return { embeds: [embed], components };
}
