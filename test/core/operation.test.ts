import { describe, expect, it } from 'vitest';
import {
  changedFacts,
  decide,
  expireIfDue,
  type Operation,
  operationMessage,
  requestAnswer,
} from '../../src/core/operation.js';
import { type Actor, BASE_POLICY, type Member } from '../../src/core/policy.js';

const team: Member[] = [
  { name: 'alice', slack: 'UALICE', discord: '2001', web: 'alice' },
  { name: 'bob', slack: 'UBOB', discord: '2002' },
  { name: 'carol', slack: 'UCAROL' },
];
const actor = (userId: string): Actor => ({ platform: 'slack', userId, userName: userId, roles: [] });
const [alice, bob, carol] = [actor('UALICE'), actor('UBOB'), actor('UCAROL')];
const T0 = Date.parse('2026-11-29T03:00:00Z');

function operation(overrides: Partial<Operation> = {}): Operation {
  return {
    id: '0a1b2c3d',
    plan: {
      command: 'ip-set web1 198.51.100.20',
      name: 'ip-set',
      title: 'ip set web1 198.51.100.20',
      resource: 'r0',
      summary: 'web1 is Running on alpha.',
      fields: [],
      facts: { 'web1 status': 'Running' },
      steps: [
        {
          id: 'stop',
          host: 'alpha',
          label: 'Stop web1',
          action: { kind: 'container-stop', resource: 'r0', container: 'web1', timeoutS: 30 },
        },
        {
          id: 'start',
          host: 'alpha',
          label: 'Start web1',
          action: { kind: 'container-start', resource: 'r0', container: 'web1' },
        },
      ],
    },
    args: { container: 'web1', addresses: '198.51.100.20' },
    requester: alice,
    requestedAt: T0,
    expiresAt: T0 + 600_000,
    token: 4,
    policy: BASE_POLICY,
    channel: { platform: 'slack', channelId: 'C1' },
    messageId: '1700000000.000100',
    state: 'awaiting-confirmation',
    approvals: [],
    steps: [],
    rollback: [],
    ...overrides,
  };
}

const ctx = { now: T0 + 1_000, token: 4, team, onCallNow: [team[1] as Member] };

