// Message → plain text, for logs, the terminal console and the daily digest's fallback.

import { type Message, TONE_LABELS } from '../core/message.js';

export function renderText(message: Message): string {
  const where = [message.resource ?? undefined, message.host === undefined ? undefined : `on ${message.host}`]
    .filter((p) => p !== undefined)
    .join(' ');
  const lines = [`[${TONE_LABELS[message.tone]}] ${message.title}${where === '' ? '' : ` (${where})`}`];
  if (message.body !== undefined && message.body !== '') lines.push(message.body);
  for (const field of message.fields ?? []) lines.push(`  ${field.label}: ${field.value}`);
  for (const action of message.actions ?? []) lines.push(`  [${action.label}] → ${action.command}`);
  return lines.join('\n');
}
