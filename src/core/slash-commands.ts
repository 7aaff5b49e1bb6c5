// Which slash commands a chat platform offers: the umbrella (`/drbd failover r0`, one command for
// workspaces that want only one) and, beside it, each command as a slash command of its own
// (`/failover r0`, `/containers`, `/ip set web1 …`). Two-word commands share one top-level command
// with a subcommand per second word (`ip-set`, `ip-show` → `/ip set`, `/ip show`).
//
// The names are the workspace's to choose, because slash commands are not namespaced: Slack gives a
// name shared by two apps to whichever was installed last, and refuses its own built-in names
// (`/status`) outright. So a prefix (`drbd-` → `/drbd-status`), a name per command, or no top-level
// commands at all. Every way in (the Slack manifest, the Discord registration, an incoming
// invocation, `help`) derives from this one table, so what is registered, what is routed and what
// is shown cannot disagree.
//
// Pure: command names in, names and command lines out.

export type SlashPlatform = 'slack' | 'discord';

/** How one platform names its slash commands (names without the leading slash). */
export interface SlashNaming {
  /** The umbrella command: `/drbd <command line>`. */
  readonly umbrella: string;
  /** Whether each command also has a slash command of its own. */
  readonly enabled: boolean;
  /** Put before every top-level name that is not named in `names` (`drbd-` → `drbd-status`). */
  readonly prefix: string;
  /** Per top-level command (`failover`, `ip` …): its own name, or false for none. */
  readonly names: Readonly<Record<string, string | false>>;
}

export const DEFAULT_SLASH_NAMING: SlashNaming = { umbrella: 'drbd', enabled: true, prefix: '', names: {} };

/**
 * Slack's built-in slash commands (Slack help, "Use built-in slash commands"). An app manifest with
 * one of them is refused as a whole ("the slash command has an invalid name"), so no workspace can
 * have `/status` from an app.
 */
export const SLACK_BUILT_IN_COMMANDS: ReadonlySet<string> = new Set([
  'active',
  'apps',
  'archive',
  'away',
  'collapse',
  'dm',
  'dnd',
  'expand',
  'feed',
  'invite',
  'join',
  'kick',
  'leave',
  'me',
  'msg',
  'mute',
  'open',
  'pro',
  'remind',
  'remove',
  'rename',
  'search',
  'shortcuts',
  'shrug',
  'status',
  'topic',
  'who',
]);

/**
 * A slash command name each platform accepts, without the slash: Slack's command is at most 32
 * characters with its slash; Discord's name at most 32. Both lower case (Discord refuses upper case
 * in chat commands); letters, digits, - and _ only, so a name reads the same on both.
 */
export const SLASH_NAME_MAX = { slack: 31, discord: 32 } as const satisfies Record<SlashPlatform, number>;
const NAME = /^[a-z0-9_-]+$/;

/** `ip-set` → `ip`: the top-level command a definition belongs to. */
export function slashKey(commandName: string): string {
  const dash = commandName.indexOf('-');
  return dash < 0 ? commandName : commandName.slice(0, dash);
}

/** `ip-set` → `set`; undefined for a one-word command. */
export function subcommandWord(commandName: string): string | undefined {
  const dash = commandName.indexOf('-');
  return dash < 0 ? undefined : commandName.slice(dash + 1);
}

/** What one top-level slash command runs. */
export interface SlashTarget {
  /** The subcommand word (`set` of `/ip set`); absent for a command of its own. */
  readonly word?: string;
  /** The command definition's name (`ip-set`, `failover`). */
  readonly command: string;
}

export interface SlashEntry {
  /** The slash command's name, without the slash. */
  readonly name: string;
  /** The key of `names`: the command's name, or the first word of a group (`ip`). */
  readonly key: string;
  /** One target without a word (a command of its own), or one per subcommand word. */
  readonly targets: readonly SlashTarget[];
}

export interface SlashCommandSet {
  readonly umbrella: string;
  /** The top-level commands, in the order of the definitions (a group where its first member is). */
  readonly entries: readonly SlashEntry[];
  /** Everything the platform would refuse, or that would route ambiguously; empty when usable. */
  readonly problems: readonly string[];
}

