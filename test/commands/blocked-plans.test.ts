// Every way a failover's pre-flight (planned and forced) and a split-brain recovery can refuse,
// answered through the command handler and rendered for Slack, Discord and text: a short title that
// names the deciding check, the whole checklist below it, no null/undefined/"?" placeholders, every
// platform's limits kept, and the failed line whole on every platform.
import { describe, expect, it } from 'vitest';
import {
  type CommandContext,
  type ContainersView,
  canonicalCommand,
  commandHandler,
  type LeadershipView,
  type OperationsPort,
  validateArgs,
} from '../../src/app/command-registry.js';
import { createLogger } from '../../src/app/log.js';
import type { HostState, ResyncProgress } from '../../src/core/host-state.js';
import { applyNotification, type Incidents } from '../../src/core/incidents.js';
import { type Message, oneLineTitle } from '../../src/core/message-tones.js';
import type { PreflightCheck } from '../../src/ports/host-ops.js';
import { renderDiscord } from '../../src/render/discord.js';
import { renderText } from '../../src/render/plain-text.js';
import { escapeMrkdwn, renderSlack } from '../../src/render/slack.js';
import { discordProblems, placeholders, slackProblems, visibleText } from '../render/limits.js';
import { commandContext, container, NOW } from './context.js';

const logger = createLogger({ level: 'silent', format: 'json' });

interface Side {
  readonly role?: string;
  readonly disk?: string;
  readonly connection?: string;
  readonly peerRole?: string;
  readonly replication?: string;
  readonly peerDisk?: string;
  readonly resync?: ResyncProgress;
  /** KiB out of sync (the peer device's counter, e.g. after an online verify). */
  readonly outOfSync?: string;
}

/** One host's DRBD view of r0, as its watcher would hold it (null: it does not know r0). */
function drbd(host: string, side: Side | null): HostState {
  if (side === null) return { host, resources: {} };
  const peer = host === 'alpha' ? 'beta' : 'alpha';
  const compact = (o: Record<string, string | undefined>) =>
    Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));
  return {
    host,
    resources: {
      r0: {
        name: 'r0',
        fields: compact({ role: side.role }),
        devices: { 0: { volume: 0, fields: compact({ disk: side.disk }) } },
        connections:
          side.connection === undefined
            ? {}
            : {
                [peer]: {
                  peer,
                  fields: compact({ connection: side.connection, role: side.peerRole }),
                  peerDevices: {
                    0: {
                      volume: 0,
                      fields: compact({
                        replication: side.replication,
                        'peer-disk': side.peerDisk,
                        'out-of-sync': side.outOfSync,
                      }),
                      ...(side.resync === undefined ? {} : { resync: side.resync }),
                    },
                  },
                  paths: {},
                },
              },
      },
    },
  };
}

const PRIMARY: Side = {
  role: 'Primary',
  disk: 'UpToDate',
  connection: 'Connected',
  peerRole: 'Secondary',
  replication: 'Established',
  peerDisk: 'UpToDate',
};
const SECONDARY: Side = { ...PRIMARY, role: 'Secondary', peerRole: 'Primary' };
const HEALTHY = [drbd('alpha', PRIMARY), drbd('beta', SECONDARY)];
const READY: PreflightCheck[] = [
  { name: 'mount point', ok: true, detail: '/r0 exists' },
  { name: 'LXD daemon', ok: true, detail: 'r0lxd.service' },
  { name: 'binaries', ok: true, detail: 'drbdadm, mount, lxc' },
];
const VIEW: ContainersView = {
  resources: [{ name: 'r0', primaryOn: 'alpha' }],
  containers: [container({ name: 'web1' }), container({ name: 'db1' })],
};

function splitBrainIncidents(): Incidents {
  return applyNotification(
    {},
    {
      kind: 'split-brain',
      severity: 'critical',
      host: 'alpha',
      resource: 'r0',
      text: 'Split-brain on r0 on alpha with beta.',
      details: { helper: 'split-brain', peer: 'beta' },
      at: new Date(NOW - 600_000).toISOString(),
    },
  ).incidents;
}

function leadership(fence: LeadershipView['fences'][number]): () => Promise<LeadershipView> {
  return async () => ({ leader: 'alpha', token: 3, self: 'alpha', fences: [fence] });
}

