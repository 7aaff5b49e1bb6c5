import { describe, expect, it } from 'vitest';
import { handoverClock } from '../../src/adapters/cron.js';
import {
  type Actor,
  BASE_POLICY,
  type Member,
  matchesPrincipal,
  mayApprove,
  mayRequest,
  onCall,
  samePerson,
} from '../../src/core/policy.js';

const team: Member[] = [
  { name: 'alice', slack: 'UALICE', discord: '1001' },
  { name: 'bob', slack: 'UBOB', discord: '1002' },
  { name: 'carol', slack: 'UCAROL' },
];
const slack = (userId: string, roles: string[] = []): Actor => ({
  platform: 'slack',
  userId,
  userName: userId.toLowerCase(),
  roles,
});
const alice = slack('UALICE');
const bob = slack('UBOB');
const carol = slack('UCAROL');
const stranger = slack('UEVE', ['SOPS']);
const context = { team, onCallNow: [team[1] as Member] };

describe('principals', () => {
  it('match people by team membership, on-call, name, platform id, group and role', () => {
    expect(matchesPrincipal('anyone', stranger, context)).toBe(true);
    expect(matchesPrincipal('team', alice, context)).toBe(true);
    expect(matchesPrincipal('team', stranger, context)).toBe(false);
    expect(matchesPrincipal('oncall', bob, context)).toBe(true);
    expect(matchesPrincipal('oncall', alice, context)).toBe(false);
    expect(matchesPrincipal('carol', carol, context)).toBe(true);
    expect(matchesPrincipal('slack:UEVE', stranger, context)).toBe(true);
    expect(matchesPrincipal('slack-group:SOPS', stranger, context)).toBe(true);
    expect(matchesPrincipal('discord-role:SOPS', stranger, context)).toBe(false);
    const discordUser: Actor = { platform: 'discord', userId: '1001', userName: 'alice', roles: ['77'] };
    expect(matchesPrincipal('alice', discordUser, context)).toBe(true);
    expect(matchesPrincipal('discord-role:77', discordUser, context)).toBe(true);
    expect(matchesPrincipal('slack:1001', discordUser, context)).toBe(false);
  });
});

describe('policy decisions', () => {
  const policy = { ...BASE_POLICY, approvals: 1, approverOnCall: true };

  it('lets only the named requesters ask, with the reason and the config key', () => {
    expect(mayRequest(policy, 'failover', alice, context)).toEqual({ ok: true });
    expect(mayRequest(policy, 'failover', stranger, context)).toEqual({
      ok: false,
      reason: 'ueve may not request failover: it is for the on-call team (policies.failover.requesters).',
    });
    expect(
      mayRequest({ ...policy, requesters: ['slack-group:SOPS'] }, 'failover', stranger, context).ok,
    ).toBe(true);
  });

  it('refuses self-approval, a second approval by the same person, non-approvers and people not on call', () => {
    expect(mayApprove(policy, 'failover', alice, alice, [], context)).toEqual({
      ok: false,
      reason: 'alice: you asked for this failover; someone else must approve it.',
    });
    expect(mayApprove(policy, 'failover', carol, alice, [], context)).toEqual({
      ok: false,
      reason: 'carol is not on call; failover needs the approval of the on-call person: bob.',
    });
    expect(mayApprove(policy, 'failover', stranger, alice, [], context).ok).toBe(false);
    expect(mayApprove(policy, 'failover', bob, alice, [bob], context)).toEqual({
      ok: false,
      reason: 'bob has already approved it; it needs another person.',
    });
    expect(mayApprove(policy, 'failover', bob, alice, [], context)).toEqual({ ok: true });
    // A team that allows self-approval says so in its configuration.
    expect(
      mayApprove({ ...policy, approverDiffers: false, approverOnCall: false }, 'x', alice, alice, [], context)
        .ok,
    ).toBe(true);
  });
});

