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
  /** The DRBD state of every host this instance knows: its own, and its peer's when it answers. */
  readonly hosts: () => Promise<readonly HostState[]>;
  readonly incidents: () => Incidents;
  /** Who leads the pair, and the DRBD fence locks as the lock store reports them (read only). */
  readonly leadership?: () => Promise<LeadershipView>;
  readonly commands: readonly CommandDefinition[];
  readonly now: () => number;
}

export interface LeadershipView {
  readonly leader: string | null;
  readonly token: number;
  readonly self: string;
  readonly fences: readonly {
    readonly key: string;
    readonly holder: string | null;
    readonly expiresAt: number | null;
    readonly error?: string;
  }[];
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

/** Split a command line into words; "double quoted" words are JSON strings (spaces, quotes). */
export function tokenize(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/"(?:[^"\\]|\\.)*"|\S+/g)) {
    const word = match[0];
    if (word.startsWith('"')) {
      try {
        words.push(JSON.parse(word) as string);
      } catch {
        throw new CommandError(`Badly quoted argument ${word.slice(0, 40)}`);
      }
    } else {
      words.push(word);
    }
  }
  return words;
}

/**
 * Parse "status r0" style text against a command's options: positional words in declared order,
 * `--name=value` for an option out of order, `--name` for a boolean that is true. Platforms build
 * the same text (Discord from its typed options), so one parser serves all of them.
 */
export function parseCommandText(
  text: string,
  commands: readonly CommandDefinition[],
): { definition: CommandDefinition; args: Record<string, string> } {
  const [name = '', ...words] = tokenize(text.trim());
  const definition = commands.find((c) => c.name === name.toLowerCase());
  if (definition === undefined) {
    throw new CommandError(
      name === ''
        ? `Which command? Try: ${commands.map((c) => c.name).join(', ')}.`
        : `Unknown command "${name.slice(0, 40)}". Try: ${commands.map((c) => c.name).join(', ')}.`,
    );
  }
  const args: Record<string, string> = {};
  const positional = definition.options.filter((o) => o.type !== 'boolean');
  let next = 0;
  for (const word of words) {
    const named = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(word);
    if (named !== null) {
      const option = definition.options.find((o) => o.name === named[1]);
      if (option === undefined)
        throw new CommandError(`${definition.name} has no option --${named[1]}: ${usage(definition)}`);
      args[option.name] = named[2] ?? (option.type === 'boolean' ? 'true' : '');
      continue;
    }
    while (next < positional.length && args[positional[next]?.name ?? ''] !== undefined) next++;
    const option = positional[next];
    if (option === undefined) {
      throw new CommandError(
        `${definition.name} takes at most ${positional.length} argument(s): ${usage(definition)}`,
      );
    }
    args[option.name] = word;
    next++;
  }
  for (const option of definition.options) {
    const value = args[option.name];
    if (value === undefined) {
      if (option.required)
        throw new CommandError(`${definition.name} needs <${option.name}>: ${usage(definition)}`);
      continue;
    }
    // Arguments name resources, hosts, containers and addresses: nothing else needs other characters.
    if (!/^[A-Za-z0-9._:/,@-]{1,200}$/.test(value)) {
      throw new CommandError(
        `${option.name}: unexpected characters in ${JSON.stringify(value.slice(0, 40))}`,
      );
    }
    if (option.type === 'integer' && !/^-?\d+$/.test(value)) {
      throw new CommandError(
        `${option.name} must be a whole number, got ${JSON.stringify(value.slice(0, 40))}`,
      );
    }
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
