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
import { DiscordPlatform } from '../adapters/discord/discord-platform.js';
import type { ConsoleStatus } from '../adapters/web-console/web-console.js';
import { type Config, ConfigError, DEFAULT_CONFIG_PATH, loadConfig, maskSecrets } from '../app/config.js';
import { Daemon } from '../app/daemon.js';
import { runDemo } from '../app/demo.js';
import { startDemoPair } from '../app/demo-pair.js';
import { createLogger, type Logger } from '../app/log.js';
import { PACKAGE_ROOT } from '../app/paths.js';
import { createPlatforms } from '../app/platforms.js';
import { waitForStopSignal } from '../app/signals.js';
import { slackManifest } from '../app/slack-manifest.js';
import { startWatch } from '../app/watch.js';
import { formatNotificationLine } from '../core/text.js';
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
      'Prints a ready Slack app manifest (JSON): the slash command, interactivity, the bot scopes and\n' +
      'Socket Mode (or, with slack.mode: http, the request URLs under --public-url). Paste it at\n' +
      'https://api.slack.com/apps → Create New App → From an app manifest.',
    options: { ...CONFIG_OPTION, 'public-url': { type: 'string' }, name: { type: 'string' } },
    optionHelp: [
      CONFIG_HELP,
      ['--public-url URL', 'HTTP mode: the https address Slack reaches the bot at'],
      ['--name NAME', 'the app and bot name (default drbd-chatops)'],
    ],
    positionals: { min: 1, max: 1 },
    run: manifest,
  },
  'register-commands': {
    summary: 'register the slash commands with Discord for the configured guild',
    usage: 'drbd-chatops register-commands discord [--config FILE]',
    details:
      'Replaces the guild commands of the configured application (discord.applicationId, guildId)\n' +
      'with /drbd and its subcommands. A separate step because Discord rate-limits command creation;\n' +
      'run it once after installing and after an upgrade that adds commands. Token: discord.tokenEnv.',
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
    const command = topic === undefined ? undefined : COMMANDS[topic];
    if (topic !== undefined && command === undefined) {
      io.stderr.write(`drbd-chatops: unknown command ${JSON.stringify(topic)}\n\n${mainHelp()}`);
      return 2;
    }
    io.stdout.write(command === undefined || topic === undefined ? mainHelp() : commandHelp(command));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${await version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr.write(`drbd-chatops: unknown command ${JSON.stringify(name)}\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const parsed = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
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
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
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
    const platforms = await createPlatforms(consoleConfig, logger, {
      console: { output: io.stdout, input: io.stdin },
    });
    try {
      return await runUntilSignal(
        new Daemon({ config: consoleConfig, configPath: path ?? undefined, logger, platforms }),
        logger,
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
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port must be a port number (0 for any free one), got ${JSON.stringify(value)}`);
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
          await new Promise((r) => setTimeout(r, step.waitMs));
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
  const platforms = await createPlatforms(config, logger, { webStatus });
  if (platforms.size === 0)
    logger.warn('no chat platform configured (slack, discord, web): notifications stay in the outbox');
  const daemon = new Daemon({ config, configPath: path ?? undefined, logger, platforms });
  webStatus.current = () => daemon.consoleStatus();
  return runUntilSignal(daemon, logger);
}

/** Run the daemon until SIGTERM/SIGINT; SIGHUP reloads the configuration. */
async function runUntilSignal(daemon: Daemon, logger: Logger): Promise<number> {
  await daemon.start();
  const onHangup = () => void daemon.reload();
  process.on('SIGHUP', onHangup);
  const signal = await waitForStopSignal();
  logger.info({ signal }, 'stopping');
  process.off('SIGHUP', onHangup);
  await daemon.stop();
  return 0;
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
  const discord = new DiscordPlatform({ config: config.discord, logger, commands: CHAT_COMMANDS });
  try {
    const stored = await discord.registerCommands();
    io.stdout.write(
      `registered ${stored.length} command(s) for guild ${config.discord.guildId}: ${CHAT_COMMANDS.map((c) => `/drbd ${c.name}`).join(', ')}\n`,
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
