// `unsilence <silence|target>`: end a silence early, by the id its answer and `status` show, or all
// silences of a target (r0, split-brain, all). What it muted is summed up at once.
import { z } from 'zod';
import { CommandError, defineQuery } from '../src/app/command-registry.js';

export const unsilence = defineQuery({
  kind: 'query',
  name: 'unsilence',
  description: 'End a silence early (by its id, or every silence of a resource, kind or all)',
  options: [
    {
      name: 'silence',
      description: 'The silence id shown by status, or its target (r0, split-brain, all)',
      type: 'string',
      required: true,
    },
  ],
  args: z.object({
    silence: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a silence id or target'),
  }),
  async run(args, command, context) {
    if (context.paging === undefined) throw new CommandError('This instance has no silences.');
    return context.paging.unsilence(args.silence, command);
  },
});
