// `drbd-chatops` command line. Each subcommand declares its options once; --help text and argument
// checking come from that declaration. Bad arguments exit 2 with a message naming the problem.

import { createReadStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { stringify as stringifyYaml } from 'yaml';
import { DEMO_FAULTS, type DemoFault } from '../../commands/demo.js';
import { COMMANDS as CHAT_COMMANDS } from '../../commands/index.js';
import { AUDIT_EVENTS, formatAudit, readAudit } from '../adapters/audit-log.js';
import { PACKAGE_ROOT } from '../adapters/package-paths.js';
import { sleep, until } from '../adapters/sleep.js';
import {
  SYSTEMD_NOTIFY_VARIABLES,
  SystemdNotifier,
  systemdNotifyEnvironment,
} from '../adapters/systemd-notify.js';
import type { ConsoleStatus } from '../adapters/web-console/console-status.js';
import { type Config, ConfigError, DEFAULT_CONFIG_PATH, loadConfig, maskSecrets } from '../app/config.js';
import { Daemon } from '../app/daemon.js';
import { createLogger, type Logger } from '../app/log.js';
import { createPlatforms } from '../app/platforms.js';
import { readSecret } from '../app/secrets.js';
import { waitForStopSignal } from '../app/signals.js';
import { SlackManifestError, slackManifest } from '../app/slack-manifest.js';
import { startWatch } from '../app/watch.js';
import { formatNotificationLine } from '../core/text-format.js';
import { HostWatcher } from '../core/watcher.js';

export interface Io {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly details: string;
  readonly options: Options;
  readonly optionHelp: readonly [string, string][];
  readonly positionals: { min: number; max: number };
  run(values: Record<string, string | boolean | undefined>, positionals: string[], io: Io): Promise<number>;
}

const CONFIG_OPTION: Options = { config: { type: 'string', short: 'c' } };
const CONFIG_HELP: [string, string] = [
  '-c, --config FILE',
  `configuration file (default ${DEFAULT_CONFIG_PATH})`,
];

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'the default way to run: the daemon with a configuration, the built-in demo without one',
    usage: 'drbd-chatops start [--config FILE] [--port N]',
    details:
      'With --config FILE, $DRBD_CHATOPS_CONFIG or /etc/drbd-chatops/config.yaml present, runs the daemon\n' +
      '(as `run`). Without any configuration, starts the built-in demo (as `demo`): `npm start` on a\n' +
      'fresh clone shows what the bot does.',
    options: { ...CONFIG_OPTION, port: { type: 'string' } },
    optionHelp: [CONFIG_HELP, ['--port N', 'the demo: web console port (default 7780; 0: any free port)']],
    positionals: { min: 0, max: 0 },
    run: start,
  },
  demo: {
    summary: 'the built-in demo: a simulated pair, two bot instances and the web console',
    usage: 'drbd-chatops demo [--port N]',
    details:
      'Starts the DRBD simulator with hosts alpha and beta and resources r0 (Primary on alpha) and r1\n' +
      '(Primary on beta), simulated LXD containers, and two real bot instances electing a leader\n' +
      'through a file lock and talking over the peer link on loopback, with the web console as their\n' +
      'chat platform. Prints the console URL (one per demo user). Break things from the page\n' +
      '(`demo split-brain r0`) or by typing here: link-down r0, link-up r0, split-brain r0, crash alpha,\n' +
      'boot alpha, disk-fail beta r1, disk-attach beta r1, tour. Needs no DRBD, LXD or chat account.',
    options: { port: { type: 'string' } },
    optionHelp: [['--port N', 'web console port on 127.0.0.1 (default 7780; 0: any free port)']],
    positionals: { min: 0, max: 0 },
    run: demo,
  },
  tour: {
    summary: 'a scripted tour of faults on a simulated pair, printed in the terminal',
    usage: 'drbd-chatops tour [--dialect 9|8.4] [--speed N]',
    details:
      'Starts the DRBD simulator with two hosts (alpha, beta) and resources r0 and r1, one watcher per\n' +
      'host reading the simulated `drbdsetup events2`, and walks through a link failure, a planned\n' +
      'switchover, a refused demotion, a host crash and a split-brain with its recovery, printing\n' +
      'what each host reports. Needs no DRBD, no LXD and no chat account.',
    options: { dialect: { type: 'string' }, speed: { type: 'string' } },
    optionHelp: [
      ['--dialect 9|8.4', 'DRBD version the simulated hosts speak (default 9)'],
      ['--speed N', 'multiply every pause by N (default 1; 0.2 is fast)'],
    ],
    positionals: { min: 0, max: 0 },
    run: tour,
  },
  replay: {
    summary: 'feed a recorded events2 stream through the rules and print notifications as JSON lines',
    usage: 'drbd-chatops replay --host NAME FILE|-',
    details:
      'Reads `drbdsetup events2` output (any of --timestamps --statistics --full --color) from FILE or\n' +
      'standard input and runs it through exactly the parser, state engine and rules of the daemon.\n' +
      'Prints one JSON notification per line. Lines that cannot be parsed are reported on standard\n' +
      'error and skipped; the exit status is 0 as long as the input could be read.',
    options: { host: { type: 'string' } },
    optionHelp: [['--host NAME', 'the host the stream was recorded on (required)']],
    positionals: { min: 1, max: 1 },
    run: replay,
  },
  run: {
    summary: 'run the daemon: DRBD events to Slack/Discord, chat commands back',
    usage: 'drbd-chatops run [--config FILE]',
    details:
      'Starts the DRBD event stream, the incident tracker, the durable outbox and the chat platforms\n' +
      'the configuration names (slack, discord), routes notifications as configured, and answers chat\n' +
      'commands. SIGTERM/SIGINT: stop cleanly, delivering what it can; SIGHUP: reload the configuration.',
    options: CONFIG_OPTION,
    optionHelp: [CONFIG_HELP],
    positionals: { min: 0, max: 0 },
    run: runCommand,
  },
  watch: {
    summary: 'run the live DRBD event stream and print notifications as text',
    usage: 'drbd-chatops watch [--config FILE] [--host NAME] [--console [--state-dir DIR]]',
    details:
      'Starts `drbdsetup events2` as configured (drbd.drbdsetup, drbd.events2Args), restarts it with\n' +
      'backoff when it ends, and prints every notification as a line of text (coloured on a terminal).\n' +
      'With --console it runs the whole daemon with the terminal as its chat platform: the same\n' +
      'messages the bot would post (incidents, threads, folded bursts) and slash commands typed in\n' +
      'the terminal (`/drbd status`, `help`). Stops on SIGINT or SIGTERM.',
    options: {
      ...CONFIG_OPTION,
      host: { type: 'string' },
      console: { type: 'boolean' },
      'state-dir': { type: 'string' },
    },
    optionHelp: [
      CONFIG_HELP,
      ['--host NAME', 'override the configured host name'],
      ['--console', 'the daemon with the terminal as chat platform'],
      ['--state-dir DIR', 'with --console: where the outbox lives (default: a temporary directory)'],
    ],
    positionals: { min: 0, max: 0 },
    run: watch,
  },
  manifest: {
    summary: 'print the Slack app manifest to create the app with',
    usage: 'drbd-chatops manifest slack [--config FILE] [--public-url URL] [--name NAME]',
    details:
      'Prints a ready Slack app manifest (JSON): the slash commands (/drbd and each command of its\n' +
      'own, named by slack.slashCommands), interactivity, the bot scopes and Socket Mode (or, with\n' +
      'slack.mode: http, the request URLs under --public-url). Paste it at https://api.slack.com/apps\n' +
      '→ Create New App → From an app manifest (or, to update an app, its App Manifest page).\n' +
      'Prints nothing and exits 2 when Slack would refuse the result: HTTP mode needs --public-url\n' +
      'https://… that Slack can reach (not localhost, a private address or an example name); the name\n' +
      "is 1–35 characters; no slash command may be one of Slack's own (/status is /drbd-status).",
    options: { ...CONFIG_OPTION, 'public-url': { type: 'string' }, name: { type: 'string' } },
    optionHelp: [
      CONFIG_HELP,
      ['--public-url URL', 'HTTP mode (required there): the https address Slack reaches the bot at'],
      ['--name NAME', 'the app and bot name, 1–35 characters (default drbd-chatops)'],
    ],
    positionals: { min: 1, max: 1 },
    run: manifest,
  },
  'register-commands': {
    summary: 'register the slash commands with Discord for the configured guild',
    usage: 'drbd-chatops register-commands discord [--config FILE]',
    details:
      'Replaces the guild commands of the configured application (discord.applicationId, guildId)\n' +
      'with /drbd and its subcommands and each command of its own (/failover, /ip …, named by\n' +
      'discord.slashCommands). A separate step because Discord rate-limits command creation; run it\n' +
      'after installing, after an upgrade that adds commands and after renaming them. Token:\n' +
      'discord.tokenEnv.',
    options: CONFIG_OPTION,
    optionHelp: [CONFIG_HELP],
    positionals: { min: 1, max: 1 },
    run: registerCommands,
  },
  audit: {
    summary: 'print the audit log of changing commands, filtered',
    usage:
      'drbd-chatops audit [--config FILE | --state-dir DIR] [--operation ID] [--user WHO] [--command NAME] [--event EVENT] [--since WHEN] [--json]',
    details:
      'Reads STATE_DIR/audit.ndjson: who requested, confirmed and approved what, the plan, the fencing\n' +
      'token, each step with its commands, exit codes and durations, and the outcome. --since takes an\n' +
      'ISO time or a duration back from now (30m, 12h, 7d). --json prints the records as they are stored.',
    options: {
      ...CONFIG_OPTION,
      'state-dir': { type: 'string' },
      operation: { type: 'string' },
      user: { type: 'string' },
      command: { type: 'string' },
      event: { type: 'string' },
      since: { type: 'string' },
      json: { type: 'boolean' },
    },
    optionHelp: [
      CONFIG_HELP,
      ['--state-dir DIR', 'read DIR/audit.ndjson instead of the configured state directory'],
      ['--operation ID', 'one request (the id on its plan message)'],
      ['--user WHO', 'a user id, user name or team member name'],
      ['--command NAME', 'one command, e.g. ip-set or failover'],
      ['--event EVENT', `one kind of record: ${AUDIT_EVENTS.join(', ')}`],
      ['--since WHEN', 'ISO time, or 30m / 12h / 7d back from now'],
      ['--json', 'one JSON record per line'],
    ],
    positionals: { min: 0, max: 0 },
    run: audit,
  },
  'check-config': {
    summary: 'validate a configuration file and print the effective configuration',
    usage: 'drbd-chatops check-config [--config FILE]',
    details:
      'Exits 0 and prints the configuration with every default filled in (secrets masked) when the\n' +
      'file is valid; exits 1 and names each bad key, its value and what was expected otherwise.',
    options: CONFIG_OPTION,
    optionHelp: [CONFIG_HELP],
    positionals: { min: 0, max: 0 },
    run: checkConfig,
  },
};

