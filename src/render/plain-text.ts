// Message → plain text, for logs, the terminal console and the daily digest's fallback.

import { type Message, oneLineTitle, TONE_LABELS } from '../core/message-tones.js';

/** No time: the console shows a message as it arrives, and log lines carry their own. */
export function renderText(input: Message): string {
  const message = oneLineTitle(input);
  const where = [message.resource ?? undefined, message.host === undefined ? undefined : `on ${message.host}`]
    .filter((p) => p !== undefined)
    .join(' ');
  // The console and the web console have no mentions: the people paged are named in front.
  const mention = [
    ...(message.mention?.here === true ? ['@here'] : []),
    ...(message.mention?.people ?? []).map((p) => `@${p.name}`),
  ].join(' ');
  const lines = [
    `${mention === '' ? '' : `${mention} `}[${TONE_LABELS[message.tone]}] ${message.title}${where === '' ? '' : ` (${where})`}`,
  ];
  if (message.body !== undefined && message.body !== '') lines.push(message.body);
  for (const field of message.fields ?? []) {
    // A value of several lines (a list of steps or containers) starts below its label, indented.
    lines.push(
      field.value.includes('\n')
        ? `  ${field.label}:\n${field.value
            .split('\n')
            .map((l) => `    ${l}`)
            .join('\n')}`
        : `  ${field.label}: ${field.value === '' ? '—' : field.value}`,
    );
  }
  for (const link of message.links ?? []) lines.push(`  ${link.label}: ${link.url}`);
  for (const action of message.actions ?? []) lines.push(`  [${action.label}] → ${action.command}`);
  return lines.join('\n');
}