describe('decide', () => {
  it('runs exactly once: the requester confirms, a second confirm changes nothing', () => {
    const first = decide(operation(), 'confirm', alice, ctx);
    expect(first.run).toBe(true);
    expect(first.operation.state).toBe('running');
    const second = decide(first.operation, 'confirm', alice, ctx);
    expect(second).toMatchObject({ run: false, changed: false });
    expect(second.answer).toMatch(/already running; nothing was started twice/);
  });

  it('only the requester confirms', () => {
    const r = decide(operation(), 'confirm', bob, ctx);
    expect(r).toMatchObject({
      run: false,
      changed: false,
      answer: 'Only alice, who asked for it, can confirm request 0a1b2c3d.',
    });
  });

  it('with approvals: confirm, then someone else on call approves; self-approval and off-call approval are refused', () => {
    const policy = { ...BASE_POLICY, approvals: 1, approverOnCall: true };
    const confirmed = decide(operation({ policy }), 'confirm', alice, ctx);
    expect(confirmed).toMatchObject({ run: false, changed: true });
    expect(confirmed.operation.state).toBe('awaiting-approval');
    expect(decide(operation({ policy }), 'approve', bob, ctx).answer).toMatch(
      /must confirm request 0a1b2c3d before/,
    );
    expect(decide(confirmed.operation, 'approve', alice, ctx).answer).toMatch(/someone else must approve/);
    expect(decide(confirmed.operation, 'approve', carol, ctx).answer).toMatch(/carol is not on call/);
    const approved = decide(confirmed.operation, 'approve', bob, ctx);
    expect(approved).toMatchObject({ run: true, changed: true });
    expect(approved.operation.approvals.map((a) => a.actor.userId)).toEqual(['UBOB']);
    // Two approvers at once: whoever comes second finds it running.
    expect(decide(approved.operation, 'approve', carol, ctx)).toMatchObject({ run: false, changed: false });
  });

  it('two approvals need two different people', () => {
    const policy = { ...BASE_POLICY, approvals: 2 };
    let op = decide(operation({ policy }), 'confirm', alice, ctx).operation;
    const one = decide(op, 'approve', bob, ctx);
    expect(one).toMatchObject({ run: false, changed: true });
    op = one.operation;
    expect(decide(op, 'approve', bob, ctx).answer).toMatch(/already approved it/);
    expect(decide(op, 'approve', carol, ctx).run).toBe(true);
  });

  it('one member with accounts on several platforms is one person: no self-approval, no double approval', () => {
    const aliceOnDiscord: Actor = { platform: 'discord', userId: '2001', userName: 'Alice', roles: [] };
    const aliceOnWeb: Actor = { platform: 'web', userId: 'alice', userName: 'alice', roles: [] };
    const bobOnDiscord: Actor = { platform: 'discord', userId: '2002', userName: 'bobby', roles: [] };
    const policy = { ...BASE_POLICY, approvals: 2 };
    // She asked on Slack and may confirm from Discord: confirming is the requester's part.
    let op = decide(operation({ policy }), 'confirm', aliceOnDiscord, ctx).operation;
    expect(op.state).toBe('awaiting-approval');
    for (const self of [aliceOnDiscord, aliceOnWeb]) {
      const r = decide(op, 'approve', self, ctx);
      expect(r).toMatchObject({ run: false, changed: false });
      expect(r.answer).toMatch(/alice: you asked for this ip-set \(from another account: (discord|web)\)/);
    }
    op = decide(op, 'approve', bob, ctx).operation;
    expect(decide(op, 'approve', bobOnDiscord, ctx).answer).toBe(
      'bob has already approved it; it needs another person.',
    );
    const done = decide(op, 'approve', carol, ctx);
    expect(done.run).toBe(true);
    // The plan names the person and the account each decision came from.
    const text = JSON.stringify(operationMessage(done.operation, team));
    expect(text).toContain('requested by alice (slack:UALICE)');
    expect(text).toContain('approved by bob (slack:UBOB), carol (slack:UCAROL)');
  });

  it('a stranger outside the team is known by the account alone', () => {
    const stranger = actor('UEVE');
    const policy = { ...BASE_POLICY, approvers: ['anyone'] };
    const op = decide(operation({ policy, requester: stranger }), 'confirm', stranger, ctx).operation;
    expect(op.state).toBe('running');
    const text = JSON.stringify(operationMessage(op, team));
    expect(text).toContain('requested by UEVE (slack:UEVE, not in the team)');
  });

  it('expires with time and with a leadership change, saying which', () => {
    const late = decide(operation(), 'confirm', alice, { ...ctx, now: T0 + 600_000 });
    expect(late).toMatchObject({ run: false, changed: true });
    expect(late.operation.state).toBe('expired');
    expect(late.answer).toMatch(/nobody finished it within 10m/);
    const newLeader = decide(operation(), 'confirm', alice, { ...ctx, token: 5 });
    expect(newLeader.operation.state).toBe('expired');
    expect(newLeader.answer).toMatch(/leadership changed since it was requested \(token 4 → 5\)/);
    const fresh = operation();
    expect(expireIfDue(fresh, ctx.now, 4)).toBe(fresh);
  });

  it('cancel: the requester or an approver; strangers are refused; a cancelled request runs nothing', () => {
    const stranger = actor('UEVE');
    expect(decide(operation(), 'cancel', stranger, ctx).answer).toMatch(/may not cancel/);
    const cancelled = decide(operation(), 'cancel', bob, ctx);
    expect(cancelled.operation.state).toBe('cancelled');
    const click = decide(cancelled.operation, 'confirm', alice, ctx);
    expect(click).toMatchObject({ run: false, changed: false });
    expect(click.answer).toMatch(/was cancelled; nothing was run/);
  });
});

