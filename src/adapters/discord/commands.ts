// The slash commands the bot offers on Discord, built from a plain list of command definitions so
// new commands need no change here: the umbrella (`/drbd`) with one subcommand per definition,
// mirroring Slack's `/drbd status r0`, and beside it each command as a command of its own
// (`/failover`, `/containers`, `/ip set` …, named by src/core/slash-commands.ts). An invocation is
// turned back into the text a person would type ("failover r0"), so slash commands, buttons and
// Slack all reach the command registry the same way.

import {
  groupDescription,
  type SlashEntry,
  type SlashNaming,
  slashCommandSet,
  slashNamingOf,
} from '../../core/slash-commands.js';

/** One option of a command, in the order a person types it. */
export interface CommandOptionDefinition {
  readonly name: string;
  readonly description: string;
  readonly type: 'string' | 'integer' | 'boolean';
  readonly required?: boolean;
  readonly choices?: readonly (
    | string
    | number
    | { readonly name: string; readonly value: string | number }
  )[];
}

export interface CommandDefinition {
  readonly name: string;
  readonly description: string;
  readonly options?: readonly CommandOptionDefinition[];
  /**
   * The reply is meant for the requester only: the interaction is deferred ephemeral, so not even
   * the "thinking…" placeholder shows in the channel.
   */
  readonly private?: boolean;
}

const OPTION_TYPES = { string: 3, integer: 4, boolean: 5 } as const satisfies Record<
  CommandOptionDefinition['type'],
  number
>;
const SUBCOMMAND = 1;
const NAME = /^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u;

/**
 * Discord's limits for application commands (discord.com/developers/docs/interactions/
 * application-commands): names 1–32, descriptions 1–100, 25 options or subcommands per level, 100
 * chat commands per guild, and 4000 characters over all names, descriptions and choice values of
 * one command (its options and subcommands included).
 */
export const DISCORD_COMMAND_LIMITS = {
  name: 32,
  description: 100,
  options: 25,
  commands: 100,
  combined: 4000,
} as const;

/** The `slashCommands` part of the configuration: the top-level commands beside the umbrella. */
export type TopLevelNaming = Pick<SlashNaming, 'enabled' | 'prefix' | 'names'>;

/** Only the umbrella: what a caller that names no top-level commands gets. */
const UMBRELLA_ONLY: TopLevelNaming = { enabled: false, prefix: '', names: {} };

export class CommandDefinitionError extends Error {
  readonly code = 'DISCORD_COMMANDS_INVALID';
}

function checkText(problems: string[], what: string, value: string, max: number): void {
  if (value.length < 1 || value.length > max) problems.push(`${what}: must be 1 to ${max} characters`);
}

/**
 * The application command JSON for a guild bulk overwrite (PUT …/guilds/:guild/commands): the
 * umbrella `/<name>` with a subcommand per definition, and the top-level commands `topLevel` names
 * (none when it is left out). Discord wants required options before optional ones; they are
 * listed so (stably), while the text of an invocation keeps the declared order. Throws
 * CommandDefinitionError naming every problem rather than register a set Discord would refuse.
 */
