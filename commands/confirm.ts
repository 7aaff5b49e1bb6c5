// `confirm <request> [typed]`: what the Confirm button on a plan sends; it can be typed too. A plan
// that asks for a typed confirmation (a forced failover) takes the word it names after the id.
import { z } from 'zod';
import { ARGS, CommandError, defineQuery } from '../src/app/command-registry.js';

export const confirm = defineQuery({
  kind: 'query',
  name: 'confirm',
  description: 'Confirm a plan you asked for',
  options: [
    { name: 'request', description: 'The request id shown on the plan', type: 'string', required: true },
    {
      name: 'typed',
      description: 'What the plan asks you to type (a forced failover: the resource)',
      type: 'string',
      required: false,
    },
  ],
  args: z.object({ request: ARGS.operation, typed: z.string().max(64).optional() }),
  private: true,
  async run(args, command, context) {
    if (context.operations === undefined) throw new CommandError('This instance runs no changing commands.');
    return (await context.operations.decide(args.request, 'confirm', command, args.typed)).message;
  },
});
