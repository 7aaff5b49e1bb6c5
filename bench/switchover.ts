// A planned switchover on real parts (bench/lxd-rig.ts: btrfs on a loop device, the real drbdadm on
// the DRBD simulator, a real LXD daemon with busybox containers on routed addresses), with 1, 5 and
// 10 running containers, done two ways in the same run:
//
// - the bot: the real `failover` command through Operations in-process, as the leader runs it (a
//   request, the requester's confirm, the on-call approver's approve, the re-plan, every step with
//   its audit record and plan-message edit), with step runners for alpha and beta that use runAction
//   with a real CommandHost and a real LxcCli. Both step runners are in this process: the peer
//   link's HTTP hop to the other host is not in the figures, nor is Slack (the plan's messages go
//   to a platform that only hands out ids).
// - the baseline: a plain bash script with the recipe's steps one after the other (`lxc stop
//   --all`, stop LXD, umount, `drbdadm secondary`; `drbdadm primary`, mount, start LXD, `lxc start`
//   each container), with the same commands for LXD, mount and drbdadm as the bot's configuration.
//
// The two alternate, each starting from where the previous one left r0 (alpha → beta, then back),
// and which goes first swaps every round. Figures per run: total (bot: confirm → finished; script:
// spawn → exit), service downtime (first container stop begins → last container start ends: the
// plan's downtime from the step records, the script's from `date +%s%N` stamps it prints), and for
// the bot the time spent inside external commands (from the audit records) and the rest, its own
// overhead. The container steps run their commands side by side, so "inside commands" counts each
// such step's longest container, not the plain sum of durations (reported too). One round of each
// goes first, unmeasured: a daemon's code paths are warm, and a container's first start does more.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { COMMANDS } from '../commands/index.js';
import { AuditLog, readAudit } from '../src/adapters/audit-log.js';
import { CommandHost } from '../src/adapters/command-host.js';
import { LxcCli } from '../src/adapters/lxd.js';
import { OperationStore } from '../src/adapters/operation-store.js';
import { SIMULATOR_BIN } from '../src/adapters/package-paths.js';
import { type CommandContext, commandHandler } from '../src/app/command-registry.js';
import { localContainers, mergeContainerViews } from '../src/app/container-views.js';
import { createLogger } from '../src/app/log.js';
import { Operations } from '../src/app/operations.js';
import { runAction } from '../src/app/steps.js';
import type { Message } from '../src/core/message-tones.js';
import type { StepRecord } from '../src/core/operation.js';
import type { Member } from '../src/core/policy.js';
import { HostWatcher } from '../src/core/watcher.js';
import type { ChatPlatform } from '../src/ports/chat.js';
import { SimulatedPair } from '../src/sim/pair.js';
import { LxdRig, RESOURCE, rigMissing } from './lxd-rig.js';
import type { BenchRow } from './report.js';
import { formatRatio, formatSeconds, median } from './stats.js';

type Host = 'alpha' | 'beta';
const HOSTS: readonly Host[] = ['alpha', 'beta'];
const other = (host: Host): Host => (host === 'alpha' ? 'beta' : 'alpha');

/** The bot's clean-stop timeout (config lxd.stopTimeoutS, its default); a busybox stop takes ~3 s. */
const STOP_TIMEOUT_S = 30;

const TEAM: Member[] = [
  { name: 'alice', slack: 'UALICE' },
  { name: 'bob', slack: 'UBOB' },
];

export interface SwitchoverOptions {
  /** Running containers per size (default 1, 5, 10). */
  readonly sizes?: readonly number[];
  /** Switchovers per size for each of bot and script. */
  readonly runs: number;
}