/** A context on `self` of the pair alpha/beta; each case overrides what it breaks. */
function pairContext(
  overrides: Partial<CommandContext> = {},
  self = 'alpha',
  without: { peer?: boolean; preflight?: boolean } = {},
): CommandContext {
  const { peerName: _peer, preflight: _preflight, ...base } = commandContext(VIEW);
  const context: CommandContext = {
    ...base,
    host: self,
    ...(without.peer === true ? {} : { peerName: self === 'alpha' ? 'beta' : 'alpha' }),
    hosts: async () => HEALTHY,
    ...(without.preflight === true ? {} : { preflight: async () => READY }),
    leadership: leadership({ key: 'r0', holder: null, expiresAt: null }),
    ...overrides,
  };
  // Requests go the way Operations.request takes them: validate, observe, plan (which refuses).
  const operations: OperationsPort = {
    async request(definition, raw) {
      const args = validateArgs(definition, raw);
      const world = await definition.observe(args, full);
      const plan = definition.plan(args, world, {
        host: full.host,
        resources: full.resources,
        lxd: full.lxd,
        command: canonicalCommand(definition, raw),
      });
      return { message: { title: `Plan posted: ${plan.title}`, tone: 'info' }, private: true };
    },
    decide: async () => {
      throw new Error('no decisions in these tests');
    },
    list: () => [],
  };
  const full: CommandContext = { ...context, operations };
  return full;
}

