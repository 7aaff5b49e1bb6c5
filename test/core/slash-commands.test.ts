// The slash command names of each platform, from the command names alone: what is registered,
// how an invocation becomes a command line, and how help writes the syntax, for the default
// naming, a prefix, names per command, and top-level commands turned off.

import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { usage } from '../../src/app/command-registry.js';
import {
  commandLineOf,
  DEFAULT_SLASH_NAMING,
  groupDescription,
  keyOfSlashName,
  namingProblems,
  type SlashNaming,
  type SlashPlatform,
  slashCommandSet,
  slashNamingOf,
  slashSyntax,
} from '../../src/core/slash-commands.js';

const NAMES = COMMANDS.map((c) => c.name);
/** The top-level commands: each command's first word (`ip-set`, `ip-show` → `ip`), in order. */
const KEYS = [...new Set(COMMANDS.map((c) => c.name.split('-')[0] ?? c.name))];
const naming = (overrides: Partial<SlashNaming> = {}): SlashNaming => ({
  ...DEFAULT_SLASH_NAMING,
  ...overrides,
});
const names = (n: SlashNaming, platform: SlashPlatform) =>
  slashCommandSet(NAMES, n, platform).entries.map((e) => e.name);

describe('the slash commands of a platform', () => {
  it('gives every command its own, with ip set and ip show under /ip, beside the umbrella', () => {
    const set = slashCommandSet(NAMES, naming(), 'discord');
    expect(set.problems).toEqual([]);
    expect(set.umbrella).toBe('drbd');
    expect(set.entries.map((e) => e.name)).toEqual(KEYS);
    // The product card's commands, each its own.
    expect(KEYS).toEqual(
      expect.arrayContaining(['status', 'containers', 'ip', 'failover', 'splitbrain', 'oncall', 'help']),
    );
    expect(KEYS).toEqual(expect.arrayContaining(['confirm', 'approve', 'cancel']));
    expect(set.entries.find((e) => e.name === 'ip')?.targets).toEqual([
      { word: 'show', command: 'ip-show' },
      { word: 'set', command: 'ip-set' },
    ]);
    expect(set.entries.find((e) => e.name === 'failover')?.targets).toEqual([{ command: 'failover' }]);
  });

  it('never uses a Slack built-in: /status is /drbd-status on Slack, /status on Discord', () => {
    expect(names(naming(), 'slack')).toContain('drbd-status');
    expect(names(naming(), 'slack')).not.toContain('status');
    expect(names(naming(), 'discord')).toContain('status');
    // With another umbrella the built-in takes that one's name.
    expect(names(naming({ umbrella: 'pair1' }), 'slack')).toContain('pair1-status');
  });

  it('puts a prefix before every name not named otherwise, and takes names per command', () => {
    const prefixed = naming({ prefix: 'drbd-', names: { failover: 'move', oncall: false } });
    expect(names(prefixed, 'slack')).toEqual(
      KEYS.filter((k) => k !== 'oncall').map((k) => (k === 'failover' ? 'move' : `drbd-${k}`)),
    );
    expect(names(prefixed, 'slack')).toContain('drbd-ip');
  });

  it('offers only the umbrella when top-level commands are off', () => {
    expect(names(naming({ enabled: false }), 'discord')).toEqual([]);
    expect(commandLineOf(naming({ enabled: false }), 'discord', 'failover', 'r0')).toBeUndefined();
    expect(commandLineOf(naming({ enabled: false }), 'discord', 'drbd', 'failover r0')).toBe('failover r0');
  });

  it('names every problem a platform would refuse or that would route two ways', () => {
    const clash = slashCommandSet(NAMES, naming({ names: { oncall: 'help', statsu: 'x' } }), 'discord');
    expect(clash.problems).toEqual([
      `names.statsu: no such command (top-level commands: ${KEYS.join(', ')})`,
      '/help would be both help and oncall; give one of them another name',
    ]);
    expect(slashCommandSet(NAMES, naming({ names: { help: 'drbd' } }), 'slack').problems).toContain(
      '/drbd would be both help and the umbrella command; give one of them another name',
    );
    const long = slashCommandSet(NAMES, naming({ prefix: 'a-very-long-prefix-for-' }), 'slack');
    expect(long.problems).toContain(
      '/a-very-long-prefix-for-containers (containers): longer than 31 characters or not a valid name; name it in names.containers',
    );
    expect(slashCommandSet(['ip', 'ip-set'], naming(), 'discord').problems).toEqual([
      'ip: a command of its own and subcommands (set) cannot share one slash command',
    ]);
  });

  it('checks the naming on its own: Slack built-ins, lengths, characters, one name twice', () => {
    expect(namingProblems(naming({ names: { status: 'status' } }), 'slack')).toEqual([
      'names.status: /status is a built-in Slack command; Slack refuses a manifest that names it',
    ]);
    expect(namingProblems(naming({ names: { status: 'status' } }), 'discord')).toEqual([]);
    expect(namingProblems(naming({ names: { status: 'x'.repeat(32) } }), 'slack')[0]).toMatch(
      /1–31 lower case letters.*at most 32 with it/,
    );
    expect(namingProblems(naming({ names: { status: 'x'.repeat(32) } }), 'discord')).toEqual([]);
    expect(namingProblems(naming({ prefix: 'Drbd ' }), 'discord')).toEqual([
      'prefix "Drbd ": lower case letters, digits, - or _',
    ]);
    expect(namingProblems(naming({ names: { status: 'st', oncall: 'st' } }), 'discord')).toEqual([
      'names.oncall: /st is already names.status',
    ]);
  });
});

