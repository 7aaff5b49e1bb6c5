// What the bot says while it cannot see DRBD on a host: nothing for a routine restart, a warning
// naming the host and the cause past warnAfterMs, critical when it lasts or the host was Primary,
// and one resolution with what was missed. Plain data in, plain data out.

import { describe, expect, it } from 'vitest';
import { applyEvent, emptyHostState, type HostState } from '../../src/core/host-state.js';
import {
  assessOutage,
  blindMs,
  endingCause,
  missedChanges,
  outageCheckAt,
  outageTakenOver,
  PEER_BACK_GRACE_MS,
  peerOutageStep,
  primaryOf,
  type StreamDownSettings,
  type StreamHealth,
  streamBack,
  streamLost,
  watchingStarted,
} from '../../src/core/stream-health.js';
import { feedLine, initialWatch, streamRestarted } from '../../src/core/watcher.js';
import { parseEvents2Line } from '../../src/drbd/events2.js';

const T0 = Date.parse('2026-03-01T03:00:00Z');
const SETTINGS: StreamDownSettings = { warnAfterMs: 10_000, criticalAfterMs: 120_000 };
const CAUSE = endingCause('drbdsetup exited with code 20', 'netlink: Permission denied\nretry later');

function state(lines: readonly string[]): HostState {
  let s = emptyHostState('beta');
  for (const line of lines) {
    const record = parseEvents2Line(line);
    if (record.type === 'event') s = applyEvent(s, record, T0).state;
  }
  return s;
}

function up(): StreamHealth {
  return { up: true, since: T0 - 60_000 };
}

describe('an event stream outage', () => {
  it('says nothing before warnAfterMs, then warns once, naming the host and the cause', () => {
    const down = streamLost(up(), T0, CAUSE);
    expect(outageCheckAt(down, SETTINGS)).toBe(T0 + 10_000);
    expect(assessOutage(down, T0 + 9_999, SETTINGS, 'beta', []).notification).toBeUndefined();

    const warned = assessOutage(down, T0 + 10_000, SETTINGS, 'beta', []);
    expect(warned.notification).toMatchObject({
      kind: 'watcher-gap',
      severity: 'warning',
      host: 'beta',
      resource: null,
      at: new Date(T0 + 10_000).toISOString(),
      details: { stream: 'down', downMs: 10_000, cause: CAUSE, primary: null },
    });
    expect(warned.notification?.text).toBe(
      'The bot cannot see DRBD on beta: its event stream (drbdsetup events2) has been down for 10s. ' +
        'Cause: drbdsetup exited with code 20: "netlink: Permission denied / retry later". ' +
        'Changes on beta are not reported until the stream is back; the bot keeps restarting it. ' +
        'Check drbdsetup on beta (`drbdsetup events2 --now`).',
    );
    // Not twice: the next thing to say is the escalation.
    expect(assessOutage(warned.health, T0 + 11_000, SETTINGS, 'beta', []).notification).toBeUndefined();
    expect(outageCheckAt(warned.health, SETTINGS)).toBe(T0 + 120_000);
  });

  it('is critical once it lasts, and then says nothing more until it ends', () => {
    const warned = assessOutage(streamLost(up(), T0, CAUSE), T0 + 10_000, SETTINGS, 'beta', []).health;
    const lasting = assessOutage(warned, T0 + 120_000, SETTINGS, 'beta', []);
    expect(lasting.notification).toMatchObject({
      severity: 'critical',
      details: { stream: 'still-down', downMs: 120_000 },
    });
    expect(lasting.notification?.text).toMatch(
      /^Still blind on beta: .* down for 2m 0s\. Cause: drbdsetup exited/,
    );
    expect(outageCheckAt(lasting.health, SETTINGS)).toBeUndefined();
    expect(assessOutage(lasting.health, T0 + 600_000, SETTINGS, 'beta', []).notification).toBeUndefined();
  });

  it('is critical at once when the host was Primary when last seen', () => {
    const last = state([
      'exists resource name:r1 role:Primary suspended:no',
      'exists resource name:r0 role:Primary suspended:no',
      'exists resource name:r2 role:Secondary suspended:no',
    ]);
    expect(primaryOf(last)).toEqual(['r0', 'r1']);
    const step = assessOutage(streamLost(up(), T0, CAUSE), T0 + 10_000, SETTINGS, 'beta', primaryOf(last));
    expect(step.notification).toMatchObject({ severity: 'critical', details: { primary: 'r0,r1' } });
    expect(step.notification?.text).toContain('beta was Primary of r0, r1 when last seen.');
    expect(outageCheckAt(step.health, SETTINGS)).toBeUndefined();
  });

  it('keeps the start of the outage across failed restarts, with the latest cause', () => {
    const first = streamLost(up(), T0, CAUSE);
    const again = streamLost(first, T0 + 3_000, 'could not run /usr/sbin/drbdsetup: spawn ENOENT');
    expect(again).toEqual({
      up: false,
      since: T0,
      cause: 'could not run /usr/sbin/drbdsetup: spawn ENOENT',
    });
    expect(blindMs(again, T0 + 4_000)).toBe(4_000);
    expect(blindMs(up(), T0 + 4_000)).toBe(0);
  });

  it('counts from the start of watching when the stream never printed its state', () => {
    const start = watchingStarted(T0);
    expect(start.up).toBe(false);
    const step = assessOutage(start, T0 + 10_000, SETTINGS, 'beta', []);
    expect(step.notification?.text).toContain('Cause: drbdsetup events2 has not printed the DRBD state yet.');
    const back = streamBack(step.health, T0 + 12_000, 'beta', undefined);
    expect(back.notification?.text).toBe(
      'The bot sees DRBD on beta again: its event stream is back after 12s (it was down: ' +
        'drbdsetup events2 has not printed the DRBD state yet). This is the first DRBD state the bot ' +
        'has read on beta since it started.',
    );
  });
});