describe('the plan message', () => {
  it('shows steps and the buttons that fit the state', () => {
    const open = operationMessage(operation(), team);
    expect(open.title).toBe('ip set web1 198.51.100.20: waiting for confirmation');
    expect(open.actions?.map((a) => a.command)).toEqual(['confirm 0a1b2c3d', 'cancel 0a1b2c3d']);
    expect(open.fields?.find((f) => f.label === 'Steps')?.value).toBe(
      '◻️ Stop web1 (alpha)\n◻️ Start web1 (alpha)',
    );
    const done = operationMessage(
      operation({
        state: 'rolled-back',
        finishedAt: T0 + 5_000,
        steps: [
          {
            id: 'stop',
            label: 'Stop web1',
            host: 'alpha',
            status: 'done',
            startedAt: T0,
            durationMs: 1_200,
            runs: [],
          },
          {
            id: 'start',
            label: 'Start web1',
            host: 'alpha',
            status: 'failed',
            startedAt: T0 + 1_300,
            durationMs: 80,
            error: 'lxc start web1: exit 1',
            runs: [
              {
                argv: ['lxc', 'start', 'web1'],
                exitCode: 1,
                durationMs: 80,
                stdout: '',
                stderr: 'Error: Failed to start device "eth0"',
              },
            ],
          },
        ],
        rollback: [
          {
            id: 'stop-undo-0',
            label: 'Undo: Stop web1',
            host: 'alpha',
            status: 'done',
            startedAt: T0 + 1_400,
            durationMs: 500,
            runs: [],
          },
        ],
      }),
      team,
    );
    expect(done.actions).toBeUndefined();
    expect(done.tone).toBe('warning');
    expect(done.fields?.find((f) => f.label === 'Steps')?.value).toBe(
      '✅ Stop web1 (alpha) — 1.2 s\n❌ Start web1 (alpha) — 80 ms: lxc start web1: exit 1',
    );
    expect(done.fields?.find((f) => f.label === 'Rollback')?.value).toBe(
      '✅ Undo: Stop web1 (alpha) — 500 ms',
    );
    expect(done.fields?.find((f) => f.label.startsWith('Output of lxc start web1'))?.value).toBe(
      '`Error: Failed to start device "eth0"`',
    );
  });

  it('shows the expiry in one zone, named, without a date on the day it was asked', () => {
    const open = operationMessage(operation(), team);
    expect(open.fields?.find((f) => f.label === 'Expires')?.value).toBe('03:10 UTC');
    const late = operationMessage(
      operation({
        requestedAt: Date.parse('2026-11-29T23:55:00Z'),
        expiresAt: Date.parse('2026-11-30T00:05:00Z'),
      }),
      team,
      { zone: 'Europe/Berlin' },
    );
    expect(late.fields?.find((f) => f.label === 'Expires')?.value).toBe('01:05 CET');
    const acrossMidnight = operationMessage(
      operation({
        requestedAt: Date.parse('2026-11-29T23:55:00Z'),
        expiresAt: Date.parse('2026-11-30T00:05:00Z'),
      }),
      team,
    );
    expect(acrossMidnight.fields?.find((f) => f.label === 'Expires')?.value).toBe('2026-11-30 00:05 UTC');
    for (const field of open.fields ?? []) expect(field.value).not.toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it('a plan confirmed by typing offers no Confirm button and its answer says what to type', () => {
    const typed = operation({
      plan: { ...operation().plan, typedConfirmation: 'r0' },
      policy: { ...BASE_POLICY, approvals: 2 },
    });
    const message = operationMessage(typed, team);
    expect(message.actions?.map((a) => a.label)).toEqual(['Cancel']);
    expect(message.fields?.find((f) => f.label === 'To confirm')?.value).toBe('type `confirm 0a1b2c3d r0`');
    expect(requestAnswer(typed)).toBe(
      'Plan 0a1b2c3d posted. Check it, then type `confirm 0a1b2c3d r0` to confirm (there is no button for this one); nothing runs before that.',
    );
    expect(requestAnswer(typed)).not.toMatch(/press/i);
    expect(requestAnswer(operation())).toBe(
      'Plan 0a1b2c3d posted. Check it and press Confirm; nothing runs before that.',
    );
    const approvals = (n: number) =>
      requestAnswer(
        operation({ state: 'awaiting-approval', policy: { ...BASE_POLICY, confirm: false, approvals: n } }),
      );
    expect(approvals(1)).toBe('Plan 0a1b2c3d posted. It needs one approval; nothing runs before that.');
    expect(approvals(2)).toBe('Plan 0a1b2c3d posted. It needs 2 approvals; nothing runs before that.');
  });

  it('a reason carrying a checklist is bold on its first line only (bold does not span lines)', () => {
    const aborted = operationMessage(
      operation({
        state: 'aborted',
        finishedAt: T0 + 1_000,
        reason:
          'Nothing was run: Failover r0 blocked: a resync is running\n✅ one Primary: alpha is Primary\n❌ no resync: a resync is running',
      }),
      team,
    );
    expect(aborted.body).toBe(
      'web1 is Running on alpha.\n*Nothing was run: Failover r0 blocked: a resync is running*\n✅ one Primary: alpha is Primary\n❌ no resync: a resync is running',
    );
    expect(operationMessage(operation({ state: 'expired', reason: 'nobody finished it' }), team).body).toBe(
      'web1 is Running on alpha.\n*nobody finished it*',
    );
  });

  it('lists the facts that changed', () => {
    expect(changedFacts({ a: '1', b: '2' }, { a: '1', b: '3', c: 'x' })).toEqual([
      'b: was 2, now 3',
      'c: was (nothing), now x',
    ]);
  });
});
