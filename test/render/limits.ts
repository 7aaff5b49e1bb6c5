// What each platform refuses, checked on a rendered message (the numbers are the platforms'
// documented limits, /work/shared/design/chat-platform-facts.md), and the placeholders that must
// never reach a reader.
import type { Message } from '../../src/core/message-tones.js';
import type { DiscordRendered } from '../../src/render/discord.js';
import type { SlackRendered } from '../../src/render/slack.js';

type Block = Record<string, unknown>;

/** Every problem Slack would have with the rendering; empty when it is within its limits. */
export function slackProblems(rendered: SlackRendered): string[] {
  const problems: string[] = [];
  if (rendered.text.length > 3_000) problems.push(`fallback text ${rendered.text.length} > 3000`);
  for (const attachment of rendered.attachments) {
    const blocks = attachment.blocks as readonly Block[];
    if (blocks.length > 50) problems.push(`${blocks.length} blocks > 50`);
    for (const block of blocks) {
      const text = (block.text as { text?: string } | undefined)?.text;
      if (block.type === 'header' && text !== undefined && text.length > 150)
        problems.push(`header ${text.length} > 150`);
      if (block.type === 'section' && text !== undefined && text.length > 3_000)
        problems.push(`section text ${text.length} > 3000`);
      const fields = (block.fields ?? []) as { text: string }[];
      if (fields.length > 10) problems.push(`${fields.length} fields in a section > 10`);
      for (const f of fields) if (f.text.length > 2_000) problems.push(`field ${f.text.length} > 2000`);
      const elements = (block.elements ?? []) as Block[];
      if (block.type === 'actions' && elements.length > 25) problems.push(`${elements.length} buttons > 25`);
    }
  }
  return problems;
}

/** Every problem Discord would have with the rendering; empty when it is within its limits. */
export function discordProblems(rendered: DiscordRendered): string[] {
  const problems: string[] = [];
  let total = 0;
  for (const embed of rendered.embeds) {
    if (embed.title.length > 256) problems.push(`title ${embed.title.length} > 256`);
    if ((embed.description?.length ?? 0) > 4_096) problems.push(`description > 4096`);
    const fields = embed.fields ?? [];
    if (fields.length > 25) problems.push(`${fields.length} fields > 25`);
    for (const f of fields) {
      if (f.name.length > 256) problems.push(`field name ${f.name.length} > 256`);
      if (f.value.length > 1_024) problems.push(`field value ${f.value.length} > 1024`);
      if (f.value.length === 0 || f.name.length === 0) problems.push('empty field name or value');
      total += f.name.length + f.value.length;
    }
    if ((embed.footer?.text.length ?? 0) > 2_048) problems.push('footer > 2048');
    total += embed.title.length + (embed.description?.length ?? 0) + (embed.footer?.text.length ?? 0);
  }
  if (total > 6_000) problems.push(`embeds total ${total} > 6000`);
  if (rendered.components.length > 5) problems.push(`${rendered.components.length} action rows > 5`);
  for (const row of rendered.components) {
    if (row.components.length > 5) problems.push('more than 5 buttons in a row');
    for (const b of row.components) {
      if ('custom_id' in b && b.custom_id.length > 100) problems.push('custom_id > 100');
      if ('url' in b && b.url.length > 512) problems.push('button url > 512');
    }
  }
  return problems;
}

/**
 * Placeholders that mean "we did not know" leaking into text: null, undefined, NaN, and a lone
 * "?" standing for a missing value ("? → alpha", "role ?"). A question mark ending a sentence
 * ("did you mean r0?") is prose and allowed.
 */
export function placeholders(text: string): string[] {
  const found: string[] = [];
  for (const pattern of [/\bnull\b/g, /\bundefined\b/g, /\bNaN\b/g, /(?:^|[\s(/:,→])\?(?=$|[\s)/:,→.])/gm]) {
    for (const match of text.matchAll(pattern)) {
      const at = match.index ?? 0;
      found.push(JSON.stringify(text.slice(Math.max(0, at - 20), at + 20)));
    }
  }
  return found;
}

/** All the text a reader can see in a message, for the placeholder check. */
export function visibleText(message: Message): string {
  return [
    message.title,
    message.body ?? '',
    ...(message.fields ?? []).flatMap((f) => [f.label, f.value]),
    ...(message.actions ?? []).flatMap((a) => [a.label, a.command]),
  ].join('\n');
}
