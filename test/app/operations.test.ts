import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { AuditLog, readAudit } from '../../src/adapters/audit-log.js';
import { OperationStore } from '../../src/adapters/operation-store.js';
import { type CommandContext, commandHandler } from '../../src/app/command-registry.js';
import type { PolicyConfig } from '../../src/app/config.js';
import { localContainers } from '../../src/app/container-views.js';
import { createLogger } from '../../src/app/log.js';
import { Operations } from '../../src/app/operations.js';
import { runAction } from '../../src/app/steps.js';
import type { Operation } from '../../src/core/operation.js';
import type { IncomingCommand } from '../../src/ports/chat.js';
import { SimulatedContainers } from '../../src/sim/simulated-containers.js';
import { commandContext, TEAM } from '../commands/context.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { RecordingPlatform } from '../helpers/recording-platform.js';

const PRIMARY_R0 = { host: 'alpha', resources: { r0: { name: 'r0', fields: { role: 'Primary' } } } } as never;

interface Setup {
  dir: string;
  sim: SimulatedContainers;
  platform: RecordingPlatform;
  operations: Operations;
  handle: (text: string, userId?: string, source?: IncomingCommand['source']) => Promise<string>;
  token: { value: number };
  now: { value: number };
}

async function setup(
  options: {
    dir?: string;
    policies?: Record<string, PolicyConfig>;
    init?: boolean;
    replicate?: (op: Operation) => Promise<void>;
  } = {},
): Promise<Setup> {
  const dir = options.dir ?? tempDir();
  if (options.init !== false) {
    SimulatedContainers.init(dir, [
      {
        name: 'web1',
        resource: 'r0',
        status: 'Running',
        device: 'eth0',
        parent: 'veth0',
        ipv4: ['198.51.100.10'],
        ipv6: [],
      },
      {
        name: 'web2',
        resource: 'r0',
        status: 'Running',
        device: 'eth0',
        parent: 'veth0',
        ipv4: ['198.51.100.11'],
        ipv6: [],
      },
    ]);
  }
  const sim = new SimulatedContainers(dir, 'alpha');
  const platform = new RecordingPlatform('slack');
  const store = new OperationStore(join(dir, 'operations.ndjson'));
  const audit = new AuditLog(join(dir, 'audit.ndjson'));
  const token = { value: 7 };
  const now = { value: Date.now() };
  const logger = createLogger({ level: 'silent', format: 'json' });
  const context = commandContext(undefined, {
    containers: () => localContainers(sim, PRIMARY_R0, ['r0'], 'alpha'),
  });
  const operations: Operations = new Operations({
    host: 'alpha',
    store,
    audit,
    commands: COMMANDS,
    policies: options.policies ?? {},
    chat: () => platform,
    runStep: (action) => runAction(action, { containers: sim, sleep: async () => {} }),
    token: () => token.value,
    roster: () => ({ team: TEAM, onCallNow: [TEAM[1] as (typeof TEAM)[number]] }),
    context: (): CommandContext => fullContext,
    planContext: { host: 'alpha', resources: context.resources, lxd: context.lxd },
    logger,
    now: () => now.value,
    ...(options.replicate === undefined ? {} : { replicate: options.replicate }),
  });
  const fullContext: CommandContext = { ...context, operations };
  const handler = commandHandler(fullContext, logger);
  await operations.open();
  onCleanup(async () => {
    await operations.idle();
    await store.close();
    await audit.close();
  });
  return {
    dir,
    sim,
    platform,
    operations,
    token,
    now,
    handle: async (text, userId = 'UALICE', source = 'slash-command') => {
      const reply = await handler(
        {
          platform: 'slack',
          text,
          userId,
          userName: userId.toLowerCase(),
          roles: [],
          channelId: 'C1',
          source,
        },
        { update: async () => {} },
      );
      return reply.message.title;
    },
  };
}

const idOf = (s: Setup) =>
  /confirm ([0-9a-f]{8})/.exec(s.platform.posts.at(-1)?.message.actions?.[0]?.command ?? '')?.[1] ?? '';
const lastTitle = (s: Setup) =>
  (s.platform.updates.at(-1)?.message ?? s.platform.posts.at(-1)?.message)?.title;
const web1 = async (s: Setup) => (await s.sim.list('r0')).find((c) => c.name === 'web1');