function commandHelp(command: Command): string {
  const width = Math.max(...command.optionHelp.map(([flag]) => flag.length), '-h, --help'.length);
  const lines = [...command.optionHelp, ['-h, --help', 'show this help'] as const].map(
    ([flag, text]) => `  ${flag.padEnd(width)}  ${text}`,
  );
  return `Usage: ${command.usage}\n\n${command.summary}.\n\n${command.details}\n\nOptions:\n${lines.join('\n')}\n`;
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return (
    'Usage: drbd-chatops COMMAND [OPTIONS]\n\n' +
    'Chat-ops for two-node DRBD + LXD pairs.\n\n' +
    `Commands:\n${lines.join('\n')}\n\n` +
    'Run `drbd-chatops COMMAND --help` for the options of a command.\n'
  );
}

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `--conifg` is one edit from
 * `--config`, as a person sees it, where plain Levenshtein counts two.
 */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row !== undefined) row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The candidate a typo most likely meant: a unique prefix, or the closest within a third of its length. */
function closest(typed: string, candidates: readonly string[]): string | undefined {
  const prefixed = candidates.filter((c) => typed.length >= 2 && c.startsWith(typed));
  if (prefixed.length === 1) return prefixed[0];
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(typed, name);
    if (
      distance <= Math.max(1, Math.floor(name.length / 3)) &&
      (best === undefined || distance < best.distance)
    ) {
      best = { name, distance };
    }
  }
  return best?.name;
}