export interface BotRun {
  readonly from: Host;
  readonly to: Host;
  /** confirm → the operation finished. */
  readonly totalMs: number;
  /** The plan's downtime: 'stop-containers' start → 'start-containers' end. */
  readonly downtimeMs: number;
  /**
   * Wall time inside the audited external commands: per step the sum of its commands, except the
   * parallel container steps, where each container's commands run side by side (the longest).
   */
  readonly commandsMs: number;
  /** Plain Σ durationMs of every audited command (counts parallel ones each). */
  readonly commandsSumMs: number;
  /** confirm → first step starts: confirm and approve stored and audited, the re-plan (lxc list). */
  readonly beforeStepsMs: number;
  /** Between steps: each step's audit record, the operation stored (fsync) and its message rendered. */
  readonly betweenStepsMs: number;
  /** The verify step (`lxc list` per container, not audited). */
  readonly verifyMs: number;
  /**
   * Inside the other steps but outside their commands' wall time: mostly the parallel container
   * steps (one Node process starting N `lxc` processes and collecting them).
   */
  readonly inStepsMs: number;
  /** Last step done → finished (the outcome audited, stored and rendered). */
  readonly afterStepsMs: number;
  /** Each step's duration by its id (stop-containers, stop-lxd, holders, umount, demote, …). */
  readonly stepsMs: Readonly<Record<string, number>>;
}

export interface ScriptRun {
  readonly from: Host;
  readonly to: Host;
  readonly totalMs: number;
  readonly downtimeMs: number;
  /** Each step's duration, named as the bot's steps are (from time stamps the script prints). */
  readonly stepsMs: Readonly<Record<string, number>>;
}

export interface SizeResult {
  readonly containers: number;
  readonly bot: readonly BotRun[];
  readonly script: readonly ScriptRun[];
}

export interface SwitchoverResult {
  readonly runs: number;
  readonly sizes: readonly SizeResult[];
  readonly setupMs: number;
}

/** Why the switchover benchmark cannot run here, or undefined. */
export function switchoverMissing(): string | undefined {
  return rigMissing();
}

const now = () => performance.timeOrigin + performance.now();

/** A chat platform that only hands out message ids: what Slack costs is not measured here. */
class DiscardingPlatform implements ChatPlatform {
  readonly name = 'slack' as const;
  #next = 0;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async post(_channel: string, _message: Message) {
    return { messageId: `${++this.#next}` };
  }
  async update(): Promise<void> {}
  async findPosted() {
    return undefined;
  }
}

/** The bot of the pair, in-process: Operations with alpha as the leader, steps run on both hosts. */
class Bot {
  readonly #operations: Operations;
  readonly #store: OperationStore;
  readonly #audit: AuditLog;
  readonly #say: (text: string, userId: string) => Promise<Message>;

