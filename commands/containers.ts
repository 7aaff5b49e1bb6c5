// `containers [resource] [host]`: every container of the pair, asked of the LXD daemon of each
// resource on whichever host is Primary for it (the peer's over the peer link).
import { z } from 'zod';
import { ARGS, CommandError, type ContainersView, defineQuery } from '../src/app/command-registry.js';
import type { MessageField } from '../src/core/message-tones.js';
import { formatDuration } from '../src/core/rules.js';
import type { ContainerInfo } from '../src/ports/container-runtime.js';

export function describeContainer(c: ContainerInfo, now: number): string {
  const addresses = [...c.addresses.ipv4, ...c.addresses.ipv6];
  const uptime =
    c.status === 'Running' && c.startedAt !== null
      ? `, up ${formatDuration(Math.max(0, now - Date.parse(c.startedAt)))}`
      : '';
  return `\`${c.name}\` ${c.status}${uptime} · ${addresses.join(', ') || 'no address'}`;
}

/** The view, or a clear answer when this instance has no LXD to ask. */
export async function containersView(context: {
  readonly containers?: () => Promise<ContainersView>;
}): Promise<ContainersView> {
  if (context.containers === undefined) {
    throw new CommandError('No resources with LXD are configured (config: resources).');
  }
  return context.containers();
}

/** For a plan: the view, or why there is none (a plan may still refuse with that reason). */
export async function containersOrWhy(context: {
  readonly containers?: () => Promise<ContainersView>;
}): Promise<ContainersView | { readonly unavailable: string }> {
  try {
    return context.containers === undefined
      ? { unavailable: 'no LXD resources configured' }
      : await context.containers();
  } catch (err) {
    return { unavailable: (err as Error).message };
  }
}

export const containers = defineQuery({
  kind: 'query',
  name: 'containers',
  description:
    'Every container on every resource, on the host that is Primary for it (both in a split-brain)',
  options: [
    {
      name: 'resource',
      description: 'Only this resource (e.g. r0)',
      type: 'string',
      required: false,
      names: 'resource',
    },
    { name: 'host', description: 'Only this host', type: 'string', required: false, names: 'host' },
  ],
  args: z.object({ resource: ARGS.resource.optional(), host: ARGS.host.optional() }),
  async run(args, _command, context) {
    const view = await containersView(context);
    if (args.resource !== undefined && !view.resources.some((r) => r.name === args.resource)) {
      throw new CommandError(
        `No resource ${args.resource}; configured: ${view.resources.map((r) => r.name).join(', ') || 'none'}.`,
      );
    }
    const hosts = new Set((await context.hosts()).map((h) => h.host));
    hosts.add(context.host);
    if (args.host !== undefined && !hosts.has(args.host)) {
      throw new CommandError(`No host ${args.host}; the pair is ${[...hosts].join(' and ')}.`);
    }
    const now = context.now();
    const fields: MessageField[] = [];
    let problems = 0;
    let count = 0;
    // A resource listed once per host is Primary on both: a split-brain, each side with its own LXD.
    const sidesOf = (name: string) =>
      view.resources.filter((r) => r.name === name && r.primaryOn !== null).map((r) => r.primaryOn);
    const split = [...new Set(view.resources.map((r) => r.name))].filter((name) => sidesOf(name).length > 1);
    for (const resource of view.resources) {
      if (args.resource !== undefined && resource.name !== args.resource) continue;
      if (args.host !== undefined && resource.primaryOn !== args.host) continue;
      const both = split.includes(resource.name);
      const list = view.containers
        .filter((c) => c.resource === resource.name && (!both || c.host === resource.primaryOn))
        .sort((a, b) => a.name.localeCompare(b.name));
      count += list.length;
      let value: string;
      if (resource.problem !== undefined) {
        problems++;
        value = `⚠️ ${resource.problem}`;
      } else if (resource.primaryOn === null) {
        problems++;
        value = 'No host is Primary: its containers are not running anywhere.';
      } else {
        value = list.length === 0 ? 'No containers.' : list.map((c) => describeContainer(c, now)).join('\n');
      }
      fields.push({
        label: `${resource.name} on ${resource.primaryOn ?? 'no host'}${both ? ' (split-brain: Primary on both)' : ''}`,
        value,
      });
    }
    const warnings = split
      .filter((name) => args.resource === undefined || name === args.resource)
      .map(
        (name) =>
          `⚠️ ${name} is Primary on both ${sidesOf(name).join(' and ')} (split-brain): each side's containers are listed. Recover with \`splitbrain ${name} victim <host>\`: the victim's changes since the split are discarded.`,
      );
    problems += warnings.length;
    const running = view.containers.filter(
      (c) =>
        c.status === 'Running' &&
        (args.resource === undefined || c.resource === args.resource) &&
        (args.host === undefined || c.host === args.host),
    ).length;
    return {
      title: 'Containers',
      tone: problems > 0 ? 'warning' : 'info',
      host: context.host,
      body: [...warnings, fields.length === 0 ? 'Nothing matches.' : `${running} of ${count} running.`].join(
        '\n',
      ),
      fields,
    };
  },
});
