// The Slack app manifest for the configured Slack section: paste it into "Create New App → From a
// manifest" (api.slack.com/apps) and the app has exactly the commands, interactivity and scopes the
// adapter uses: the umbrella (/drbd) and each command's own (/failover, /containers, /ip …), named
// as slack.slashCommands says. `drbd-chatops manifest slack` prints it.

import { HTTP_EVENTS_PATH } from '../adapters/slack/http-path.js';
import {
  groupDescription,
  SLACK_BUILT_IN_COMMANDS,
  slashCommandSet,
  slashNamingOf,
} from '../core/slash-commands.js';
import { type CommandDefinition, usage } from './command-registry.js';
import { type Config, parseConfig } from './config.js';

export interface SlackAppManifest {
  readonly _metadata: { readonly major_version: 1; readonly minor_version: 1 };
  readonly display_information: {
    readonly name: string;
    readonly description: string;
    readonly long_description: string;
    readonly background_color: string;
  };
  readonly features: {
    readonly app_home: {
      readonly home_tab_enabled: false;
      readonly messages_tab_enabled: false;
      readonly messages_tab_read_only_enabled: true;
    };
    readonly bot_user: { readonly display_name: string; readonly always_online: true };
    readonly slash_commands: readonly SlackSlashCommand[];
  };
  readonly oauth_config: { readonly scopes: { readonly bot: readonly string[] } };
  readonly settings: {
    readonly interactivity: { readonly is_enabled: true; readonly request_url?: string };
    readonly org_deploy_enabled: false;
    readonly socket_mode_enabled: boolean;
    readonly token_rotation_enabled: false;
  };
}

export interface SlackSlashCommand {
  readonly command: string;
  readonly description: string;
  /** What follows the command (Slack shows it while typing); absent for a command without arguments. */
  readonly usage_hint?: string;
  readonly should_escape: false;
  readonly url?: string;
}

export interface SlackManifestOptions {
  /**
   * The chat commands (commands/index.ts): the umbrella's usage hint lists them, and each gets a
   * slash command of its own beside it, as slack.slashCommands names them.
   */
  readonly commands: readonly CommandDefinition[];
  /** App and bot user name (Slack: 1–35 characters; longer or empty is refused, not cut). */
  readonly name?: string;
  /**
   * HTTP mode: the public https base URL Slack reaches the listener at (a reverse proxy in front of
   * slack.listen), e.g. https://drbd-bot.example.com. The request URL is this plus /slack/events.
   */
  readonly publicUrl?: string;
}

/**
 * The scopes the adapter needs, and why:
 * - chat:write: post notifications and command replies, edit them (chat.update);
 * - commands: the slash command;
 * - channels:history, groups:history: findPosted reads recent messages and their metadata in public
 *   and private channels after a crash (conversations.history / conversations.replies);
 * - usergroups:read: which user groups a user is in, for policies that name slack-group:S….
 * Socket Mode also needs an app-level token with connections:write, which is not a bot scope: it is
 * created under "Basic Information → App-Level Tokens".
 */
export const SLACK_BOT_SCOPES = [
  'chat:write',
  'commands',
  'channels:history',
  'groups:history',
  'usergroups:read',
] as const;

/**
 * What Slack's manifest schema accepts (slackapi/manifest-schema, schemas/manifest.schema.1.0.0.json):
 * display_information.name 1–35 characters, description 1–140, long_description 175–4000,
 * bot_user.display_name 1–80; at most 50 slash commands, each command 2–32 characters starting with
 * "/", description 1–2000, usage_hint 1–1000, url at most 3000; interactivity.request_url at most 3500;
 * at most 255 bot scopes of at most 50 characters. And Slack calls request URLs only over TLS with a
 * valid certificate (api.slack.com/interactivity/slash-commands, "SSL"), so http:// is refused here
 * although the schema's pattern lets it through.
 */
export const SLACK_MANIFEST_LIMITS = {
  name: { min: 1, max: 35 },
  description: { min: 1, max: 140 },
  longDescription: { min: 175, max: 4000 },
  botDisplayName: { min: 1, max: 80 },
  slashCommands: { min: 1, max: 50 },
  command: { min: 2, max: 32 },
  commandDescription: { min: 1, max: 2000 },
  usageHint: { min: 1, max: 1000 },
  commandUrl: { max: 3000 },
  interactivityUrl: { max: 3500 },
  scopes: { max: 255 },
  scope: { max: 50 },
} as const;

/** The manifest options or the configuration ask for something Slack would reject. */
export class SlackManifestError extends Error {
  readonly code = 'SLACK_MANIFEST_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'SlackManifestError';
  }
}

/** Characters as Slack counts them (an emoji is one), not UTF-16 code units. */
function characters(text: string): number {
  return [...text].length;
}

const CONTROL = /\p{Cc}/u;

function nameProblems(name: string): string[] {
  const { min, max } = SLACK_MANIFEST_LIMITS.name;
  const length = characters(name);
  if (name.trim() === '') return [`--name must not be empty (Slack: ${min}–${max} characters)`];
  if (CONTROL.test(name)) return ['--name must be one line of text without control characters'];
  if (length > max) {
    return [
      `--name must be at most ${max} characters (Slack's limit for an app name), got ${length}: ${JSON.stringify(name)}`,
    ];
  }
  return [];
}