async function answer(text: string, context: CommandContext): Promise<Message> {
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

interface Case {
  readonly name: string;
  readonly text: string;
  readonly context: () => CommandContext;
  /** The whole title, as a reader sees it first. */
  readonly title: string;
  /** The checks that failed, by name: each must be in the list with ❌, whole on every platform. */
  readonly failed: readonly string[];
}

const SPLIT: CommandContext['hosts'] = async () => [
  drbd('alpha', { role: 'Primary', disk: 'UpToDate', connection: 'StandAlone', peerRole: 'Unknown' }),
  drbd('beta', { role: 'Primary', disk: 'UpToDate', connection: 'StandAlone', peerRole: 'Unknown' }),
];
const LINK_DOWN: CommandContext['hosts'] = async () => [
  drbd('alpha', {
    ...PRIMARY,
    connection: 'Connecting',
    peerRole: 'Unknown',
    replication: 'Off',
    peerDisk: 'DUnknown',
  }),
  drbd('beta', {
    ...SECONDARY,
    disk: 'Outdated',
    connection: 'Connecting',
    peerRole: 'Unknown',
    replication: 'Off',
    peerDisk: 'DUnknown',
  }),
];

const CASES: Case[] = [
  {
    name: 'both hosts Primary and StandAlone (split-brain, no incident reported)',
    text: 'failover r0',
    context: () => pairContext({ hosts: SPLIT }),
    title: 'Failover r0 blocked: split-brain not recovered',
    failed: ['one Primary', 'target', 'connected', 'no split-brain'],
  },
  {
    name: 'an open split-brain incident',
    text: 'failover r0',
    context: () => pairContext({ incidents: splitBrainIncidents }),
    title: 'Failover r0 blocked: split-brain not recovered',
    failed: ['no split-brain'],
  },
  {
    name: 'no host is Primary',
    text: 'failover r0',
    context: () =>
      pairContext({
        hosts: async () => [drbd('alpha', { ...SECONDARY, peerRole: 'Secondary' }), drbd('beta', SECONDARY)],
      }),
    title: 'Failover r0 blocked: no host is Primary',
    failed: ['one Primary'],
  },
  {
    name: 'the target is already Primary',
    text: 'failover r0 to alpha',
    context: () => pairContext(),
    title: 'Failover r0 blocked: alpha is already Primary',
    failed: ['target'],
  },
  {
    name: 'no peer configured and none answering',
    text: 'failover r0',
    context: () => pairContext({ hosts: async () => [drbd('alpha', PRIMARY)] }, 'alpha', { peer: true }),
    title: 'Failover r0 blocked: no other host known',
    // Everything about the other host fails with it; the title names the cause only.
    failed: ['target', 'target reachable', 'connected', 'disks UpToDate', 'target ready'],
  },
  {
    name: 'the target does not answer over the peer link',
    text: 'failover r0',
    context: () =>
      pairContext({
        hosts: async () => [drbd('alpha', PRIMARY)],
        preflight: async (host) =>
          host === 'beta' ? { unreachable: 'connect ECONNREFUSED 127.0.0.1:7790' } : READY,
        containers: async () => {
          throw new Error('beta did not answer: connect ECONNREFUSED 127.0.0.1:7790');
        },
      }),
    title: 'Failover r0 blocked: beta did not answer, containers could not be listed',
    failed: ['target reachable', 'target ready', 'containers'],
  },
  {
    name: 'the replication link is down',
    text: 'failover r0',
    context: () => pairContext({ hosts: LINK_DOWN }),
    title: "Failover r0 blocked: not connected (Connecting), beta's disk is Outdated",
    failed: ['connected', 'disks UpToDate'],
  },
  {
    name: "the target's disk is Inconsistent without a resync",
    text: 'failover r0',
    context: () =>
      pairContext({
        hosts: async () => [
          drbd('alpha', { ...PRIMARY, peerDisk: 'Inconsistent' }),
          drbd('beta', { ...SECONDARY, disk: 'Inconsistent' }),
        ],
      }),
    title: "Failover r0 blocked: beta's disk is Inconsistent",
    failed: ['disks UpToDate'],
  },
  {
    name: 'the source does not yet see the target UpToDate',
    text: 'failover r0',
    context: () =>
      pairContext({
        hosts: async () => [drbd('alpha', { ...PRIMARY, peerDisk: 'Outdated' }), drbd('beta', SECONDARY)],
      }),
    title: "Failover r0 blocked: alpha sees beta's disk as Outdated",
    failed: ['disks UpToDate'],
  },
  {
    name: 'a resync is running',
    text: 'failover r0',
    context: () =>
      pairContext({
        hosts: async () => [
          drbd('alpha', {
            ...PRIMARY,
            replication: 'SyncSource',
            peerDisk: 'Inconsistent',
            resync: { startedAt: NOW - 60_000, source: true, donePercent: 42.5, outOfSyncKiB: 523_000 },
          }),
          drbd('beta', { ...SECONDARY, disk: 'Inconsistent', replication: 'SyncTarget' }),
        ],
      }),
    title: 'Failover r0 blocked: a resync is running',
    failed: ['disks UpToDate', 'no resync'],
  },
  {
    name: 'blocks out of sync after an online verify',
    text: 'failover r0',
    context: () =>
      pairContext({
        hosts: async () => [drbd('alpha', { ...PRIMARY, outOfSync: '2048' }), drbd('beta', SECONDARY)],
      }),
    title: 'Failover r0 blocked: 2.0 MiB out of sync',
    failed: ['no resync'],
  },
  {
    name: 'the target is not ready (no LXD unit, mount point missing)',
    text: 'failover r0',
    context: () =>
      pairContext({
        preflight: async () => [
          { name: 'mount point', ok: false, detail: '/r0 is not a directory' },
          { name: 'LXD daemon', ok: false, detail: 'no systemd unit r0lxd.service' },
          { name: 'binaries', ok: true, detail: 'drbdadm, mount, lxc' },
        ],
      }),
    title:
      'Failover r0 blocked: beta mount point: /r0 is not a directory, beta LXD daemon: no systemd unit r0lxd.service',
    failed: ['beta: mount point', 'beta: LXD daemon'],
  },
  {
    name: 'this instance cannot ask hosts (no host operations)',
    text: 'failover r0',
    context: () => pairContext({}, 'alpha', { preflight: true }),
    title: 'Failover r0 blocked: beta was not asked',
    failed: ['target ready'],
  },
  {
    name: 'the fence lock is held by the target',
    text: 'failover r0',
    context: () =>
      pairContext({ leadership: leadership({ key: 'r0', holder: 'beta', expiresAt: NOW + 60_000 }) }),
    title: 'Failover r0 blocked: fence lock held by beta',
    failed: ['fence lock'],
  },
  {
    name: 'the lock store does not answer',
    text: 'failover r0',
    context: () =>
      pairContext({
        leadership: leadership({
          key: 'r0',
          holder: null,
          expiresAt: null,
          error: 'etcd: deadline exceeded',
        }),
      }),
    title: 'Failover r0 blocked: fence lock unknown',
    failed: ['fence lock'],
  },
  // failover --force: beta takes r0 because alpha is dead.
  {
    name: 'forced, while the peer answers and is Primary',
    text: 'failover r0 --force',
    context: () =>
      pairContext(
        {
          hosts: async () => [
            drbd('beta', {
              ...SECONDARY,
              connection: 'Connecting',
              peerRole: 'Unknown',
              replication: 'Off',
              peerDisk: 'DUnknown',
            }),
            drbd('alpha', {
              ...PRIMARY,
              connection: 'Connecting',
              peerRole: 'Unknown',
              replication: 'Off',
              peerDisk: 'DUnknown',
            }),
          ],
        },
        'beta',
      ),
    title: 'Forced failover r0 → beta blocked: alpha is Primary',
    failed: ['peer not Primary'],
  },
  {
    name: 'forced, while the pair is Connected',
    text: 'failover r0 --force',
    context: () => pairContext({ hosts: async () => [drbd('beta', SECONDARY)] }, 'beta'),
    title: 'Forced failover r0 → beta blocked: alpha is still connected (use a planned failover)',
    failed: ['peer not connected'],
  },
  {
    name: 'forced, on a host that has no view of r0',
    text: 'failover r0 --force',
    context: () => pairContext({ hosts: async () => [drbd('beta', null)] }, 'beta'),
    title: 'Forced failover r0 → beta blocked: beta has no DRBD view of r0',
    failed: ['target view', 'target Secondary', 'UpToDate data'],
  },
  {
    name: 'forced, on a host that is already Primary with Outdated data',
    text: 'failover r0 --force',
    context: () =>
      pairContext(
        {
          hosts: async () => [
            drbd('beta', {
              role: 'Primary',
              disk: 'Outdated',
              connection: 'Connecting',
              replication: 'Off',
              peerDisk: 'DUnknown',
            }),
          ],
        },
        'beta',
      ),
    title: "Forced failover r0 → beta blocked: beta is Primary, beta's disk is Outdated",
    failed: ['target Secondary', 'UpToDate data'],
  },
  {
    name: 'forced, fence lock held by the dead host, target not ready',
    text: 'failover r0 --force',
    context: () =>
      pairContext(
        {
          hosts: async () => [
            drbd('beta', {
              ...SECONDARY,
              connection: 'Connecting',
              peerRole: 'Unknown',
              replication: 'Off',
              peerDisk: 'DUnknown',
            }),
          ],
          leadership: leadership({ key: 'r0', holder: 'alpha', expiresAt: NOW + 60_000 }),
          preflight: async () => [{ name: 'binaries', ok: false, detail: 'missing: lxc' }],
        },
        'beta',
      ),
    title: 'Forced failover r0 → beta blocked: fence lock held by alpha, beta binaries: missing: lxc',
    failed: ['fence lock', 'beta: binaries'],
  },
  // splitbrain <resource> victim <host>
  {
    name: 'split-brain recovery when there is no split-brain',
    text: 'splitbrain r0 victim beta',
    context: () => pairContext(),
    title: 'Split-brain recovery r0 blocked: no split-brain to recover',
    failed: ['split-brain'],
  },
  {
    name: 'split-brain recovery while the victim does not answer',
    text: 'splitbrain r0 victim beta',
    context: () =>
      pairContext({ hosts: async () => [drbd('alpha', { ...PRIMARY, connection: 'StandAlone' })] }),
    title: 'Split-brain recovery r0 blocked: beta did not answer',
    failed: ['both hosts answer'],
  },
];

/** The lines of the checklist that failed, as the command wrote them. */
function failedLines(message: Message): string[] {
  return (oneLineTitle(message).body ?? '').split('\n').filter((l) => l.startsWith('❌'));
}

function slackTexts(message: Message): string[] {
  const rendered = renderSlack(message);
  const blocks = rendered.attachments.flatMap((a) => a.blocks) as Record<string, unknown>[];
  return [
    rendered.text,
    ...blocks.flatMap((b) => [
      (b.text as { text?: string } | undefined)?.text ?? '',
      ...((b.fields ?? []) as { text: string }[]).map((f) => f.text),
      ...((b.elements ?? []) as { text?: string | { text: string } }[]).map((e) =>
        typeof e.text === 'string' ? e.text : (e.text?.text ?? ''),
      ),
    ]),
  ];
}

function discordTexts(message: Message): string[] {
  const embed = renderDiscord(message).embeds[0];
  return [
    embed?.title ?? '',
    embed?.description ?? '',
    ...(embed?.fields ?? []).flatMap((f) => [f.name, f.value]),
    embed?.footer?.text ?? '',
  ];
}

describe('blocked plans: every refusal, on every platform', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const message = await answer(c.text, c.context());
      if (process.env.SHOW === '1') console.log(renderText(message));
      expect(message.tone).toBe('warning');
      const shown = oneLineTitle(message);
      expect(shown.title).toBe(c.title);
      // The whole checklist is in the body, one line per check; the named ones failed.
      const failed = failedLines(message);
      for (const name of c.failed) expect(failed.filter((l) => l.startsWith(`❌ ${name}: `))).toHaveLength(1);
      expect(failed).toHaveLength(c.failed.length);
      expect(placeholders(visibleText(shown))).toEqual([]);

      const slack = renderSlack(message);
      expect(slackProblems(slack)).toEqual([]);
      const [titleBlock, bodyBlock] = (
        (slack.attachments[0]?.blocks ?? []) as { type: string; text?: { text: string } }[]
      ).filter((b) => b.type === 'section' && b.text !== undefined);
      expect(titleBlock?.text?.text).toBe(`⚠️ *WARNING* ${escapeMrkdwn(c.title)}`);
      expect(slack.text).toBe(`⚠️ WARNING: ${c.title}`);
      for (const line of failed) expect(bodyBlock?.text?.text).toContain(escapeMrkdwn(line));
      expect(placeholders(slackTexts(message).join('\n'))).toEqual([]);

      const discord = renderDiscord(message);
      expect(discordProblems(discord)).toEqual([]);
      expect(discord.embeds[0]?.title).toBe(`⚠️ WARNING ${c.title}`);
      for (const line of failed) expect(discord.embeds[0]?.description).toContain(line);
      expect(placeholders(discordTexts(message).join('\n'))).toEqual([]);

      const text = renderText(message);
      expect(text.split('\n')[0]).toBe(`[WARNING] ${c.title}`);
      for (const line of failed) expect(text).toContain(line);
      expect(placeholders(text)).toEqual([]);
    });
  }
});

