// drbdsetup-sim: a stand-in `drbdsetup` (DRBD 9 or 8.4 dialect) for a simulated two-host
// pair, plus `sim …` commands to set the pair up and inject faults. Works as the `-s`
// backend of the real drbdadm, which passes __DRBD_NODE__ through to name the acting host.

import { hostname } from 'node:os';
import { hostDownResult } from './actions.js';
import { type EventsOptions, SimulatedPair } from './pair.js';
import { type InitOptions, loadState } from './state.js';
import * as statusCmds from './status.js';
import { streamEvents } from './stream.js';
import { type CommandResult, type Dialect, SimError, type SimState } from './types.js';

interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = {
  out: (text) => {
    process.stdout.write(text);
  },
  err: (text) => {
    process.stderr.write(text);
  },
};

const SIM_USAGE = `usage: drbdsetup-sim sim <command>
  init --hosts A,B --resources r0:0,r1:1 [--dialect 9|8.4] [--primary r0=A,r1=B]
       [--no-usermode-helper] [--addresses A=10.0.0.1,B=10.0.0.2] [--resync-seconds N]
  link-down [RES|all]      link-up [RES|all]
  crash HOST               boot HOST
  disk-fail HOST RES       disk-attach HOST RES
  resync RES --seconds N [--source HOST]
  split-brain RES
  open HOST RES HOLDER     close HOST RES HOLDER
  state                    tick
environment: DRBD_SIM_DIR (state directory), DRBD_SIM_HOST or __DRBD_NODE__ (acting host)
`;

interface ParsedArgs {
  positional: string[];
  options: Map<string, string | true>;
}

/** `--name=value` always; `--name value` only for the options listed in `withValue`. */
function parseArgs(args: string[], withValue: string[] = []): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) {
      options.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const name = arg.slice(2);
    const next = args[i + 1];
    if (withValue.includes(name) && next !== undefined && !next.startsWith('--')) {
      options.set(name, next);
      i++;
    } else {
      options.set(name, true);
    }
  }
  return { positional, options };
}

const SIM_VALUE_OPTIONS = [
  'hosts',
  'resources',
  'dialect',
  'primary',
  'addresses',
  'resync-seconds',
  'seconds',
  'source',
];

function usageError(message: string): SimError {
  return new SimError(`drbdsetup-sim: ${message}\n${SIM_USAGE}`, 2);
}

function actingHost(state: SimState): string {
  const host = process.env.DRBD_SIM_HOST || process.env.__DRBD_NODE__ || hostname();
  if (!state.hosts.includes(host)) {
    throw new SimError(
      `drbdsetup-sim: host '${host}' is not part of the simulated pair (${state.hosts.join(', ')}); ` +
        'set DRBD_SIM_HOST or __DRBD_NODE__',
      20,
    );
  }
  return host;
}