describe('on-call roster', () => {
  it('static: the same people now and next', () => {
    const roster = { team, schedule: { kind: 'static' as const, onCall: ['alice', 'bob'] } };
    const now = onCall(roster, new Date(), undefined);
    expect(now.now.map((m) => m.name)).toEqual(['alice', 'bob']);
    expect(now.handoverAt).toBeNull();
  });

  it('rotation: counts the cron hand-overs since the start (node-cron evaluates the expression)', () => {
    // Weekly on Monday 09:00 local time, from Monday 2026-11-02 09:00.
    const roster = {
      team,
      schedule: {
        kind: 'rotation' as const,
        order: ['alice', 'bob', 'carol'],
        handover: '0 9 * * 1',
        since: '2026-11-02T09:00:00',
      },
    };
    const clock = handoverClock('0 9 * * 1');
    const at = (iso: string) => onCall(roster, new Date(iso), clock);
    expect(at('2026-11-02T09:00:00').now[0]?.name).toBe('alice');
    expect(at('2026-11-09T08:59:00').now[0]?.name).toBe('alice');
    expect(at('2026-11-09T09:00:00').now[0]?.name).toBe('bob');
    expect(at('2026-11-20T12:00:00').now[0]?.name).toBe('carol');
    expect(at('2026-11-23T09:00:00').now[0]?.name).toBe('alice');
    const later = at('2026-11-20T12:00:00');
    expect(later.next[0]?.name).toBe('alice');
    expect(later.handoverAt?.getTime()).toBe(new Date('2026-11-23T09:00:00').getTime());
    // A year on: 52 hand-overs later, still cheap and exact.
    expect(at('2027-11-01T09:00:00').now[0]?.name).toBe(['alice', 'bob', 'carol'][52 % 3]);
    expect(at('2026-10-01T00:00:00').now).toEqual([]);
  });

  it('counts several hand-overs a day', () => {
    const clock = handoverClock('0 8,20 * * *');
    expect(clock.count(new Date('2026-11-01T00:00:00'), new Date('2026-11-03T00:00:00'))).toBe(4);
    expect(clock.next(new Date('2026-11-01T08:00:00'))?.getTime()).toBe(
      new Date('2026-11-01T20:00:00').getTime(),
    );
  });
});

describe('four eyes are two people, not two accounts', () => {
  const aliceOnDiscord: Actor = { platform: 'discord', userId: '1001', userName: 'Alice D', roles: [] };
  const aliceOnWeb: Actor = { platform: 'web', userId: 'alice', userName: 'alice', roles: [] };
  const people = [...team, { name: 'dave', web: 'dave' }, { name: 'alice-web', web: 'alice-web' }];
  const onCallAll = { team: people, onCallNow: people };
  const withWeb = people.map((m) => (m.name === 'alice' ? { ...m, web: 'alice' } : m));

  it('a team member is the same person on every platform; strangers are their account', () => {
    expect(samePerson(alice, aliceOnDiscord, team)).toBe(true);
    expect(samePerson(alice, bob, team)).toBe(false);
    expect(samePerson(stranger, { ...stranger, userName: 'other name' }, team)).toBe(true);
    expect(samePerson(stranger, { ...stranger, platform: 'discord' }, team)).toBe(false);
    // A stranger whose id happens to be a member's id on another platform is not that member.
    expect(samePerson({ ...alice, platform: 'web' }, alice, team)).toBe(false);
  });

  it('refuses the requester approving from another platform, and one person approving twice', () => {
    const policy = { ...BASE_POLICY, approvals: 2, approvers: ['team'] };
    const context2 = { team: withWeb, onCallNow: withWeb };
    const self = mayApprove(policy, 'failover', aliceOnDiscord, alice, [], context2);
    expect(self).toEqual({
      ok: false,
      reason:
        'alice: you asked for this failover (from another account: discord); someone else must approve it.',
    });
    expect(mayApprove(policy, 'failover', aliceOnWeb, alice, [], context2).ok).toBe(false);
    // bob approved on Slack; his Discord account is still bob.
    const bobOnDiscord: Actor = { platform: 'discord', userId: '1002', userName: 'bobby', roles: [] };
    expect(mayApprove(policy, 'failover', bobOnDiscord, carol, [bob], context2)).toEqual({
      ok: false,
      reason: 'bob has already approved it; it needs another person.',
    });
    expect(mayApprove(policy, 'failover', carol, alice, [bob], onCallAll).ok).toBe(true);
  });
});