export function buildApplicationCommands(
  name: string,
  description: string,
  commands: readonly CommandDefinition[],
  topLevel: TopLevelNaming = UMBRELLA_ONLY,
): Record<string, unknown>[] {
  const problems: string[] = [];
  if (!NAME.test(name))
    problems.push(`command name ${JSON.stringify(name)}: lower case letters, digits, - or _`);
  checkText(problems, `/${name} description`, description, DISCORD_COMMAND_LIMITS.description);
  if (commands.length === 0) problems.push(`/${name}: at least one subcommand is needed`);
  if (commands.length > DISCORD_COMMAND_LIMITS.options) {
    problems.push(
      `/${name}: Discord allows ${DISCORD_COMMAND_LIMITS.options} subcommands, got ${commands.length}`,
    );
  }
  const seen = new Set<string>();
  for (const command of commands) {
    if (!NAME.test(command.name)) problems.push(`subcommand ${JSON.stringify(command.name)}: invalid name`);
    if (seen.has(command.name)) problems.push(`subcommand ${command.name}: defined twice`);
    seen.add(command.name);
    checkText(
      problems,
      `${command.name} description`,
      command.description,
      DISCORD_COMMAND_LIMITS.description,
    );
    const options = command.options ?? [];
    if (options.length > DISCORD_COMMAND_LIMITS.options)
      problems.push(`${command.name}: Discord allows ${DISCORD_COMMAND_LIMITS.options} options`);
    const optionNames = new Set<string>();
    for (const option of options) {
      const where = `${command.name} ${option.name}`;
      if (!NAME.test(option.name)) problems.push(`${where}: invalid option name`);
      if (optionNames.has(option.name)) problems.push(`${where}: defined twice`);
      optionNames.add(option.name);
      checkText(problems, `${where} description`, option.description, DISCORD_COMMAND_LIMITS.description);
      if (option.choices !== undefined) {
        if (option.type === 'boolean') problems.push(`${where}: a boolean option takes no choices`);
        if (option.choices.length > 25) problems.push(`${where}: Discord allows 25 choices`);
      }
    }
  }
  const set = slashCommandSet(
    commands.map((c) => c.name),
    { umbrella: name, ...topLevel },
    'discord',
  );
  problems.push(...set.problems);
  const byName = new Map(commands.map((c) => [c.name, c]));
  const umbrella = {
    type: 1,
    name,
    description,
    options: commands.map((c) => ({
      type: SUBCOMMAND,
      name: c.name,
      description: c.description,
      options: ordered(c).map(option),
    })),
  };
  const own = set.entries.map((entry) => topLevelCommand(entry, byName));
  const all = [umbrella, ...own];
  if (all.length > DISCORD_COMMAND_LIMITS.commands) {
    problems.push(
      `Discord allows ${DISCORD_COMMAND_LIMITS.commands} commands per guild, this would be ${all.length}: turn some top-level commands off (slashCommands.names.<command>: false)`,
    );
  }
  for (const command of all) {
    const size = combinedLength(command);
    if (size > DISCORD_COMMAND_LIMITS.combined) {
      problems.push(
        `/${command.name}: ${size} characters in its names and descriptions, Discord allows ${DISCORD_COMMAND_LIMITS.combined}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new CommandDefinitionError(`invalid Discord command definitions:\n  - ${problems.join('\n  - ')}`);
  }
  return all;
}

function option(o: CommandOptionDefinition): Record<string, unknown> {
  return {
    type: OPTION_TYPES[o.type],
    name: o.name,
    description: o.description,
    required: o.required === true,
    ...(o.choices === undefined
      ? {}
      : {
          choices: o.choices.map((c) =>
            typeof c === 'object' ? { name: c.name, value: c.value } : { name: String(c), value: c },
          ),
        }),
  };
}

/** Required options first (Discord refuses a required one after an optional one), stably. */
function ordered(definition: CommandDefinition): CommandOptionDefinition[] {
  const options = definition.options ?? [];
  return [...options.filter((o) => o.required === true), ...options.filter((o) => o.required !== true)];
}

/** `/failover` with the definition's options, or `/ip` with a subcommand per member (`set`, `show`). */
function topLevelCommand(
  entry: SlashEntry,
  byName: ReadonlyMap<string, CommandDefinition>,
): Record<string, unknown> {
  const [single] = entry.targets;
  if (entry.targets.length === 1 && single?.word === undefined) {
    const definition = byName.get(single?.command ?? '');
    return {
      type: 1,
      name: entry.name,
      description: definition?.description ?? entry.key,
      options: definition === undefined ? [] : ordered(definition).map(option),
    };
  }
  const members = entry.targets.flatMap((t) => {
    const definition = byName.get(t.command);
    return definition === undefined || t.word === undefined ? [] : [{ word: t.word, definition }];
  });
  return {
    type: 1,
    name: entry.name,
    description: groupDescription(
      members.map((m) => ({ word: m.word, description: m.definition.description })),
    ),
    options: members.map((m) => ({
      type: SUBCOMMAND,
      name: m.word,
      description: m.definition.description,
      options: ordered(m.definition).map(option),
    })),
  };
}

/** Characters Discord counts against a command's 4000: names, descriptions and choice values. */
function combinedLength(node: Record<string, unknown>): number {
  let total = 0;
  for (const key of ['name', 'description'] as const) {
    const value = node[key];
    if (typeof value === 'string') total += [...value].length;
  }
  const choices = node.choices;
  if (Array.isArray(choices)) {
    for (const c of choices as { name?: unknown; value?: unknown }[]) {
      total += [...String(c.name ?? '')].length + [...String(c.value ?? '')].length;
    }
  }
  const options = node.options;
  if (Array.isArray(options)) {
    for (const o of options as Record<string, unknown>[]) total += combinedLength(o);
  }
  return total;
}

/** The top-level naming of a configuration section (`command`, `slashCommands`). */
export function topLevelNamingOf(section: {
  readonly command: string;
  readonly slashCommands: TopLevelNaming;
}): { readonly umbrella: string; readonly topLevel: TopLevelNaming } {
  const naming = slashNamingOf(section);
  return { umbrella: naming.umbrella, topLevel: naming };
}

/** An option value as Discord delivered it. */
export interface GivenOption {
  readonly name: string;
  readonly value?: string | number | boolean | undefined;
}

function quote(value: string): string {
  // Quoted words are always values, so a typed "--force" stays the text it is.
  return /^[^\s"'\\-][^\s"'\\]*$/.test(value) ? value : JSON.stringify(value);
}

/**
 * The command line a person would have typed: the subcommand, then the options in their declared
 * order as positional words. An option given after one that was left out is written `--name=value`
 * (positions no longer line up); a boolean is `--name` when true and left out when false. Values
 * with spaces or quotes are written as JSON strings ("two words").
 */
export function commandText(
  subcommand: string,
  definition: CommandDefinition | undefined,
  given: readonly GivenOption[],
): string {
  const byName = new Map(given.filter((g) => g.value !== undefined).map((g) => [g.name, g.value]));
  const declared = definition?.options ?? [];
  const order: { name: string; type?: CommandOptionDefinition['type'] }[] = [
    ...declared,
    ...given.filter((g) => !declared.some((d) => d.name === g.name)).map((g) => ({ name: g.name })),
  ];
  const words = [subcommand];
  let gap = false;
  for (const option of order) {
    const value = byName.get(option.name);
    if (option.type === 'boolean' || typeof value === 'boolean') {
      if (value === true) words.push(`--${option.name}`);
      continue;
    }
    if (value === undefined) {
      gap = true;
      continue;
    }
    const text = quote(String(value));
    words.push(gap ? `--${option.name}=${text}` : text);
  }
  return words.join(' ');
}
