import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { ipSet } from '../../commands/ip-set.js';
import {
  type ChangeCommand,
  CommandError,
  canonicalCommand,
  parseCommandText,
  type QueryCommand,
  validateArgs,
} from '../../src/app/command-registry.js';
import { commandContext, VIEW } from './context.js';

const user = {
  platform: 'slack' as const,
  userId: 'UALICE',
  userName: 'alice',
  roles: [],
  channelId: 'C1',
  source: 'slash-command' as const,
};

async function query(text: string, context = commandContext()) {
  const { definition, args } = parseCommandText(text, COMMANDS);
  if (definition.kind !== 'query') throw new Error('not a query');
  return (definition as QueryCommand).run(validateArgs(definition, args), { ...user, text }, context);
}

async function plan(text: string, view = VIEW) {
  const { definition, args } = parseCommandText(text, COMMANDS);
  const change = definition as ChangeCommand;
  const validated = validateArgs(change, args);
  const context = commandContext(view);
  const world = await change.observe(validated, context);
  return change.plan(validated, world, {
    host: 'alpha',
    resources: context.resources,
    lxd: context.lxd,
    command: canonicalCommand(change, args),
  });
}

describe('containers', () => {
  it('lists every resource with its Primary host, status, addresses and uptime', async () => {
    const m = await query('containers');
    expect(m.body).toBe('3 of 4 running.');
    expect(m.fields).toEqual([
      {
        label: 'r0 on alpha',
        value:
          '`cron1` Stopped · no address\n`legacy` Running, up 1h 0m · 10.0.3.7\n`web1` Running, up 1h 0m · 198.51.100.10',
      },
      { label: 'r1 on beta', value: '`db1` Running, up 1h 0m · 203.0.113.5, 2001:db8:1::5' },
    ]);
  });

  it('filters by resource and host, and refuses unknown ones', async () => {
    expect((await query('containers r1')).fields?.map((f) => f.label)).toEqual(['r1 on beta']);
    expect((await query('containers --host=alpha')).fields?.map((f) => f.label)).toEqual(['r0 on alpha']);
    await expect(query('containers r9')).rejects.toThrow('No resource r9; configured: r0, r1.');
    await expect(query('containers r0 gamma')).rejects.toThrow('No host gamma; the pair is alpha and beta.');
    await expect(query('containers r0;reboot')).rejects.toThrow(/unexpected characters/);
  });

  it('says when a resource has no Primary or its LXD did not answer', async () => {
    const m = await query(
      'containers',
      commandContext({
        containers: [],
        resources: [
          { name: 'r0', primaryOn: null },
          { name: 'r1', primaryOn: 'beta', problem: 'LXD on beta did not answer: connection refused' },
        ],
      }),
    );
    expect(m.tone).toBe('warning');
    expect(m.fields?.map((f) => f.value)).toEqual([
      'No host is Primary: its containers are not running anywhere.',
      '⚠️ LXD on beta did not answer: connection refused',
    ]);
  });
});

describe('ip show', () => {
  it('shows configured and live addresses and the allowed subnets', async () => {
    const m = await query('ip show db1');
    expect(m.fields).toEqual([
      { label: 'Where', value: 'r1 on beta, Running', short: true },
      { label: 'Routed NIC eth0 on veth-r1', value: '203.0.113.5, 2001:db8:1::5', short: true },
      { label: 'Up now', value: '203.0.113.5, 2001:db8:1::5', short: true },
      { label: 'Allowed for r1', value: '203.0.113.0/24, 2001:db8:1::/64', short: true },
    ]);
    await expect(query('ip show nosuch')).rejects.toThrow('No container nosuch on r0, r1. Try: containers');
  });
});

describe('ip set: validation and plan', () => {
  it('plans stop, set, start, verify for a running container, each with its undo', async () => {
    const p = await plan('ip set web1 198.51.100.20');
    expect(p.command).toBe('ip-set web1 198.51.100.20');
    expect(p.steps.map((s) => [s.id, s.host, s.label])).toEqual([
      ['stop', 'alpha', 'Stop web1'],
      ['set', 'alpha', 'Set eth0 to 198.51.100.20'],
      ['start', 'alpha', 'Start web1'],
      ['verify', 'alpha', 'Check 198.51.100.20 is up'],
    ]);
    expect(p.steps[1]?.undo).toEqual([
      {
        kind: 'container-set-addresses',
        resource: 'r0',
        container: 'web1',
        device: 'eth0',
        ipv4: ['198.51.100.10'],
        ipv6: [],
      },
    ]);
    expect(p.steps[0]?.undo).toEqual([{ kind: 'container-start', resource: 'r0', container: 'web1' }]);
    expect(p.facts).toEqual({
      'web1 host': 'alpha',
      'web1 status': 'Running',
      'web1 eth0 addresses': '198.51.100.10',
    });
  });

  it('only changes the configuration of a stopped container', async () => {
    const p = await plan('ip set cron1 198.51.100.21');
    expect(p.steps.map((s) => s.id)).toEqual(['set']);
    expect(p.summary).toMatch(/it stays Stopped/);
  });

  it('plans on the Primary host of the resource, IPv4 and IPv6 together', async () => {
    const p = await plan('ip set db1 203.0.113.6,2001:db8:1::6');
    expect(p.steps.every((s) => s.host === 'beta')).toBe(true);
    expect(p.steps[1]?.action).toMatchObject({ ipv4: ['203.0.113.6'], ipv6: ['2001:db8:1::6'] });
  });

  it('refuses bad requests with the reason', async () => {
    await expect(plan('ip set web1 198.51.100.11')).rejects.toThrow(
      'Cannot set 198.51.100.11 on web1: 198.51.100.11 is already used by cron1 on alpha.',
    );
    await expect(plan('ip set web1 203.0.113.9')).rejects.toThrow(
      /outside the allowed subnets 198.51.100.0\/24/,
    );
    await expect(plan('ip set web1 198.51.100.10')).rejects.toThrow(
      'web1 already has 198.51.100.10; nothing to do.',
    );
    await expect(plan('ip set legacy 198.51.100.30')).rejects.toThrow(/has no routed NIC/);
    await expect(plan('ip set ghost 198.51.100.30')).rejects.toThrow(/No container ghost/);
    await expect(plan('ip set web1 banana')).rejects.toThrow(/"banana" is not an IPv4 or IPv6 address/);
    await expect(plan('ip set web1 ,')).rejects.toThrow(/give 1 to 8 addresses/);
    for (const text of [
      'ip set web1 "1.2.3.4;reboot"',
      'ip set "web1$(id)" 198.51.100.20',
      'ip set web1 `x`',
    ]) {
      await expect(plan(text), text).rejects.toThrow(CommandError);
    }
  });

  it('is a changing command with the requester-confirmation default', () => {
    expect(ipSet.kind).toBe('change');
    expect((ipSet as ChangeCommand).policy).toEqual({ confirm: true, approvals: 0 });
  });
});

describe('oncall', () => {
  it('names who is on call now and next', async () => {
    const m = await query('oncall');
    expect(m.title).toBe('On call: alice');
    expect(m.fields?.[1]).toEqual({ label: 'Next', value: 'bob from 2026-11-30 03:00 UTC', short: true });
  });
});
