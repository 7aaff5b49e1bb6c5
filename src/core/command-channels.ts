// Where a command may be used. The configuration may tie a command to a few channels per platform
// (`slack.channels: {failover: [C0123]}`), so that e.g. a failover is only ever requested where the
// whole team sees it, not in a DM or a quiet side channel. `*` covers every command without an
// entry of its own. Pure: the adapters say which command and channel, this says yes or no.

import type { Message } from './message-tones.js';

/** Command name (or `*`) → the channel ids it may be used in. */
export type CommandChannels = Readonly<Record<string, readonly string[]>>;

export type ChannelDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** The entry that refused: the command's own, or `*`. */
      readonly rule: string;
      readonly allowedIn: readonly string[];
    };

/**
 * May `command` be used in `channels` (the channel, and for a thread its parent channel too)?
 * `command` is undefined when the text names no known command: only `*` applies then. Names come
 * from users, so the lookup is an own-property check (never `constructor`, `__proto__` …).
 */
export function checkCommandChannel(
  allowList: CommandChannels,
  command: string | undefined,
  channels: readonly string[],
): ChannelDecision {
  const rule =
    command !== undefined && Object.hasOwn(allowList, command)
      ? command
      : Object.hasOwn(allowList, '*')
        ? '*'
        : undefined;
  if (rule === undefined) return { allowed: true };
  const allowedIn = allowList[rule] ?? [];
  if (channels.some((channel) => allowedIn.includes(channel))) return { allowed: true };
  return { allowed: false, rule, allowedIn };
}

/** The answer to a command used outside its channels: what was refused and where it is allowed. */
export function channelRefusal(
  decision: Extract<ChannelDecision, { allowed: false }>,
  command: string | undefined,
  formatChannel: (id: string) => string,
): Message {
  const what = decision.rule === '*' ? 'Commands' : `\`${command ?? decision.rule}\``;
  return {
    title: 'Not in this channel',
    tone: 'warning',
    body: `${what} may be used only in ${decision.allowedIn.map(formatChannel).join(', ')}. Nothing was done.`,
  };
}