function unknownCommand(typed: string): string {
  const guess = closest(typed, Object.keys(COMMANDS));
  return `unknown command ${JSON.stringify(typed)}${guess === undefined ? '' : `; did you mean ${guess}?`}`;
}

function optionsOf(command: Command): Options {
  return { ...command.options, help: { type: 'boolean', short: 'h' } };
}

/** "--config FILE" as the help shows it, for "needs a value" messages. */
function optionSyntax(command: Command, name: string): string {
  const help = command.optionHelp.find(([flags]) => flags.split(/[ ,]+/).includes(`--${name}`));
  return help?.[0].replace(/^-\w, /, '') ?? `--${name}`;
}

function unknownOption(commandName: string, command: Command, rawName: string): string {
  const options = optionsOf(command);
  if (rawName.startsWith('--')) {
    const guess = closest(rawName.slice(2), Object.keys(options));
    if (guess !== undefined) return `unknown option ${rawName}; did you mean --${guess}?`;
    const elsewhere = Object.entries(COMMANDS)
      .filter(([, other]) => Object.hasOwn(other.options, rawName.slice(2)))
      .map(([other]) => other);
    if (elsewhere.length > 0)
      return `unknown option ${rawName} for ${commandName}; it belongs to ${elsewhere.join(', ')}`;
  }
  const known = Object.keys(options).map((o) => `--${o}`);
  return `unknown option ${rawName}; ${commandName} takes ${known.join(', ')}`;
}