/** Problems of the naming alone, before the commands are known (the configuration's check). */
export function namingProblems(naming: SlashNaming, platform: SlashPlatform): string[] {
  const problems: string[] = [];
  const max = SLASH_NAME_MAX[platform];
  const check = (what: string, name: string) => {
    if (!NAME.test(name) || name.length > max) {
      problems.push(
        `${what} /${name}: 1–${max} lower case letters, digits, - or _ (${platform === 'slack' ? 'Slack counts the slash: at most 32 with it' : "Discord's limit is 32"})`,
      );
    } else if (platform === 'slack' && SLACK_BUILT_IN_COMMANDS.has(name)) {
      problems.push(`${what} /${name} is a built-in Slack command; Slack refuses a manifest that names it`);
    }
  };
  check('the umbrella command', naming.umbrella);
  if (naming.prefix !== '' && (!NAME.test(naming.prefix) || naming.prefix.length > max - 1)) {
    problems.push(`prefix ${JSON.stringify(naming.prefix)}: lower case letters, digits, - or _`);
  }
  const named = new Map<string, string>([[naming.umbrella, 'the umbrella command']]);
  for (const [key, name] of Object.entries(naming.names)) {
    if (name === false) continue;
    check(`names.${key}:`, name);
    const other = named.get(name);
    if (other !== undefined) problems.push(`names.${key}: /${name} is already ${other}`);
    else named.set(name, `names.${key}`);
  }
  return problems;
}

/**
 * The top-level name of `key` on this platform, or undefined when it has none (top-level commands
 * off, or this one turned off). On Slack a name that is a built-in command (`status`) becomes the
 * umbrella's (`drbd-status`): Slack would refuse the whole manifest otherwise.
 */
export function topLevelName(naming: SlashNaming, platform: SlashPlatform, key: string): string | undefined {
  if (!naming.enabled) return undefined;
  const named = Object.hasOwn(naming.names, key) ? naming.names[key] : undefined;
  if (named === false) return undefined;
  if (named !== undefined) return named;
  const name = `${naming.prefix}${key}`;
  return platform === 'slack' && SLACK_BUILT_IN_COMMANDS.has(name) ? `${naming.umbrella}-${key}` : name;
}

/** Every slash command for these command definitions (by name), with what would be refused. */
export function slashCommandSet(
  commandNames: readonly string[],
  naming: SlashNaming,
  platform: SlashPlatform,
): SlashCommandSet {
  const problems = namingProblems(naming, platform);
  const groups = new Map<string, SlashTarget[]>();
  for (const command of commandNames) {
    const key = slashKey(command);
    const word = subcommandWord(command);
    const targets = groups.get(key) ?? [];
    targets.push(word === undefined ? { command } : { word, command });
    groups.set(key, targets);
  }
  for (const key of Object.keys(naming.names)) {
    if (!groups.has(key)) {
      problems.push(`names.${key}: no such command (top-level commands: ${[...groups.keys()].join(', ')})`);
    }
  }
  const entries: SlashEntry[] = [];
  const taken = new Map<string, string>([[naming.umbrella, 'the umbrella command']]);
  const max = SLASH_NAME_MAX[platform];
  for (const [key, targets] of groups) {
    if (targets.some((t) => t.word === undefined) && targets.length > 1) {
      problems.push(
        `${key}: a command of its own and subcommands (${targets.flatMap((t) => t.word ?? []).join(', ')}) cannot share one slash command`,
      );
      continue;
    }
    const name = topLevelName(naming, platform, key);
    if (name === undefined) continue;
    if (!NAME.test(name) || name.length > max) {
      problems.push(
        `/${name} (${key}): longer than ${max} characters or not a valid name; name it in names.${key}`,
      );
      continue;
    }
    const owner = taken.get(name);
    if (owner !== undefined) {
      problems.push(`/${name} would be both ${key} and ${owner}; give one of them another name`);
      continue;
    }
    taken.set(name, key);
    entries.push({ name, key, targets });
  }
  return { umbrella: naming.umbrella, entries, problems };
}

