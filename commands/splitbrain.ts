// `splitbrain <resource> victim <host>`: guided recovery from a split-brain. The plan shows both
// sides (role, disk, connection) and what the victim loses: every change made on it since the
// split. Then, on the victim: stop its containers and LXD and unmount if it is Primary, disconnect,
// become Secondary, connect with --discard-my-data; on the survivor: connect; and wait until the
// resync has brought the victim UpToDate. Discarding data cannot be undone: the requester types the
// victim's name to confirm, and the on-call person approves.
import { z } from 'zod';
import {
  ARGS,
  type CommandContext,
  CommandError,
  type ContainersView,
  defineChange,
} from '../src/app/command-registry.js';
import type { HostState } from '../src/core/host-state.js';
import { own } from '../src/core/lookup.js';
import type { PlanStep, StepAction } from '../src/core/operation.js';
import { formatDuration } from '../src/core/rules.js';
import { blockedText, type CheckResult } from '../src/core/text-format.js';
import { containersOrWhy } from './containers.js';

export interface SplitBrainWorld {
  readonly hosts: readonly HostState[];
  readonly peerName: string | undefined;
  readonly view: ContainersView | { readonly unavailable: string };
  /** When the open split-brain incident began, if there is one. */
  readonly since: number | null;
  readonly now: number;
}

async function observe(resource: string, context: CommandContext): Promise<SplitBrainWorld> {
  const view = await containersOrWhy(context);
  const incident = Object.values(context.incidents()).find(
    (i) => i.resource === resource && i.resolvedAt === undefined && i.splitBrain === true,
  );
  return {
    hosts: await context.hosts(),
    peerName: context.peerName,
    view,
    since: incident?.openedAt ?? null,
    now: context.now(),
  };
}

