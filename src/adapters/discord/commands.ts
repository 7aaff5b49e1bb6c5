// The slash command the bot offers on Discord, built from a plain list of command definitions so
// new commands need no change here: one top-level command (`/drbd`) with one subcommand per
// definition, mirroring Slack's `/drbd status r0`. An invocation is turned back into the text a
// person would type ("status r0"), so slash commands, buttons and Slack all reach the command
// registry the same way.

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

export class CommandDefinitionError extends Error {
  readonly code = 'DISCORD_COMMANDS_INVALID';
}

function checkText(problems: string[], what: string, value: string, max: number): void {
  if (value.length < 1 || value.length > max) problems.push(`${what}: must be 1 to ${max} characters`);
}

/**
 * The application command JSON for a guild bulk overwrite (PUT …/guilds/:guild/commands). Discord
 * wants required options before optional ones; they are listed so (stably), while the text of an
 * invocation keeps the declared order.
 */
export function buildApplicationCommands(
  name: string,
  description: string,
  commands: readonly CommandDefinition[],
): Record<string, unknown>[] {
  const problems: string[] = [];
  if (!NAME.test(name))
    problems.push(`command name ${JSON.stringify(name)}: lower case letters, digits, - or _`);
  checkText(problems, `/${name} description`, description, 100);
  if (commands.length === 0) problems.push(`/${name}: at least one subcommand is needed`);
  if (commands.length > 25) problems.push(`/${name}: Discord allows 25 subcommands, got ${commands.length}`);
  const seen = new Set<string>();
  for (const command of commands) {
    if (!NAME.test(command.name)) problems.push(`subcommand ${JSON.stringify(command.name)}: invalid name`);
    if (seen.has(command.name)) problems.push(`subcommand ${command.name}: defined twice`);
    seen.add(command.name);
    checkText(problems, `${command.name} description`, command.description, 100);
    const options = command.options ?? [];
    if (options.length > 25) problems.push(`${command.name}: Discord allows 25 options`);
    const optionNames = new Set<string>();
    for (const option of options) {
      const where = `${command.name} ${option.name}`;
      if (!NAME.test(option.name)) problems.push(`${where}: invalid option name`);
      if (optionNames.has(option.name)) problems.push(`${where}: defined twice`);
      optionNames.add(option.name);
      checkText(problems, `${where} description`, option.description, 100);
      if (option.choices !== undefined) {
        if (option.type === 'boolean') problems.push(`${where}: a boolean option takes no choices`);
        if (option.choices.length > 25) problems.push(`${where}: Discord allows 25 choices`);
      }
    }
  }
  if (problems.length > 0) {
    throw new CommandDefinitionError(`invalid Discord command definitions:\n  - ${problems.join('\n  - ')}`);
  }
  const option = (o: CommandOptionDefinition): Record<string, unknown> => ({
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
  });
  return [
    {
      type: 1,
      name,
      description,
      options: commands.map((c) => {
        const options = c.options ?? [];
        const ordered = [
          ...options.filter((o) => o.required === true),
          ...options.filter((o) => o.required !== true),
        ];
        return { type: SUBCOMMAND, name: c.name, description: c.description, options: ordered.map(option) };
      }),
    },
  ];
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
