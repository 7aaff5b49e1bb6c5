// `cancel <request>`: what the Cancel button on a plan sends; it can be typed too.
import { z } from 'zod';
import { ARGS, CommandError, defineQuery } from '../src/app/command-registry.js';

export const cancel = defineQuery({
  kind: 'query',
  name: 'cancel',
  description: 'Cancel a pending plan (the requester or an approver)',
  options: [
    { name: 'request', description: 'The request id shown on the plan', type: 'string', required: true },
  ],
  args: z.object({ request: ARGS.operation }),
  private: true,
  async run(args, command, context) {
    if (context.operations === undefined) throw new CommandError('This instance runs no changing commands.');
    return (await context.operations.decide(args.request, 'cancel', command)).message;
  },
});
