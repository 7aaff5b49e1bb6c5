// `ack [incident]`: "I'm on it". Takes a critical alert that pages the on-call person: who took it is
// written to the audit log and shown on the incident, and its repeats and escalation stop. The
// incident's Acknowledge button sends `ack <incident>`; typed, a resource takes all of its alerts and
// nothing at all takes the only one waiting.
import { z } from 'zod';
import { CommandError, defineQuery } from '../src/app/command-registry.js';

export const ack = defineQuery({
  kind: 'query',
  name: 'ack',
  description: "Acknowledge a critical alert (I'm on it): stops its repeats and escalation",
  options: [
    {
      name: 'incident',
      description:
        'The incident (r0/connection, as on its button) or a resource (r0); default: the only one waiting',
      type: 'string',
      required: false,
    },
  ],
  args: z.object({
    incident: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(\/[a-z]{1,20})?$/,
        'an incident such as r0/connection, or a resource such as r0',
      )
      .optional(),
  }),
  async run(args, command, context) {
    if (context.paging === undefined) throw new CommandError('This instance does not page anyone.');
    return context.paging.acknowledge(args.incident, command);
  },
});
