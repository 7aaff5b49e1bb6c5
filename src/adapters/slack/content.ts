// The rendered message as the Web API and response URLs take it: empty block lists are left out
// (Slack refuses `blocks: []`), `text` stays as the notification fallback.

import type { Message } from '../../core/message-tones.js';
import { renderSlack, type SlackRendered } from '../../render/slack.js';

export interface SlackContent {
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: Block Kit JSON passed through to Slack's own types
  readonly blocks?: any[];
  // biome-ignore lint/suspicious/noExplicitAny: Block Kit JSON passed through to Slack's own types
  readonly attachments?: any[];
}

export type SlackRenderer = (message: Message) => SlackRendered;

export function toContent(rendered: SlackRendered): SlackContent {
  return {
    text: rendered.text,
    ...(rendered.blocks.length > 0 ? { blocks: [...rendered.blocks] } : {}),
    ...(rendered.attachments.length > 0 ? { attachments: [...rendered.attachments] } : {}),
  };
}

export const defaultRenderer: SlackRenderer = renderSlack;
