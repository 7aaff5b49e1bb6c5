// The pure parts of the Discord adapter: command definitions → application command JSON, an
// invocation → the text a person would type, discord.js errors → DeliveryError.

import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { demoCommand } from '../../commands/demo.js';
import { COMMANDS } from '../../commands/index.js';
import {
  buildApplicationCommands,
  type CommandDefinition,
  CommandDefinitionError,
  commandText,
  DISCORD_COMMAND_LIMITS,
  type TopLevelNaming,
} from '../../src/adapters/discord/commands.js';
import { toDeliveryError } from '../../src/adapters/discord/discord-errors.js';
import { nonceFor } from '../../src/adapters/discord/discord-platform.js';
import { parseConfig } from '../../src/app/config.js';
import { DeliveryError } from '../../src/ports/chat.js';
import { validateCommands } from '../fakes/discord/validate.js';

/** The top-level commands: each command's first word (`ip-set`, `ip-show` → `ip`), in order. */
const KEYS = [...new Set(COMMANDS.map((c) => c.name.split('-')[0] ?? c.name))];

const FAILOVER: CommandDefinition = {
  name: 'failover',
  description: 'Move a resource',
  options: [
    { name: 'resource', description: 'DRBD resource', type: 'string', required: true },
    { name: 'to', description: 'Target host', type: 'string' },
    { name: 'reason', description: 'Why', type: 'string' },
    { name: 'force', description: 'Skip checks', type: 'boolean' },
    {
      name: 'timeout',
      description: 'Seconds',
      type: 'integer',
      choices: [30, 60, { name: 'ten minutes', value: 600 }],
    },
  ],
};

describe('commandText', () => {
  it('writes the options positionally in their declared order', () => {
    const text = commandText('failover', FAILOVER, [
      { name: 'to', value: 'beta' },
      { name: 'resource', value: 'r0' },
    ]);
    expect(text).toBe('failover r0 beta');
  });

  it('names the options that follow one left out, writes booleans as flags and quotes spaces', () => {
    const text = commandText('failover', FAILOVER, [
      { name: 'resource', value: 'r0' },
      { name: 'reason', value: 'disk "sdb" failing' },
      { name: 'force', value: true },
      { name: 'timeout', value: 60 },
    ]);
    expect(text).toBe('failover r0 --reason="disk \\"sdb\\" failing" --force --timeout=60');
    expect(
      commandText('failover', FAILOVER, [
        { name: 'resource', value: 'r0' },
        { name: 'force', value: false },
      ]),
    ).toBe('failover r0');
  });

  it('keeps options of a definition it does not know (registered by a newer version)', () => {
    expect(commandText('status', undefined, [{ name: 'resource', value: 'r1' }])).toBe('status r1');
    expect(commandText('status', undefined, [])).toBe('status');
    expect(commandText('status', undefined, [{ name: 'x', value: '' }])).toBe('status ""');
  });
});

describe('buildApplicationCommands', () => {
  it('builds /drbd with one subcommand per definition, required options first, choices as name/value', () => {
    const [drbd] = buildApplicationCommands('drbd', 'DRBD pair operations', [FAILOVER]);
    expect(drbd).toEqual({
      type: 1,
      name: 'drbd',
      description: 'DRBD pair operations',
      options: [
        {
          type: 1,
          name: 'failover',
          description: 'Move a resource',
          options: [
            { type: 3, name: 'resource', description: 'DRBD resource', required: true },
            { type: 3, name: 'to', description: 'Target host', required: false },
            { type: 3, name: 'reason', description: 'Why', required: false },
            { type: 5, name: 'force', description: 'Skip checks', required: false },
            {
              type: 4,
              name: 'timeout',
              description: 'Seconds',
              required: false,
              choices: [
                { name: '30', value: 30 },
                { name: '60', value: 60 },
                { name: 'ten minutes', value: 600 },
              ],
            },
          ],
        },
      ],
    });
    const optionalFirst: CommandDefinition = {
      name: 'x',
      description: 'x',
      options: [
        { name: 'b', description: 'b', type: 'string' },
        { name: 'a', description: 'a', type: 'string', required: true },
      ],
    };
    const built = buildApplicationCommands('drbd', 'd', [optionalFirst])[0] as {
      options: { options: unknown[] }[];
    };
    expect(built.options[0]?.options.map((o) => (o as { name: string }).name)).toEqual(['a', 'b']);
  });

  it('refuses what Discord would refuse, naming every problem', () => {
    const bad: CommandDefinition[] = [
      { name: 'Status', description: 'upper case' },
      { name: 'ok', description: '' },
      {
        name: 'ok',
        description: 'twice',
        options: [{ name: 'f', description: 'f', type: 'boolean', choices: ['x'] }],
      },
    ];
    expect(() => buildApplicationCommands('drbd', 'd', bad)).toThrow(CommandDefinitionError);
    expect(() => buildApplicationCommands('drbd', 'd', bad)).toThrow(
      /"Status": invalid name[\s\S]*ok description[\s\S]*ok: defined twice[\s\S]*boolean option takes no choices/,
    );
    expect(() => buildApplicationCommands('drbd', 'd', [])).toThrow(/at least one subcommand/);
    const many = Array.from({ length: 26 }, (_, i) => ({ name: `c${i}`, description: 'c' }));
    expect(() => buildApplicationCommands('drbd', 'd', many)).toThrow(/25 subcommands/);
  });
});

