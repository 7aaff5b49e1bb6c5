// Chat commands as data: each file in commands/ declares its name, options and what it does. The
// same definitions drive Slack and Discord (an umbrella slash command with subcommands and each
// command's own slash command, named as src/core/slash-commands.ts says; typed options on Discord)
// and the terminal and web consoles. Text such as "status r0" is parsed against the options in
// order.

import { z } from 'zod';
import type { HostState } from '../core/host-state.js';
import type { Incidents } from '../core/incidents.js';
import { own, ownKeys } from '../core/lookup.js';
import { type Message, textMessage } from '../core/message-tones.js';
import type { Page, Silence } from '../core/oncall-workflow.js';
import type { Decision, Operation, Plan } from '../core/operation.js';
import type { CommandPolicy, Member, OnCall } from '../core/policy.js';
import type { SlashNaming, SlashPlatform } from '../core/slash-commands.js';
import type { CommandHandler, CommandReply, IncomingCommand } from '../ports/chat.js';
import type { ContainerInfo } from '../ports/container-runtime.js';
import type { PreflightCheck } from '../ports/host-ops.js';
import type { Logger } from './log.js';

export interface CommandOption {
  readonly name: string;
  readonly description: string;
  readonly type: 'string' | 'integer' | 'boolean';
  readonly required: boolean;
  /**
   * The value names a DRBD resource or a host of the pair: the registry checks it against what
   * exists before the command does anything else ("unknown resource r9; configured: r0, r1").
   */
  readonly names?: 'resource' | 'host';
  /**
   * Free text (a reason): the last option, taking the rest of the line as typed, spaces and all
   * (any characters but control characters, at most 200).
   */
  readonly rest?: boolean;
}

/** What the configuration says about one DRBD resource. */
export interface ResourceSettings {
  readonly lxdDir: string;
  readonly subnets: readonly string[];
  readonly mountPoint: string;
  readonly device: string;
  readonly lxdUnit: string;
  /** The LXD daemon is started and stopped by configured commands, not its systemd unit. */
  readonly lxdCommands?: boolean;
}

/** Every container of the pair, from whichever host is Primary for its resource. */
export interface ContainersView {
  readonly containers: readonly ContainerInfo[];
  readonly resources: readonly {
    readonly name: string;
    /** The host that is Primary for it, or null when none is. */
    readonly primaryOn: string | null;
    /** Why its containers could not be listed. */
    readonly problem?: string;
  }[];
}

/** What changing commands need: the request/decision machinery (src/app/operations.ts). */
export interface OperationsPort {
  request(
    definition: ChangeCommand,
    args: Record<string, string>,
    command: IncomingCommand,
  ): Promise<CommandReply>;
  decide(id: string, decision: Decision, command: IncomingCommand, typed?: string): Promise<CommandReply>;
  list(): readonly Operation[];
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
  /** The resources from the configuration (LXD_DIR, allowed subnets). */
  readonly resources: Readonly<Record<string, ResourceSettings>>;
  /** Every container on both hosts; absent when this instance manages no LXD. */
  readonly containers?: () => Promise<ContainersView>;
  readonly team: readonly Member[];
  readonly onCall: () => OnCall;
  readonly operations?: OperationsPort;
  readonly lxd: { readonly stopTimeoutS: number; readonly verifyTimeoutMs: number };
  /** Can `host` take `resource` (asked of it over the peer link when it is the other host). */
  readonly preflight?: (
    host: string,
    resource: string,
  ) => Promise<readonly PreflightCheck[] | { readonly unreachable: string }>;
  /** The other host of the pair, when a peer is configured. */
  readonly peerName?: string;
  /** The on-call workflow: acknowledgements and silences (src/app/paging.ts). */
  readonly paging?: PagingPort;
  /** The slash command names of each chat platform, so that answers show what to type there. */
  readonly slashCommands?: Readonly<Partial<Record<SlashPlatform, SlashNaming>>>;
}

