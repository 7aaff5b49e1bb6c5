// The text helpers every message uses: counts with their noun, one time format with its zone, and
// shortening that keeps what decides.
import { describe, expect, it } from 'vitest';
import { oneLineTitle, textMessage } from '../../src/core/message-tones.js';
import {
  blockedText,
  type CheckResult,
  decidingChecks,
  fitText,
  formatTime,
  lineWeight,
  plural,
} from '../../src/core/text-format.js';

describe('plural', () => {
  it('says "1 change" and "2 changes", with irregular plurals given', () => {
    expect(plural(1, 'change')).toBe('1 change');
    expect(plural(0, 'change')).toBe('0 changes');
    expect(plural(2, 'change')).toBe('2 changes');
    expect(plural(1, 'entry', 'entries')).toBe('1 entry');
    expect(plural(3, 'entry', 'entries')).toBe('3 entries');
  });
});

describe('formatTime', () => {
  const at = Date.parse('2026-12-06T03:12:40Z');

  it('shows the date, the time to the minute and the zone', () => {
    expect(formatTime(at, 'UTC')).toBe('2026-12-06 03:12 UTC');
    expect(formatTime('2026-12-06T03:12:40.020Z', 'UTC')).toBe('2026-12-06 03:12 UTC');
    expect(formatTime(new Date(at), 'Europe/Berlin')).toBe('2026-12-06 04:12 CET');
    expect(formatTime(Date.parse('2026-07-06T03:12:40Z'), 'Europe/Berlin')).toBe('2026-07-06 05:12 CEST');
  });

  it('leaves the date out on the same day in that zone, and keeps it across midnight', () => {
    expect(formatTime(at + 600_000, 'UTC', { sameDayAs: at })).toBe('03:22 UTC');
    expect(
      formatTime(Date.parse('2026-12-06T23:55:00Z') + 600_000, 'UTC', {
        sameDayAs: Date.parse('2026-12-06T23:55:00Z'),
      }),
    ).toBe('2026-12-07 00:05 UTC');
    // 23:30 UTC on the 6th is already the 7th in Berlin: same day there as 00:10 Berlin time.
    expect(
      formatTime(Date.parse('2026-12-06T23:40:00Z'), 'Europe/Berlin', {
        sameDayAs: Date.parse('2026-12-06T23:30:00Z'),
      }),
    ).toBe('00:40 CET');
  });

  it('says "unknown time" rather than printing NaN or Invalid Date', () => {
    expect(formatTime('not a time', 'UTC')).toBe('unknown time');
    expect(formatTime(Number.NaN, 'UTC')).toBe('unknown time');
  });
});

describe('fitText', () => {
  const passed = (n: number, width = 80) =>
    Array.from({ length: n }, (_, i) => `✅ check ${i}: ${'p'.repeat(width)}`);

  it('leaves text that fits alone', () => {
    expect(fitText('a\nb', 3)).toBe('a\nb');
  });

  it('shortens long lines that decide nothing before leaving any out', () => {
    const text = ['❌ failed: the reason', `✅ fine: ${'x'.repeat(400)}`].join('\n');
    const fitted = fitText(text, 300);
    expect(fitted.split('\n')).toEqual(['❌ failed: the reason', expect.stringMatching(/^✅ fine: x+…$/)]);
    expect(fitted.length).toBeLessThanOrEqual(300);
  });

  it('leaves out passed lines first, from the end, and says how many; failed lines stay whole', () => {
    const lines = [...passed(40), `❌ deciding: ${'d'.repeat(200)}`, 'plain note', ...passed(5)];
    const fitted = fitText(lines.join('\n'), 1_000);
    expect(fitted.length).toBeLessThanOrEqual(1_000);
    expect(fitted).toContain(`❌ deciding: ${'d'.repeat(200)}`);
    expect(fitted).toContain('plain note');
    expect(fitted).toMatch(/\n… \d+ more lines not shown$/);
    // Order is kept: the first passed checks come before the failed one.
    expect(fitted.indexOf('✅ check 0:')).toBeLessThan(fitted.indexOf('❌ deciding'));
  });

  it('shares the room out when the failed lines alone are too long', () => {
    const text = [`❌ a: ${'a'.repeat(300)}`, `❌ b: ${'b'.repeat(300)}`].join('\n');
    const fitted = fitText(text, 200);
    expect(fitted.length).toBeLessThanOrEqual(200);
    expect(fitted.split('\n').map((l) => l.slice(0, 4))).toEqual(['❌ a:', '❌ b:']);
  });

  it('weighs failed checks, steps and alerts over passed ones', () => {
    expect([
      lineWeight('❌ x'),
      lineWeight('  🚨 x'),
      lineWeight('text'),
      lineWeight('✅ x'),
      lineWeight('◻️ x'),
    ]).toEqual([2, 2, 1, 0, 0]);
  });
});

describe('blocked plans as text', () => {
  const checks: CheckResult[] = [
    {
      name: 'one Primary',
      ok: false,
      detail: 'alpha and beta are both Primary',
      reason: 'both hosts are Primary',
      impliedBy: ['no split-brain'],
    },
    { name: 'target reachable', ok: true, detail: 'beta answers' },
    {
      name: 'no split-brain',
      ok: false,
      detail: 'both Primary and not connected',
      reason: 'split-brain not recovered',
    },
    { name: 'fence lock', ok: false, detail: 'held by beta', reason: 'fence lock held by beta' },
  ];

  it('names in the title only the failed checks no other failure explains', () => {
    expect(decidingChecks(checks).map((c) => c.name)).toEqual(['no split-brain', 'fence lock']);
    const text = blockedText('Failover r0', checks);
    expect(text.split('\n')).toEqual([
      'Failover r0 blocked: split-brain not recovered, fence lock held by beta',
      '❌ one Primary: alpha and beta are both Primary',
      '✅ target reachable: beta answers',
      '❌ no split-brain: both Primary and not connected',
      '❌ fence lock: held by beta',
    ]);
    expect(textMessage(text, 'warning')).toEqual({
      title: 'Failover r0 blocked: split-brain not recovered, fence lock held by beta',
      tone: 'warning',
      body: text.split('\n').slice(1).join('\n'),
    });
  });

  it('keeps the title short: the rest of the reasons are counted', () => {
    const many: CheckResult[] = Array.from({ length: 8 }, (_, i) => ({
      name: `check ${i}`,
      ok: false,
      detail: 'failed',
      reason: `reason number ${i} is rather long to read`,
    }));
    const title = blockedText('Failover r0', many).split('\n')[0] ?? '';
    expect(title.length).toBeLessThanOrEqual(160);
    expect(title).toMatch(/^Failover r0 blocked: reason number 0 is rather long to read, .* and \d more$/);
  });

  it('a message whose title has several lines keeps the existing body after them', () => {
    expect(oneLineTitle({ title: 'Short\nline 1\nline 2', tone: 'info', body: 'more' })).toEqual({
      title: 'Short',
      tone: 'info',
      body: 'line 1\nline 2\nmore',
    });
    const plain = { title: 'One line', tone: 'info' as const };
    expect(oneLineTitle(plain)).toBe(plain);
  });
});