// Names and addresses Slack's servers can never reach: loopback, private and link-local networks,
// and the reserved example/test names of RFC 2606 and RFC 6761 that documentation uses as placeholders.
const UNREACHABLE_HOST: readonly RegExp[] = [
  /^localhost$/,
  /\.localhost$/,
  /(^|\.)(example\.(com|org|net)|example|test|invalid|local|internal)$/,
  /^127\./,
  /^10\./,
  /^192\.168\./,
  /^172\.(1[6-9]|2\d|3[01])\./,
  /^169\.254\./,
  /^0\.0\.0\.0$/,
  /^\[(::1?|f[cd][0-9a-f]{0,2}:.*|fe[89ab][0-9a-f]?:.*)\]$/,
];

/** The request URL for HTTP mode, or why Slack could not use it. */
function requestUrlFor(publicUrl: string | undefined): { url?: string; problems: string[] } {
  if (publicUrl === undefined || publicUrl.trim() === '') {
    return {
      problems: [
        'slack.mode is http: Slack needs the public https address it sends slash commands and button clicks to; give it with --public-url https://<host the reverse proxy in front of slack.listen answers on>',
      ],
    };
  }
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    return { problems: [`--public-url must be an https URL, got ${JSON.stringify(publicUrl)}`] };
  }
  const problems: string[] = [];
  if (url.protocol !== 'https:') {
    problems.push(
      `--public-url must start with https:// (Slack calls request URLs only over TLS with a valid certificate), got ${JSON.stringify(publicUrl)}`,
    );
  }
  const host = url.hostname.toLowerCase();
  if (UNREACHABLE_HOST.some((pattern) => pattern.test(host))) {
    problems.push(
      `--public-url must be an address Slack can reach from the internet, not ${JSON.stringify(url.hostname)} (loopback, private network or a reserved example name)`,
    );
  }
  if (url.username !== '' || url.password !== '')
    problems.push('--public-url must not contain a user name or password');
  if (url.search !== '' || url.hash !== '') {
    problems.push(`--public-url must not have a query or fragment: ${HTTP_EVENTS_PATH} is appended to it`);
  }
  if (problems.length > 0) return { problems };
  return { url: `${url.origin}${url.pathname.replace(/\/+$/, '')}${HTTP_EVENTS_PATH}`, problems };
}

function within(
  label: string,
  value: string,
  limits: { readonly min?: number; readonly max: number },
): string[] {
  const length = characters(value);
  const min = limits.min ?? 0;
  return length < min || length > limits.max
    ? [`${label} must be ${min}–${limits.max} characters, is ${length}`]
    : [];
}

/** Everything in a manifest that Slack's schema would refuse (empty when it is acceptable). */
export function slackManifestProblems(manifest: SlackAppManifest): string[] {
  const L = SLACK_MANIFEST_LIMITS;
  const info = manifest.display_information;
  const commands = manifest.features.slash_commands;
  const problems = [
    ...within('display_information.name', info.name, L.name),
    ...within('display_information.description', info.description, L.description),
    ...within('display_information.long_description', info.long_description, L.longDescription),
    ...within('bot_user.display_name', manifest.features.bot_user.display_name, L.botDisplayName),
  ];
  if (!/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(info.background_color)) {
    problems.push(
      `display_information.background_color must be #RGB or #RRGGBB, is ${info.background_color}`,
    );
  }
  if (commands.length < L.slashCommands.min || commands.length > L.slashCommands.max) {
    problems.push(
      `Slack takes ${L.slashCommands.min}–${L.slashCommands.max} slash commands, got ${commands.length}`,
    );
  }
  const seen = new Set<string>();
  for (const c of commands) {
    if (seen.has(c.command)) problems.push(`slash command ${c.command} appears twice`);
    seen.add(c.command);
    problems.push(...within(`slash command ${c.command}`, c.command, L.command));
    if (!/^\/[a-z0-9_-]+$/.test(c.command)) {
      problems.push(`slash command ${c.command} must be / and lower case letters, digits, - or _`);
    }
    if (SLACK_BUILT_IN_COMMANDS.has(c.command.slice(1))) {
      problems.push(
        `slash command ${c.command} is built into Slack: Slack refuses the whole list ("invalid name")`,
      );
    }
    problems.push(...within(`description of ${c.command}`, c.description, L.commandDescription));
    if (c.usage_hint !== undefined)
      problems.push(...within(`usage hint of ${c.command}`, c.usage_hint, L.usageHint));
    if (c.url !== undefined) {
      if (!c.url.startsWith('https://')) problems.push(`request URL of ${c.command} must be https`);
      problems.push(...within(`request URL of ${c.command}`, c.url, L.commandUrl));
    }
  }
  const requestUrl = manifest.settings.interactivity.request_url;
  if (requestUrl !== undefined)
    problems.push(...within('interactivity.request_url', requestUrl, L.interactivityUrl));
  const scopes = manifest.oauth_config.scopes.bot;
  if (scopes.length > L.scopes.max) problems.push(`at most ${L.scopes.max} bot scopes, got ${scopes.length}`);
  for (const scope of scopes) problems.push(...within(`scope ${scope}`, scope, { min: 1, ...L.scope }));
  return problems;
}

