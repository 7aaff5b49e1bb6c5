// `ip set <container> <address>[,<address>…]`: new static addresses on a container's routed NIC.
// LXD cannot change a routed NIC of a running container, so the plan stops it, sets the addresses,
// starts it and waits for the addresses to come up; a failed step puts the old addresses back and
// starts the container again.
import { z } from 'zod';
import { ARGS, CommandError, type ContainersView, defineChange } from '../src/app/command-registry.js';
import { checkRequestedAddresses, parseSubnet } from '../src/core/addresses.js';
import { own } from '../src/core/lookup.js';
import type { PlanStep, StepAction } from '../src/core/operation.js';
import type { ContainerInfo } from '../src/ports/container-runtime.js';
import { containersView } from './containers.js';
import { findContainer } from './ip-show.js';

const addressList = z
  .string()
  .max(400)
  .transform((s) =>
    s
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
  )
  .refine((list) => list.length > 0 && list.length <= 8, 'give 1 to 8 addresses, separated by commas');

export const ipSet = defineChange({
  kind: 'change',
  name: 'ip-set',
  description: "Set a container's static routed addresses (stop, set, start, verify; rolled back on failure)",
  options: [
    { name: 'container', description: 'Container name', type: 'string', required: true },
    {
      name: 'addresses',
      description: 'Address(es), comma separated (IPv4 and/or IPv6)',
      type: 'string',
      required: true,
    },
  ],
  args: z.object({ container: ARGS.container, addresses: addressList }),
  // The requester's confirmation is enough for one container's address.
  policy: { confirm: true, approvals: 0 },
  async observe(_args, context): Promise<ContainersView> {
    return containersView(context);
  },
  plan(args, view, context) {
    const c: ContainerInfo = findContainer(view, args.container);
    // During a split-brain both sides run their own copy of the container: changing one would
    // make the two diverge further, and the copy on the victim is about to be thrown away.
    const primaries = [
      ...new Set(view.resources.filter((r) => r.name === c.resource).map((r) => r.primaryOn)),
    ].filter((h): h is string => h !== null);
    if (primaries.length > 1) {
      throw new CommandError(
        `${c.resource} is Primary on ${primaries.join(' and ')} (split-brain): recover it first with \`splitbrain ${c.resource} victim <host>\`; ip set changes nothing until then.`,
      );
    }
    const nic = c.nic;
    if (nic === null) {
      throw new CommandError(
        `${c.name} has no routed NIC (nictype: routed); ip set only changes routed NICs.`,
      );
    }
    const allowed = (own(context.resources, c.resource)?.subnets ?? []).map(parseSubnet);
    const inUse = view.containers.flatMap((other) =>
      [
        ...(other.nic?.ipv4 ?? []),
        ...(other.nic?.ipv6 ?? []),
        ...other.addresses.ipv4,
        ...other.addresses.ipv6,
      ].map((address) => ({ container: other.name, host: other.host, address })),
    );
    const checked = checkRequestedAddresses(args.addresses, { container: c.name, allowed, inUse });
    if (!checked.ok)
      throw new CommandError(
        `Cannot set ${args.addresses.join(',')} on ${c.name}: ${checked.problems.join('; ')}.`,
      );
    const before = { ipv4: [...nic.ipv4], ipv6: [...nic.ipv6] };
    const after = { ipv4: checked.ipv4, ipv6: checked.ipv6 };
    if (JSON.stringify(before) === JSON.stringify(after)) {
      throw new CommandError(
        `${c.name} already has ${[...after.ipv4, ...after.ipv6].join(', ')}; nothing to do.`,
      );
    }
    const where = { resource: c.resource, container: c.name };
    const setTo = (a: typeof after): StepAction => ({
      kind: 'container-set-addresses',
      ...where,
      device: nic.device,
      ...a,
    });
    const running = c.status === 'Running';
    const steps: PlanStep[] = [];
    const step = (id: string, label: string, action: StepAction, undo?: StepAction[]) =>
      steps.push({ id, host: c.host, label, action, ...(undo === undefined ? {} : { undo }) });
    if (running) {
      step(
        'stop',
        `Stop ${c.name}`,
        { kind: 'container-stop', ...where, timeoutS: context.lxd.stopTimeoutS },
        [{ kind: 'container-start', ...where }],
      );
    }
    const show = (a: typeof after) => [...a.ipv4, ...a.ipv6].join(', ') || 'none';
    step('set', `Set ${nic.device} to ${show(after)}`, setTo(after), [setTo(before)]);
    if (running) {
      step('start', `Start ${c.name}`, { kind: 'container-start', ...where }, [
        { kind: 'container-stop', ...where, timeoutS: context.lxd.stopTimeoutS },
      ]);
      step('verify', `Check ${show(after)} is up`, {
        kind: 'container-verify',
        ...where,
        ...after,
        timeoutMs: context.lxd.verifyTimeoutMs,
      });
    }
    return {
      command: context.command,
      name: 'ip-set',
      title: `ip set ${c.name} ${show(after)}`,
      resource: c.resource,
      summary: running
        ? `${c.name} is Running on ${c.host}: it is stopped for the change (a routed NIC cannot change while it runs).`
        : `${c.name} is ${c.status} on ${c.host}: only its configuration changes; it stays ${c.status}.`,
      fields: [
        { label: 'Now', value: show(before), short: true },
        { label: 'After', value: show(after), short: true },
      ],
      facts: {
        [`${c.name} host`]: c.host,
        [`${c.name} status`]: c.status,
        [`${c.name} ${nic.device} addresses`]: show(before),
      },
      steps,
    };
  },
});