describe('an invocation is the command line the registry parses', () => {
  it('maps /failover, /ip set and the umbrella to the same text', () => {
    const n = naming();
    expect(commandLineOf(n, 'slack', 'failover', 'r0')).toBe('failover r0');
    expect(commandLineOf(n, 'slack', 'failover', '  r0 to beta --force ')).toBe(
      'failover r0 to beta --force',
    );
    expect(commandLineOf(n, 'slack', 'ip', 'set web1 198.51.100.20')).toBe('ip set web1 198.51.100.20');
    expect(commandLineOf(n, 'slack', 'containers', '')).toBe('containers');
    expect(commandLineOf(n, 'slack', 'drbd', 'failover r0')).toBe('failover r0');
    expect(commandLineOf(n, 'slack', 'drbd-status', 'r0')).toBe('status r0');
    expect(commandLineOf(n, 'discord', 'status', 'r0')).toBe('status r0');
  });

  it('takes configured names and refuses the names they replaced', () => {
    const n = naming({ prefix: 'drbd-', names: { failover: 'move', oncall: false } });
    expect(commandLineOf(n, 'slack', 'move', 'r0')).toBe('failover r0');
    expect(commandLineOf(n, 'slack', 'drbd-failover', 'r0')).toBeUndefined();
    expect(commandLineOf(n, 'slack', 'failover', 'r0')).toBeUndefined();
    expect(commandLineOf(n, 'slack', 'drbd-oncall', '')).toBeUndefined();
    expect(commandLineOf(n, 'slack', 'drbd-ip', 'show web1')).toBe('ip show web1');
    expect(keyOfSlashName(n, 'slack', 'drbd-status')).toBe('status');
    // Not a command name of any kind: a key is one word.
    expect(keyOfSlashName(naming(), 'discord', 'drbd-status')).toBeUndefined();
  });

  it('routes back every name it registers, on both platforms and in every naming', () => {
    const namings = [
      naming(),
      naming({ prefix: 'drbd-' }),
      naming({ umbrella: 'pair1', prefix: 'p1_', names: { status: 'state', help: false } }),
    ];
    for (const platform of ['slack', 'discord'] as const) {
      for (const n of namings) {
        for (const entry of slashCommandSet(NAMES, n, platform).entries) {
          expect(commandLineOf(n, platform, entry.name, 'x'), `${platform} /${entry.name}`).toBe(
            `${entry.key} x`,
          );
        }
      }
    }
  });
});

describe('the syntax as it is typed on each platform', () => {
  const line = (name: string) => {
    const definition = COMMANDS.find((c) => c.name === name);
    if (definition === undefined) throw new Error(name);
    return usage(definition);
  };

  it('writes the own slash command, the configured one, or the umbrella', () => {
    expect(slashSyntax(naming(), 'discord', 'failover', line('failover'))).toBe(
      '/failover <resource> [to <host>] [--force]',
    );
    expect(slashSyntax(naming(), 'slack', 'status', line('status'))).toBe('/drbd-status [resource]');
    expect(slashSyntax(naming(), 'slack', 'ip-set', line('ip-set'))).toBe('/ip set <container> <addresses>');
    expect(slashSyntax(naming({ prefix: 'drbd-' }), 'slack', 'ip-set', line('ip-set'))).toBe(
      '/drbd-ip set <container> <addresses>',
    );
    expect(slashSyntax(naming({ names: { oncall: false } }), 'slack', 'oncall', line('oncall'))).toBe(
      '/drbd oncall',
    );
    expect(slashSyntax(naming({ enabled: false }), 'discord', 'failover', line('failover'))).toBe(
      '/drbd failover <resource> [to <host>] [--force]',
    );
  });
});

describe('the configuration spelling', () => {
  it('takes names with their slash', () => {
    expect(
      slashNamingOf({
        command: '/pair1',
        slashCommands: { enabled: true, prefix: 'p1-', names: { status: '/p1-state', help: false } },
      }),
    ).toEqual({
      umbrella: 'pair1',
      enabled: true,
      prefix: 'p1-',
      names: { status: 'p1-state', help: false },
    });
  });
});

describe('groupDescription', () => {
  it('keeps both members within the limit, cut at a word', () => {
    const text = groupDescription(
      [
        { word: 'show', description: "A container's static routed addresses and the addresses it has now" },
        { word: 'set', description: "Set a container's static routed addresses (stop, set, start, verify)" },
      ],
      100,
    );
    expect([...text].length).toBeLessThanOrEqual(100);
    expect(text).toMatch(/^show: A container's .*…; set: Set a container's .*…$/);
    expect(groupDescription([{ word: 'a', description: 'short' }], 100)).toBe('a: short');
  });
});