  constructor(
    rig: LxdRig,
    readonly auditPath: string,
    storePath: string,
  ) {
    const pair = SimulatedPair.open(rig.simDir);
    // Each host's DRBD view as its watcher would hold it, read from the simulator when asked.
    const stateOf = (host: string) => {
      pair.tick();
      const watcher = new HostWatcher(host);
      for (const line of pair.eventsNow(host)) watcher.feed(line, Date.now());
      return watcher.watch.state;
    };
    const ctl = (action: 'start' | 'stop') => [rig.lxdCtl, action, rig.lxdDir, rig.runDir];
    const hostOps = (host: Host) =>
      new CommandHost({
        drbdadm: rig.drbdadm,
        drbdadmArgs: ['-s', SIMULATOR_BIN, '-c', rig.resFile],
        env: { __DRBD_NODE__: host, DRBD_SIM_HOST: host, DRBD_SIM_DIR: rig.simDir },
        timeoutMs: 90_000,
        resources: {
          [RESOURCE]: {
            mountPoint: rig.mountPoint,
            device: rig.loopDevice,
            lxdUnit: `lxd-${RESOURCE}`,
            commands: {
              mount: ['mount', rig.loopDevice, rig.mountPoint],
              umount: ['umount', rig.mountPoint],
              lxdStart: ctl('start'),
              lxdStop: ctl('stop'),
            },
          },
        },
      });
    const host = { alpha: hostOps('alpha'), beta: hostOps('beta') };
    const lxc = {
      alpha: new LxcCli({ host: 'alpha', resources: { [RESOURCE]: { lxdDir: rig.lxdDir } } }),
      beta: new LxcCli({ host: 'beta', resources: { [RESOURCE]: { lxdDir: rig.lxdDir } } }),
    };
    const isHost = (h: string): h is Host => h === 'alpha' || h === 'beta';
    const resources = {
      [RESOURCE]: {
        lxdDir: rig.lxdDir,
        subnets: ['198.51.100.0/24'],
        mountPoint: rig.mountPoint,
        device: rig.loopDevice,
        lxdUnit: `lxd-${RESOURCE}`,
      },
    };
    const lxdSettings = { stopTimeoutS: STOP_TIMEOUT_S, verifyTimeoutMs: 30_000 };
    const platform = new DiscardingPlatform();
    const bob = TEAM[1] as Member;
    this.#store = new OperationStore(storePath);
    this.#audit = new AuditLog(auditPath);
    const context: CommandContext = {
      host: 'alpha',
      peerName: 'beta',
      hosts: async () => HOSTS.map(stateOf),
      incidents: () => ({}),
      commands: COMMANDS,
      now: Date.now,
      resources,
      containers: async () =>
        mergeContainerViews(
          await localContainers(lxc.alpha, stateOf('alpha'), [RESOURCE], 'alpha'),
          await localContainers(lxc.beta, stateOf('beta'), [RESOURCE], 'beta'),
          'beta',
        ),
      preflight: async (h, resource) =>
        isHost(h) ? host[h].preflight(resource) : { unreachable: `no host ${h}` },
      team: TEAM,
      onCall: () => ({ now: [bob], next: [], handoverAt: null }),
      lxd: lxdSettings,
    };
    const logger = createLogger({ level: 'silent', format: 'json' });
    this.#operations = new Operations({
      host: 'alpha',
      store: this.#store,
      audit: this.#audit,
      commands: COMMANDS,
      // The command's own policy: the requester confirms, an on-call person approves.
      policies: {},
      chat: () => platform,
      runStep: (action, h) => {
        if (!isHost(h)) throw new Error(`no host ${h}`);
        return runAction(action, { containers: lxc[h], host: host[h], state: () => stateOf(h) });
      },
      token: () => 1,
      roster: () => ({ team: TEAM, onCallNow: [bob] }),
      context: () => full,
      planContext: { host: 'alpha', resources, lxd: lxdSettings },
      logger,
      now,
    });
    const full: CommandContext = { ...context, operations: this.#operations };
    const handler = commandHandler(full, logger);
    this.#say = async (text, userId) =>
      (
        await handler(
          {
            platform: 'slack',
            text,
            userId,
            userName: userId.toLowerCase(),
            roles: [],
            channelId: 'CBENCH',
            source: 'slash-command',
          },
          { update: async () => {} },
        )
      ).message;
  }

  open(): Promise<void> {
    return this.#operations.open();
  }

  async close(): Promise<void> {
    await this.#operations.idle();
    await this.#store.close();
    await this.#audit.close();
  }

  async switchover(from: Host, to: Host): Promise<BotRun> {
    const asked = await this.#say(`failover ${RESOURCE} to ${to}`, 'UALICE');
    const id = /^Plan ([0-9a-f]{8}) posted/.exec(asked.title)?.[1];
    if (id === undefined) throw new Error(`failover ${RESOURCE} to ${to} posted no plan: ${asked.title}`);
    const t0 = now();
    const confirmed = await this.#say(`confirm ${id}`, 'UALICE');
    if (!/needs one approval/.test(confirmed.title)) throw new Error(`confirm ${id}: ${confirmed.title}`);
    const approved = await this.#say(`approve ${id}`, 'UBOB');
    if (!/^Approved by /.test(approved.title)) throw new Error(`approve ${id}: ${approved.title}`);
    await this.#operations.idle();
    const t1 = now();
    const op = this.#operations.list().find((o) => o.id === id);
    if (op?.state !== 'succeeded') {
      throw new Error(
        `failover ${from} → ${to} (${id}) ended ${op?.state ?? 'unknown'}: ${op?.reason ?? ''}`,
      );
    }
    const steps = op.steps;
    const byId = (sid: string): StepRecord => {
      const s = steps.find((r) => r.id === sid);
      if (s === undefined) throw new Error(`failover ${id}: no step ${sid}`);
      return s;
    };
    const end = (s: StepRecord) => s.startedAt + (s.durationMs ?? 0);
    const stop = byId('stop-containers');
    const start = byId('start-containers');
    let betweenStepsMs = 0;
    for (const [i, s] of steps.entries()) {
      const previous = steps[i - 1];
      if (previous !== undefined) betweenStepsMs += s.startedAt - end(previous);
    }
    // The commands as the audit log has them.
    let commandsMs = 0;
    let commandsSumMs = 0;
    const wallOf = new Map<string, number>();
    for (const record of readAudit(this.auditPath, { operation: id, event: 'step' }).records) {
      const step = record.step;
      if (step === undefined) continue;
      const perContainer = new Map<string, number>();
      for (const r of step.runs) {
        commandsSumMs += r.durationMs;
        const parallel = step.id === 'stop-containers' || step.id === 'start-containers';
        const key = parallel && 'argv' in r ? (r.argv[2] ?? '') : '';
        perContainer.set(key, (perContainer.get(key) ?? 0) + r.durationMs);
      }
      const wall = Math.max(0, ...perContainer.values());
      wallOf.set(step.id, wall);
      commandsMs += wall;
    }
    const last = steps.at(-1);
    return {
      from,
      to,
      totalMs: t1 - t0,
      downtimeMs: end(start) - stop.startedAt,
      commandsMs,
      commandsSumMs,
      beforeStepsMs: (steps[0]?.startedAt ?? t1) - t0,
      betweenStepsMs,
      verifyMs: steps.find((s) => s.id === 'verify')?.durationMs ?? 0,
      inStepsMs: steps
        .filter((s) => s.id !== 'verify')
        .reduce((sum, s) => sum + (s.durationMs ?? 0) - (wallOf.get(s.id) ?? 0), 0),
      afterStepsMs: last === undefined ? 0 : t1 - end(last),
      stepsMs: Object.fromEntries(steps.map((s) => [s.id, s.durationMs ?? 0])),
    };
  }
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The recipe as a plain script: `switchover.sh FROM TO CONTAINER…`; prints its two time stamps. */
function writeScript(rig: LxdRig, path: string): void {
  const drbdadm = `${quote(rig.drbdadm)} -s ${quote(SIMULATOR_BIN)} -c ${quote(rig.resFile)}`;
  writeFileSync(
    path,
    `#!/bin/bash
# The recipe's planned switchover, one step after the other. FROM and TO name the hosts for drbdadm.
# The two \`date\` stamps bound the downtime; the "step" lines (bash's own clock, no process) only
# split it into steps for the benchmark's prose.
set -euo pipefail
from=$1 to=$2
shift 2
export LXD_DIR=${quote(rig.lxdDir)} DRBD_SIM_DIR=${quote(rig.simDir)}
echo "stop-begin $(date +%s%N)"
lxc stop --all
echo "step stop-containers $EPOCHREALTIME"
${quote(rig.lxdCtl)} stop "$LXD_DIR" ${quote(rig.runDir)}
echo "step stop-lxd $EPOCHREALTIME"
umount ${quote(rig.mountPoint)}
echo "step umount $EPOCHREALTIME"
__DRBD_NODE__=$from DRBD_SIM_HOST=$from ${drbdadm} secondary ${RESOURCE}
echo "step demote $EPOCHREALTIME"
__DRBD_NODE__=$to DRBD_SIM_HOST=$to ${drbdadm} primary ${RESOURCE}
echo "step promote $EPOCHREALTIME"
mount ${quote(rig.loopDevice)} ${quote(rig.mountPoint)}
echo "step mount $EPOCHREALTIME"
${quote(rig.lxdCtl)} start "$LXD_DIR" ${quote(rig.runDir)}
echo "step start-lxd $EPOCHREALTIME"
for c in "$@"; do lxc start "$c"; done
echo "start-end $(date +%s%N)"
`,
    { mode: 0o755 },
  );
}

