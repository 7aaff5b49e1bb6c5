// node-cron, for the two things the bot does with cron expressions: run a job at its times
// (hand-over announcements, digests) and tell when a rotation's hand-overs happen (who is on call
// now). node-cron matches a given time against an expression; hand-overs are counted day by day
// over the hours and minutes the expression allows, so a year of weekly hand-overs costs a few
// hundred matches, not half a million.

import { createTask, parse, type ScheduledTask, schedule } from 'node-cron';
import type { HandoverClock } from '../core/policy.js';

const DAY_MS = 24 * 3_600_000;

export function handoverClock(
  expression: string,
): HandoverClock & { previous(atOrBefore: Date): Date | null } {
  const matcher: ScheduledTask = createTask(expression, () => {});
  const fields = parse(expression);
  const seconds = fields.second.length > 0 ? fields.second : [0];
  /** Every time in the local calendar day of `day` that matches, in order. */
  const timesOn = (day: Date): Date[] => {
    const times: Date[] = [];
    for (const hour of [...fields.hour].sort((a, b) => a - b)) {
      for (const minute of [...fields.minute].sort((a, b) => a - b)) {
        for (const second of [...seconds].sort((a, b) => a - b)) {
          const at = new Date(day.getFullYear(), day.getMonth(), day.getDate(), hour, minute, second);
          if (matcher.match(at)) times.push(at);
        }
      }
    }
    return times;
  };
  const startOfDay = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate());
  // 25 hours on, back to midnight: the next local day even across a daylight-saving change.
  const nextDay = (d: Date) => startOfDay(new Date(d.getTime() + DAY_MS + 3_600_000));
  return {
    count(from, to) {
      let n = 0;
      for (let day = startOfDay(from); day <= to; day = nextDay(day)) {
        for (const at of timesOn(day)) if (at > from && at <= to) n++;
      }
      return n;
    },
    next(after) {
      let day = startOfDay(after);
      for (let i = 0; i < 367; i++, day = nextDay(day)) {
        for (const at of timesOn(day)) if (at > after) return at;
      }
      return null;
    },
    previous(atOrBefore) {
      let day = startOfDay(atOrBefore);
      for (let i = 0; i < 367; i++) {
        const times = timesOn(day).filter((at) => at <= atOrBefore);
        const last = times.at(-1);
        if (last !== undefined) return last;
        // 23 hours back from midnight lands in the previous local day, DST or not.
        day = startOfDay(new Date(day.getTime() - DAY_MS + 3_600_000));
      }
      return null;
    },
  };
}

/** Run `job` at the expression's times (host time zone) until the returned stop() is called. */
export function every(expression: string, name: string, job: () => Promise<void> | void): { stop(): void } {
  const task = schedule(expression, async () => job(), { name, noOverlap: true });
  return {
    stop() {
      void task.destroy();
    },
  };
}
