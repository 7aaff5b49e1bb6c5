// `help`: the commands this bot understands, with their arguments, as they are typed where the
// question was asked: `/failover <resource> …` on Slack and Discord (with the workspace's names),
// `failover <resource> …` in the console.
import { z } from 'zod';
import { type CommandContext, defineQuery, usage } from '../src/app/command-registry.js';
import { slashSyntax } from '../src/core/slash-commands.js';

/**
 * The context help reads: with the slash command names of each chat platform (the daemon passes
 * them), help shows the syntax as it is typed there; without them, the command line itself.
 */
export type HelpContext = CommandContext;

export const help = defineQuery({
  kind: 'query',
  name: 'help',
  description: 'List the commands',
  options: [],
  args: z.object({}),
  private: true,
  async run(_args, command, context: HelpContext) {
    const platform = command.platform === 'slack' || command.platform === 'discord' ? command.platform : null;
    const naming = platform === null ? undefined : context.slashCommands?.[platform];
    const syntax = (name: string, line: string) =>
      naming === undefined || platform === null ? line : slashSyntax(naming, platform, name, line);
    return {
      title: 'drbd-chatops commands',
      tone: 'info',
      body: [
        'Commands that change something show their plan first; nothing runs before it is confirmed (and approved, where the policy says so).',
        ...(naming === undefined
          ? []
          : [`Every command also works after /${naming.umbrella}: \`/${naming.umbrella} failover r0\`.`]),
      ].join('\n'),
      fields: context.commands.map((c) => ({
        label: syntax(c.name, usage(c)),
        value: [
          `${c.description}${c.kind === 'change' ? ' (changes things: plan, confirmation, approval)' : ''}`,
          // A flag is easy to mistype as a word (`failover r0 force` names a host "force").
          ...c.options.filter((o) => o.type === 'boolean').map((o) => `\`--${o.name}\`: ${o.description}`),
        ].join('\n'),
      })),
    };
  },
});