/**
 * node:util parseArgs, with our own checks in place of its strict mode: strict mode calls `--port -1`
 * "ambiguous" and `--conifg` merely unknown. Here a value that starts with "-" is a value (the
 * option's own check says what is wrong with it), unless it is one of the command's options, which
 * means the value was forgotten.
 */
function parseOptions(commandName: string, command: Command, args: readonly string[]) {
  const options = optionsOf(command);
  const parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: false, tokens: true });
  const isOption = (text: string) => {
    const long = /^--([^=]+)/.exec(text)?.[1];
    if (long !== undefined) return Object.hasOwn(options, long);
    return /^-[a-zA-Z]$/.test(text) && Object.values(options).some((o) => o.short === text.slice(1));
  };
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    const spec = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (spec === undefined) throw new UsageError(unknownOption(commandName, command, token.rawName));
    if (spec.type === 'boolean') {
      if (token.value !== undefined) {
        throw new UsageError(`${token.rawName} takes no value, got ${JSON.stringify(token.value)}`);
      }
    } else if (token.value === undefined || (!token.inlineValue && isOption(token.value))) {
      throw new UsageError(
        `${token.rawName} needs a value (${optionSyntax(command, token.name)})${token.value === undefined ? '' : `, got the option ${token.value}`}`,
      );
    }
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: readonly string[], io: Io = process): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined || !Object.hasOwn(COMMANDS, topic) ? undefined : COMMANDS[topic];
    if (topic !== undefined && command === undefined) {
      io.stderr.write(`drbd-chatops: ${unknownCommand(topic)}\n\n${mainHelp()}`);
      return 2;
    }
    io.stdout.write(command === undefined || topic === undefined ? mainHelp() : commandHelp(command));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${await version()}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr.write(`drbd-chatops: ${unknownCommand(name)}\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const parsed = parseOptions(name, command, rest);
    if (parsed.values.help === true) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    const { min, max } = command.positionals;
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      throw new UsageError(
        max === 0
          ? `${name} takes no arguments, got ${JSON.stringify(parsed.positionals.join(' '))}`
          : `${name} needs ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}`,
      );
    }
    return await command.run(
      parsed.values as Record<string, string | boolean | undefined>,
      parsed.positionals,
      io,
    );
  } catch (err) {
    if (err instanceof SlackManifestError) {
      io.stderr.write(
        `drbd-chatops ${name}: no manifest printed, Slack would not accept it:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\nUsage: ${command.usage}\n`,
      );
      return 2;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`drbd-chatops ${name}: ${(err as Error).message}\nUsage: ${command.usage}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`drbd-chatops ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function requireString(values: Record<string, string | boolean | undefined>, key: string): string {
  const value = values[key];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${key} is required`);
  return value;
}