async function runScript(path: string, from: Host, to: Host, names: readonly string[]): Promise<ScriptRun> {
  const t0 = performance.now();
  const result = await execa('bash', [path, from, to, ...names], {
    reject: false,
    timeout: 180_000,
    stdin: 'ignore',
  });
  const totalMs = performance.now() - t0;
  if (result.failed) {
    throw new Error(`the baseline script (${from} → ${to}) failed: ${result.stderr || result.message}`);
  }
  const stamp = (label: string) => {
    const m = new RegExp(`^${label} (\\d+)$`, 'm').exec(result.stdout);
    if (m?.[1] === undefined) throw new Error(`the baseline script printed no ${label}: ${result.stdout}`);
    return BigInt(m[1]);
  };
  const begin = stamp('stop-begin');
  const finish = stamp('start-end');
  // Milliseconds since stop-begin: the `date` stamps in ns, the step lines in µs.
  const since = (ns: bigint) => Number(ns - begin) / 1e6;
  const marks: [string, number][] = [];
  for (const m of result.stdout.matchAll(/^step (\S+) (\d+)\.(\d{6})$/gm)) {
    marks.push([m[1] ?? '', since(BigInt(`${m[2]}${m[3]}`) * 1000n)]);
  }
  marks.push(['start-containers', since(finish)]);
  const stepsMs = Object.fromEntries(marks.map(([id, at], i) => [id, at - (marks[i - 1]?.[1] ?? 0)]));
  return { from, to, totalMs, downtimeMs: since(finish), stepsMs };
}

