// `silence <resource|kind|all> <duration> <reason>`: mute what matches for a while (a planned
// maintenance, a known flapping link). Muted notifications are still recorded, counted in `status`
// and summed up in the channels when the silence ends; the silence itself is audited.
import { z } from 'zod';
import { CommandError, defineQuery } from '../src/app/command-registry.js';
import { parseDuration } from '../src/core/oncall-workflow.js';

export const silence = defineQuery({
  kind: 'query',
  name: 'silence',
  description: 'Mute the notifications of a resource, an alert kind or all, for a while, with a reason',
  options: [
    {
      name: 'target',
      description: 'A resource (r0), an alert kind (connection-lost, split-brain …) or all',
      type: 'string',
      required: true,
    },
    { name: 'duration', description: 'How long: 30m, 2h, 1h30m, 1d', type: 'string', required: true },
    {
      name: 'reason',
      description: 'Why (shown in status and the audit log)',
      type: 'string',
      required: true,
      rest: true,
    },
  ],
  args: z.object({
    target: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a resource, an alert kind or all'),
    duration: z
      .string()
      .refine(
        (d) => parseDuration(d) !== undefined,
        'a duration such as 30m, 2h or 1h30m (units s, m, h, d)',
      ),
    reason: z.string().trim().min(3, 'a reason of a few words (what is being done)').max(200),
  }),
  async run(args, command, context) {
    if (context.paging === undefined)
      throw new CommandError('This instance sends no notifications to silence.');
    return context.paging.silence(args.target, parseDuration(args.duration) ?? 0, args.reason, command);
  },
});
