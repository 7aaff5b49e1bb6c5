import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, maskSecrets, parseConfig } from '../../src/app/config.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('parseConfig', () => {
  it('fills every default from an empty document', () => {
    const config = parseConfig(null);
    expect(config.drbd.drbdsetup).toBe('/usr/sbin/drbdsetup');
    expect(config.drbd.events2Args).toEqual(['events2', '--timestamps', '--statistics']);
    expect(config.drbd.restartBackoff).toEqual({ initialMs: 1_000, maxMs: 30_000 });
    expect(config.log).toEqual({ level: 'info', format: 'auto' });
    expect(config.host.length).toBeGreaterThan(0);
  });

  it('accepts the annotated example shipped in deploy/', () => {
    const example = parse(
      readFileSync(join(import.meta.dirname, '../../deploy/config.example.yaml'), 'utf8'),
    );
    expect(parseConfig(example).host).toBe('alpha');
  });

  it('names the key, the value and the expectation for each problem', () => {
    expect(
      problems({ host: 'bad host!', drbd: { restartBackoff: { initialMs: 5_000, maxMs: 1_000 } } }),
    ).toEqual([
      'host: a host name, got "bad host!"',
      'drbd.restartBackoff.maxMs: maxMs must be at least initialMs, got 1000',
    ]);
    expect(problems({ log: { level: 'loud' } })[0]).toMatch(/^log\.level: .*"info".*, got "loud"$/);
    expect(problems({ drbd: { env: { 'NOT VALID': 'x' } } })[0]).toMatch(/^drbd\.env\.NOT VALID/);
  });

  it('rejects unknown keys at every level', () => {
    expect(problems({ drbd: { drbdsetpu: '/x' } })).toEqual(['drbd: unknown key "drbdsetpu"']);
    expect(problems({ slak: {} })).toEqual(['unknown key "slak"']);
  });

  it('refuses secrets written into the file, wherever they are', () => {
    expect(problems({ drbd: { env: { SLACK_BOT_TOKEN: 'xoxb-1' } } })[0]).toMatch(
      /^drbd\.env\.SLACK_BOT_TOKEN: secrets must not be written/,
    );
    expect(problems({ password: 'hunter2' })[0]).toMatch(/^password: secrets must not be written/);
  });

  it('takes the Slack workspace and per-command channel allow-lists for Slack and Discord', () => {
    const discord = { applicationId: '123456789012345678', guildId: '234567890123456789' };
    const config = parseConfig({
      slack: {
        teamId: 'T0123ABC',
        enterpriseId: 'E0123ABC',
        channels: { failover: ['C0123OPS'], '*': ['C0456ALL'] },
      },
      discord: { ...discord, channels: { 'ip-set': ['345678901234567890'] } },
    });
    expect(config.slack).toMatchObject({
      teamId: 'T0123ABC',
      enterpriseId: 'E0123ABC',
      channels: { failover: ['C0123OPS'], '*': ['C0456ALL'] },
    });
    expect(config.discord?.channels).toEqual({ 'ip-set': ['345678901234567890'] });
    // Without them: the workspace comes from auth.test at start, and commands work in every channel.
    const defaults = parseConfig({ slack: {}, discord });
    expect(defaults.slack?.teamId).toBeUndefined();
    expect(defaults.slack?.enterpriseId).toBeUndefined();
    expect(defaults.slack?.channels).toEqual({});
    expect(defaults.discord?.channels).toEqual({});
  });

  it('refuses a malformed workspace, organization, channel or command name in those keys', () => {
    expect(
      problems({
        slack: {
          teamId: 'acme',
          enterpriseId: 'T0123ABC',
          channels: { failover: ['#ops'], 'Fail Over': ['C0123OPS'], status: [] },
        },
        discord: {
          applicationId: '123456789012345678',
          guildId: '234567890123456789',
          channels: { failover: ['C0123OPS'] },
        },
      }),
    ).toEqual([
      'slack.teamId: a Slack workspace id (T…), got "acme"',
      'slack.enterpriseId: a Slack Enterprise Grid organization id (E…), got "T0123ABC"',
      'slack.channels.failover.0: a Slack channel id (C…), got "#ops"',
      'slack.channels.status: Too small: expected array to have >=1 items, got []',
      'slack.channels.Fail Over: a command name (such as failover) or *, got ["C0123OPS"]',
      'discord.channels.failover.0: a Discord channel id (snowflake), got "C0123OPS"',
    ]);
  });

  it('masks secret-looking values for display but keeps references to them', () => {
    expect(maskSecrets({ a: { botToken: 'xoxb-1', tokenFile: '/etc/x', n: 1 } })).toEqual({
      a: { botToken: '********', tokenFile: '/etc/x', n: 1 },
    });
  });
});
