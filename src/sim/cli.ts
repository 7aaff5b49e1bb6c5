// drbdsetup-sim: a stand-in `drbdsetup` (DRBD 9 or 8.4 dialect) for a simulated two-host
// pair, plus `sim …` commands to set the pair up and inject faults. Works as the `-s`
// backend of the real drbdadm, which passes __DRBD_NODE__ through to name the acting host.

import { hostname } from 'node:os';
import type { LinkSelection, SplitBrainOptions } from './actions.js';
import { hostDownResult } from './actions.js';
import * as statusCmds from './drbdsetup-status.js';
import { type EventsOptions, SimulatedPair } from './pair.js';
import { type InitOptions, loadState, type ResourceOptions } from './state.js';
import { streamEvents } from './stream.js';
import {
  CONNECTION_CAUSES,
  type CommandResult,
  type ConnectionCause,
  type Dialect,
  FENCING_POLICIES,
  SimError,
  type SimState,
} from './types.js';

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

const SIM_USAGE = `usage: drbdsetup-sim sim <command>   (every command and the DRBD source it follows: docs/simulator.md)
  init --hosts A,B[,C] --resources r0:0,r1:1 [--dialect 9|8.4] [--primary r0=A,r1=B]
       [--clients C] [--no-usermode-helper] [--drbd-utils VERSION] [--addresses A=10.0.0.1,B=10.0.0.2]
       [--resync-seconds N] [--fencing dont-care|resource-only|resource-and-stonith] [--fence-exit N]
       [--after-sb-0pri P] [--after-sb-1pri P] [--after-sb-2pri P] [--quorum off|majority]
       [--on-no-quorum suspend-io|io-error] [--on-io-error detach|call-local-io-error]
       [--on-no-data-accessible io-error|suspend-io]
  link-down [RES|all] [--cause NetworkFailure|BrokenPipe|Timeout|ProtocolError]
            [--between A,B | --host H] [--fence-exit N]
  link-up [RES|all] [--between A,B | --host H]
  crash HOST [--cause C] [--fence-exit N]        boot HOST
  disk-fail HOST RES [--local-io-error]          detach HOST RES
  disk-attach HOST RES
  resync RES --seconds N [--source HOST] [--target HOST]
  full-sync RES (--source HOST | --target HOST) [--seconds N]
  split-brain RES [--after-sb-0pri P] [--after-sb-1pri P] [--after-sb-2pri P]
              [--primaries A,B|none] [--changes A=KiB,B=KiB] [--victim HOST] [--victim-holders P1,P2]
  pri-lost-after-sb RES [--victim HOST]
  fence-peer RES --exit N [--stonith] [--crash]
  suspend-io HOST RES                            resume-io HOST RES
  no-data HOST RES
  quorum-lost HOST RES [--on-no-quorum suspend-io|io-error]
  verify RES [--source HOST] [--target HOST] [--seconds N] [--out-of-sync KiB]
  congestion RES [--source HOST]                 congestion-end RES [--seconds N]
  pause-sync RES [--host HOST] [--reason user|dependency]
  resume-sync RES [--host HOST] [--reason user|dependency]
  new-resource RES:MINOR [--primary HOST] [--seconds N]
  helper HOST RES NAME [--exit N] [--peer HOST]
  skip HOST N
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
  'target',
  'clients',
  'drbd-utils',
  'fencing',
  'fence-exit',
  'after-sb-0pri',
  'after-sb-1pri',
  'after-sb-2pri',
  'quorum',
  'on-no-quorum',
  'on-io-error',
  'on-no-data-accessible',
  'cause',
  'between',
  'host',
  'primaries',
  'changes',
  'victim',
  'victim-holders',
  'exit',
  'out-of-sync',
  'reason',
  'peer',
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

const RESOURCE_OPTIONS = [
  'fencing',
  'fence-exit',
  'after-sb-0pri',
  'after-sb-1pri',
  'after-sb-2pri',
  'quorum',
  'on-no-quorum',
  'on-io-error',
  'on-no-data-accessible',
];

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.options.get(name);
  if (value === undefined) return undefined;
  if (value === true || value.length === 0) throw usageError(`--${name} needs a value`);
  return value;
}

function integer(args: ParsedArgs, name: string, min = 0): number | undefined {
  const value = text(args, name);
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min) throw usageError(`--${name} needs an integer >= ${min}`);
  return Number(value);
}

function positive(args: ParsedArgs, name: string): number | undefined {
  const value = text(args, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0)) throw usageError(`--${name} needs a positive number`);
  return n;
}

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[]): T | undefined {
  const value = text(args, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw usageError(`--${name} must be one of ${allowed.join(', ')}`);
  return value as T;
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
    'clients',
    'drbd-utils',
    ...RESOURCE_OPTIONS,
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
  if (args.options.has('clients')) opts.clients = list(args.options.get('clients'), 'clients');
  if (args.options.has('no-usermode-helper')) opts.usermodeHelper = false;
  const utils = text(args, 'drbd-utils');
  if (utils !== undefined) opts.utilsVersion = utils;
  const seconds = positive(args, 'resync-seconds');
  if (seconds !== undefined) opts.resyncSeconds = seconds;
  Object.assign(opts, resourceOptions(args));
  return opts;
}

function resourceOptions(args: ParsedArgs): ResourceOptions {
  const opts: ResourceOptions = {};
  const fencing = oneOf(args, 'fencing', FENCING_POLICIES);
  if (fencing !== undefined) opts.fencing = fencing;
  const fenceExit = integer(args, 'fence-exit');
  if (fenceExit !== undefined) opts.fenceExit = fenceExit;
  const sb0 = text(args, 'after-sb-0pri');
  if (sb0 !== undefined) opts.afterSb0pri = sb0;
  const sb1 = text(args, 'after-sb-1pri');
  if (sb1 !== undefined) opts.afterSb1pri = sb1;
  const sb2 = text(args, 'after-sb-2pri');
  if (sb2 !== undefined) opts.afterSb2pri = sb2;
  const quorum = oneOf(args, 'quorum', ['off', 'majority'] as const);
  if (quorum !== undefined) opts.quorum = quorum;
  const onNoQuorum = oneOf(args, 'on-no-quorum', ['suspend-io', 'io-error'] as const);
  if (onNoQuorum !== undefined) opts.onNoQuorum = onNoQuorum;
  const onIoError = oneOf(args, 'on-io-error', ['detach', 'call-local-io-error'] as const);
  if (onIoError !== undefined) opts.onIoError = onIoError;
  const noData = oneOf(args, 'on-no-data-accessible', ['io-error', 'suspend-io'] as const);
  if (noData !== undefined) opts.onNoDataAccessible = noData;
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

function hostOption(state: SimState, args: ParsedArgs, name: string): string | undefined {
  const host = text(args, name);
  return host === undefined ? undefined : checkHost(state, host);
}

function linkSelection(state: SimState, args: ParsedArgs): LinkSelection {
  const between = text(args, 'between');
  const host = hostOption(state, args, 'host');
  if (between !== undefined && host !== undefined)
    throw usageError('--between and --host exclude each other');
  if (between !== undefined) {
    const hosts = between.split(',');
    if (hosts.length !== 2) throw usageError('--between needs two hosts: A,B');
    const [a = '', b = ''] = hosts;
    return { between: [checkHost(state, a), checkHost(state, b)] };
  }
  return host === undefined ? {} : { host };
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
  const cause = () => oneOf(args, 'cause', CONNECTION_CAUSES);
  switch (command) {
    case 'link-down':
    case 'link-up': {
      const allowed =
        command === 'link-down' ? ['cause', 'between', 'host', 'fence-exit'] : ['between', 'host'];
      for (const key of args.options.keys())
        if (!allowed.includes(key)) throw usageError(`unknown option --${key} for ${command}`);
      if (args.positional.length > 1) throw usageError(`usage: sim ${command} [RES|all]`);
      const res = checkResource(state, args.positional[0] ?? 'all', true);
      const selection = linkSelection(state, args);
      if (command === 'link-down')
        pair.linkDown(res, { ...selection, cause: cause(), fenceExit: integer(args, 'fence-exit') });
      else pair.linkUp(res, selection);
      return 0;
    }
    case 'crash': {
      const [host = ''] = expectArgs(args, ['HOST'], ['cause', 'fence-exit']);
      checkHost(state, host);
      const opts: { cause?: ConnectionCause; fenceExit?: number } = {};
      const c = cause();
      if (c !== undefined) opts.cause = c;
      const exit = integer(args, 'fence-exit');
      if (exit !== undefined) opts.fenceExit = exit;
      pair.crash(host, opts);
      return 0;
    }
    case 'boot': {
      const [host = ''] = expectArgs(args, ['HOST']);
      pair.boot(checkHost(state, host));
      return 0;
    }
    case 'disk-fail':
    case 'detach':
    case 'disk-attach':
    case 'suspend-io':
    case 'resume-io':
    case 'no-data':
    case 'quorum-lost': {
      const allowed =
        command === 'disk-fail' ? ['local-io-error'] : command === 'quorum-lost' ? ['on-no-quorum'] : [];
      const [host = '', res = ''] = expectArgs(args, ['HOST', 'RES'], allowed);
      checkHost(state, host);
      checkResource(state, res);
      if (command === 'disk-fail') pair.diskFail(host, res, { helper: args.options.has('local-io-error') });
      else if (command === 'detach') pair.detach(host, res);
      else if (command === 'disk-attach') pair.diskAttach(host, res);
      else if (command === 'suspend-io') checkResult(pair.suspendIo(host, res));
      else if (command === 'resume-io') checkResult(pair.resumeIo(host, res));
      else if (command === 'no-data') pair.noData(host, res);
      else {
        const policy = oneOf(args, 'on-no-quorum', ['suspend-io', 'io-error'] as const);
        pair.quorumLost(host, res, policy === undefined ? {} : { onNoQuorum: policy });
      }
      return 0;
    }
    case 'resync': {
      const [res = ''] = expectArgs(args, ['RES'], ['seconds', 'source', 'target']);
      checkResource(state, res);
      const seconds = positive(args, 'seconds');
      if (seconds === undefined) throw usageError('resync needs --seconds N (a positive number)');
      const opts: { seconds: number; source?: string; target?: string } = { seconds };
      const source = hostOption(state, args, 'source');
      if (source !== undefined) opts.source = source;
      const target = hostOption(state, args, 'target');
      if (target !== undefined) opts.target = target;
      pair.resync(res, opts);
      return 0;
    }
    case 'full-sync': {
      const [res = ''] = expectArgs(args, ['RES'], ['seconds', 'source', 'target']);
      checkResource(state, res);
      const source = hostOption(state, args, 'source');
      const target = hostOption(state, args, 'target');
      if ((source === undefined) === (target === undefined))
        throw usageError('full-sync needs --source HOST (invalidate-remote) or --target HOST (invalidate)');
      const opts: { source?: string; target?: string; seconds?: number } = {};
      if (source !== undefined) opts.source = source;
      if (target !== undefined) opts.target = target;
      const seconds = positive(args, 'seconds');
      if (seconds !== undefined) opts.seconds = seconds;
      pair.fullSync(res, opts);
      return 0;
    }
    case 'split-brain': {
      const [res = ''] = expectArgs(
        args,
        ['RES'],
        [
          'after-sb-0pri',
          'after-sb-1pri',
          'after-sb-2pri',
          'primaries',
          'changes',
          'victim',
          'victim-holders',
        ],
      );
      checkResource(state, res);
      const opts: SplitBrainOptions = {};
      const sb0 = text(args, 'after-sb-0pri');
      if (sb0 !== undefined) opts.afterSb0pri = sb0;
      const sb1 = text(args, 'after-sb-1pri');
      if (sb1 !== undefined) opts.afterSb1pri = sb1;
      const sb2 = text(args, 'after-sb-2pri');
      if (sb2 !== undefined) opts.afterSb2pri = sb2;
      const primaries = text(args, 'primaries');
      if (primaries !== undefined)
        opts.primaries = primaries === 'none' ? [] : primaries.split(',').map((h) => checkHost(state, h));
      if (args.options.has('changes')) {
        opts.changes = Object.fromEntries(
          Object.entries(pairs(args.options.get('changes'), 'changes', '=')).map(([h, kib]) => {
            if (!/^\d+$/.test(kib)) throw usageError(`bad --changes KiB '${kib}'`);
            return [checkHost(state, h), Number(kib)];
          }),
        );
      }
      const victim = hostOption(state, args, 'victim');
      if (victim !== undefined) opts.victim = victim;
      if (args.options.has('victim-holders'))
        opts.victimHolders = list(args.options.get('victim-holders'), 'victim-holders');
      pair.splitBrain(res, opts);
      return 0;
    }
    case 'pri-lost-after-sb': {
      const [res = ''] = expectArgs(args, ['RES'], ['victim']);
      checkResource(state, res);
      const victim =
        hostOption(state, args, 'victim') ??
        state.hosts.find((h) => !state.clients.includes(h) && state.replicas[h]?.[res]?.role !== 'Primary');
      if (victim === undefined) throw usageError('pri-lost-after-sb needs a Secondary to become the victim');
      pair.splitBrain(res, {
        afterSb0pri: 'discard-younger-primary',
        afterSb2pri: 'call-pri-lost-after-sb',
        victim,
        victimHolders: ['mount'],
      });
      return 0;
    }
    case 'fence-peer': {
      const [res = ''] = expectArgs(args, ['RES'], ['exit', 'stonith', 'crash']);
      checkResource(state, res);
      const exit = integer(args, 'exit');
      if (exit === undefined || exit > 255) throw usageError('fence-peer needs --exit N (0..255)');
      pair.fencePeer(res, { exit, stonith: args.options.has('stonith'), crash: args.options.has('crash') });
      return 0;
    }
    case 'verify': {
      const [res = ''] = expectArgs(args, ['RES'], ['source', 'target', 'seconds', 'out-of-sync']);
      checkResource(state, res);
      const opts: { source?: string; target?: string; seconds?: number; outOfSyncKiB?: number } = {};
      const source = hostOption(state, args, 'source');
      if (source !== undefined) opts.source = source;
      const target = hostOption(state, args, 'target');
      if (target !== undefined) opts.target = target;
      const seconds = positive(args, 'seconds');
      if (seconds !== undefined) opts.seconds = seconds;
      const oos = integer(args, 'out-of-sync');
      if (oos !== undefined) opts.outOfSyncKiB = oos;
      pair.verify(res, opts);
      return 0;
    }
    case 'congestion':
    case 'congestion-end': {
      const [res = ''] = expectArgs(args, ['RES'], command === 'congestion' ? ['source'] : ['seconds']);
      checkResource(state, res);
      if (command === 'congestion') {
        const source = hostOption(state, args, 'source');
        pair.congestion(res, source === undefined ? {} : { source });
      } else {
        const seconds = positive(args, 'seconds');
        pair.congestionEnd(res, seconds === undefined ? {} : { seconds });
      }
      return 0;
    }
    case 'pause-sync':
    case 'resume-sync': {
      const [res = ''] = expectArgs(args, ['RES'], ['host', 'reason']);
      checkResource(state, res);
      const opts: { host?: string; reason?: 'user' | 'dependency' } = {};
      const host = hostOption(state, args, 'host');
      if (host !== undefined) opts.host = host;
      const reason = oneOf(args, 'reason', ['user', 'dependency'] as const);
      if (reason !== undefined) opts.reason = reason;
      if (command === 'pause-sync') pair.pauseSync(res, opts);
      else pair.resumeSync(res, opts);
      return 0;
    }
    case 'new-resource': {
      const [spec = ''] = expectArgs(args, ['RES:MINOR'], ['primary', 'seconds']);
      const match = /^([A-Za-z0-9_.-]+):(\d+)$/.exec(spec);
      if (!match) throw usageError(`new-resource needs RES:MINOR, not '${spec}'`);
      const opts: { primary?: string; seconds?: number } = {};
      const primaryHost = hostOption(state, args, 'primary');
      if (primaryHost !== undefined) opts.primary = primaryHost;
      const seconds = positive(args, 'seconds');
      if (seconds !== undefined) opts.seconds = seconds;
      pair.newResource(match[1] ?? '', Number(match[2]), opts);
      return 0;
    }
    case 'helper': {
      const [host = '', res = '', name = ''] = expectArgs(args, ['HOST', 'RES', 'NAME'], ['exit', 'peer']);
      checkHost(state, host);
      checkResource(state, res);
      const opts: { exitCode?: number; peer?: string } = {};
      const exit = integer(args, 'exit');
      if (exit !== undefined) opts.exitCode = exit;
      const peer = hostOption(state, args, 'peer');
      if (peer !== undefined) opts.peer = peer;
      pair.helper(host, res, name, opts);
      return 0;
    }
    case 'skip': {
      const [host = '', n = ''] = expectArgs(args, ['HOST', 'N']);
      checkHost(state, host);
      if (!/^-?\d+$/.test(n)) throw usageError(`skip needs an integer N, not '${n}'`);
      pair.skip(host, Number(n));
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

/** A drbdsetup verb run as a sim command: its refusal becomes the command's error. */
function checkResult(result: CommandResult): void {
  if (result.exitCode !== 0) throw new SimError(result.stderr.trim(), result.exitCode);
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

/** DRBD 9 names a connection by the peer's node id; returns that peer. */
function peerByNodeId(
  state: SimState,
  host: string,
  resource: string,
  peerNodeId: string | undefined,
  verb: string,
): string {
  if (peerNodeId === undefined) throw missingArgument(verb, 'peer_node_id');
  const peer = state.hosts.find((h, i) => h !== host && String(i) === peerNodeId);
  if (peer === undefined) throw new SimError(`${resource}: No such connection`, 10);
  return peer;
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
      const discardMyData = args.options.has('discard-my-data');
      if (is84) {
        if (second === undefined || third === undefined) throw missingArgument(verb, 'local_addr');
        return emit(io, pair.connect(host, res, { discardMyData }));
      }
      const peer = peerByNodeId(state, host, res, second, verb);
      return emit(io, pair.connect(host, res, { discardMyData, peer }));
    }
    case 'disconnect': {
      onlyOptions(args, ['force']);
      if (is84) {
        if (first === undefined || second === undefined) throw missingArgument(verb, 'local_addr');
        return emit(io, pair.disconnect(host, resourceByAddresses(state, [first, second])));
      }
      if (first === undefined) throw missingArgument(verb, 'resource');
      const res = resourceByObject(state, first);
      const peer = peerByNodeId(state, host, res, second, verb);
      return emit(io, pair.disconnect(host, res, { peer }));
    }
    case 'status': {
      onlyOptions(
        args,
        is84 ? ['verbose', 'statistics', 'color'] : ['verbose', 'statistics', 'color', 'json'],
      );
      const color = args.options.get('color');
      const useColor =
        color === 'always' || ((color === true || color === 'auto') && process.stdout.isTTY === true);
      return emit(
        io,
        pair.status(host, first, {
          json: args.options.has('json'),
          color: useColor,
          statistics: args.options.has('statistics'),
        }),
      );
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
      if (res === undefined) throw new SimError(`${first}: No such connection`, 10);
      const peer = peerByNodeId(state, host, res, second, verb);
      io.out(`${statusCmds.cstate(state, host, res, peer)}\n`);
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
