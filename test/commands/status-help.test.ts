// `status` and `help` as an on-call person reads them: the right label, counts with their noun,
// times with their zone, nothing unknown shown as "?", and the syntax as it is really typed.
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import {
  type CommandContext,
  commandHandler,
  parseCommandText,
  usage,
} from '../../src/app/command-registry.js';
import { createLogger } from '../../src/app/log.js';
import type { HostState } from '../../src/core/host-state.js';
import { applyNotification } from '../../src/core/incidents.js';
import type { Message } from '../../src/core/message-tones.js';
import { renderText } from '../../src/render/plain-text.js';
import { renderSlack } from '../../src/render/slack.js';
import { placeholders, visibleText } from '../render/limits.js';
import { commandContext, NOW } from './context.js';

const logger = createLogger({ level: 'silent', format: 'json' });

function resource(
  role: string | undefined,
  disk: string | undefined,
  connection: string,
): HostState['resources'] {
  const peer = 'beta';
  return {
    r0: {
      name: 'r0',
      fields: role === undefined ? {} : { role },
      devices: { 0: { volume: 0, fields: disk === undefined ? {} : { disk } } },
      connections: {
        [peer]: {
          peer,
          fields: { connection, role: 'Secondary' },
          peerDevices: { 0: { volume: 0, fields: { replication: 'Established', 'peer-disk': 'UpToDate' } } },
          paths: {},
        },
      },
    },
  };
}

async function ask(text: string, overrides: Partial<CommandContext> = {}): Promise<Message> {
  const context: CommandContext = { ...commandContext(), ...overrides };
  const reply = await commandHandler(context, logger)(
    {
      platform: 'slack',
      text,
      userId: 'UALICE',
      userName: 'alice',
      roles: [],
      channelId: 'C1',
      source: 'slash-command',
    },
    { update: async () => {} },
  );
  return reply.message;
}

describe('status', () => {
  it('a healthy pair is INFO with a check mark, never RESOLVED', async () => {
    const m = await ask('status', {
      hosts: async () => [{ host: 'alpha', resources: resource('Primary', 'UpToDate', 'Connected') }],
    });
    expect(m.tone).toBe('info');
    expect(m.body).toBe('✅ All resources healthy.');
    expect(renderSlack(m).text).toBe('ℹ️ INFO: DRBD status (alpha)');
    expect(renderText(m)).not.toContain('RESOLVED');
  });

  it('says "1 change", names what is unknown instead of "?", and shows the fence expiry with its zone', async () => {
    const incidents = applyNotification(
      {},
      {
        kind: 'connection-lost',
        severity: 'warning',
        host: 'alpha',
        resource: 'r0',
        text: 'r0 on alpha lost its connection to beta.',
        details: {},
        at: new Date(NOW - 120_000).toISOString(),
      },
    ).incidents;
    const m = await ask('status', {
      hosts: async () => [{ host: 'alpha', resources: resource(undefined, undefined, 'Connecting') }],
      incidents: () => incidents,
      leadership: async () => ({
        leader: 'alpha',
        token: 7,
        self: 'alpha',
        fences: [{ key: 'r0', holder: 'alpha', expiresAt: NOW + 90_000 }],
      }),
    });
    expect(m.tone).toBe('warning');
    expect(m.fields?.find((f) => f.label.startsWith('Open incident'))?.value).toMatch(
      /\(for 2m 0s, 1 change\)$/,
    );
    expect(m.fields?.find((f) => f.label === 'r0 on alpha')?.value.split('\n')[0]).toBe(
      'role unknown, disk unknown',
    );
    expect(m.fields?.find((f) => f.label === 'Fence r0')?.value).toBe('held by alpha until 03:01 UTC');
    expect(placeholders(visibleText(m))).toEqual([]);
  });
});

describe('usage and help show the syntax as it is typed', () => {
  const definition = (name: string) => {
    const found = COMMANDS.find((c) => c.name === name);
    if (found === undefined) throw new Error(`no command ${name}`);
    return found;
  };

  it('flags are --flags and filler words are shown with their value', () => {
    expect(usage(definition('failover'))).toBe('failover <resource> [to <host>] [--force]');
    expect(usage(definition('splitbrain'))).toBe('splitbrain <resource> victim <host>');
    expect(usage(definition('containers'))).toBe('containers [resource] [host]');
    expect(usage(definition('ip-set'))).toBe('ip set <container> <addresses>');
  });

  it('the syntax shown parses as shown: "failover r0 to beta --force"', () => {
    expect(parseCommandText('failover r0 to beta --force', COMMANDS).args).toEqual({
      resource: 'r0',
      to: 'beta',
      force: 'true',
    });
    // The old usage "[force]" suggested this, which names a host "force": it is refused as such.
    expect(parseCommandText('failover r0 force', COMMANDS).args).toEqual({ resource: 'r0', to: 'force' });
  });

  it('a mistake is answered with the real syntax', async () => {
    expect((await ask('failover')).title).toBe(
      'failover needs <resource>: failover <resource> [to <host>] [--force]',
    );
    expect((await ask('failover r0 force')).title).toBe(
      'Unknown host force; the hosts of this pair are alpha, beta.',
    );
  });

  it('help lists every command with its syntax and explains the flags', async () => {
    const m = await ask('help');
    const failover = m.fields?.find((f) => f.label.startsWith('failover'));
    expect(failover?.label).toBe('failover <resource> [to <host>] [--force]');
    expect(failover?.value).toMatch(/\n`--force`: The other host is dead/);
    expect(m.fields?.map((f) => f.label)).toContain('splitbrain <resource> victim <host>');
  });
});