async function replay(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
  io: Io,
): Promise<number> {
  const host = requireString(values, 'host');
  const file = positionals[0] ?? '-';
  let input: NodeJS.ReadableStream;
  if (file === '-') {
    input = io.stdin;
  } else {
    input = createReadStream(file);
    // Surface "no such file" as a clean error before reading.
    await new Promise<void>((resolve, reject) => {
      (input as ReturnType<typeof createReadStream>).once('open', () => resolve()).once('error', reject);
    }).catch((err: Error) => {
      throw new UsageError(`cannot read ${file}: ${err.message}`);
    });
  }
  const watcher = new HostWatcher(host);
  let lineNumber = 0;
  let skipped = 0;
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNumber += 1;
    const result = watcher.feed(line, Date.now());
    if (result.error !== undefined) {
      skipped += 1;
      io.stderr.write(`${file}:${lineNumber}: skipped: ${result.error.reason}\n`);
    }
    for (const notification of result.notifications) io.stdout.write(`${JSON.stringify(notification)}\n`);
  }
  if (skipped > 0) io.stderr.write(`${file}: ${skipped} of ${lineNumber} lines skipped\n`);
  return 0;
}

async function watch(
  values: Record<string, string | boolean | undefined>,
  _p: string[],
  io: Io,
): Promise<number> {
  const { config: loaded, path } = await loadConfig(values.config as string | undefined);
  const host = values.host;
  const config = typeof host === 'string' ? { ...loaded, host } : loaded;
  const logger = createLogger({ level: config.log.level, format: config.log.format, destination: io.stderr });
  if (values.console === true) {
    const stateDir =
      typeof values['state-dir'] === 'string'
        ? values['state-dir']
        : mkdtempSync(join(tmpdir(), 'drbd-chatops-console-'));
    const consoleConfig: Config = {
      ...config,
      stateDir,
      routes: [{ platform: 'console', channel: 'console', minSeverity: 'info' }],
    };
    const platforms = await createPlatforms(consoleConfig, logger, CHAT_COMMANDS, {
      console: { output: io.stdout, input: io.stdin },
    });
    try {
      return await runUntilSignal(
        new Daemon({
          config: consoleConfig,
          configPath: path ?? undefined,
          logger,
          platforms,
          commands: CHAT_COMMANDS,
        }),
        logger,
        consoleConfig.host,
      );
    } finally {
      // A state directory we made up for this run goes with it; one the user named stays.
      if (typeof values['state-dir'] !== 'string') rmSync(stateDir, { recursive: true, force: true });
    }
  }
  const color = io.stdout.isTTY === true;
  const running = startWatch(config, logger, (n) =>
    io.stdout.write(`${formatNotificationLine(n, { color })}\n`),
  );
  // Say once when the first dump is read: from then on every change is reported (scripts wait for it).
  const live = setInterval(() => {
    if (!running.isLive()) return;
    clearInterval(live);
    logger.info({ host: config.host }, 'watching: the DRBD state is read, changes from now on are reported');
  }, 50);
  await waitForStopSignal();
  clearInterval(live);
  await running.stop();
  return 0;
}

function demoPort(value: string | boolean | undefined): number {
  if (value === undefined) return 7780;
  const text = String(value);
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535) {
    const shown = /^[\w.+-]+$/.test(text) ? text : JSON.stringify(text);
    throw new UsageError(`--port must be a port number 0–65535, got ${shown} (0 picks any free port)`);
  }
  return port;
}

const TOUR_STEPS: readonly {
  readonly say: string;
  readonly fault: [DemoFault, string, string?];
  readonly waitMs: number;
}[] = [
  { say: 'the replication link of r0 fails', fault: ['link-down', 'r0'], waitMs: 4_000 },
  { say: 'it comes back (the resync follows)', fault: ['link-up', 'r0'], waitMs: 8_000 },
  { say: 'a split-brain on r1', fault: ['split-brain', 'r1'], waitMs: 6_000 },
  { say: 'alpha crashes: beta takes over the lead', fault: ['crash', 'alpha'], waitMs: 10_000 },
  { say: 'alpha boots again', fault: ['boot', 'alpha'], waitMs: 4_000 },
];