/**
 * The manifest for the configuration. Throws SlackManifestError, naming every problem, rather than
 * print one Slack would reject: a name outside 1–35 characters, HTTP mode without a public https URL
 * Slack can reach (no placeholder is ever printed), a --public-url in Socket Mode, where it would be
 * ignored, slash command names that are Slack's own, too long or taken twice.
 */
export function slackManifest(config: Config, options: SlackManifestOptions): SlackAppManifest {
  const slack = config.slack ?? parseConfig({ slack: {} }).slack;
  if (slack === undefined) throw new Error('slack configuration defaults missing');
  const name = (options.name ?? 'drbd-chatops').trim();
  const http = slack.mode === 'http';
  const problems = nameProblems(options.name ?? 'drbd-chatops');
  let requestUrl: string | undefined;
  if (http) {
    const checked = requestUrlFor(options.publicUrl);
    problems.push(...checked.problems);
    requestUrl = checked.url;
  } else if (options.publicUrl !== undefined) {
    problems.push(
      '--public-url is for slack.mode: http; this configuration uses Socket Mode, where Slack needs no request URL (leave --public-url out, or set slack.mode: http)',
    );
  }
  const naming = slashNamingOf(slack);
  const commands = options.commands;
  const set = slashCommandSet(
    commands.map((c) => c.name),
    naming,
    'slack',
  );
  problems.push(...set.problems.map((p) => `slack.slashCommands: ${p}`));
  if (problems.length > 0) throw new SlackManifestError(problems);
  const url = requestUrl === undefined ? {} : { url: requestUrl };
  const byName = new Map(commands.map((c) => [c.name, c]));
  const own: SlackSlashCommand[] = set.entries.map((entry) => {
    const members = entry.targets.flatMap((t) => {
      const definition = byName.get(t.command);
      return definition === undefined ? [] : [{ word: t.word, definition }];
    });
    // A command of its own (`/failover`), or a group with a subcommand per member (`/ip set|show`).
    const alone = entry.targets.length === 1 && members[0]?.word === undefined ? members[0] : undefined;
    const hint =
      alone !== undefined
        ? argumentsOf(alone.definition)
        : members
            .map((m) => [m.word ?? '', argumentsOf(m.definition)].filter((w) => w !== '').join(' '))
            .join(' | ');
    return {
      command: `/${entry.name}`,
      description:
        alone !== undefined
          ? alone.definition.description
          : groupDescription(
              members.map((m) => ({ word: m.word ?? '', description: m.definition.description })),
            ),
      ...(hint === '' ? {} : { usage_hint: hint }),
      should_escape: false,
      ...url,
    };
  });
  const manifest: SlackAppManifest = {
    _metadata: { major_version: 1, minor_version: 1 },
    display_information: {
      name,
      description: 'DRBD pair alerts and approved failovers from chat.',
      long_description:
        'Posts every DRBD state change and split-brain of a two-node DRBD + LXD pair as a notification a ' +
        'person on call can act on, and runs status queries and failovers from chat after confirmation ' +
        'and approval. Runs on both hosts of the pair; one speaks at a time.',
      background_color: '#1f2328',
    },
    features: {
      app_home: {
        home_tab_enabled: false,
        messages_tab_enabled: false,
        messages_tab_read_only_enabled: true,
      },
      bot_user: { display_name: name, always_online: true },
      slash_commands: [
        {
          command: slack.command,
          description: 'DRBD pair status and operations',
          ...(commands.length === 0 ? {} : { usage_hint: umbrellaHint(commands) }),
          should_escape: false,
          ...url,
        },
        ...own,
      ],
    },
    oauth_config: { scopes: { bot: [...SLACK_BOT_SCOPES] } },
    settings: {
      interactivity: { is_enabled: true, ...(requestUrl === undefined ? {} : { request_url: requestUrl }) },
      org_deploy_enabled: false,
      socket_mode_enabled: !http,
      token_rotation_enabled: false,
    },
  };
  const invalid = slackManifestProblems(manifest);
  if (invalid.length > 0) throw new SlackManifestError(invalid);
  return manifest;
}

/** What a command takes after its name: `<resource> [to <host>] [--force]` (from its usage line). */
function argumentsOf(definition: CommandDefinition): string {
  const line = usage(definition);
  const words = definition.name.replace('-', ' ');
  return line.startsWith(words) ? line.slice(words.length).trim() : line;
}

/** The umbrella's hint: every command's syntax, as many whole ones as fit in Slack's 1000 characters. */
function umbrellaHint(commands: readonly CommandDefinition[]): string {
  const max = SLACK_MANIFEST_LIMITS.usageHint.max;
  let hint = '';
  for (const line of commands.map(usage)) {
    const next = hint === '' ? line : `${hint} | ${line}`;
    if ([...next].length > max - ' | …'.length) return `${hint} | …`;
    hint = next;
  }
  return hint;
}
