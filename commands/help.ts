// `help`: the commands this bot understands, with their arguments.
import { type CommandDefinition, usage } from '../src/app/command-registry.js';

export const help: CommandDefinition = {
  name: 'help',
  description: 'List the commands',
  options: [],
  private: true,
  async run(_args, _command, context) {
    return {
      title: 'drbd-chatops commands',
      tone: 'info',
      fields: context.commands.map((c) => ({ label: usage(c), value: c.description })),
    };
  },
};