export const splitbrain = defineChange({
  kind: 'change',
  name: 'splitbrain',
  description: 'Recover a split-brain: the victim discards its changes and resyncs from the survivor',
  options: [
    {
      name: 'resource',
      description: 'The DRBD resource, e.g. r0',
      type: 'string',
      required: true,
      names: 'resource',
    },
    {
      name: 'victim',
      description: 'The host whose changes are discarded',
      type: 'string',
      required: true,
      names: 'host',
    },
  ],
  fillers: ['victim'],
  args: z.object({ resource: ARGS.resource, victim: ARGS.host }),
  policy: { confirm: true, approvals: 1, approverOnCall: true },
  observe: (args, context) => observe(args.resource, context),
  plan(args, world, context) {
    const { resource, victim } = args;
    const settings = own(context.resources, resource);
    if (settings === undefined) throw new CommandError(`No resource ${resource} in the configuration.`);
    const names = world.hosts.map((h) => h.host);
    const survivor = [context.host, world.peerName, ...names].find(
      (h): h is string => h !== undefined && h !== victim,
    );
    const sides = world.hosts.map((h) => {
      const r = own(h.resources, resource);
      const peer = h.host === victim ? survivor : victim;
      return {
        host: h.host,
        role: r?.fields.role ?? 'unknown',
        disk:
          Object.values(r?.devices ?? {})
            .map((d) => d.fields.disk ?? 'unknown')
            .join('/') || 'unknown',
        connection:
          (peer === undefined ? undefined : r?.connections[peer]?.fields.connection) ?? 'StandAlone',
      };
    });
    const standalone = sides.filter((s) => s.connection === 'StandAlone').map((s) => s.host);
    const bothAnswer = survivor !== undefined && names.includes(victim) && names.includes(survivor);
    const checks: CheckResult[] = [
      {
        name: 'both hosts answer',
        ok: bothAnswer,
        detail: bothAnswer
          ? `${victim} and ${survivor} answered`
          : `only ${names.join(' and ') || 'no host'} answered over the peer link; both must, to recover a split-brain`,
        reason: `${[victim, survivor].filter((h) => h !== undefined && !names.includes(h)).join(' and ') || 'the other host'} did not answer`,
      },
      {
        name: 'split-brain',
        ok: world.since !== null || standalone.length > 0,
        detail:
          world.since !== null
            ? `open split-brain incident since ${formatDuration(world.now - world.since)} ago`
            : standalone.length > 0
              ? `${standalone.join(' and ')} StandAlone`
              : 'none: the hosts are connected',
        reason: 'no split-brain to recover',
        impliedBy: ['both hosts answer'],
      },
    ];
    if (!bothAnswer || survivor === undefined || checks.some((c) => !c.ok)) {
      throw new CommandError(
        blockedText(
          `Split-brain recovery ${resource}`,
          checks,
          sides.map((s) => `• ${s.host}: ${s.role}, disk ${s.disk}, ${s.connection}`),
        ),
      );
    }
    const victimSide = sides.find((s) => s.host === victim);
    const on = { resource };
    const steps: PlanStep[] = [];
    const step = (id: string, host: string, label: string, action: StepAction, undo?: StepAction[]) =>
      steps.push({ id, host, label, action, ...(undo === undefined ? {} : { undo }) });
    const running =
      'unavailable' in world.view
        ? []
        : world.view.containers
            .filter((c) => c.resource === resource && c.host === victim && c.status === 'Running')
            .map((c) => c.name);
    if (victimSide?.role === 'Primary') {
      if (running.length > 0) {
        step(
          'stop-containers',
          victim,
          `Stop ${running.join(', ')}`,
          {
            kind: 'containers-stop',
            ...on,
            containers: running,
            timeoutS: context.lxd.stopTimeoutS,
          },
          [{ kind: 'containers-start', ...on, containers: running }],
        );
      }
      step('stop-lxd', victim, `Stop LXD of ${resource}`, { kind: 'lxd-stop', ...on }, [
        { kind: 'lxd-start', ...on },
      ]);
      step('umount', victim, `Unmount ${settings.mountPoint}`, { kind: 'umount', ...on }, [
        { kind: 'mount', ...on },
      ]);
    }
    step('disconnect', victim, `drbdadm disconnect ${resource}`, {
      kind: 'drbd-disconnect',
      ...on,
    });
    step('secondary', victim, `drbdadm secondary ${resource}`, {
      kind: 'drbd-role',
      ...on,
      role: 'secondary',
    });
    step('discard', victim, `drbdadm connect --discard-my-data ${resource}`, {
      kind: 'drbd-connect',
      ...on,
      discardMyData: true,
    });
    step('connect', survivor, `drbdadm connect ${resource}`, {
      kind: 'drbd-connect',
      ...on,
      discardMyData: false,
    });
    step('resync', victim, `Wait until ${victim} is UpToDate again (the resync from ${survivor})`, {
      kind: 'drbd-wait-synced',
      ...on,
      timeoutMs: 6 * 3_600_000,
    });
    const since =
      world.since === null ? 'the split' : `the split-brain ${formatDuration(world.now - world.since)} ago`;
    return {
      command: context.command,
      name: 'splitbrain',
      title: `split-brain recovery ${resource}: ${victim} discards its changes`,
      resource,
      summary: `${victim} throws away every change made on it since ${since} and resyncs from ${survivor}, which keeps its data.${running.length > 0 ? ` ${running.join(', ')} stop on ${victim} (start them on ${survivor} if they are not running there).` : ''}`,
      fields: [
        ...sides.map((s) => ({
          label:
            s.host === victim
              ? `${s.host} (victim: loses its changes)`
              : `${s.host} (survivor: keeps its data)`,
          value: `${s.role}, disk ${s.disk}, ${s.connection}`,
          short: true,
        })),
      ],
      facts: Object.fromEntries(sides.map((s) => [`${resource} on ${s.host}`, `${s.role}/${s.connection}`])),
      steps,
      typedConfirmation: victim,
    };
  },
});