describe('a long checklist still fits, and what decides is never the part cut', () => {
  it('keeps every failed line whole when passed checks and details must be shortened', async () => {
    // A host that reports sixty checks with long details, two of them failed, the last one last.
    const noisy: PreflightCheck[] = Array.from({ length: 60 }, (_, i) => ({
      name: `check ${String(i).padStart(2, '0')}`,
      ok: i !== 7 && i !== 59,
      detail: `${i === 59 ? 'the deciding detail at the very end' : 'fine'}: ${'x'.repeat(140)}`,
    }));
    const message = await answer('failover r0', pairContext({ preflight: async () => noisy }));
    const failed = failedLines(message);
    expect(failed).toHaveLength(2);
    expect(failed[1]).toContain('the deciding detail at the very end');
    expect(oneLineTitle(message).body?.length).toBeGreaterThan(6_000);

    const slack = renderSlack(message);
    expect(slackProblems(slack)).toEqual([]);
    const body = (slack.attachments[0]?.blocks[1] as { text?: { text: string } } | undefined)?.text?.text;
    for (const line of failed) expect(body).toContain(escapeMrkdwn(line));
    expect(body).toMatch(/… \d+ more lines not shown$/);

    const discord = renderDiscord(message);
    expect(discordProblems(discord)).toEqual([]);
    for (const line of failed) expect(discord.embeds[0]?.description).toContain(line);
    // The title names the first deciding check, shortened, and counts the others.
    expect(oneLineTitle(message).title).toMatch(/^Failover r0 blocked: beta check 07: fine: x+… and 1 more$/);
    expect(discord.embeds[0]?.title.length).toBeLessThanOrEqual(256);
  });

  it('keeps the embeds within 6000 characters in all when the fields are long too', () => {
    const long = (n: number) =>
      Array.from({ length: n }, (_, i) => `✅ step ${i}: ${'y'.repeat(60)}`).join('\n');
    const message: Message = {
      title: 'failover r0: alpha → beta: failed, rolled back',
      tone: 'warning',
      body: `${long(30)}\n❌ Unmount /r0 (alpha): umount: /r0: target is busy`,
      fields: Array.from({ length: 30 }, (_, i) => ({ label: `Field ${i}`, value: long(12) })),
    };
    const discord = renderDiscord(message);
    expect(discordProblems(discord)).toEqual([]);
    expect(discord.embeds[0]?.description).toContain('❌ Unmount /r0 (alpha): umount: /r0: target is busy');
    expect(discord.embeds[0]?.fields?.at(-1)?.value ?? '').not.toBe('');
    const slack = renderSlack(message);
    expect(slackProblems(slack)).toEqual([]);
    expect(JSON.stringify(slack)).toContain('❌ Unmount /r0 (alpha): umount: /r0: target is busy');
  });
});
