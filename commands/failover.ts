// `failover <resource> [to <host>]`: a planned switchover of a DRBD resource and every container
// on it to the other host. The plan shows the pre-flight checks (any failure blocks it and says
// why), then: on the source, stop the containers (in parallel), stop the resource's LXD daemon,
// make sure nothing holds the mount, unmount, demote; on the target, promote, mount, start LXD,
// start exactly the containers that were running, and check each is Running with its addresses.
// A failed step takes back everything done before it, so the services end up where they were.
// `failover <resource> --force`, when the other host is dead: take the fence lock, promote and
// start here; two approvals and the resource name typed to confirm.
import { z } from 'zod';
import {
  ARGS,
  type CommandContext,
  CommandError,
  type ContainersView,
  defineChange,
  type LeadershipView,
  type PlanContext,
  type ResourceSettings,
} from '../src/app/command-registry.js';
import type { HostState, ResourceState } from '../src/core/host-state.js';
import { own } from '../src/core/lookup.js';
import type { Plan, PlanStep, StepAction } from '../src/core/operation.js';
import { formatKiB } from '../src/core/rules.js';
import { blockedText, type CheckResult, checkLine, clipLine, plural } from '../src/core/text-format.js';
import type { PreflightCheck } from '../src/ports/host-ops.js';
import { containersOrWhy } from './containers.js';

export interface FailoverWorld {
  readonly hosts: readonly HostState[];
  readonly peerName: string | undefined;
  readonly source: string | null;
  readonly target: string | null;
  readonly view: ContainersView | { readonly unavailable: string };
  readonly preflight: readonly PreflightCheck[] | { readonly unreachable: string } | null;
  readonly fences: LeadershipView['fences'];
  readonly splitBrainOpen: boolean;
}

/** The pre-flight checks of a plan, in order, and how each is added. */
function checklist() {
  const checks: CheckResult[] = [];
  const check = (name: string, ok: boolean, detail: string, reason?: string, impliedBy?: string[]) => {
    checks.push({
      name,
      ok,
      detail,
      ...(reason === undefined ? {} : { reason }),
      ...(impliedBy === undefined ? {} : { impliedBy }),
    });
  };
  return { checks, check };
}