async function demo(
  values: Record<string, string | boolean | undefined>,
  _p: string[],
  io: Io,
): Promise<number> {
  const port = demoPort(values.port);
  const logger = createLogger({ level: 'error', format: 'auto', destination: io.stderr });
  // The demo (simulator, simulated LXD, two instances) is loaded only when asked for.
  const { startDemoPair } = await import('../app/demo-pair.js');
  const pair = await startDemoPair({ logger, port });
  const say = (line: string) => io.stdout.write(`${line}\n`);
  say('drbd-chatops demo: DRBD pair alpha + beta (r0 Primary on alpha, r1 on beta), simulated containers,');
  say('two bot instances (leader elected through a file lock, peer link on loopback).');
  say('');
  say('Open the web console:');
  say(`  as alice:            ${pair.urls.alice}`);
  say(`  as bob (on call):    ${pair.urls.bob}`);
  say('');
  say('Try in the page: status, containers, ip set web1 198.51.100.20, demo split-brain r0, help.');
  say('Or type a fault here: link-down r0 | link-up r0 | split-brain r0 | crash alpha | boot alpha |');
  say('disk-fail beta r1 | disk-attach beta r1 | tour.   Ctrl-C stops.');
  const lines = createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  let touring = false;
  lines.on('line', (line) => {
    const [fault = '', target = '', resource] = line.trim().split(/\s+/);
    if (fault === '') return;
    if (fault === 'tour') {
      if (touring) return;
      touring = true;
      void (async () => {
        for (const step of TOUR_STEPS) {
          say(`▶ ${step.say}`);
          say(`  ${await pair.fault(...step.fault).catch((err: Error) => err.message)}`);
          await sleep(step.waitMs);
        }
        touring = false;
        say('▶ end of the tour');
      })();
      return;
    }
    if (!(DEMO_FAULTS as readonly string[]).includes(fault)) {
      say(`  unknown: ${fault}; try ${DEMO_FAULTS.join(', ')} or tour`);
      return;
    }
    pair
      .fault(fault as DemoFault, target, resource)
      .then((answer) => say(`  ${answer}`))
      .catch((err: Error) => say(`  ${err.message}`));
  });
  await waitForStopSignal();
  lines.close();
  await pair.stop();
  return 0;
}

async function start(
  values: Record<string, string | boolean | undefined>,
  p: string[],
  io: Io,
): Promise<number> {
  // Checked also when a configuration is found (and the port unused): a typo is reported, not ignored.
  demoPort(values.port);
  const given = (values.config as string | undefined) ?? process.env.DRBD_CHATOPS_CONFIG;
  if (given !== undefined || existsSync(DEFAULT_CONFIG_PATH)) {
    return runCommand({ config: given ?? DEFAULT_CONFIG_PATH }, p, io);
  }
  return demo({ port: values.port }, p, io);
}

async function tour(
  values: Record<string, string | boolean | undefined>,
  _p: string[],
  io: Io,
): Promise<number> {
  const dialect = values.dialect ?? '9';
  if (dialect !== '9' && dialect !== '8.4')
    throw new UsageError(`--dialect must be 9 or 8.4, got ${JSON.stringify(dialect)}`);
  const speed = values.speed === undefined ? 1 : Number(values.speed);
  if (!Number.isFinite(speed) || speed <= 0 || speed > 10) {
    throw new UsageError(
      `--speed must be a number above 0 and at most 10, got ${JSON.stringify(values.speed)}`,
    );
  }
  const color = io.stdout.isTTY === true;
  // Stream restarts show up as watcher-gap notifications; the log would only repeat them.
  const logger = createLogger({ level: 'error', format: 'auto', destination: io.stderr });
  const stop = new AbortController();
  void waitForStopSignal().then(() => stop.abort());
  const { runDemo } = await import('../app/demo-tour.js');
  await runDemo({
    dialect,
    speed,
    logger,
    signal: stop.signal,
    print: (line) => io.stdout.write(`${line}\n`),
    onNotification: (_host, n) => io.stdout.write(`  ${formatNotificationLine(n, { color })}\n`),
  });
  return 0;
}