describe('the stream coming back', () => {
  it('is resolved with how long it was down and what was missed, when people were told', () => {
    const told = assessOutage(streamLost(up(), T0, CAUSE), T0 + 10_000, SETTINGS, 'beta', []).health;
    const back = streamBack(told, T0 + 15_000, 'beta', [
      'r0 connection alpha: Connected → Connecting',
      'r0 role: Secondary → Primary',
    ]);
    expect(back.health).toEqual({ up: true, since: T0 + 15_000 });
    expect(back.notification).toMatchObject({
      kind: 'watcher-gap',
      severity: 'info',
      host: 'beta',
      resource: null,
      details: { stream: 'back', downMs: 15_000, missed: 2, cause: CAUSE },
    });
    expect(back.notification?.text).toBe(
      'The bot sees DRBD on beta again: its event stream is back after 15s (it was down: drbdsetup ' +
        'exited with code 20: "netlink: Permission denied / retry later"). 2 changes were missed ' +
        'meanwhile: r0 connection alpha: Connected → Connecting; r0 role: Secondary → Primary.',
    );
    expect(streamBack(told, T0 + 15_000, 'beta', []).notification?.text).toMatch(
      /Nothing changed meanwhile\.$/,
    );
  });

  it('says nothing of its own after a routine restart nobody was told about', () => {
    const back = streamBack(streamLost(up(), T0, CAUSE), T0 + 2_000, 'beta', []);
    expect(back).toEqual({ health: { up: true, since: T0 + 2_000 } });
    expect(streamBack(up(), T0, 'beta', []).notification).toBeUndefined();
  });

  it('lists the changes the watcher found between the state before and the fresh dump', () => {
    let watch = initialWatch('beta');
    for (const line of [
      'exists resource name:r0 role:Secondary suspended:no',
      'exists connection name:r0 peer-node-id:0 conn-name:alpha connection:Connected role:Primary',
      'exists -',
    ])
      watch = feedLine(watch, line, T0).watch;
    watch = streamRestarted(watch, T0 + 1_000, 'drbdsetup exited with code 20');
    let changes: Parameters<typeof missedChanges>[0] = [];
    for (const line of [
      'exists resource name:r0 role:Secondary suspended:no',
      'exists connection name:r0 peer-node-id:0 conn-name:alpha connection:Connecting role:Unknown',
      'exists -',
    ]) {
      const step = feedLine(watch, line, T0 + 15_000);
      watch = step.watch;
      if (step.changes.length > 0) changes = step.changes;
    }
    expect(missedChanges(changes)).toEqual(
      expect.arrayContaining(['r0 alpha connection: Connected → Connecting']),
    );
  });
});