/** `failover r0 --force`: the other host is gone; this one takes the fence and the services. */
function forcedPlan(
  resource: string,
  settings: ResourceSettings,
  world: FailoverWorld,
  context: PlanContext,
): Plan {
  const target = world.target ?? context.host;
  const other = [context.host, world.peerName].find((h) => h !== undefined && h !== target) ?? 'the peer';
  const { checks, check } = checklist();
  const mine = own(world.hosts.find((h) => h.host === target)?.resources ?? {}, resource);
  const theirs = world.hosts.find((h) => h.host === other);
  check(
    'target view',
    mine !== undefined,
    mine === undefined ? `no DRBD view of ${resource} on ${target}` : `${target} sees ${resource}`,
    `${target} has no DRBD view of ${resource}`,
  );
  const myRole = mine?.fields.role ?? 'unknown';
  check('target Secondary', myRole === 'Secondary', `${target} is ${myRole}`, `${target} is ${myRole}`, [
    'target view',
  ]);
  const connection = mine?.connections[other]?.fields.connection ?? 'gone';
  check(
    'peer not connected',
    connection !== 'Connected',
    connection === 'Connected'
      ? `${target} is Connected to ${other}: use a planned failover`
      : `${target} → ${other}: ${connection}`,
    `${other} is still connected (use a planned failover)`,
  );
  const theirRole = own(theirs?.resources ?? {}, resource)?.fields.role;
  check(
    'peer not Primary',
    theirRole !== 'Primary',
    theirs === undefined
      ? `${other} does not answer over the peer link`
      : theirRole === 'Primary'
        ? `${other} answers over the peer link and is Primary: forcing ${target} would make a split-brain`
        : `${other} answers and is ${theirRole ?? `not running ${resource}`}`,
    `${other} is Primary`,
  );
  const disk = disksOf(mine);
  check('UpToDate data', disk === 'UpToDate', `${target}: ${disk}`, `${target}'s disk is ${disk}`, [
    'target view',
  ]);
  const fence = world.fences.find((f) => f.key === resource);
  if (fence !== undefined) {
    check(
      'fence lock',
      fence.error === undefined && (fence.holder === null || fence.holder === target),
      fence.error !== undefined
        ? `unknown: ${fence.error}`
        : fence.holder === null
          ? 'free: it will be taken'
          : `held by ${fence.holder}`,
      fence.error !== undefined ? 'fence lock unknown' : `fence lock held by ${fence.holder ?? 'nobody'}`,
    );
  }
  preflightChecks(world.preflight, target, check);
  const lines = checks.map(checkLine).join('\n');
  if (checks.some((c) => !c.ok)) {
    throw new CommandError(blockedText(`Forced failover ${resource} → ${target}`, checks));
  }
  const on = { resource };
  const steps: PlanStep[] = [
    {
      id: 'fence',
      host: context.host,
      label: `Take the fence lock of ${resource} for ${target}`,
      action: { kind: 'fence-acquire', ...on, holder: target },
      undo: [{ kind: 'fence-release', ...on, holder: target }],
    },
    {
      id: 'promote',
      host: target,
      label: `drbdadm primary ${resource}`,
      action: { kind: 'drbd-role', ...on, role: 'primary' },
      undo: [{ kind: 'drbd-role', ...on, role: 'secondary' }],
    },
    {
      id: 'mount',
      host: target,
      label: `Mount ${settings.mountPoint}`,
      action: { kind: 'mount', ...on },
      undo: [{ kind: 'umount', ...on }],
    },
    {
      id: 'start-lxd',
      host: target,
      label: `Start LXD of ${resource} (it restarts the containers that were running)`,
      action: { kind: 'lxd-start', ...on },
      undo: [{ kind: 'lxd-stop', ...on }],
    },
    {
      id: 'list',
      host: target,
      label: `List the containers of ${resource}`,
      action: { kind: 'containers-list', ...on },
    },
  ];
  return {
    command: context.command,
    name: 'failover',
    title: `FORCED failover ${resource} → ${target}`,
    resource,
    summary: `${other} is gone: ${target} takes the fence lock of ${resource}, becomes Primary without its peer and starts the services. If ${other} was in fact alive and writing, this makes a split-brain; its changes would be lost in the recovery.`,
    fields: [{ label: 'Pre-flight', value: lines }],
    facts: {
      [`${resource} on ${target}`]: myRole,
      [`${resource} ${target} → ${other}`]: connection,
      [`${resource} on ${other}`]: theirRole ?? 'no answer',
    },
    steps,
    typedConfirmation: resource,
  };
}

/** A resource's disk states on one host ("UpToDate", "UpToDate/Outdated"), "unknown" without a view. */
function disksOf(state: ResourceState | undefined): string {
  return (
    Object.values(state?.devices ?? {})
      .map((d) => d.fields.disk ?? 'unknown')
      .join('/') || 'unknown'
  );
}

/** The target's own answer to "can you take it" (mount point, LXD daemon, binaries). */
function preflightChecks(
  pre: FailoverWorld['preflight'],
  target: string,
  check: (name: string, ok: boolean, detail: string, reason?: string, impliedBy?: string[]) => void,
): void {
  if (pre === null) {
    check('target ready', false, `${target} was not asked`, `${target} was not asked`, ['target']);
  } else if ('unreachable' in pre) {
    check(
      'target ready',
      false,
      `${target} could not be asked: ${pre.unreachable}`,
      `${target} did not answer`,
      ['target reachable'],
    );
  } else {
    for (const c of pre)
      check(`${target}: ${c.name}`, c.ok, c.detail, `${target} ${c.name}: ${clipLine(c.detail, 60)}`);
  }
}

function primaryOf(hosts: readonly HostState[], resource: string): string[] {
  return hosts.filter((h) => own(h.resources, resource)?.fields.role === 'Primary').map((h) => h.host);
}

export async function observeFailover(
  resource: string,
  to: string | undefined,
  context: CommandContext,
): Promise<FailoverWorld> {
  const hosts = await context.hosts();
  const primaries = primaryOf(hosts, resource);
  const source = primaries.length === 1 ? (primaries[0] ?? null) : null;
  const pair = [context.host, ...(context.peerName === undefined ? [] : [context.peerName])];
  const target = to ?? pair.find((h) => h !== source) ?? null;
  const view = await containersOrWhy(context);
  const preflight =
    target === null || context.preflight === undefined ? null : await context.preflight(target, resource);
  const fences = context.leadership === undefined ? [] : (await context.leadership()).fences;
  const splitBrainOpen = Object.values(context.incidents()).some(
    (i) => i.resource === resource && i.resolvedAt === undefined && i.splitBrain === true,
  );
  return { hosts, peerName: context.peerName, source, target, view, preflight, fences, splitBrainOpen };
}

