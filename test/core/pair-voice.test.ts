import { describe, expect, it } from 'vitest';
import { chores, intake, type PairSituation, voice } from '../../src/core/pair-voice.js';

const base: PairSituation = {
  paired: true,
  leads: false,
  leaderless: false,
  leaderKnown: true,
  peerLink: true,
  pendingForwards: 0,
};
const at = (s: Partial<PairSituation>): PairSituation => ({ ...base, ...s });

describe('who speaks for the pair', () => {
  it.each([
    // situation, severity, what happens to the notification
    ['alone (no pair)', at({ paired: false }), 'info', 'notify'],
    ['leader', at({ leads: true, leaderKnown: false }), 'warning', 'notify'],
    ['leader with older forwards still queued', at({ leads: true, pendingForwards: 3 }), 'info', 'forward'],
    [
      'leader without a peer link',
      at({ leads: true, peerLink: false, pendingForwards: 3 }),
      'info',
      'notify',
    ],
    ['follower', at({}), 'critical', 'forward'],
    [
      'follower, nobody can lead, critical',
      at({ leaderless: true, leaderKnown: false }),
      'critical',
      'notify-fail-open',
    ],
    [
      'follower, nobody can lead, warning',
      at({ leaderless: true, leaderKnown: false }),
      'warning',
      'forward',
    ],
    ['follower without a peer link, critical', at({ peerLink: false }), 'critical', 'hold'],
    ['follower without a peer link, warning', at({ peerLink: false }), 'warning', 'drop'],
  ] as const)('intake: %s, %s → %s', (_what, situation, severity, expected) => {
    expect(intake(situation, severity)).toBe(expected);
  });

  it.each([
    ['alone', at({ paired: false }), 'info', 'send'],
    ['leader', at({ leads: true }), 'info', 'send'],
    ['follower', at({}), 'critical', 'hold'],
    ['no leader at all, critical', at({ leaderless: true }), 'critical', 'send-with-note'],
    ['no leader at all, warning', at({ leaderless: true }), 'warning', 'hold'],
  ] as const)('voice: %s, %s → %s', (_what, situation, severity, expected) => {
    expect(voice(situation, severity, 'alpha').type).toBe(expected);
  });

  it('says who sent a fail-open alert and why', () => {
    const v = voice(at({ leaderless: true }), 'critical', 'alpha');
    expect(v).toEqual({
      type: 'send-with-note',
      note: 'Sent by alpha without a leader: the lock store cannot elect one, so each host reports its own critical alerts.',
    });
  });

  it.each([
    ['leader', at({ leads: true }), { postHeld: false, dropHeld: false, handOver: false }],
    ['alone', at({ paired: false }), { postHeld: false, dropHeld: false, handOver: false }],
    [
      'nobody can lead',
      at({ leaderless: true, leaderKnown: false }),
      { postHeld: true, dropHeld: false, handOver: false },
    ],
    ['following a known leader', at({}), { postHeld: false, dropHeld: true, handOver: true }],
    [
      'leader not known yet',
      at({ leaderKnown: false }),
      { postHeld: false, dropHeld: false, handOver: true },
    ],
    [
      'known leader, no peer link',
      at({ peerLink: false }),
      { postHeld: false, dropHeld: true, handOver: false },
    ],
  ] as const)('chores: %s', (_what, situation, expected) => {
    expect(chores(situation)).toEqual(expected);
  });
});