describe('endingCause', () => {
  it('is the exit alone without stderr, and quotes stderr on one line otherwise', () => {
    expect(endingCause('drbdsetup ended by SIGKILL', '')).toBe('drbdsetup ended by SIGKILL');
    expect(endingCause('drbdsetup exited with code 10', 'a\nb')).toBe(
      'drbdsetup exited with code 10: "a / b"',
    );
  });
});

describe('a leader that died blind', () => {
  const down = (told?: 'warning' | 'critical'): StreamHealth => ({
    up: false,
    since: T0,
    cause: CAUSE,
    ...(told === undefined ? {} : { told }),
  });
  const step = (over: Partial<Parameters<typeof peerOutageStep>[0]>) =>
    peerOutageStep({
      health: undefined,
      peer: undefined,
      open: undefined,
      now: T0,
      settings: SETTINGS,
      host: 'alpha',
      primary: [],
      ...over,
    });

  it('is continued by the new leader: a reply at once when people were told, saying nobody watches now', () => {
    const taken = outageTakenOver(down('warning'), 'alpha', T0 + 30_000, 'beta');
    expect(taken.notification).toMatchObject({
      kind: 'watcher-gap',
      severity: 'warning',
      host: 'alpha',
      details: { stream: 'still-down', downMs: 30_000, leaderLost: true },
    });
    expect(taken.notification?.text).toContain('its bot stopped leading');
    expect(taken.health).toMatchObject({ up: false, since: T0, told: 'warning' });
    expect(taken.health.up ? '' : taken.health.cause).toContain('beta leads now');
  });

  it('waits for the warning when nobody was told yet, then gives it with the new cause', () => {
    const taken = outageTakenOver(down(), 'alpha', T0 + 3_000, 'beta');
    expect(taken.notification).toBeUndefined();
    expect(step({ health: taken.health, now: T0 + 9_000 }).notification).toBeUndefined();
    const warned = step({ health: taken.health, now: T0 + 10_000 });
    expect(warned.notification).toMatchObject({ severity: 'warning', details: { stream: 'down' } });
    expect(warned.notification?.text).toContain('the bot on alpha stopped leading');
    // Nobody restarts a dead bot's stream: the message says so, and what to check.
    expect(warned.notification?.text).toContain(
      'The bot on alpha does not answer, so nothing restarts the stream',
    );
    expect(warned.notification?.text).not.toContain('the bot keeps restarting it');
    const escalated = step({ health: warned.health, now: T0 + 120_000 });
    expect(escalated.notification).toMatchObject({ severity: 'critical', details: { stream: 'still-down' } });
  });

  it('says nothing about a stream that was up', () => {
    expect(outageTakenOver(up(), 'alpha', T0, 'beta')).toEqual({ health: up() });
    expect(step({})).toEqual({ health: undefined });
  });

  it('stops when the other instance answers: its own watch speaks for its host', () => {
    const answeredDown = step({
      health: down('warning'),
      peer: { up: false, since: T0 + 20_000 },
      now: T0 + 30_000,
    });
    expect(answeredDown).toEqual({ health: undefined });
  });

  it('resolves the open incident once the other instance has seen DRBD for a moment', () => {
    const open = { since: T0, cause: CAUSE };
    const peerUp = { up: true, since: T0 + 60_000 };
    // Just up: its own resolution, if it has one, may still be on its way.
    expect(
      step({ peer: peerUp, open, now: T0 + 60_000 + PEER_BACK_GRACE_MS - 1 }).notification,
    ).toBeUndefined();
    const back = step({
      health: down('critical'),
      peer: peerUp,
      open,
      now: T0 + 60_000 + PEER_BACK_GRACE_MS,
    });
    expect(back.health).toBeUndefined();
    expect(back.notification).toMatchObject({
      kind: 'watcher-gap',
      severity: 'info',
      host: 'alpha',
      resource: null,
      details: { stream: 'back', downMs: 60_000 },
    });
    // No open incident: nothing to resolve.
    expect(step({ peer: peerUp, now: T0 + 120_000 }).notification).toBeUndefined();
  });
});