describe('the top-level commands beside /drbd', () => {
  const ALL: TopLevelNaming = { enabled: true, prefix: '', names: {} };
  const build = (topLevel: TopLevelNaming = ALL, commands: readonly CommandDefinition[] = COMMANDS) =>
    buildApplicationCommands('drbd', 'DRBD pair operations', commands, topLevel) as {
      name: string;
      description: string;
      options: { type: number; name: string; description: string; required?: boolean; options?: unknown[] }[];
    }[];
  const named = (payload: ReturnType<typeof build>, name: string) => {
    const found = payload.find((c) => c.name === name);
    if (found === undefined) throw new Error(`no /${name} in ${payload.map((c) => c.name).join(' ')}`);
    return found;
  };

  it('registers /drbd and every command of its own, /ip with set and show as subcommands', () => {
    const payload = build();
    expect(payload.map((c) => c.name)).toEqual(['drbd', ...KEYS]);
    expect(KEYS).toEqual(expect.arrayContaining(['status', 'containers', 'ip', 'failover', 'oncall']));
    // The umbrella keeps a subcommand per command, as before.
    expect(named(payload, 'drbd').options.map((o) => o.name)).toEqual(COMMANDS.map((c) => c.name));
    expect(named(payload, 'failover')).toEqual({
      type: 1,
      name: 'failover',
      description: 'Move a resource and its containers to the other host (checked, approved, rolled back)',
      options: [
        { type: 3, name: 'resource', description: 'The DRBD resource, e.g. r0', required: true },
        expect.objectContaining({ type: 3, name: 'to', required: false }),
        expect.objectContaining({ type: 5, name: 'force', required: false }),
      ],
    });
    const ip = named(payload, 'ip');
    expect(ip.options.map((o) => [o.type, o.name])).toEqual([
      [1, 'show'],
      [1, 'set'],
    ]);
    expect(ip.options[1]?.options).toEqual([
      expect.objectContaining({ name: 'container', required: true }),
      expect.objectContaining({ name: 'addresses', required: true }),
    ]);
  });

  it('names them with a prefix or per command, turns some or all off', () => {
    const prefixed = build({ enabled: true, prefix: 'drbd-', names: { failover: 'move', help: false } });
    expect(prefixed.map((c) => c.name)).toEqual([
      'drbd',
      ...KEYS.filter((k) => k !== 'help').map((k) => (k === 'failover' ? 'move' : `drbd-${k}`)),
    ]);
    expect(prefixed.map((c) => c.name)).toContain('drbd-ip');
    expect(build({ enabled: false, prefix: '', names: {} }).map((c) => c.name)).toEqual(['drbd']);
    // Left out: the umbrella alone, as the earlier versions registered it.
    expect(buildApplicationCommands('drbd', 'd', COMMANDS).map((c) => c.name)).toEqual(['drbd']);
    // From the configuration: /status exists on Discord (Slack's built-in does not apply here).
    const discord = parseConfig({
      discord: { applicationId: '1000001', guildId: '2000002', slashCommands: { prefix: 'p1-' } },
    }).discord;
    expect(discord?.slashCommands).toEqual({ enabled: true, prefix: 'p1-', names: {} });
    expect(discord?.command).toBe('/drbd');
  });

  it("stays within Discord's limits, as the builder and the fake Discord count them", () => {
    for (const commands of [COMMANDS, [...COMMANDS, demoCommand(async () => 'ok')]]) {
      for (const topLevel of [ALL, { enabled: true, prefix: 'drbd-pair-one-', names: {} }]) {
        const payload = build(topLevel, commands);
        expect(validateCommands(payload)).toEqual({});
        expect(payload.length).toBeLessThanOrEqual(DISCORD_COMMAND_LIMITS.commands);
        for (const command of payload) {
          expect(command.name).toMatch(/^[a-z0-9_-]{1,32}$/);
          expect([...command.description].length).toBeLessThanOrEqual(100);
          expect(command.options.length).toBeLessThanOrEqual(25);
          for (const o of command.options) expect([...o.description].length).toBeLessThanOrEqual(100);
          expect(JSON.stringify(command).length).toBeLessThan(2 * DISCORD_COMMAND_LIMITS.combined);
        }
      }
    }
  });

  it('refuses what Discord would refuse: long names, two commands one name, over 4000 characters', () => {
    expect(() => build({ enabled: true, prefix: 'a-prefix-of-twenty-four-', names: {} })).toThrow(
      /\/a-prefix-of-twenty-four-containers \(containers\): longer than 32 characters/,
    );
    expect(() => build({ enabled: true, prefix: '', names: { oncall: 'drbd' } })).toThrow(
      /\/drbd would be both oncall and the umbrella command/,
    );
    const wordy: CommandDefinition[] = Array.from({ length: 25 }, (_, i) => ({
      name: `c${i}`,
      description: 'd'.repeat(100),
      options: Array.from({ length: 2 }, (_, j) => ({
        name: `o${j}`,
        description: 'o'.repeat(100),
        type: 'string' as const,
      })),
    }));
    expect(() => build({ enabled: false, prefix: '', names: {} }, wordy)).toThrow(
      /\/drbd: 7\d{3} characters in its names and descriptions, Discord allows 4000/,
    );
    // The fake refuses such a command too, as Discord does.
    const raw = {
      type: 1,
      name: 'drbd',
      description: 'd',
      options: wordy.map((c) => ({
        type: 1,
        name: c.name,
        description: c.description,
        options: (c.options ?? []).map((o) => ({ type: 3, name: o.name, description: o.description })),
      })),
    };
    expect(validateCommands([raw])).toEqual({ '0': 'Command exceeds maximum size (4000)' });
  });
});

