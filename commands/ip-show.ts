// `ip show <container>`: the static addresses of a container's routed NIC, the addresses it has
// right now, and the subnets `ip set` may use for its resource.
import { z } from 'zod';
import { ARGS, CommandError, type ContainersView, defineQuery } from '../src/app/command-registry.js';
import { own } from '../src/core/lookup.js';
import type { ContainerInfo } from '../src/ports/container-runtime.js';
import { containersView } from './containers.js';

export function findContainer(view: ContainersView, name: string): ContainerInfo {
  const found = view.containers.find((c) => c.name === name);
  if (found !== undefined) return found;
  const unreachable = view.resources.filter((r) => r.problem !== undefined || r.primaryOn === null);
  const note =
    unreachable.length === 0
      ? ''
      : ` (not asked: ${unreachable.map((r) => `${r.name}: ${r.problem ?? 'no Primary'}`).join('; ')})`;
  throw new CommandError(
    `No container ${name} on ${[...new Set(view.resources.map((r) => r.name))].join(', ') || 'any resource'}${note}. Try: containers`,
  );
}

export const ipShow = defineQuery({
  kind: 'query',
  name: 'ip-show',
  description: "A container's static routed addresses and the addresses it has now",
  options: [{ name: 'container', description: 'Container name', type: 'string', required: true }],
  args: z.object({ container: ARGS.container }),
  async run(args, _command, context) {
    const c = findContainer(await containersView(context), args.container);
    const configured = c.nic === null ? [] : [...c.nic.ipv4, ...c.nic.ipv6];
    const live = [...c.addresses.ipv4, ...c.addresses.ipv6];
    return {
      title: `Addresses of ${c.name}`,
      tone: 'info',
      resource: c.resource,
      host: c.host,
      fields: [
        { label: 'Where', value: `${c.resource} on ${c.host}, ${c.status}`, short: true },
        {
          label:
            c.nic === null
              ? 'Routed NIC'
              : `Routed NIC ${c.nic.device}${c.nic.parent === null ? '' : ` on ${c.nic.parent}`}`,
          value:
            c.nic === null
              ? 'none (ip set needs nictype: routed)'
              : configured.join(', ') || 'no static address',
          short: true,
        },
        { label: 'Up now', value: live.join(', ') || 'none', short: true },
        {
          label: `Allowed for ${c.resource}`,
          value: own(context.resources, c.resource)?.subnets.join(', ') || 'none configured',
          short: true,
        },
      ],
    };
  },
});
