// Chat commands as data: each file in commands/ declares its name, options and what it does. The
// same definitions drive Slack (one slash command with subcommands), Discord (slash commands with
// typed options) and the console. Text such as "status r0" is parsed against the options in order.

import type { HostState } from '../core/host-state.js';
import type { Incidents } from '../core/incidents.js';
import type { Message } from '../core/message.js';
import type { CommandHandler, IncomingCommand } from '../ports/chat.js';
import type { Logger } from './log.js';

export interface CommandOption {
  readonly name: string;
  readonly description: string;
  readonly type: 'string' | 'integer' | 'boolean';
  readonly required: boolean;
}

export interface CommandContext {
  /** This host's name. */
  readonly host: string;
  /** The DRBD state of every host this instance knows (its own for now). */
  readonly hosts: () => readonly HostState[];
  readonly incidents: () => Incidents;
  readonly commands: readonly CommandDefinition[];
  readonly now: () => number;
}

export interface CommandDefinition {
  readonly name: string;
  readonly description: string;
  readonly options: readonly CommandOption[];
  /** Replies only the requester sees. */
  readonly private?: boolean;
  run(
    args: Readonly<Record<string, string>>,
    command: IncomingCommand,
    context: CommandContext,
  ): Promise<Message>;
}

/** A mistake the user can fix; shown as it is. Anything else is an internal error. */
export class CommandError extends Error {}

export function parseCommandText(
  text: string,
  commands: readonly CommandDefinition[],
): { definition: CommandDefinition; args: Record<string, string> } {
  const [name = '', ...words] = text.trim().split(/\s+/).filter(Boolean);
  const definition = commands.find((c) => c.name === name.toLowerCase());
  if (definition === undefined) {
    throw new CommandError(
      name === ''
        ? `Which command? Try: ${commands.map((c) => c.name).join(', ')}.`
        : `Unknown command "${name}". Try: ${commands.map((c) => c.name).join(', ')}.`,
    );
  }
  if (words.length > definition.options.length) {
    throw new CommandError(
      `${definition.name} takes at most ${definition.options.length} argument(s): ${usage(definition)}`,
    );
  }
  const args: Record<string, string> = {};
  for (const [i, option] of definition.options.entries()) {
    const value = words[i];
    if (value === undefined) {
      if (option.required)
        throw new CommandError(`${definition.name} needs <${option.name}>: ${usage(definition)}`);
      continue;
    }
    if (!/^[A-Za-z0-9._:/,@-]{1,200}$/.test(value)) {
      throw new CommandError(
        `${option.name}: unexpected characters in ${JSON.stringify(value.slice(0, 40))}`,
      );
    }
    args[option.name] = value;
  }
  return { definition, args };
}

export function usage(definition: CommandDefinition): string {
  return [
    definition.name,
    ...definition.options.map((o) => (o.required ? `<${o.name}>` : `[${o.name}]`)),
  ].join(' ');
}

/** The handler the platforms call: parse, run, and turn failures into replies. */
export function commandHandler(context: CommandContext, logger: Logger): CommandHandler {
  return async (command) => {
    try {
      const { definition, args } = parseCommandText(command.text, context.commands);
      const message = await definition.run(args, command, context);
      return { message, ...(definition.private === true ? { private: true } : {}) };
    } catch (err) {
      if (err instanceof CommandError) {
        return { message: { title: err.message, tone: 'warning' }, private: true };
      }
      logger.error(
        { err, text: command.text, platform: command.platform, user: command.userId },
        'command failed',
      );
      return {
        message: { title: 'Internal error; the details are in the bot log.', tone: 'critical' },
        private: true,
      };
    }
  };
}