/** What the ack, silence and unsilence commands need; the answers are the commands' replies. */
export interface PagingPort {
  /** Take waiting alerts: an incident key, a resource, or the only one waiting. */
  acknowledge(what: string | undefined, command: IncomingCommand): Promise<Message>;
  silence(match: string, durationMs: number, reason: string, command: IncomingCommand): Promise<Message>;
  /** End a silence early: by its id, or every silence of a target (r0, split-brain, all). */
  unsilence(what: string, command: IncomingCommand): Promise<Message>;
  /** Silences and maintenance windows in force now. */
  silences(): readonly Silence[];
  /** The page of an open incident, if it pages. */
  page(incidentKey: string): Page | undefined;
  /** How many notifications a silence has muted so far. */
  mutedCount(silenceId: string): number;
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

interface CommonDefinition<A> {
  /** One word, or two joined by a dash ("ip-set"; typed as "ip set" too). */
  readonly name: string;
  readonly description: string;
  /** The arguments in the order they are typed; they drive parsing and the platform registrations. */
  readonly options: readonly CommandOption[];
  /** Validates and converts the parsed arguments; its messages are shown to the user as they are. */
  readonly args: z.ZodType<A>;
  /** Replies only the requester sees. */
  readonly private?: boolean;
  /** Words read for people and skipped by the parser: "failover r0 to beta". */
  readonly fillers?: readonly string[];
}

/** A command that only looks: it answers at once. */
export interface QueryCommand<A = unknown> extends CommonDefinition<A> {
  readonly kind: 'query';
  run(args: A, command: IncomingCommand, context: CommandContext): Promise<Message>;
}

/**
 * A command that changes something. It never acts directly: `observe` gathers what the plan depends
 * on through the ports, the pure `plan` turns arguments and that world into steps (or refuses with a
 * CommandError), and the operations machinery shows the plan, waits for confirmation and approvals,
 * plans again to check nothing changed, and runs the steps through the ports.
 */
export interface ChangeCommand<A = unknown, W = unknown> extends CommonDefinition<A> {
  readonly kind: 'change';
  /** This command's policy where the configuration does not say (policies.<name>). */
  readonly policy: Partial<CommandPolicy>;
  /**
   * Variants with a policy of their own (policies.<variant>), e.g. failover --force is
   * `failover-force`: chosen from the validated arguments.
   */
  readonly variants?: Readonly<Record<string, Partial<CommandPolicy>>>;
  policyName?(args: A): string;
  observe(args: A, context: CommandContext): Promise<W>;
  plan(args: A, world: W, context: PlanContext): Plan;
}

export interface PlanContext {
  readonly host: string;
  readonly resources: Readonly<Record<string, ResourceSettings>>;
  readonly lxd: { readonly stopTimeoutS: number; readonly verifyTimeoutMs: number };
  /** The command line as it will be shown and audited. */
  readonly command: string;
}

export type CommandDefinition = QueryCommand | ChangeCommand;

/** A mistake the user can fix; shown as it is. Anything else is an internal error. */
export class CommandError extends Error {}

/** One word of a command line: a value, or a `--name[=value]` option (never from a quoted word). */
interface Word {
  readonly text: string;
  readonly option?: { readonly name: string; readonly value?: string };
}

function unquote(word: string): string {
  try {
    return JSON.parse(word) as string;
  } catch {
    throw new CommandError(`Badly quoted argument ${word.slice(0, 40)}`);
  }
}

/**
 * Split a command line into words. "Double quoted" words are JSON strings (spaces, quotes) and are
 * always values: a quoted "--force" is the text --force, not the option, so a value typed into a
 * Discord option can never turn into another option. `--name="a value"` keeps its quoted value.
 */
function lex(text: string): Word[] {
  const words: Word[] = [];
  for (const match of text.matchAll(/--[a-z][a-z0-9-]*="(?:[^"\\]|\\.)*"|"(?:[^"\\]|\\.)*"|\S+/g)) {
    const word = match[0];
    if (word.startsWith('"')) {
      words.push({ text: unquote(word) });
      continue;
    }
    const option = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(word);
    if (option?.[1] === undefined) {
      words.push({ text: word });
      continue;
    }
    const raw = option[2];
    const value = raw === undefined ? undefined : raw.startsWith('"') ? unquote(raw) : raw;
    words.push({ text: word, option: { name: option[1], ...(value === undefined ? {} : { value }) } });
  }
  return words;
}

/** The words of a command line as text (quotes removed). */
export function tokenize(text: string): string[] {
  return lex(text).map((w) => w.text);
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
  let [first, ...words] = lex(text.trim());
  let name = first?.text ?? '';
  // "ip set web1 …" is the command ip-set.
  const joined = `${name}-${words[0]?.text ?? ''}`.toLowerCase();
  if (words.length > 0 && commands.some((c) => c.name === joined)) {
    name = joined;
    words = words.slice(1);
  }
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
  for (const [index, word] of words.entries()) {
    const named = word.option;
    if (named !== undefined) {
      const option = definition.options.find((o) => o.name === named.name);
      if (option === undefined)
        throw new CommandError(`${definition.name} has no option --${named.name}: ${usage(definition)}`);
      args[option.name] = named.value ?? (option.type === 'boolean' ? 'true' : '');
      continue;
    }
    if (definition.fillers?.includes(word.text.toLowerCase()) === true) continue;
    while (next < positional.length && args[positional[next]?.name ?? ''] !== undefined) next++;
    const option = positional[next];
    if (option === undefined) {
      throw new CommandError(
        `${definition.name} takes at most ${positional.length} argument(s): ${usage(definition)}`,
      );
    }
    if (option.rest === true) {
      // A reason: everything from here on, as typed.
      args[option.name] = words
        .slice(index)
        .map((w) => w.text)
        .join(' ');
      break;
    }
    args[option.name] = word.text;
    next++;
  }
  for (const option of definition.options) {
    const value = args[option.name];
    if (value === undefined) {
      if (option.required)
        throw new CommandError(`${definition.name} needs <${option.name}>: ${usage(definition)}`);
      continue;
    }
    if (option.rest === true) {
      if (!/^[^\p{Cc}]{1,200}$/u.test(value))
        throw new CommandError(`${option.name}: at most 200 characters on one line`);
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

/** Check the parsed arguments against the command's schema; the first problem is the answer. */
export function validateArgs(definition: CommandDefinition, raw: Record<string, string>): unknown {
  const result = definition.args.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  throw new CommandError(`${where}${issue?.message ?? 'invalid arguments'} (${usage(definition)})`);
}

/**
 * Every resource and host name in the arguments exists, before anything else runs: a typo gets an
 * answer that lists what there is, never an internal error or a pre-flight check against nothing.
 * A resource exists when it is configured, or (for an instance that only watches) when this host's
 * DRBD knows it; a host is this one or its peer.
 */
export async function checkNames(
  definition: CommandDefinition,
  raw: Readonly<Record<string, string>>,
  context: CommandContext,
): Promise<void> {
  for (const option of definition.options) {
    const value = own(raw, option.name);
    if (value === undefined || option.names === undefined) continue;
    if (option.names === 'host') {
      const configured = [context.host, ...(context.peerName === undefined ? [] : [context.peerName])];
      if (configured.includes(value)) continue;
      // An instance without a configured peer may still see the other host's view (the demo).
      const hosts = [...new Set([...configured, ...(await context.hosts()).map((h) => h.host)])];
      if (!hosts.includes(value)) {
        throw new CommandError(`Unknown host ${value}; the hosts of this pair are ${hosts.join(', ')}.`);
      }
      continue;
    }
    const configured = ownKeys(context.resources);
    if (configured.includes(value)) continue;
    if (configured.length === 0) {
      const seen = [...new Set((await context.hosts()).flatMap((h) => ownKeys(h.resources)))].sort();
      if (seen.includes(value)) continue;
      throw new CommandError(`Unknown resource ${value}; DRBD knows: ${seen.join(', ') || 'none'}.`);
    }
    throw new CommandError(`Unknown resource ${value}; configured: ${configured.join(', ')}.`);
  }
}

/** The command line in one canonical spelling, for plans and the audit log. */
export function canonicalCommand(
  definition: CommandDefinition,
  raw: Readonly<Record<string, string>>,
): string {
  const words = [definition.name];
  for (const option of definition.options) {
    const value = raw[option.name];
    if (value === undefined) continue;
    if (option.type === 'boolean') {
      if (value === 'true') words.push(`--${option.name}`);
    } else words.push(value);
  }
  return words.join(' ');
}

/**
 * The syntax as it is really typed: a boolean is the flag `--force` (a bare word would be taken as
 * the next positional value: `failover r0 force` names a host "force"), and an option introduced by
 * a filler word shows the word and what follows it: `failover <resource> [to <host>] [--force]`,
 * `splitbrain <resource> victim <host>`.
 */
export function usage(definition: CommandDefinition): string {
  return [
    definition.name.replace('-', ' '),
    ...definition.options.map((o) => {
      if (o.type === 'boolean') return `[--${o.name}]`;
      const word =
        definition.fillers?.includes(o.name) === true ? `${o.name} <${o.names ?? 'value'}>` : undefined;
      if (word !== undefined) return o.required ? word : `[${word}]`;
      const name = o.rest === true ? `${o.name}…` : o.name;
      return o.required ? `<${name}>` : `[${name}]`;
    }),
  ].join(' ');
}

/** The handler the platforms call: parse, run, and turn failures into replies. */
export function commandHandler(context: CommandContext, logger: Logger): CommandHandler {
  return async (command) => {
    let name: string | undefined;
    try {
      const { definition, args: raw } = parseCommandText(command.text, context.commands);
      name = definition.name;
      const args = validateArgs(definition, raw);
      await checkNames(definition, raw, context);
      if (definition.kind === 'change') {
        if (context.operations === undefined) {
          throw new CommandError(
            `${definition.name} changes things; this instance cannot run changing commands.`,
          );
        }
        const reply = await context.operations.request(definition, raw, command);
        return { outcome: 'ok', ...reply, command: definition.name };
      }
      const message = await definition.run(args, command, context);
      return {
        message,
        ...(definition.private === true ? { private: true } : {}),
        outcome: 'ok',
        command: definition.name,
      };
    } catch (err) {
      const which = name === undefined ? {} : { command: name };
      if (err instanceof CommandError) {
        // A long refusal (a blocked plan's checklist) keeps a short title and the rest as its body.
        return { message: textMessage(err.message, 'warning'), private: true, outcome: 'refused', ...which };
      }
      logger.error(
        { err, text: command.text, platform: command.platform, user: command.userId },
        'command failed',
      );
      return {
        message: { title: 'Internal error; the details are in the bot log.', tone: 'critical' },
        private: true,
        outcome: 'error',
        ...which,
      };
    }
  };
}

/** Declare a query command with its argument type inferred from the schema. */
export function defineQuery<A>(definition: QueryCommand<A>): QueryCommand {
  return definition as QueryCommand;
}

/** Declare a changing command with its argument and world types inferred. */
export function defineChange<A, W>(definition: ChangeCommand<A, W>): ChangeCommand {
  return definition as unknown as ChangeCommand;
}

/** Argument schemas the commands share. */
export const ARGS = {
  resource: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a DRBD resource name such as r0'),
  host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a host name'),
  container: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, 'a container name (letters, digits, -)'),
  operation: z.string().regex(/^[0-9a-f]{8}$/, 'a request id (8 hex digits, shown on the plan)'),
} as const;

/**
 * `confirm|approve|cancel <request>`: what a plan's buttons send (they can be typed too). `typed`:
 * the command also takes the word a plan may ask to be typed (a forced failover's resource).
 */
export function decisionCommand(decision: Decision, description: string, typed = false): QueryCommand {
  const request: CommandOption = {
    name: 'request',
    description: 'The request id shown on the plan',
    type: 'string',
    required: true,
  };
  const word: CommandOption = {
    name: 'typed',
    description: 'What the plan asks you to type (a forced failover: the resource)',
    type: 'string',
    required: false,
  };
  return defineQuery({
    kind: 'query',
    name: decision,
    description,
    options: typed ? [request, word] : [request],
    args: z.object({ request: ARGS.operation, typed: z.string().max(64).optional() }),
    private: true,
    async run(args, command, context) {
      if (context.operations === undefined)
        throw new CommandError('This instance runs no changing commands.');
      const reply = await context.operations.decide(args.request, decision, command, args.typed);
      if (reply.outcome === 'refused') throw new CommandError(reply.message.title);
      return reply.message;
    },
  });
}