describe('operations: plan, confirm, run', () => {
  it('posts the plan, changes nothing before the confirmation, then runs every step once', async () => {
    const s = await setup();
    await s.operations.recover();
    const reply = await s.handle('ip set web1 198.51.100.20');
    expect(reply).toMatch(
      /^Plan [0-9a-f]{8} posted\. Check it and press Confirm; nothing runs before that\.$/,
    );
    expect(s.platform.posts).toHaveLength(1);
    expect((await web1(s))?.nic?.ipv4).toEqual(['198.51.100.10']);
    const id = idOf(s);
    expect(await s.handle(`confirm ${id}`, 'UALICE', 'button')).toBe(`Confirmed; running request ${id}.`);
    await s.operations.idle();
    expect(await web1(s)).toMatchObject({
      status: 'Running',
      addresses: { ipv4: ['198.51.100.20'], ipv6: [] },
    });
    expect(lastTitle(s)).toMatch(/^ip set web1 198\.51\.100\.20: done in /);
    // Progress: one edit per step start and end, and the final state.
    expect(s.platform.updates.length).toBeGreaterThanOrEqual(9);
    expect(s.platform.updates.every((u) => u.messageId === s.platform.posts[0]?.messageId)).toBe(true);
    // A second click on the finished request runs nothing.
    expect(await s.handle(`confirm ${id}`)).toBe(`Request ${id} has already run; nothing was run.`);
    const events = readAudit(join(s.dir, 'audit.ndjson')).records.map((r) => r.event);
    expect(events).toEqual(['requested', 'confirmed', 'step', 'step', 'step', 'step', 'finished', 'refused']);
    const steps = readAudit(join(s.dir, 'audit.ndjson'), { event: 'step' }).records;
    expect(
      steps.map((r) =>
        r.step?.runs.map((run) =>
          'argv' in run ? `${run.argv.slice(0, 2).join(' ')}=${run.exitCode}` : run.lock.op,
        ),
      ),
    ).toEqual([['lxc stop=0'], ['lxc config=0'], ['lxc start=0'], []]);
    expect(steps.every((r) => r.token === 7)).toBe(true);
  });

  it('two confirmations at once run the steps once', async () => {
    const s = await setup();
    await s.handle('ip set web1 198.51.100.20');
    const id = idOf(s);
    const answers = await Promise.all([
      s.handle(`confirm ${id}`),
      s.handle(`confirm ${id}`),
      s.handle(`confirm ${id}`),
    ]);
    await s.operations.idle();
    expect(answers.filter((a) => a.startsWith('Confirmed'))).toHaveLength(1);
    const starts = readAudit(join(s.dir, 'audit.ndjson'), { event: 'step' }).records.filter(
      (r) => r.step?.id === 'start',
    );
    expect(starts).toHaveLength(1);
  });

  it('a failed start puts the old address back and starts the container again', async () => {
    const s = await setup();
    await s.handle('ip set web1 198.51.100.20');
    s.sim.reserve('198.51.100.20');
    await s.handle(`confirm ${idOf(s)}`);
    await s.operations.idle();
    expect(await web1(s)).toMatchObject({ status: 'Running', addresses: { ipv4: ['198.51.100.10'] } });
    const final = s.platform.updates.at(-1)?.message;
    expect(final?.title).toBe('ip set web1 198.51.100.20: failed, rolled back');
    expect(final?.body).toMatch(
      /Start web1 failed: lxc start web1: exit 1: Error: Failed to start device "eth0"/,
    );
    expect(final?.fields?.find((f) => f.label === 'Rollback')?.value).toMatch(
      /✅ Undo: Set eth0 to 198.51.100.20 \(alpha\).*\n✅ Undo: Stop web1 \(alpha\)/,
    );
    expect(final?.fields?.find((f) => f.label === 'Output of lxc start web1 (exit 1)')?.value).toMatch(
      /File exists/,
    );
    const finished = readAudit(join(s.dir, 'audit.ndjson'), { event: 'finished' }).records;
    expect(finished.map((r) => r.outcome)).toEqual(['rolled-back']);
  });

  it('runs nothing when the world changed between plan and confirmation', async () => {
    const s = await setup();
    await s.handle('ip set web1 198.51.100.20');
    s.sim.update('web1', { status: 'Stopped' });
    await s.handle(`confirm ${idOf(s)}`);
    await s.operations.idle();
    expect((await web1(s))?.nic?.ipv4).toEqual(['198.51.100.10']);
    expect(s.platform.updates.at(-1)?.message.body).toMatch(
      /Nothing was run: the situation changed since the plan \(web1 status: was Running, now Stopped\)/,
    );
  });

  it('refuses people outside the team, and records the refusal', async () => {
    const s = await setup();
    expect(await s.handle('ip set web1 198.51.100.20', 'UEVE')).toMatch(/ueve may not request ip-set/);
    expect(s.platform.posts).toHaveLength(0);
    expect(readAudit(join(s.dir, 'audit.ndjson')).records.map((r) => [r.event, r.actor?.userId])).toEqual([
      ['refused', 'UEVE'],
    ]);
  });

  it('a pending request survives a restart; a running one is reported as interrupted, never continued', async () => {
    const dir = tempDir();
    const first = await setup({ dir });
    await first.handle('ip set web1 198.51.100.20');
    const pending = idOf(first);
    await first.handle('ip set web2 198.51.100.21');
    const running = idOf(first);
    // Simulate a crash after the confirmation was stored, before any step ran.
    const store = new OperationStore(join(dir, 'operations.ndjson'));
    await store.open();
    const op = store.get(running);
    if (op === undefined) throw new Error('missing');
    await store.put({
      ...op,
      state: 'running',
      steps: [{ id: 'stop', label: 'Stop web2', host: 'alpha', status: 'done', startedAt: 0, runs: [] }],
    });
    await store.close();

    const second = await setup({ dir, init: false });
    await second.operations.recover();
    const after = new Map(second.operations.list().map((o) => [o.id, o]));
    expect(after.get(pending)?.state).toBe('awaiting-confirmation');
    expect(after.get(running)?.state).toBe('interrupted');
    expect(after.get(running)?.reason).toMatch(
      /^The bot stopped while this was running\. Done: Stop web2\. Not done: Set eth0 to 198\.51\.100\.21; Start web2; Check 198\.51\.100\.21 is up\./,
    );
    expect(await second.handle(`confirm ${running}`)).toMatch(/was interrupted; nothing was run/);
    expect(await second.handle(`confirm ${pending}`)).toBe(`Confirmed; running request ${pending}.`);
    await second.operations.idle();
    expect((await web1(second))?.addresses.ipv4).toEqual(['198.51.100.20']);
  });

  it('expired and leaderless requests are closed on their messages; their buttons run nothing', async () => {
    const s = await setup();
    await s.handle('ip set web1 198.51.100.20');
    const old = idOf(s);
    await s.handle('ip set web2 198.51.100.21');
    const renewed = idOf(s);
    s.now.value += 11 * 60_000;
    expect(await s.operations.sweep()).toBe(2);
    expect(s.platform.updates.at(-1)?.message.actions).toBeUndefined();
    expect(s.platform.updates.at(-1)?.message.title).toMatch(/: expired$/);
    expect(await s.handle(`confirm ${old}`)).toMatch(/has expired; nothing was run/);
    await s.handle('ip set web2 198.51.100.22');
    const fresh = idOf(s);
    expect(fresh).not.toBe(renewed);
    s.token.value = 8;
    expect(await s.handle(`confirm ${fresh}`)).toMatch(
      /leadership changed since it was requested \(token 7 → 8\)/,
    );
    expect((await web1(s))?.nic?.ipv4).toEqual(['198.51.100.10']);
  });

  it('an approval policy: confirm, then the on-call person approves; the requester cannot', async () => {
    const s = await setup({ policies: { 'ip-set': { approvals: 1, approverOnCall: true } } });
    await s.handle('ip set web1 198.51.100.20');
    const id = idOf(s);
    expect(await s.handle(`confirm ${id}`)).toBe(`Confirmed. Request ${id} now needs one approval.`);
    expect(s.platform.updates.at(-1)?.message.actions?.map((a) => a.label)).toEqual(['Approve', 'Cancel']);
    expect(await s.handle(`approve ${id}`)).toMatch(
      /you asked for this ip-set; someone else must approve it/,
    );
    expect(await s.handle(`approve ${id}`, 'UBOB')).toBe(`Approved by bob; running request ${id}.`);
    await s.operations.idle();
    expect((await web1(s))?.addresses.ipv4).toEqual(['198.51.100.20']);
  });

  it('refuses a policy that would let a change run unchecked', async () => {
    await expect(setup({ policies: { 'ip-set': { confirm: false, approvals: 0 } } })).rejects.toThrow(
      /policies.ip-set: with confirm: false it needs at least one approval/,
    );
    await expect(setup({ policies: { reboot: { approvals: 1 } } })).rejects.toThrow(
      /policies.reboot: no such changing command/,
    );
  });

  it('copies every transition to the peer; a new leader reports a change that was running as interrupted', async () => {
    const copies: Operation[] = [];
    const leader = await setup({ replicate: async (op) => void copies.push(op) });
    await leader.handle('ip set web1 198.51.100.20');
    const id = idOf(leader);
    await leader.handle(`confirm ${id}`);
    await leader.operations.idle();
    expect(copies.map((c) => c.state)).toContain('running');
    expect(copies.at(-1)?.state).toBe('succeeded');
    // The leader died after the first step: the follower holds the copy from that moment.
    const midway = copies.find((c) => c.state === 'running' && c.steps.some((st) => st.status === 'done'));
    if (midway === undefined) throw new Error('no copy from the middle of the run');
    const follower = await setup();
    await follower.operations.adopt(midway);
    await follower.operations.recover();
    const interrupted = follower.operations.list().find((o) => o.id === id);
    expect(interrupted?.state).toBe('interrupted');
    expect(interrupted?.reason).toMatch(
      /^The bot stopped while this was running\. Done: Stop web1\. Not done: /,
    );
    const notice = follower.platform.posts.find((p) => p.message.title.startsWith('Interrupted:'));
    expect(notice?.message.title).toBe(`Interrupted: ip set web1 198.51.100.20 (request ${id})`);
    expect(notice?.message.body).toMatch(/Nothing will continue by itself/);
  });
});
