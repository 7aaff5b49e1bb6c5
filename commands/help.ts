// `help`: the commands this bot understands, with their arguments.
import { z } from 'zod';
import { defineQuery, usage } from '../src/app/command-registry.js';

export const help = defineQuery({
  kind: 'query',
  name: 'help',
  description: 'List the commands',
  options: [],
  args: z.object({}),
  private: true,
  async run(_args, _command, context) {
    return {
      title: 'drbd-chatops commands',
      tone: 'info',
      body: 'Commands that change something show their plan first; nothing runs before it is confirmed (and approved, where the policy says so).',
      fields: context.commands.map((c) => ({
        label: usage(c),
        value: [
          `${c.description}${c.kind === 'change' ? ' (changes things: plan, confirmation, approval)' : ''}`,
          // A flag is easy to mistype as a word (`failover r0 force` names a host "force").
          ...c.options.filter((o) => o.type === 'boolean').map((o) => `\`--${o.name}\`: ${o.description}`),
        ].join('\n'),
      })),
    };
  },
});
