// Who may do what: the on-call team and roster, and the policy of each changing command (who may
// request it, whether the requester confirms, how many approvals, by whom). Pure: the roster's
// clock (when hand-overs happen) is passed in, so every decision is testable without waiting.

import type { PlatformName } from '../ports/chat.js';

/** A person as a platform presents them. */
export interface Actor {
  readonly platform: PlatformName;
  readonly userId: string;
  readonly userName: string;
  /** Slack user group ids / Discord role ids, where the platform tells. */
  readonly roles: readonly string[];
}

/** A member of the on-call team, with their id on each platform. */
export interface Member {
  readonly name: string;
  readonly slack?: string | undefined;
  readonly discord?: string | undefined;
  readonly console?: string | undefined;
  readonly web?: string | undefined;
}

export type Schedule =
  | { readonly kind: 'none' }
  | { readonly kind: 'static'; readonly onCall: readonly string[] }
  /** `order[i]` takes over at each hand-over (a cron expression in the host's time zone). */
  | {
      readonly kind: 'rotation';
      readonly order: readonly string[];
      readonly handover: string;
      readonly since: string;
    };

export interface Roster {
  readonly team: readonly Member[];
  readonly schedule: Schedule;
}

/** When hand-overs happen (node-cron evaluates the expression; see src/adapters/cron.ts). */
export interface HandoverClock {
  /** How many hand-overs happen in (from, to]. */
  count(from: Date, to: Date): number;
  /** The first hand-over after `after`, or null when none within a year. */
  next(after: Date): Date | null;
}

export interface OnCall {
  readonly now: readonly Member[];
  readonly next: readonly Member[];
  /** When `next` takes over; null for a static roster. */
  readonly handoverAt: Date | null;
}

function members(team: readonly Member[], names: readonly string[]): Member[] {
  return names.map((name) => team.find((m) => m.name === name) ?? { name });
}

export function onCall(roster: Roster, now: Date, clock: HandoverClock | undefined): OnCall {
  const schedule = roster.schedule;
  if (schedule.kind === 'none') return { now: [], next: [], handoverAt: null };
  if (schedule.kind === 'static') {
    const people = members(roster.team, schedule.onCall);
    return { now: people, next: people, handoverAt: null };
  }
  if (clock === undefined) throw new Error('a rotation needs a hand-over clock');
  const since = new Date(schedule.since);
  if (now < since) {
    return { now: [], next: members(roster.team, schedule.order.slice(0, 1)), handoverAt: since };
  }
  const n = schedule.order.length;
  const index = clock.count(since, now) % n;
  return {
    now: members(roster.team, [schedule.order[index] ?? '']),
    next: members(roster.team, [schedule.order[(index + 1) % n] ?? '']),
    handoverAt: clock.next(now),
  };
}

/** The team member this platform user is, if any. */
export function memberOf(actor: Actor, team: readonly Member[]): Member | undefined {
  // An id is never empty: a member without an id on this platform must not match an empty one.
  if (actor.userId === '') return undefined;
  return team.find((m) => m[actor.platform] === actor.userId);
}

/**
 * Whether two actors are the same person. Four eyes means two people, not two accounts: a team
 * member is one person across her Slack, Discord, web and console ids, so an approval from her
 * Discord account does not count as "someone else" for a request she made on Slack. People outside
 * the team are known only by their account (platform + id).
 */
export function samePerson(a: Actor, b: Actor, team: readonly Member[]): boolean {
  const ma = memberOf(a, team);
  const mb = memberOf(b, team);
  if (ma !== undefined || mb !== undefined) return ma !== undefined && ma.name === mb?.name;
  return sameAccount(a, b);
}

/** The person and the account used, for plan messages and answers: "alice (slack:U123)". */
export function describeActor(actor: Actor, team: readonly Member[]): string {
  const member = memberOf(actor, team);
  const account = `${actor.platform}:${actor.userId}`;
  if (member !== undefined) return `${member.name} (${account})`;
  return `${actor.userName} (${account}, not in the team)`;
}

/**
 * Who a policy names, as strings in the configuration:
 * `anyone`, `team` (any member of the on-call team), `oncall` (whoever is on call now), a team
 * member's name, `slack:U123`, `slack-group:S123`, `discord:123`, `discord-role:456`, `console:NAME`, `web:NAME`.
 */
export type Principal = string;

export const PRINCIPAL_PATTERN =
  /^(anyone|team|oncall|[A-Za-z][A-Za-z0-9._-]{0,63}|(slack|slack-group|discord|discord-role|console|web):[A-Za-z0-9._-]{1,64})$/;