function replication(state: ResourceState | undefined, peer: string) {
  const connection = state?.connections[peer];
  const peerDevices = Object.values(connection?.peerDevices ?? {});
  return {
    connection: connection?.fields.connection ?? 'unknown',
    replication: peerDevices.map((pd) => pd.fields.replication ?? 'unknown').join('/') || 'none',
    peerDisk: peerDevices.map((pd) => pd.fields['peer-disk'] ?? 'unknown').join('/') || 'unknown',
    disk: disksOf(state),
    resyncing: peerDevices.some(
      (pd) => pd.resync !== undefined || /^(Sync|PausedSync)/.test(pd.fields.replication ?? ''),
    ),
    // Blocks an online verify found stay out of sync until a resync: the counter says so.
    outOfSyncKiB: peerDevices.reduce(
      (sum, pd) => sum + (pd.resync?.outOfSyncKiB ?? (Number(pd.fields['out-of-sync'] ?? '0') || 0)),
      0,
    ),
  };
}

export const failover = defineChange({
  kind: 'change',
  name: 'failover',
  description: 'Move a resource and its containers to the other host (checked, approved, rolled back)',
  options: [
    {
      name: 'resource',
      description: 'The DRBD resource, e.g. r0',
      type: 'string',
      required: true,
      names: 'resource',
    },
    {
      name: 'to',
      description: 'The target host (default: the other one; with --force: this one)',
      type: 'string',
      required: false,
      names: 'host',
    },
    {
      name: 'force',
      description: 'The other host is dead: take the fence lock and start the services here',
      type: 'boolean',
      required: false,
    },
  ],
  fillers: ['to'],
  args: z.object({
    resource: ARGS.resource,
    to: ARGS.host.optional(),
    force: z
      .literal('true')
      .optional()
      .transform((v) => v === 'true'),
  }),
  // Moving every service of a resource needs a second person, who is on call.
  policy: { confirm: true, approvals: 1, approverOnCall: true },
  // Forcing one host to Primary without its peer is how split-brains are made: two approvals.
  variants: { 'failover-force': { confirm: true, approvals: 2, approverOnCall: false } },
  policyName: (args) => (args.force ? 'failover-force' : 'failover'),
  observe: (args, context) =>
    observeFailover(args.resource, args.force ? (args.to ?? context.host) : args.to, context),
  plan(args, world, context) {
    const resource = args.resource;
    const settings = own(context.resources, resource);
    if (settings === undefined) {
      throw new CommandError(
        `No resource ${resource} in the configuration (resources: ${Object.keys(context.resources).join(', ') || 'none'}).`,
      );
    }
    if (args.force) return forcedPlan(resource, settings, world, context);
    const { checks, check } = checklist();
    const { source, target } = world;
    const primaries = primaryOf(world.hosts, resource);
    // The side the services would leave: the Primary, or, when there is no single one, the host
    // that is not the target (so every line below names real hosts).
    const pair = [context.host, world.peerName, ...world.hosts.map((h) => h.host)].filter(
      (h): h is string => h !== undefined,
    );
    const from = source ?? pair.find((h) => h !== target) ?? context.host;
    // The other side of the pair from `from`: the target, unless the target is wrong (the Primary
    // itself), so the replication lines below always describe the real pair.
    const to =
      target !== null && target !== from ? target : (pair.find((h) => h !== from) ?? 'the other host');
    const splitBrain = ['no split-brain'];
    check(
      'one Primary',
      source !== null,
      source !== null
        ? `${source} is Primary`
        : primaries.length === 0
          ? `no host is Primary: ${resource} runs nowhere, there is nothing to move`
          : `${primaries.join(' and ')} are both Primary`,
      primaries.length === 0 ? 'no host is Primary' : 'both hosts are Primary',
      splitBrain,
    );
    check(
      'target',
      target !== null && !primaries.includes(target),
      target === null
        ? 'no other host known: no peer is configured'
        : primaries.includes(target)
          ? `${target} is already Primary`
          : target,
      target === null ? 'no other host known' : `${target} is already Primary`,
      splitBrain,
    );
    const sourceState = own(world.hosts.find((h) => h.host === from)?.resources ?? {}, resource);
    const targetHost = world.hosts.find((h) => h.host === target);
    const toHost = world.hosts.find((h) => h.host === to);
    const targetName = target ?? 'the other host';
    check(
      'target reachable',
      targetHost !== undefined,
      targetHost !== undefined
        ? `${targetName} answers over the peer link and runs the bot`
        : `${targetName} did not answer over the peer link`,
      `${targetName} did not answer`,
      ['target'],
    );
    const r = replication(sourceState, to);
    const t = replication(own(toHost?.resources ?? {}, resource), from);
    check(
      'connected',
      r.connection === 'Connected',
      `${from} → ${to}: ${r.connection}, replication ${r.replication}${r.connection === 'StandAlone' ? ' (DRBD will not reconnect by itself)' : ''}`,
      `not connected (${r.connection})`,
      [...splitBrain, 'target reachable'],
    );
    const resyncing = r.resyncing || t.resyncing;
    // Each host's own view of its disk; the source's view of the peer when the target did not answer.
    const targetDisk = toHost === undefined ? r.peerDisk : t.disk;
    const badDisks = [
      { disk: r.disk, says: `${from}'s disk is ${r.disk}` },
      { disk: targetDisk, says: `${to}'s disk is ${targetDisk}` },
      // Connected, the source must see the same: a peer disk it does not see UpToDate is not yet one.
      ...(toHost !== undefined && r.connection === 'Connected' && targetDisk === 'UpToDate'
        ? [{ disk: r.peerDisk, says: `${from} sees ${to}'s disk as ${r.peerDisk}` }]
        : []),
    ].filter((d) => d.disk !== 'UpToDate');
    check(
      'disks UpToDate',
      badDisks.length === 0,
      `${from}: ${r.disk}, ${to}: ${targetDisk}${badDisks.some((d) => d.says.includes(' sees ')) ? ` (${from} sees ${r.peerDisk})` : ''}`,
      badDisks.map((d) => d.says).join(', '),
      [
        // A resync target is Inconsistent until it ends; an unknown disk is one nobody could ask.
        ...(resyncing ? ['no resync'] : []),
        ...(badDisks.every((d) => /unknown/i.test(d.disk)) ? ['target reachable', 'connected'] : []),
      ],
    );
    check(
      'no resync',
      !resyncing && r.outOfSyncKiB === 0,
      resyncing
        ? `a resync is running (${r.replication}); wait for it to finish`
        : r.outOfSyncKiB > 0
          ? `${formatKiB(r.outOfSyncKiB)} out of sync`
          : 'nothing out of sync',
      resyncing ? 'a resync is running' : `${formatKiB(r.outOfSyncKiB)} out of sync`,
    );
    // Two Primaries that are not connected have both written: that is a split-brain whether or not
    // DRBD's helper reported it (it is not called when usermode_helper is disabled).
    const diverged = primaries.length > 1 && r.connection !== 'Connected';
    const recover = `recover first: \`splitbrain ${resource} victim <host>\` discards the victim's changes since the split (\`containers ${resource}\` shows what runs on each side)`;
    check(
      'no split-brain',
      !world.splitBrainOpen && !diverged,
      world.splitBrainOpen
        ? `an open split-brain incident; ${recover}`
        : diverged
          ? `${primaries.join(' and ')} are both Primary and not connected; ${recover}`
          : 'none seen',
      'split-brain not recovered',
    );
    preflightChecks(world.preflight, targetName, check);
    const fence = world.fences.find((f) => f.key === resource);
    if (fence !== undefined) {
      check(
        'fence lock',
        fence.error === undefined && (fence.holder === null || fence.holder === source),
        fence.error !== undefined
          ? `unknown: ${fence.error}`
          : fence.holder === null
            ? 'free'
            : `held by ${fence.holder}`,
        fence.error !== undefined ? 'fence lock unknown' : `fence lock held by ${fence.holder ?? 'nobody'}`,
      );
    }
    if ('unavailable' in world.view)
      check(
        'containers',
        false,
        `could not list them: ${world.view.unavailable}`,
        'containers could not be listed',
      );
    const lines = checks.map(checkLine).join('\n');
    if (checks.some((c) => !c.ok) || source === null || target === null || 'unavailable' in world.view) {
      throw new CommandError(blockedText(`Failover ${resource}`, checks));
    }
    const running = world.view.containers
      .filter((c) => c.resource === resource && c.host === source && c.status === 'Running')
      .sort((a, b) => a.name.localeCompare(b.name));
    const names = running.map((c) => c.name);
    const steps: PlanStep[] = [];
    const step = (id: string, host: string, label: string, action: StepAction, undo?: StepAction[]) =>
      steps.push({ id, host, label, action, ...(undo === undefined ? {} : { undo }) });
    const on = { resource };
    if (names.length > 0) {
      step(
        'stop-containers',
        source,
        `Stop ${plural(names.length, 'container')} (${names.join(', ')})`,
        {
          kind: 'containers-stop',
          ...on,
          containers: names,
          timeoutS: context.lxd.stopTimeoutS,
        },
        [{ kind: 'containers-start', ...on, containers: names }],
      );
    }
    step(
      'stop-lxd',
      source,
      `Stop LXD of ${resource}${settings.lxdCommands ? '' : ` (${settings.lxdUnit})`}`,
      { kind: 'lxd-stop', ...on },
      [{ kind: 'lxd-start', ...on }],
    );
    step('holders', source, `Check nothing holds ${settings.mountPoint} or the device`, {
      kind: 'holders-check',
      ...on,
    });
    step('umount', source, `Unmount ${settings.mountPoint}`, { kind: 'umount', ...on }, [
      { kind: 'mount', ...on },
    ]);
    step('demote', source, `drbdadm secondary ${resource}`, { kind: 'drbd-role', ...on, role: 'secondary' }, [
      { kind: 'drbd-role', ...on, role: 'primary' },
    ]);
    step('promote', target, `drbdadm primary ${resource}`, { kind: 'drbd-role', ...on, role: 'primary' }, [
      { kind: 'drbd-role', ...on, role: 'secondary' },
    ]);
    step('mount', target, `Mount ${settings.mountPoint}`, { kind: 'mount', ...on }, [
      { kind: 'umount', ...on },
    ]);
    step(
      'start-lxd',
      target,
      `Start LXD of ${resource}${settings.lxdCommands ? '' : ` (${settings.lxdUnit})`}`,
      { kind: 'lxd-start', ...on },
      [{ kind: 'lxd-stop', ...on }],
    );
    if (names.length > 0) {
      step(
        'start-containers',
        target,
        `Start ${names.join(', ')}`,
        { kind: 'containers-start', ...on, containers: names },
        [{ kind: 'containers-stop', ...on, containers: names, timeoutS: context.lxd.stopTimeoutS }],
      );
      step('verify', target, 'Check each is Running with its addresses', {
        kind: 'containers-verify-all',
        ...on,
        expect: running.map((c) => ({
          name: c.name,
          ipv4: c.nic?.ipv4 ?? c.addresses.ipv4,
          ipv6: c.nic?.ipv6 ?? c.addresses.ipv6,
        })),
        timeoutMs: context.lxd.verifyTimeoutMs,
      });
    }
    return {
      command: context.command,
      name: 'failover',
      title: `failover ${resource}: ${source} → ${target}`,
      resource,
      summary: `${resource} and its ${plural(names.length, 'running container')} move from ${source} to ${target}. Services are down from the first container stop until the last one runs on ${target}.`,
      fields: [{ label: 'Pre-flight', value: lines }],
      facts: {
        [`${resource} on ${source}`]: sourceState?.fields.role ?? 'unknown',
        [`${resource} on ${target}`]: own(targetHost?.resources ?? {}, resource)?.fields.role ?? 'unknown',
        [`${resource} connection`]: r.connection,
        [`${resource} disks`]: `${r.disk}/${t.disk}`,
        [`${resource} running containers`]: names.join(',') || 'none',
      },
      steps,
      ...(names.length > 0 ? { downtime: { from: 'stop-containers', to: 'start-containers' } } : {}),
    };
  },
});