describe('toDeliveryError', () => {
  const request = { body: undefined, files: undefined };
  it('429 is retryable with its retry-after', () => {
    const limited = new RateLimitError({
      timeToReset: 1500,
      limit: 5,
      method: 'POST',
      hash: 'h',
      url: 'http://x/api/v10/channels/1/messages',
      route: '/channels/1/messages',
      majorParameter: '1',
      global: false,
      retryAfter: 2050,
      sublimitTimeout: 0,
      scope: 'user',
    });
    expect(toDeliveryError(limited, 'post')).toMatchObject({
      retryable: true,
      retryAfterMs: 2050,
      status: 429,
    });
  });

  it('5xx, timeouts and connection errors are retryable; other 4xx are not', () => {
    const api = (status: number, code: number, message: string) =>
      new DiscordAPIError({ code, message }, code, status, 'POST', 'http://x', request);
    expect(toDeliveryError(api(404, 10003, 'Unknown Channel'), 'post')).toMatchObject({
      retryable: false,
      status: 404,
    });
    expect(toDeliveryError(api(403, 50001, 'Missing Access'), 'post')).toMatchObject({
      retryable: false,
      status: 403,
    });
    expect(toDeliveryError(api(400, 50035, 'Invalid Form Body'), 'post').retryable).toBe(false);
    expect(toDeliveryError(api(502, 0, 'Bad gateway'), 'post')).toMatchObject({
      retryable: true,
      status: 502,
    });
    expect(
      toDeliveryError(new HTTPError(503, 'Service Unavailable', 'POST', 'http://x', request), 'post'),
    ).toMatchObject({ retryable: true, status: 503 });
    const abort = new DOMException('This operation was aborted', 'AbortError');
    expect(toDeliveryError(abort, 'post').message).toMatch(/did not answer in time/);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const mapped = toDeliveryError(refused, 'post to 1');
    expect(mapped).toBeInstanceOf(DeliveryError);
    expect(mapped).toMatchObject({ retryable: true });
    expect(mapped.message).toBe(
      'post to 1: cannot reach Discord: connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)',
    );
  });
});

describe('nonceFor', () => {
  it('is stable, 25 characters, and differs per key', () => {
    expect(nonceFor('a')).toBe(nonceFor('a'));
    expect(nonceFor('a')).toMatch(/^[0-9a-f]{25}$/);
    expect(nonceFor('a')).not.toBe(nonceFor('b'));
  });
});
