// `oncall`: who is on call now, who is next, and when they take over.
import { z } from 'zod';
import { defineQuery } from '../src/app/command-registry.js';
import type { Member } from '../src/core/policy.js';
import { formatTime, MESSAGE_TIME_ZONE } from '../src/core/text-format.js';

const names = (people: readonly Member[]) => people.map((m) => m.name).join(', ') || 'nobody';

export const oncall = defineQuery({
  kind: 'query',
  name: 'oncall',
  description: 'Who is on call now and next',
  options: [],
  args: z.object({}),
  async run(_args, _command, context) {
    const roster = context.onCall();
    if (context.team.length === 0) {
      return {
        title: 'No on-call team configured',
        tone: 'warning',
        body: 'Add oncall.team (and static or rotation) to the configuration.',
      };
    }
    return {
      title: `On call: ${names(roster.now)}`,
      tone: roster.now.length === 0 ? 'warning' : 'info',
      fields: [
        { label: 'Now', value: names(roster.now), short: true },
        {
          label: 'Next',
          value:
            roster.handoverAt === null
              ? names(roster.next)
              : `${names(roster.next)} from ${formatTime(roster.handoverAt, MESSAGE_TIME_ZONE)}`,
          short: true,
        },
        { label: 'Team', value: names(context.team) },
      ],
    };
  },
});
