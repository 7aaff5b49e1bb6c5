// `demo <fault> [target] [resource]`: break the simulated pair from chat (the built-in demo only;
// never registered with a real configuration). The alerts that follow are the real ones.
import { z } from 'zod';
import { CommandError, defineQuery } from '../src/app/command-registry.js';

export const DEMO_FAULTS = [
  'link-down',
  'link-up',
  'split-brain',
  'crash',
  'boot',
  'disk-fail',
  'disk-attach',
] as const;
export type DemoFault = (typeof DEMO_FAULTS)[number];

/** What the demo does for each fault; answers a line saying what happened. */
export type DemoFaults = (fault: DemoFault, target: string, resource: string | undefined) => Promise<string>;

export function demoCommand(faults: DemoFaults) {
  return defineQuery({
    kind: 'query',
    name: 'demo',
    description:
      'Demo only: break the simulated pair (link-down r0, split-brain r0, crash alpha, boot alpha …)',
    options: [
      { name: 'fault', description: DEMO_FAULTS.join(', '), type: 'string', required: true },
      { name: 'target', description: 'A resource (r0) or a host (alpha)', type: 'string', required: true },
      { name: 'resource', description: 'For disk faults: the resource', type: 'string', required: false },
    ],
    args: z.object({
      fault: z.enum(DEMO_FAULTS, { message: `one of ${DEMO_FAULTS.join(', ')}` }),
      target: z.string().regex(/^[a-z0-9]{1,20}$/, 'a resource or host name'),
      resource: z
        .string()
        .regex(/^r[0-9]{1,3}$/, 'a resource such as r0')
        .optional(),
    }),
    async run(args) {
      try {
        return { title: await faults(args.fault, args.target, args.resource), tone: 'info' };
      } catch (err) {
        throw new CommandError((err as Error).message);
      }
    },
  });
}