async function runCommand(
  values: Record<string, string | boolean | undefined>,
  _p: string[],
  io: Io,
): Promise<number> {
  const { config, path } = await loadConfig(values.config as string | undefined);
  const logger = createLogger({ level: config.log.level, format: config.log.format, destination: io.stderr });
  const webStatus: { current?: () => Promise<ConsoleStatus> } = {};
  const platforms = await createPlatforms(config, logger, CHAT_COMMANDS, { webStatus });
  if (platforms.size === 0)
    logger.warn('no chat platform configured (slack, discord, web): notifications stay in the outbox');
  const daemon = new Daemon({
    config,
    configPath: path ?? undefined,
    logger,
    platforms,
    commands: CHAT_COMMANDS,
  });
  webStatus.current = () => daemon.consoleStatus();
  return runUntilSignal(daemon, logger, config.host);
}

/**
 * How long READY=1 waits for the first DRBD state dump. READY means "started" to systemd, and
 * `systemctl start` returns then; normally the dump takes well under a second. A bot whose event
 * stream cannot start (drbdsetup missing, module not loaded) still reports that in chat, so it is
 * declared started anyway after this wait, well inside systemd's default TimeoutStartSec (90 s),
 * instead of being killed and restarted for it.
 */
const READY_WAIT_MS = 20_000;

/** What `systemctl status` shows on its Status: line. */
function serviceStatus(daemon: Daemon, host: string): string {
  const stream = daemon.watch?.isLive() === true ? 'DRBD events read' : 'DRBD event stream not live';
  const role =
    daemon.elector === undefined ? 'acting alone' : daemon.elector.mayAct() ? 'leader' : 'follower';
  return `${host}: ${role}; ${stream}; ${daemon.outbox.depth} undelivered`;
}

/**
 * Run the daemon until SIGTERM/SIGINT; SIGHUP reloads the configuration. Under systemd (Type=notify):
 * READY=1 once started and the DRBD state is read, WATCHDOG=1 while the event loop turns, STOPPING=1
 * when asked to stop; outside systemd nothing of this happens.
 */
async function runUntilSignal(daemon: Daemon, logger: Logger, host: string): Promise<number> {
  const notifier = new SystemdNotifier({
    ...systemdNotifyEnvironment(process.env),
    pid: process.pid,
    logger: logger.child({ part: 'systemd' }),
  });
  // sd_notify(3)'s unset_environment: the commands the bot runs (drbdadm, lxc, the lock scripts) are
  // not the service's main process and must not talk to systemd in its name.
  for (const name of SYSTEMD_NOTIFY_VARIABLES) delete process.env[name];
  // From the start: a start-up that hangs is a hang too (systemd arms the watchdog at READY=1 at the
  // latest, earlier pings do no harm).
  notifier.startWatchdog(() => serviceStatus(daemon, host));
  try {
    await daemon.start();
    const stopped = waitForStopSignal();
    let stopRequested = false;
    void stopped.then(() => {
      stopRequested = true;
    });
    const onHangup = () => void daemon.reload();
    process.on('SIGHUP', onHangup);
    if (notifier.enabled) {
      const live = await Promise.race([
        until(() => daemon.watch?.isLive() === true, READY_WAIT_MS, { intervalMs: 50 }),
        stopped.then(() => false),
      ]);
      if (!stopRequested) {
        if (!live) {
          logger.warn(
            { waitedMs: READY_WAIT_MS },
            'telling systemd the bot is up although the DRBD state is not read yet',
          );
        }
        await notifier.ready(serviceStatus(daemon, host));
      }
    }
    const signal = await stopped;
    logger.info({ signal }, 'stopping');
    process.off('SIGHUP', onHangup);
    await notifier.stopping(`${host}: stopping (${signal}): delivering what is queued, releasing the lease`);
    await daemon.stop();
    return 0;
  } finally {
    await notifier.stopWatchdog();
  }
}

