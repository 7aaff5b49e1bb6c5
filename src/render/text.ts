// Message → plain text, for logs, the terminal console and the daily digest's fallback.

import { type Message, TONE_LABELS } from '../core/message.js';

export function renderText(message: Message): string {
  const where = [message.resource ?? undefined, message.host === undefined ? undefined : `on ${message.host}`]
    .filter((p) => p !== undefined)
    .join(' ');
  const lines = [`[${TONE_LABELS[message.tone]}] ${message.title}${where === '' ? '' : ` (${where})`}`];
  if (message.body !== undefined && message.body !== '') lines.push(message.body);
  for (const field of message.fields ?? []) {
    // A value of several lines (a list of steps or containers) starts below its label, indented.
    lines.push(
      field.value.includes('\n')
        ? `  ${field.label}:\n${field.value
            .split('\n')
            .map((l) => `    ${l}`)
            .join('\n')}`
        : `  ${field.label}: ${field.value}`,
    );
  }
  for (const action of message.actions ?? []) lines.push(`  [${action.label}] → ${action.command}`);
  return lines.join('\n');
}