export async function benchSwitchover(options: SwitchoverOptions): Promise<SwitchoverResult> {
  const sizes = options.sizes ?? [1, 5, 10];
  const t0 = performance.now();
  const rig = await LxdRig.start({ containers: Math.max(...sizes) });
  // Ctrl-C or a kill: take everything down before going. `on`, not `once`: execa's exit hook
  // raises the signal again, and with no listener left that would end the process mid-cleanup.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`switchover: ${signal}: taking the rig down (${rig.work})`);
    void rig.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let bot: Bot | undefined;
  try {
    bot = new Bot(rig, join(rig.work, 'audit.ndjson'), join(rig.work, 'operations.ndjson'));
    await bot.open();
    const script = join(rig.work, 'switchover.sh');
    writeScript(rig, script);
    let primary: Host = 'alpha';
    const switchover = async (kind: 'bot' | 'script', names: readonly string[]) => {
      const from = primary;
      const to = other(from);
      const r =
        kind === 'bot' ? await (bot as Bot).switchover(from, to) : await runScript(script, from, to, names);
      primary = to;
      return r;
    };
    // The unmeasured warm-up round.
    let names = (await rig.runFirst(sizes[0] ?? 1)).map((c) => c.name);
    await switchover('bot', names);
    await switchover('script', names);
    const setupMs = performance.now() - t0;
    const results: SizeResult[] = [];
    for (const size of sizes) {
      names = (await rig.runFirst(size)).map((c) => c.name);
      const botRuns: BotRun[] = [];
      const scriptRuns: ScriptRun[] = [];
      for (let round = 0; round < options.runs; round++) {
        const order = round % 2 === 0 ? (['bot', 'script'] as const) : (['script', 'bot'] as const);
        for (const kind of order) {
          const r = await switchover(kind, names);
          if (kind === 'bot') botRuns.push(r as BotRun);
          else scriptRuns.push(r);
        }
      }
      results.push({ containers: size, bot: botRuns, script: scriptRuns });
    }
    return { runs: options.runs, sizes: results, setupMs };
  } finally {
    await bot?.close();
    await rig.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface Medians {
  readonly botTotal: number;
  readonly botDowntime: number;
  readonly botCommands: number;
  readonly botCommandsSum: number;
  readonly botOverhead: number;
  readonly beforeSteps: number;
  readonly betweenSteps: number;
  readonly verify: number;
  readonly inSteps: number;
  readonly afterSteps: number;
  readonly scriptTotal: number;
  readonly scriptDowntime: number;
}

function medians(s: SizeResult): Medians {
  const m = (values: readonly number[]) => median(values);
  return {
    botTotal: m(s.bot.map((r) => r.totalMs)),
    botDowntime: m(s.bot.map((r) => r.downtimeMs)),
    botCommands: m(s.bot.map((r) => r.commandsMs)),
    botCommandsSum: m(s.bot.map((r) => r.commandsSumMs)),
    botOverhead: m(s.bot.map((r) => r.totalMs - r.commandsMs)),
    beforeSteps: m(s.bot.map((r) => r.beforeStepsMs)),
    betweenSteps: m(s.bot.map((r) => r.betweenStepsMs)),
    verify: m(s.bot.map((r) => r.verifyMs)),
    inSteps: m(s.bot.map((r) => r.inStepsMs)),
    afterSteps: m(s.bot.map((r) => r.afterStepsMs)),
    scriptTotal: m(s.script.map((r) => r.totalMs)),
    scriptDowntime: m(s.script.map((r) => r.downtimeMs)),
  };
}

/** "stop-containers 2.71 / 2.75 s, stop-lxd …": each step's median for the bot and the script. */
function stepMedians(s: SizeResult): string {
  const ids = [...new Set([...s.bot, ...s.script].flatMap((r) => Object.keys(r.stepsMs)))];
  const of = (runs: readonly (BotRun | ScriptRun)[], id: string) => {
    const values = runs.flatMap((r) => (r.stepsMs[id] === undefined ? [] : [r.stepsMs[id]]));
    return values.length === 0 ? '—' : (median(values) / 1000).toFixed(2);
  };
  return ids.map((id) => `${id} ${of(s.bot, id)} / ${of(s.script, id)} s`).join(', ');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const percent = (part: number, whole: number) => `${Math.round((100 * part) / whole)} %`;

export function describeSwitchover(r: SwitchoverResult): string {
  const lines = [
    `planned switchover on real LXD (median of ${plural(r.runs, 'run')} each, set-up and warm-up ${formatSeconds(r.setupMs)}):`,
  ];
  for (const s of r.sizes) {
    const m = medians(s);
    const all = (values: readonly number[]) => values.map((v) => (v / 1000).toFixed(2)).join(' ');
    lines.push(
      `  ${plural(s.containers, 'container')}:`,
      `    total     bot ${formatSeconds(m.botTotal)}  script ${formatSeconds(m.scriptTotal)}  (${formatRatio(m.botTotal / m.scriptTotal)})   runs: bot ${all(s.bot.map((b) => b.totalMs))} / script ${all(s.script.map((b) => b.totalMs))}`,
      `    downtime  bot ${formatSeconds(m.botDowntime)}  script ${formatSeconds(m.scriptDowntime)}  (${formatRatio(m.botDowntime / m.scriptDowntime)})   runs: bot ${all(s.bot.map((b) => b.downtimeMs))} / script ${all(s.script.map((b) => b.downtimeMs))}`,
      `    bot: inside commands ${formatSeconds(m.botCommands)} wall (Σ ${formatSeconds(m.botCommandsSum)}), own overhead ${formatSeconds(m.botOverhead)}:` +
        ` confirm → first step ${formatSeconds(m.beforeSteps)}, between steps ${formatSeconds(m.betweenSteps)},` +
        ` verify (lxc list, not audited) ${formatSeconds(m.verify)}, in other steps outside their commands ${formatSeconds(m.inSteps)},` +
        ` last step → finished ${formatSeconds(m.afterSteps)} (medians each)`,
      `    steps, median bot / script: ${stepMedians(s)}`,
    );
  }
  return lines.join('\n');
}

export function switchoverRows(r: SwitchoverResult): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const s of r.sizes) {
    const m = medians(s);
    const benchmark = `planned switchover, ${plural(s.containers, 'running container')} (real LXD, median of ${plural(r.runs, 'run')} each)`;
    rows.push(
      {
        benchmark,
        measure: 'total: bot (confirm → finished)',
        value: formatSeconds(m.botTotal),
        baseline: `plain script of the recipe's steps: ${formatSeconds(m.scriptTotal)}`,
        ratio: `${formatRatio(m.botTotal / m.scriptTotal)} the script's`,
      },
      {
        benchmark,
        measure: 'service downtime (first container stop → last container started)',
        value: formatSeconds(m.botDowntime),
        baseline: `the script: ${formatSeconds(m.scriptDowntime)}`,
        ratio: `${formatRatio(m.botDowntime / m.scriptDowntime)} the script's`,
      },
      {
        benchmark,
        measure: 'of which inside external commands (audit records, wall time)',
        value: `${formatSeconds(m.botCommands)} (Σ of every command ${formatSeconds(m.botCommandsSum)})`,
        baseline: `bot total: ${formatSeconds(m.botTotal)}`,
        ratio: `${percent(m.botCommands, m.botTotal)} of it`,
      },
      {
        benchmark,
        measure: "the bot's own overhead (total − inside commands)",
        value: formatSeconds(m.botOverhead),
        baseline: `bot total: ${formatSeconds(m.botTotal)}`,
        ratio: `${percent(m.botOverhead, m.botTotal)} of it`,
      },
    );
  }
  return rows;
}