async function manifest(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
  io: Io,
): Promise<number> {
  if (positionals[0] !== 'slack')
    throw new UsageError(`only "slack" has a manifest, got ${JSON.stringify(positionals[0])}`);
  const { config } = await loadConfig(values.config as string | undefined);
  const publicUrl = values['public-url'];
  const name = values.name;
  const result = slackManifest(config, {
    commands: CHAT_COMMANDS,
    ...(typeof publicUrl === 'string' ? { publicUrl } : {}),
    ...(typeof name === 'string' ? { name } : {}),
  });
  io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

async function registerCommands(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
  io: Io,
): Promise<number> {
  if (positionals[0] !== 'discord') {
    throw new UsageError(
      `commands are registered with "discord" (Slack takes them from the manifest), got ${JSON.stringify(positionals[0])}`,
    );
  }
  const { config } = await loadConfig(values.config as string | undefined);
  if (config.discord === undefined) throw new UsageError('the configuration has no discord section');
  const logger = createLogger({ level: config.log.level, format: config.log.format, destination: io.stderr });
  const { DiscordPlatform } = await import('../adapters/discord/discord-platform.js');
  const token = readSecret('Discord bot token', {
    envName: config.discord.tokenEnv,
    file: config.discord.tokenFile,
  });
  const discord = new DiscordPlatform({ config: config.discord, logger, token, commands: CHAT_COMMANDS });
  try {
    const stored = await discord.registerCommands();
    io.stdout.write(
      `registered ${stored.length} command(s) for guild ${config.discord.guildId}: ${stored.map((c) => `/${String(c.name)}`).join(', ')}\n`,
    );
    return 0;
  } catch (err) {
    io.stderr.write(`drbd-chatops register-commands: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await discord.stop();
  }
}

function parseSince(text: string, now: number): Date {
  const relative = /^(\d+)([mhd])$/.exec(text);
  if (relative !== null) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    return new Date(now - Number(relative[1]) * unit);
  }
  const at = new Date(text);
  if (Number.isNaN(at.getTime()))
    throw new UsageError(`--since: ${JSON.stringify(text)} is neither an ISO time nor 30m/12h/7d`);
  return at;
}

async function audit(
  values: Record<string, string | boolean | undefined>,
  _p: string[],
  io: Io,
): Promise<number> {
  const stateDir =
    (values['state-dir'] as string | undefined) ??
    (await loadConfig(values.config as string | undefined)).config.stateDir;
  const event = values.event as string | undefined;
  if (event !== undefined && !(AUDIT_EVENTS as readonly string[]).includes(event)) {
    throw new UsageError(`--event: ${JSON.stringify(event)} is not one of ${AUDIT_EVENTS.join(', ')}`);
  }
  const filter = {
    ...(typeof values.operation === 'string' ? { operation: values.operation } : {}),
    ...(typeof values.user === 'string' ? { user: values.user } : {}),
    ...(typeof values.command === 'string' ? { command: values.command } : {}),
    ...(event === undefined ? {} : { event }),
    ...(typeof values.since === 'string' ? { since: parseSince(values.since, Date.now()) } : {}),
  };
  const path = join(stateDir, 'audit.ndjson');
  const { records, damaged } = readAudit(path, filter);
  for (const record of records)
    io.stdout.write(`${values.json === true ? JSON.stringify(record) : formatAudit(record)}\n`);
  if (damaged > 0) io.stderr.write(`drbd-chatops: ${damaged} unreadable line(s) in ${path} skipped\n`);
  if (records.length === 0 && values.json !== true)
    io.stderr.write(`drbd-chatops: no matching records in ${path}\n`);
  return 0;
}

async function checkConfig(
  values: Record<string, string | boolean | undefined>,
  _p: string[],
  io: Io,
): Promise<number> {
  const { config, path } = await loadConfig(values.config as string | undefined);
  io.stdout.write(`# ${path === null ? `no ${DEFAULT_CONFIG_PATH}: defaults` : `${path}: valid`}\n`);
  io.stdout.write(stringifyYaml(maskSecrets(config)));
  return 0;
}
