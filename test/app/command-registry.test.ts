import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { COMMANDS } from '../../commands/index.js';
import { commandText } from '../../src/adapters/discord/commands.js';
import {
  type CommandContext,
  type CommandDefinition,
  CommandError,
  commandHandler,
  parseCommandText,
  tokenize,
} from '../../src/app/command-registry.js';
import { createLogger } from '../../src/app/log.js';
import type { HostState } from '../../src/core/host-state.js';
import { commandContext, VIEW } from '../commands/context.js';

const demo: CommandDefinition = {
  kind: 'query',
  name: 'demo',
  description: 'test command',
  options: [
    { name: 'resource', description: 'r', type: 'string', required: true },
    { name: 'host', description: 'h', type: 'string', required: false },
    { name: 'count', description: 'c', type: 'integer', required: false },
    { name: 'force', description: 'f', type: 'boolean', required: false },
  ],
  args: z.object({}).passthrough(),
  run: async () => ({ title: 'ok', tone: 'info' }),
};

function parse(text: string) {
  return parseCommandText(text, [demo, ...COMMANDS]);
}

describe('parseCommandText', () => {
  it('maps positional words onto the options in order', () => {
    expect(parse('demo r0 beta 3').args).toEqual({ resource: 'r0', host: 'beta', count: '3' });
    expect(parse('STATUS').definition.name).toBe('status');
  });

  it('reads --name=value and boolean --flags', () => {
    expect(parse('demo r0 --count=2 --force').args).toEqual({ resource: 'r0', count: '2', force: 'true' });
    expect(parse('demo --host=beta r0').args).toEqual({ resource: 'r0', host: 'beta' });
  });

  it('understands the text the Discord adapter builds from typed options', () => {
    const text = commandText('demo', demo, [
      { name: 'resource', value: 'r1' },
      { name: 'count', value: 4 },
      { name: 'force', value: true },
    ]);
    expect(parse(text).args).toEqual({ resource: 'r1', count: '4', force: 'true' });
  });

  it('rejects what it cannot use with a message the user can act on', () => {
    const cases: [string, RegExp][] = [
      ['', /Which command\? Try: demo, status, containers, .*help/],
      ['reboot now', /Unknown command "reboot"/],
      ['demo', /demo needs <resource>: demo <resource> \[host\] \[count\] \[--force\]/],
      ['demo r0 beta 3 extra', /takes at most 3 argument/],
      ['demo r0 --bogus=1', /has no option --bogus/],
      ['demo r0 --count=many', /count must be a whole number/],
      ['demo "r0; rm -rf /"', /unexpected characters/],
      ['demo "unterminated', /unexpected characters|Badly quoted/],
    ];
    for (const [text, message] of cases) {
      expect(() => parse(text), text).toThrow(CommandError);
      expect(() => parse(text), text).toThrow(message);
    }
  });

  it('tokenizes JSON-quoted words', () => {
    expect(tokenize('a "b c" "d\\"e"')).toEqual(['a', 'b c', 'd"e']);
  });
});

describe('the demo command', () => {
  it('passes the Discord limits too (it is listed wherever the demo runs)', async () => {
    const { demoCommand } = await import('../../commands/demo.js');
    const { buildApplicationCommands } = await import('../../src/adapters/discord/commands.js');
    expect(() =>
      buildApplicationCommands('drbd', 'DRBD pair', [...COMMANDS, demoCommand(async () => 'ok')]),
    ).not.toThrow();
  });
});

describe('names typed in chat are checked before anything runs', () => {
  const handle = (text: string, overrides: Partial<CommandContext> = {}) =>
    commandHandler(
      commandContext(VIEW, { peerName: 'beta', ...overrides }),
      createLogger({ level: 'silent', format: 'json' }),
    )(
      {
        platform: 'console',
        text,
        userId: 'alice',
        userName: 'alice',
        roles: [],
        channelId: 'console',
        source: 'slash-command',
      },
      { update: async () => undefined },
    );

  it.each([
    ['failover constructor', 'Unknown resource constructor; configured: r0, r1.'],
    ['failover valueOf', 'Unknown resource valueOf; configured: r0, r1.'],
    ['failover r9', 'Unknown resource r9; configured: r0, r1.'],
    ['failover r0 to gamma', 'Unknown host gamma; the hosts of this pair are alpha, beta.'],
    ['splitbrain r0 victim toString', 'Unknown host toString; the hosts of this pair are alpha, beta.'],
    ['status hasOwnProperty', 'Unknown resource hasOwnProperty; configured: r0, r1.'],
    ['containers r0 gamma', 'Unknown host gamma; the hosts of this pair are alpha, beta.'],
  ])('%s → %s', async (text, answer) => {
    // No operations port: had the name passed, the changing commands would answer otherwise.
    const reply = await handle(text);
    expect(reply).toEqual({
      message: { title: answer, tone: 'warning' },
      private: true,
      outcome: 'refused',
      command: text.split(' ')[0],
    });
  });

  it('a reply says which command it was and how it went; text that names none has no command', async () => {
    expect(await handle('help')).toMatchObject({ outcome: 'ok', command: 'help' });
    expect(await handle('reboot now')).toMatchObject({ outcome: 'refused' });
    expect((await handle('reboot now')).command).toBeUndefined();
  });

  it('an instance that only watches knows the resources its DRBD reports', async () => {
    const hosts = async () => [{ host: 'alpha', resources: { r7: {} } } as unknown as HostState];
    const known = await handle('status r9', { resources: {}, hosts });
    expect(known.message.title).toBe('Unknown resource r9; DRBD knows: r7.');
  });
});