function stateDir(): string {
  const dir = process.env.DRBD_SIM_DIR;
  if (!dir)
    throw new SimError('drbdsetup-sim: DRBD_SIM_DIR is not set (the directory holding the pair state)', 20);
  return dir;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    const [verb, ...rest] = argv;
    if (verb === undefined || verb === '--help' || verb === 'help') {
      io.err(`usage: drbdsetup-sim <drbdsetup verb> … | drbdsetup-sim sim <command> …\n${SIM_USAGE}`);
      return verb === undefined ? 20 : 0;
    }
    const dir = stateDir();
    if (verb === 'sim') return simCommand(dir, rest, io);
    return await drbdsetupVerb(dir, verb, rest, io);
  } catch (err) {
    if (err instanceof SimError) {
      io.err(err.message.endsWith('\n') ? err.message : `${err.message}\n`);
      return err.exitCode;
    }
    io.err(
      `drbdsetup-sim: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 20;
  }
}

// ---- sim commands ---------------------------------------------------------------------

function list(value: string | true | undefined, name: string): string[] {
  if (typeof value !== 'string' || value.length === 0) throw usageError(`--${name} needs a value`);
  return value.split(',').filter((v) => v.length > 0);
}

function pairs(value: string | true | undefined, name: string, sep: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list(value, name)) {
    const i = item.indexOf(sep);
    if (i <= 0 || i === item.length - 1) throw usageError(`bad --${name} entry '${item}'`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

function initOptions(args: ParsedArgs): InitOptions {
  const known = [
    'hosts',
    'resources',
    'dialect',
    'primary',
    'no-usermode-helper',
    'addresses',
    'resync-seconds',
  ];
  for (const key of args.options.keys())
    if (!known.includes(key)) throw usageError(`unknown option --${key}`);
  if (args.positional.length > 0) throw usageError(`unexpected argument '${args.positional[0]}'`);
  const hosts = list(args.options.get('hosts'), 'hosts');
  const resources = Object.entries(pairs(args.options.get('resources'), 'resources', ':')).map(
    ([name, minor]) => {
      if (!/^\d+$/.test(minor)) throw usageError(`bad minor '${minor}' for ${name}`);
      return { name, minor: Number(minor) };
    },
  );
  const dialect = args.options.get('dialect') ?? '9';
  if (dialect !== '9' && dialect !== '8.4') throw usageError(`--dialect must be 9 or 8.4`);
  const opts: InitOptions = { hosts, resources, dialect: dialect as Dialect };
  if (args.options.has('primary')) opts.primary = pairs(args.options.get('primary'), 'primary', '=');
  if (args.options.has('addresses')) opts.addresses = pairs(args.options.get('addresses'), 'addresses', '=');
  if (args.options.has('no-usermode-helper')) opts.usermodeHelper = false;
  if (args.options.has('resync-seconds')) {
    const seconds = Number(args.options.get('resync-seconds'));
    if (!(seconds > 0)) throw usageError('--resync-seconds must be a positive number');
    opts.resyncSeconds = seconds;
  }
  return opts;
}

function expectArgs(args: ParsedArgs, names: string[], allowedOptions: string[] = []): string[] {
  for (const key of args.options.keys())
    if (!allowedOptions.includes(key)) throw usageError(`unknown option --${key}`);
  if (args.positional.length !== names.length)
    throw usageError(`expected ${names.join(' ') || 'no arguments'}`);
  return args.positional;
}

function checkHost(state: SimState, host: string): string {
  if (!state.hosts.includes(host))
    throw usageError(`unknown host '${host}' (hosts: ${state.hosts.join(', ')})`);
  return host;
}

function checkResource(state: SimState, resource: string, allowAll = false): string {
  if (allowAll && resource === 'all') return resource;
  if (!state.resources.some((r) => r.name === resource))
    throw new SimError(`${resource}: No such resource`, 10);
  return resource;
}

function simCommand(dir: string, argv: string[], io: Io): number {
  const [command, ...rest] = argv;
  const args = parseArgs(rest, SIM_VALUE_OPTIONS);
  if (command === 'init') {
    SimulatedPair.init(dir, initOptions(args));
    return 0;
  }
  if (command === undefined) throw usageError('missing sim command');
  const pair = SimulatedPair.open(dir);
  const state = loadState(dir);
  switch (command) {
    case 'link-down':
    case 'link-up': {
      if (args.positional.length > 1 || args.options.size > 0)
        throw usageError(`usage: sim ${command} [RES|all]`);
      const res = checkResource(state, args.positional[0] ?? 'all', true);
      if (command === 'link-down') pair.linkDown(res);
      else pair.linkUp(res);
      return 0;
    }
    case 'crash':
    case 'boot': {
      const [host = ''] = expectArgs(args, ['HOST']);
      checkHost(state, host);
      if (command === 'crash') pair.crash(host);
      else pair.boot(host);
      return 0;
    }
    case 'disk-fail':
    case 'disk-attach': {
      const [host = '', res = ''] = expectArgs(args, ['HOST', 'RES']);
      checkHost(state, host);
      checkResource(state, res);
      if (command === 'disk-fail') pair.diskFail(host, res);
      else pair.diskAttach(host, res);
      return 0;
    }
    case 'resync': {
      const [res = ''] = expectArgs(args, ['RES'], ['seconds', 'source']);
      checkResource(state, res);
      const seconds = Number(args.options.get('seconds'));
      if (!(seconds > 0)) throw usageError('resync needs --seconds N (a positive number)');
      const source = args.options.get('source');
      if (source === true) throw usageError('--source needs a host');
      if (source !== undefined) checkHost(state, source);
      pair.resync(res, source === undefined ? { seconds } : { seconds, source });
      return 0;
    }
    case 'split-brain': {
      const [res = ''] = expectArgs(args, ['RES']);
      pair.splitBrain(checkResource(state, res));
      return 0;
    }
    case 'open':
    case 'close': {
      const [host = '', res = '', holder = ''] = expectArgs(args, ['HOST', 'RES', 'HOLDER']);
      checkHost(state, host);
      checkResource(state, res);
      if (command === 'open') pair.openDevice(host, res, holder);
      else pair.closeDevice(host, res, holder);
      return 0;
    }
    case 'state':
      expectArgs(args, []);
      io.out(`${JSON.stringify(pair.state(), null, 2)}\n`);
      return 0;
    case 'tick':
      expectArgs(args, []);
      pair.tick();
      return 0;
    default:
      throw usageError(`unknown sim command '${command}'`);
  }
}

// ---- drbdsetup verbs --------------------------------------------------------------------

function emit(io: Io, result: CommandResult): number {
  if (result.stdout) io.out(result.stdout);
  if (result.stderr) io.err(result.stderr);
  return result.exitCode;
}

function unrecognized(option: string): SimError {
  return new SimError(`drbdsetup: unrecognized option '--${option}'`, 20);
}

function onlyOptions(args: ParsedArgs, allowed: string[]): void {
  for (const key of args.options.keys()) if (!allowed.includes(key)) throw unrecognized(key);
}

function missingArgument(verb: string, name: string): SimError {
  return new SimError(`drbdsetup ${verb}: Missing argument '${name}'`, 20);
}

function resourceByName(state: SimState, name: string): string {
  if (!state.resources.some((r) => r.name === name))
    throw new SimError(`${name}: Failure: (158) Unknown resource`, 10);
  return name;
}

/** DRBD 9 addresses resources by name; drbdsetup-84 by minor for device-level verbs. */
function resourceByObject(state: SimState, object: string): string {
  if (state.dialect === '9') return resourceByName(state, object);
  const res = state.resources.find((r) => String(r.minor) === object);
  if (!res) throw new SimError(`${object}: Failure: (127) Device minor not allocated`, 10);
  return res.name;
}

function checkPeerNodeId(
  state: SimState,
  host: string,
  resource: string,
  peerNodeId: string | undefined,
): void {
  if (peerNodeId === undefined) throw missingArgument('connect', 'peer_node_id');
  const peerIndex = state.hosts.findIndex((h) => h !== host);
  if (String(peerIndex) !== peerNodeId) throw new SimError(`${resource}: No such connection`, 10);
}

/** drbdsetup-84 names a connection by its address pair; the port identifies the resource. */
function resourceByAddresses(state: SimState, addresses: string[]): string {
  const ports = addresses.map((a) => Number(a.split(':').pop()));
  const res = state.resources.find((r) => ports.includes(r.port));
  if (!res) throw new SimError(`${addresses.join(' ')}: Failure: (162) Invalid configuration request`, 10);
  return res.name;
}

async function drbdsetupVerb(dir: string, verb: string, argv: string[], io: Io): Promise<number> {
  const pair = SimulatedPair.open(dir);
  const state = pair.state();
  const host = actingHost(state);
  const args = parseArgs(argv);
  const is84 = state.dialect === '8.4';
  const [first, second, third] = args.positional;

  if (verb === 'events2') return events2(dir, state, host, args, io);
  if (!state.up[host]) return emit(io, hostDownResult());

  switch (verb) {
    case 'primary': {
      onlyOptions(args, ['force', 'overwrite-data-of-peer']);
      if (first === undefined) throw missingArgument(verb, is84 ? 'minor' : 'resource');
      const res = resourceByObject(state, first);
      const force = args.options.has('force') || args.options.has('overwrite-data-of-peer');
      return emit(io, pair.primary(host, res, { force }));
    }
    case 'secondary': {
      onlyOptions(args, ['force']);
      if (first === undefined) throw missingArgument(verb, is84 ? 'minor' : 'resource');
      return emit(io, pair.secondary(host, resourceByObject(state, first)));
    }
    case 'connect': {
      // Net options (protocol, timeouts …) are accepted and ignored; only discarding matters.
      if (first === undefined) throw missingArgument(verb, 'resource');
      const res = resourceByName(state, first);
      if (is84) {
        if (second === undefined || third === undefined) throw missingArgument(verb, 'local_addr');
      } else {
        checkPeerNodeId(state, host, res, second);
      }
      return emit(io, pair.connect(host, res, { discardMyData: args.options.has('discard-my-data') }));
    }
    case 'disconnect': {
      onlyOptions(args, ['force']);
      if (is84) {
        if (first === undefined || second === undefined) throw missingArgument(verb, 'local_addr');
        return emit(io, pair.disconnect(host, resourceByAddresses(state, [first, second])));
      }
      if (first === undefined) throw missingArgument(verb, 'resource');
      const res = resourceByObject(state, first);
      checkPeerNodeId(state, host, res, second);
      return emit(io, pair.disconnect(host, res));
    }
    case 'status': {
      onlyOptions(
        args,
        is84 ? ['verbose', 'statistics', 'color'] : ['verbose', 'statistics', 'color', 'json'],
      );
      const color = args.options.get('color');
      const useColor =
        color === 'always' || ((color === true || color === 'auto') && process.stdout.isTTY === true);
      return emit(io, pair.status(host, first, { json: args.options.has('json'), color: useColor }));
    }
    case 'role': {
      if (first === undefined) throw missingArgument(verb, is84 ? 'minor' : 'resource');
      const res = is84 ? resourceByObject(state, first) : state.resources.find((r) => r.name === first)?.name;
      if (res === undefined) throw new SimError(`${first}: Unknown resource`, 10);
      io.out(`${statusCmds.role(state, host, res)}\n`);
      return 0;
    }
    case 'cstate': {
      if (first === undefined) throw missingArgument(verb, is84 ? 'minor' : 'resource');
      if (is84) {
        io.out(`${statusCmds.cstate(state, host, resourceByObject(state, first))}\n`);
        return 0;
      }
      const res = state.resources.find((r) => r.name === first)?.name;
      const peerIndex = String(state.hosts.findIndex((h) => h !== host));
      if (res === undefined || second !== peerIndex) throw new SimError(`${first}: No such connection`, 10);
      io.out(`${statusCmds.cstate(state, host, res)}\n`);
      return 0;
    }
    case 'dstate': {
      if (first === undefined) throw missingArgument(verb, 'minor');
      const res = state.resources.find((r) => String(r.minor) === first)?.name;
      if (res === undefined) throw new SimError(`${first}: No such device`, 10);
      io.out(`${statusCmds.dstate(state, host, res)}\n`);
      return 0;
    }
    default:
      throw new SimError(`drbdsetup-sim: unknown or unsupported drbdsetup command '${verb}'`, 20);
  }
}

async function events2(
  dir: string,
  state: SimState,
  host: string,
  args: ParsedArgs,
  io: Io,
): Promise<number> {
  // drbdsetup-84 knows only these three options and rejects the rest like getopt does.
  const allowed =
    state.dialect === '8.4'
      ? ['timestamps', 'statistics', 'now']
      : ['timestamps', 'statistics', 'now', 'full', 'color'];
  onlyOptions(args, allowed);
  const [object] = args.positional;
  if (args.positional.length > 1)
    throw new SimError(`drbdsetup events2: Excess arguments: ${args.positional.slice(1).join(' ')}`, 20);
  const color = args.options.get('color');
  if (color !== undefined && color !== true && !['always', 'never', 'auto'].includes(color)) {
    throw new SimError('drbdsetup events2: unknown --color argument', 20);
  }
  const opts: EventsOptions & { now: boolean } = {
    now: args.options.has('now'),
    timestamps: args.options.has('timestamps'),
    statistics: args.options.has('statistics'),
    full: args.options.has('full'),
    color: color === 'always' || ((color === true || color === 'auto') && process.stdout.isTTY === true),
  };
  if (object !== undefined && object !== 'all') opts.resource = object;
  return streamEvents(dir, host, opts, { write: io.out, error: io.err });
}