export function matchesPrincipal(
  principal: Principal,
  actor: Actor,
  context: { readonly team: readonly Member[]; readonly onCallNow: readonly Member[] },
): boolean {
  const member = memberOf(actor, context.team);
  if (principal === 'anyone') return true;
  if (principal === 'team') return member !== undefined;
  if (principal === 'oncall')
    return member !== undefined && context.onCallNow.some((m) => m.name === member.name);
  const colon = principal.indexOf(':');
  if (colon < 0) return member?.name === principal;
  const kind = principal.slice(0, colon);
  const id = principal.slice(colon + 1);
  switch (kind) {
    case 'slack':
    case 'discord':
    case 'console':
    case 'web':
      return actor.platform === kind && actor.userId === id;
    case 'slack-group':
      return actor.platform === 'slack' && actor.roles.includes(id);
    case 'discord-role':
      return actor.platform === 'discord' && actor.roles.includes(id);
    default:
      return false;
  }
}

export interface CommandPolicy {
  /** Who may ask for it. */
  readonly requesters: readonly Principal[];
  /** Who may approve it. */
  readonly approvers: readonly Principal[];
  /** The requester confirms the plan (Confirm / Cancel) before anything else happens. */
  readonly confirm: boolean;
  /** Approvals needed after the confirmation. */
  readonly approvals: number;
  /** An approver must be someone other than the requester. */
  readonly approverDiffers: boolean;
  /** An approver must be on call at the moment of approving. */
  readonly approverOnCall: boolean;
  /** A request not finished by then expires. */
  readonly expireAfterMs: number;
}

export const DEFAULT_EXPIRY_MS = 10 * 60_000;

/** What a changing command needs when the configuration does not say. */
export const BASE_POLICY: CommandPolicy = {
  requesters: ['team'],
  approvers: ['team'],
  confirm: true,
  approvals: 0,
  approverDiffers: true,
  approverOnCall: false,
  expireAfterMs: DEFAULT_EXPIRY_MS,
};

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

function who(actor: Actor, team: readonly Member[]): string {
  return memberOf(actor, team)?.name ?? actor.userName;
}

export function mayRequest(
  policy: CommandPolicy,
  command: string,
  actor: Actor,
  context: { readonly team: readonly Member[]; readonly onCallNow: readonly Member[] },
): Verdict {
  if (policy.requesters.some((p) => matchesPrincipal(p, actor, context))) return { ok: true };
  return {
    ok: false,
    reason: `${who(actor, context.team)} may not request ${command}: it is for ${describePrincipals(policy.requesters)} (policies.${command}.requesters).`,
  };
}

export function mayApprove(
  policy: CommandPolicy,
  command: string,
  actor: Actor,
  requester: Actor,
  earlier: readonly Actor[],
  context: { readonly team: readonly Member[]; readonly onCallNow: readonly Member[] },
): Verdict {
  const name = who(actor, context.team);
  if (policy.approverDiffers && samePerson(actor, requester, context.team)) {
    const account = sameAccount(actor, requester) ? '' : ` (from another account: ${actor.platform})`;
    return {
      ok: false,
      reason: `${name}: you asked for this ${command}${account}; someone else must approve it.`,
    };
  }
  if (earlier.some((a) => samePerson(a, actor, context.team))) {
    return { ok: false, reason: `${name} has already approved it; it needs another person.` };
  }
  if (!policy.approvers.some((p) => matchesPrincipal(p, actor, context))) {
    return {
      ok: false,
      reason: `${name} may not approve ${command}: approvers are ${describePrincipals(policy.approvers)}.`,
    };
  }
  if (policy.approverOnCall && !matchesPrincipal('oncall', actor, context)) {
    const current = context.onCallNow.map((m) => m.name).join(', ') || 'nobody (check the roster)';
    return {
      ok: false,
      reason: `${name} is not on call; ${command} needs the approval of the on-call person: ${current}.`,
    };
  }
  return { ok: true };
}

/** The same platform account (not necessarily the same person: see samePerson). */
export function sameAccount(a: Actor, b: Actor): boolean {
  return a.platform === b.platform && a.userId === b.userId;
}

export function describePrincipals(principals: readonly Principal[]): string {
  const words = principals.map((p) =>
    p === 'team' ? 'the on-call team' : p === 'oncall' ? 'whoever is on call' : p === 'anyone' ? 'anyone' : p,
  );
  return words.join(', ') || 'nobody';
}