/**
 * The top-level command `name` belongs to (its key), or undefined when it is not one of this
 * naming's. Needs no list of commands: a key is found from the name by each rule that makes names,
 * then confirmed by making the name from it again.
 */
export function keyOfSlashName(
  naming: SlashNaming,
  platform: SlashPlatform,
  name: string,
): string | undefined {
  const candidates = [
    ...Object.entries(naming.names).flatMap(([key, n]) => (n === name ? [key] : [])),
    ...(name.startsWith(naming.prefix) ? [name.slice(naming.prefix.length)] : []),
    ...(name.startsWith(`${naming.umbrella}-`) ? [name.slice(naming.umbrella.length + 1)] : []),
  ];
  // A key is one word (slashKey cuts at the first dash): with no prefix, `drbd-status` is the
  // renamed built-in `status`, never a command called "drbd-status".
  return candidates.find(
    (key) => key !== '' && !key.includes('-') && topLevelName(naming, platform, key) === name,
  );
}

/**
 * The command line an invocation stands for, as the command registry parses it: `/failover` with
 * "r0" is "failover r0", `/ip` with "set web1 …" is "ip set web1 …", the umbrella's text is the
 * line itself. Undefined when `name` (without its slash) is not one of this naming's commands.
 */
export function commandLineOf(
  naming: SlashNaming,
  platform: SlashPlatform,
  name: string,
  text: string,
): string | undefined {
  const args = text.trim();
  if (name === naming.umbrella) return args;
  const key = keyOfSlashName(naming, platform, name);
  if (key === undefined) return undefined;
  return args === '' ? key : `${key} ${args}`;
}

/**
 * How a command is typed on the platform, from its usage line (`failover <resource> [to <host>]`):
 * with its own slash command where it has one (`/failover <resource> [to <host>]`,
 * `/drbd-status [resource]`, `/ip set <container> <addresses>`), else through the umbrella
 * (`/drbd failover <resource> [to <host>]`).
 */
export function slashSyntax(
  naming: SlashNaming,
  platform: SlashPlatform,
  commandName: string,
  usageLine: string,
): string {
  const key = slashKey(commandName);
  const name = topLevelName(naming, platform, key);
  const rest = usageLine.slice(key.length);
  if (name !== undefined && usageLine.startsWith(key) && (rest === '' || rest.startsWith(' '))) {
    return `/${name}${rest}`;
  }
  return `/${naming.umbrella} ${usageLine}`;
}

/** The configuration's spelling (`command: /drbd`, names with their slash) as a SlashNaming. */
export function slashNamingOf(section: {
  readonly command: string;
  readonly slashCommands: {
    readonly enabled: boolean;
    readonly prefix: string;
    readonly names: Readonly<Record<string, string | false>>;
  };
}): SlashNaming {
  const bare = (name: string) => name.replace(/^\//, '');
  return {
    umbrella: bare(section.command),
    enabled: section.slashCommands.enabled,
    prefix: section.slashCommands.prefix,
    names: Object.fromEntries(
      Object.entries(section.slashCommands.names).map(([key, name]) => [
        key,
        name === false ? false : bare(name),
      ]),
    ),
  };
}

/**
 * A group's own description (`/ip`): each member's, `show: …; set: …`, every one cut at a word to
 * an equal share of `max` characters (Discord's 100) when they do not fit whole.
 */
export function groupDescription(
  members: readonly { readonly word: string; readonly description: string }[],
  max = 100,
): string {
  const part = (m: { word: string; description: string }, room: number): string => {
    const text = `${m.word}: ${m.description}`;
    if ([...text].length <= room) return text;
    const cut = text.lastIndexOf(' ', room - 1);
    return `${text.slice(0, cut > m.word.length + 1 ? cut : room - 1)}…`;
  };
  const separator = '; ';
  const whole = members.map((m) => `${m.word}: ${m.description}`).join(separator);
  if ([...whole].length <= max || members.length === 0) return whole;
  const share = Math.floor((max - separator.length * (members.length - 1)) / members.length);
  return members.map((m) => part(m, share)).join(separator);
}
