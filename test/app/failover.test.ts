// `failover` through the operations machinery on the DRBD simulator and simulated hosts (mounts,
// LXD daemons, containers): the planned switchover moves every running container, pre-flight
// refuses a pair in resync, a device held open stops the demotion and everything is taken back,
// a start that fails on the target sends the services back to the source.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { ipSet } from '../../commands/ip-set.js';
import { AuditLog, readAudit } from '../../src/adapters/audit-log.js';
import { OperationStore } from '../../src/adapters/operation-store.js';
import { type CommandContext, commandHandler } from '../../src/app/command-registry.js';
import { localContainers, mergeContainerViews } from '../../src/app/container-views.js';
import { createLogger } from '../../src/app/log.js';
import { Operations } from '../../src/app/operations.js';
import { runAction } from '../../src/app/steps.js';
import { type Message, oneLineTitle } from '../../src/core/message-tones.js';
import type { Member } from '../../src/core/policy.js';
import { HostWatcher } from '../../src/core/watcher.js';
import type { PlatformName } from '../../src/ports/chat.js';
import { renderDiscord } from '../../src/render/discord.js';
import { renderText } from '../../src/render/plain-text.js';
import { escapeMrkdwn, renderSlack } from '../../src/render/slack.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { SimulatedContainers } from '../../src/sim/simulated-containers.js';
import { SimulatedHost } from '../../src/sim/simulated-host.js';
import { commandContext } from '../commands/context.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { MemoryLockStore } from '../helpers/memory-lock.js';
import { discordProblems, placeholders, slackProblems, visibleText } from '../render/limits.js';

const logger = createLogger({ level: 'silent', format: 'json' });

/** A reply as a person reads it: the title, then the body (a blocked plan's checklist). */
const whole = (m: Message): string => (m.body === undefined ? m.title : `${m.title}\n${m.body}`);
const TEAM: Member[] = [
  { name: 'alice', slack: 'UALICE', discord: '400000000000000001', web: 'alice' },
  { name: 'bob', slack: 'UBOB', discord: '400000000000000002', web: 'bob' },
  { name: 'carol', slack: 'UCAROL' },
];

async function setup(options: { self?: 'alpha' | 'beta'; peerDown?: boolean } = {}) {
  const self = options.self ?? 'alpha';
  const other = self === 'alpha' ? 'beta' : 'alpha';
  const dir = tempDir();
  const pair = SimulatedPair.init(join(dir, 'drbd'), {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  SimulatedContainers.init(
    dir,
    [
      {
        name: 'db1',
        resource: 'r0',
        status: 'Running',
        device: 'eth0',
        parent: 'p',
        ipv4: ['198.51.100.10'],
        ipv6: [],
      },
      {
        name: 'web1',
        resource: 'r0',
        status: 'Running',
        device: 'eth0',
        parent: 'p',
        ipv4: ['198.51.100.11'],
        ipv6: [],
      },
      {
        name: 'web2',
        resource: 'r0',
        status: 'Running',
        device: 'eth0',
        parent: 'p',
        ipv4: ['198.51.100.12'],
        ipv6: [],
      },
      {
        name: 'batch',
        resource: 'r0',
        status: 'Stopped',
        device: 'eth0',
        parent: 'p',
        ipv4: ['198.51.100.13'],
        ipv6: [],
      },
    ],
    { mounted: { r0: 'alpha' }, lxd: { r0: 'alpha' } },
  );
  const containers = (host: string) => new SimulatedContainers(dir, host);
  const hostOps = (host: string) => new SimulatedHost(pair, containers(host), host);
  // Each host's DRBD view, read fresh from the simulator (what its watcher would hold).
  const stateOf = (host: string) => {
    pair.tick();
    const w = new HostWatcher(host);
    for (const line of pair.eventsNow(host)) w.feed(line, Date.now());
    return w.watch.state;
  };
  const fences = new MemoryLockStore();
  const platform = new (await import('../helpers/recording-platform.js')).RecordingPlatform('slack');
  const store = new OperationStore(join(dir, 'operations.ndjson'));
  const audit = new AuditLog(join(dir, 'audit.ndjson'));
  const base = commandContext();
  let peerDown = options.peerDown === true;
  const context: CommandContext = {
    ...base,
    host: self,
    peerName: other,
    hosts: async () => (peerDown ? [stateOf(self)] : [stateOf(self), stateOf(other)]),
    containers: async () =>
      mergeContainerViews(
        await localContainers(containers(self), stateOf(self), ['r0'], self),
        peerDown
          ? { unreachable: 'connect ECONNREFUSED' }
          : await localContainers(containers(other), stateOf(other), ['r0'], other),
        other,
      ),
    preflight: async (host, resource) =>
      host === other && peerDown
        ? { unreachable: 'connect ECONNREFUSED' }
        : hostOps(host).preflight(resource),
    team: TEAM,
    onCall: () => ({ now: [TEAM[1] as Member], next: [], handoverAt: null }),
  };
  const operations: Operations = new Operations({
    host: self,
    store,
    audit,
    commands: COMMANDS,
    policies: {},
    chat: () => platform,
    runStep: (action, host) =>
      runAction(action, {
        containers: containers(host),
        host: hostOps(host),
        state: () => stateOf(host),
        sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))),
        fences,
      }),
    token: () => 1,
    roster: () => ({ team: TEAM, onCallNow: [TEAM[1] as Member] }),
    context: () => full,
    planContext: { host: self, resources: context.resources, lxd: context.lxd },
    logger,
  });
  const full: CommandContext = { ...context, operations };
  await operations.open();
  onCleanup(async () => {
    await operations.idle();
    await store.close();
    await audit.close();
  });
  const handler = commandHandler(full, logger);
  const say = async (text: string, userId = 'UALICE', platform: PlatformName = 'slack') =>
    (
      await handler(
        {
          platform,
          text,
          userId,
          userName: userId.toLowerCase(),
          roles: [],
          channelId: 'C1',
          source: 'slash-command',
        },
        { update: async () => {} },
      )
    ).message;
  const approveLast = async () => {
    const id =
      /confirm ([0-9a-f]{8})/.exec(platform.posts.at(-1)?.message.actions?.[0]?.command ?? '')?.[1] ?? '';
    expect((await say(`confirm ${id}`)).title).toMatch(/now needs one approval/);
    expect((await say(`approve ${id}`, 'UBOB')).title).toBe(`Approved by bob; running request ${id}.`);
    await operations.idle();
    return id;
  };
  const final = () => platform.updates.at(-1)?.message;
  const lastId = () =>
    /(?:confirm|approve) ([0-9a-f]{8})/.exec(JSON.stringify(platform.posts.at(-1)?.message ?? {}))?.[1] ?? '';
  return {
    dir,
    pair,
    containers,
    say,
    approveLast,
    final,
    platform,
    fences,
    operations,
    lastId,
    setPeerDown: (down: boolean) => {
      peerDown = down;
    },
  };
}

describe('failover r0 on the simulator', () => {
  it('moves every running container to beta, with the same addresses, and reports the downtime', async () => {
    const s = await setup();
    const plan = await s.say('failover r0 to beta');
    expect(plan.title).toMatch(/^Plan [0-9a-f]{8} posted/);
    const posted = s.platform.posts.at(-1)?.message;
    expect(posted?.title).toBe('failover r0: alpha → beta: waiting for confirmation');
    expect(posted?.fields?.find((f) => f.label === 'Pre-flight')?.value).toContain(
      '✅ connected: alpha → beta: Connected',
    );
    await s.approveLast();
    const final = s.final();
    expect(final?.title).toMatch(/^failover r0: alpha → beta: done in /);
    expect(final?.fields?.find((f) => f.label === 'Service downtime')?.value).toMatch(
      /first container stopped → last one running/,
    );
    expect(s.pair.role('beta', 'r0')).toBe('Primary');
    expect(s.pair.role('alpha', 'r0')).toBe('Secondary');
    const onBeta = await s.containers('beta').list('r0');
    expect(onBeta.filter((c) => c.status === 'Running').map((c) => [c.name, c.addresses.ipv4[0]])).toEqual([
      ['db1', '198.51.100.10'],
      ['web1', '198.51.100.11'],
      ['web2', '198.51.100.12'],
    ]);
    // Exactly the containers that ran before: the stopped one stays stopped.
    expect(onBeta.find((c) => c.name === 'batch')?.status).toBe('Stopped');
    await expect(s.containers('alpha').list('r0')).rejects.toThrow(/did not answer/);
    const outcome = readAudit(join(s.dir, 'audit.ndjson'), { event: 'finished' }).records.map(
      (r) => r.outcome,
    );
    expect(outcome).toEqual(['succeeded']);
  });

  it('refuses while a resync runs, saying which check failed', async () => {
    const s = await setup();
    s.pair.setResyncSeconds(600);
    s.pair.linkDown('r0');
    s.pair.linkUp('r0');
    const answer = await s.say('failover r0');
    // A short title naming the deciding check; the checklist follows it (the body, once rendered).
    expect(whole(answer)).toMatch(/^Failover r0 blocked: a resync is running\n/);
    expect(whole(answer)).toMatch(/❌ no resync: a resync is running/);
    expect(s.platform.posts).toHaveLength(0);
  });

  it('a device held open (multipathd) stops the switchover before the demotion; everything comes back on alpha', async () => {
    const s = await setup();
    await s.say('failover r0');
    s.pair.openDevice('alpha', 'r0', 'multipathd');
    await s.approveLast();
    const final = s.final();
    expect(final?.title).toBe('failover r0: alpha → beta: failed, rolled back');
    expect(final?.body).toMatch(/still in use: multipathd/);
    expect(s.pair.role('alpha', 'r0')).toBe('Primary');
    const onAlpha = await s.containers('alpha').list('r0');
    expect(onAlpha.filter((c) => c.status === 'Running').map((c) => c.name)).toEqual(['db1', 'web1', 'web2']);
  });

  it('containers that cannot start on beta: beta is demoted and the services return to alpha', async () => {
    const s = await setup();
    await s.say('failover r0');
    // Beta's network already uses web2's address: LXD refuses to start it there.
    s.containers('beta').reserve('198.51.100.12');
    await s.approveLast();
    expect(s.final()?.title).toBe('failover r0: alpha → beta: failed, rolled back');
    expect(s.final()?.body).toMatch(/Start db1, web1, web2 failed: web2: lxc start web2: exit 1/);
    expect(s.pair.role('alpha', 'r0')).toBe('Primary');
    expect(s.pair.role('beta', 'r0')).toBe('Secondary');
    const onAlpha = await s.containers('alpha').list('r0');
    expect(onAlpha.filter((c) => c.status === 'Running').map((c) => c.name)).toEqual(['db1', 'web1', 'web2']);
  });

  it('the requester cannot approve their own failover; someone not on call cannot either', async () => {
    const s = await setup();
    await s.say('failover r0');
    const id =
      /confirm ([0-9a-f]{8})/.exec(s.platform.posts.at(-1)?.message.actions?.[0]?.command ?? '')?.[1] ?? '';
    await s.say(`confirm ${id}`);
    expect((await s.say(`approve ${id}`)).title).toMatch(/someone else must approve it/);
    expect(s.pair.role('alpha', 'r0')).toBe('Primary');
  });
});

describe('failover r0 --force on the simulator', () => {
  async function aliveBetaAfterAlphaDied() {
    const s = await setup({ self: 'beta', peerDown: true });
    // alpha dies: DRBD, its mount, its LXD daemon and its containers with it.
    s.pair.crash('alpha');
    const sim = s.containers('alpha');
    sim.setHostState({ mounted: { r0: null }, lxd: { r0: null } });
    sim.stopAll(['r0']);
    // LXD brings back what was running when it starts again (its "last state").
    for (const name of ['db1', 'web1', 'web2'])
      sim.update(name, { status: 'Running', startedAt: new Date().toISOString() });
    return s;
  }

  it('needs the resource name typed and two approvals, then takes the fence and starts the services on beta', async () => {
    const s = await aliveBetaAfterAlphaDied();
    const answer = await s.say('failover r0 --force');
    expect(whole(answer)).toMatch(/^Plan [0-9a-f]{8} posted/);
    const posted = s.platform.posts.at(-1)?.message;
    expect(posted?.title).toBe('FORCED failover r0 → beta: waiting for confirmation');
    expect(posted?.actions?.map((a) => a.label)).toEqual(['Cancel']);
    const id = s.lastId();
    expect(posted?.fields?.find((f) => f.label === 'To confirm')?.value).toBe(`type \`confirm ${id} r0\``);
    expect((await s.say(`confirm ${id}`)).title).toMatch(
      /cannot be confirmed with a click: type `confirm [0-9a-f]{8} r0`/,
    );
    expect((await s.say(`confirm ${id} r1`)).title).toMatch(/cannot be confirmed with a click/);
    expect((await s.say(`confirm ${id} r0`)).title).toBe(`Confirmed. Request ${id} now needs 2 approvals.`);
    expect((await s.say(`approve ${id}`, 'UBOB')).title).toBe(
      `Approved by bob; request ${id} needs one approval more.`,
    );
    expect((await s.say(`approve ${id}`, 'UBOB')).title).toMatch(/already approved it/);
    expect((await s.say(`approve ${id}`, 'UCAROL')).title).toBe(`Approved by carol; running request ${id}.`);
    await s.operations.idle();
    expect(s.final()?.title).toMatch(/^FORCED failover r0 → beta: done in /);
    // Green, but no problem was "resolved": a change done is OK.
    expect(s.final()?.tone).toBe('ok');
    expect(s.pair.role('beta', 'r0')).toBe('Primary');
    expect((await s.fences.read('r0')).holder).toBe('beta');
    const running = (await s.containers('beta').list('r0'))
      .filter((c) => c.status === 'Running')
      .map((c) => c.name);
    expect(running).toEqual(['db1', 'web1', 'web2']);
  });

  it('two approvals are two people: one member approving from Slack and again from Discord or the web console counts once', async () => {
    const s = await aliveBetaAfterAlphaDied();
    await s.say('failover r0 --force');
    const id = s.lastId();
    // alice asked on Slack; her Discord and web accounts are still alice.
    expect((await s.say(`confirm ${id} r0`)).title).toBe(`Confirmed. Request ${id} now needs 2 approvals.`);
    expect((await s.say(`approve ${id}`, '400000000000000001', 'discord')).title).toMatch(
      /^alice: you asked for this failover \(from another account: discord\); someone else must approve it\.$/,
    );
    expect((await s.say(`approve ${id}`, 'UBOB')).title).toBe(
      `Approved by bob; request ${id} needs one approval more.`,
    );
    for (const [userId, platform] of [
      ['400000000000000002', 'discord'],
      ['bob', 'web'],
    ] as const) {
      expect((await s.say(`approve ${id}`, userId, platform)).title).toBe(
        'bob has already approved it; it needs another person.',
      );
    }
    expect(s.pair.role('beta', 'r0')).toBe('Secondary');
    expect((await s.say(`approve ${id}`, 'UCAROL')).title).toBe(`Approved by carol; running request ${id}.`);
    await s.operations.idle();
    expect(s.final()?.title).toMatch(/^FORCED failover r0 → beta: done in /);
    // Green, but no problem was "resolved": a change done is OK.
    expect(s.final()?.tone).toBe('ok');
    const approvals = readAudit(join(s.dir, 'audit.ndjson'), { event: 'approved' }).records.map(
      (r) => `${r.actor?.member} ${r.actor?.platform}:${r.actor?.userId}`,
    );
    expect(approvals).toEqual(['bob slack:UBOB', 'carol slack:UCAROL']);
  });

  it('refuses while the peer answers over the peer link and is Primary', async () => {
    const s = await setup({ self: 'beta' });
    s.pair.linkDown('r0');
    const answer = await s.say('failover r0 --force');
    expect(whole(answer)).toMatch(/^Forced failover r0 → beta blocked: alpha is Primary\n/);
    expect(whole(answer)).toMatch(
      /❌ peer not Primary: alpha answers over the peer link and is Primary: forcing beta would make a split-brain/,
    );
    expect(s.platform.posts).toHaveLength(0);
  });

  it('refuses while the pair is Connected (that is a planned failover)', async () => {
    const s = await setup({ self: 'beta' });
    const answer = await s.say('failover r0 --force');
    expect(whole(answer)).toMatch(
      /❌ peer not connected: beta is Connected to alpha: use a planned failover/,
    );
  });
});

describe('splitbrain r0 victim beta on the simulator', () => {
  it('shows both sides, needs the victim typed, discards the victim, reconnects and waits for the resync', async () => {
    const s = await setup();
    s.pair.setResyncSeconds(1);
    s.pair.splitBrain('r0');
    const answer = await s.say('splitbrain r0 victim beta');
    expect(whole(answer)).toMatch(/^Plan [0-9a-f]{8} posted/);
    const posted = s.platform.posts.at(-1)?.message;
    expect(posted?.title).toBe(
      'split-brain recovery r0: beta discards its changes: waiting for confirmation',
    );
    expect(posted?.fields?.map((f) => f.label)).toEqual(
      expect.arrayContaining(['alpha (survivor: keeps its data)', 'beta (victim: loses its changes)']),
    );
    const id = s.lastId();
    expect((await s.say(`confirm ${id} beta`)).title).toMatch(/now needs one approval/);
    expect((await s.say(`approve ${id}`, 'UBOB')).title).toMatch(/^Approved by bob; running/);
    await s.operations.idle();
    expect(s.final()?.title).toMatch(/^split-brain recovery r0: beta discards its changes: done in /);
    s.pair.tick();
    expect(s.pair.role('beta', 'r0')).toBe('Secondary');
    expect(s.pair.cstate('beta', 'r0')).toBe('Connected');
    expect(s.pair.dstate('beta', 'r0')).toBe('UpToDate/UpToDate');
    expect(s.pair.role('alpha', 'r0')).toBe('Primary');
  });

  it('refuses when there is no split-brain', async () => {
    const s = await setup();
    expect(whole(await s.say('splitbrain r0 victim beta'))).toMatch(
      /^Split-brain recovery r0 blocked: no split-brain to recover\n/,
    );
  });
});

/** A refusal as every platform shows it: within limits, no placeholders, each failed line whole. */
function expectReadableEverywhere(message: Message): void {
  const shown = oneLineTitle(message);
  const failed = (shown.body ?? '').split('\n').filter((l) => l.startsWith('❌'));
  expect(failed.length).toBeGreaterThan(0);
  expect(placeholders(visibleText(shown))).toEqual([]);
  const slack = renderSlack(message);
  expect(slackProblems(slack)).toEqual([]);
  const slackText = JSON.stringify(slack);
  for (const line of failed) expect(slackText).toContain(JSON.stringify(escapeMrkdwn(line)).slice(1, -1));
  const discord = renderDiscord(message);
  expect(discordProblems(discord)).toEqual([]);
  expect(discord.embeds[0]?.title).toBe(`⚠️ WARNING ${shown.title}`);
  for (const line of failed) expect(discord.embeds[0]?.description).toContain(line);
  const text = renderText(message);
  expect(placeholders(text)).toEqual([]);
  for (const line of failed) expect(text).toContain(line);
}

describe('blocked plans on the simulator, as each platform shows them', () => {
  it('a split-brain (both Primary, StandAlone): the title says so, no "? → alpha" or "null: unknown"', async () => {
    const s = await setup();
    s.pair.splitBrain('r0');
    const answer = await s.say('failover r0');
    expect(oneLineTitle(answer).title).toBe('Failover r0 blocked: split-brain not recovered');
    expect(whole(answer)).toMatch(/❌ no split-brain: alpha and beta are both Primary and not connected/);
    expect(whole(answer)).toContain('`splitbrain r0 victim <host>`');
    expect(whole(answer)).not.toMatch(/\? →|null:/);
    expectReadableEverywhere(answer);
    expect(s.platform.posts).toHaveLength(0);
  });

  it('the peer is down: the title names the host that did not answer', async () => {
    const s = await setup({ peerDown: true });
    const answer = await s.say('failover r0');
    expect(oneLineTitle(answer).title).toBe('Failover r0 blocked: beta did not answer');
    expect(whole(answer)).toMatch(/❌ target ready: beta could not be asked: connect ECONNREFUSED/);
    expectReadableEverywhere(answer);
  });

  it('the replication link is down: not connected, with the state DRBD reports', async () => {
    const s = await setup();
    s.pair.linkDown('r0');
    const answer = await s.say('failover r0');
    expect(oneLineTitle(answer).title).toMatch(/^Failover r0 blocked: not connected \(\w+\)/);
    expectReadableEverywhere(answer);
  });

  it('a forced failover while the peer answers as Primary, and a recovery without a split-brain', async () => {
    const s = await setup({ self: 'beta' });
    s.pair.linkDown('r0');
    expectReadableEverywhere(await s.say('failover r0 --force'));
    s.pair.linkUp('r0');
    expectReadableEverywhere(await s.say('splitbrain r0 victim beta'));
  });
});

describe('containers while both hosts are Primary (split-brain)', () => {
  it("lists each side's containers, so the operator sees where the services run before choosing the victim", async () => {
    const dir = tempDir();
    const pair = SimulatedPair.init(join(dir, 'drbd'), {
      hosts: ['alpha', 'beta'],
      resources: [{ name: 'r0', minor: 0 }],
      primary: { r0: 'alpha' },
    });
    pair.splitBrain('r0');
    // Each side mounted its own copy of /r0 and started its own LXD daemon: two databases that
    // diverged at the split. alpha still runs web1 and db1; on beta only db1 was started.
    const lxd = (host: 'alpha' | 'beta', running: readonly string[]) => {
      const own = join(dir, host);
      mkdirSync(own);
      SimulatedContainers.init(
        own,
        ['db1', 'web1'].map((name, i) => ({
          name,
          resource: 'r0',
          status: running.includes(name) ? ('Running' as const) : ('Stopped' as const),
          device: 'eth0',
          parent: 'p',
          ipv4: [`198.51.100.${10 + i}`],
          ipv6: [],
        })),
        { mounted: { r0: host }, lxd: { r0: host } },
      );
      return new SimulatedContainers(own, host);
    };
    const runtimes = { alpha: lxd('alpha', ['db1', 'web1']), beta: lxd('beta', ['db1']) };
    const stateOf = (host: string) => {
      pair.tick();
      const w = new HostWatcher(host);
      for (const line of pair.eventsNow(host)) w.feed(line, Date.now());
      return w.watch.state;
    };
    expect([pair.role('alpha', 'r0'), pair.role('beta', 'r0')]).toEqual(['Primary', 'Primary']);
    const view = mergeContainerViews(
      await localContainers(runtimes.alpha, stateOf('alpha'), ['r0'], 'alpha'),
      await localContainers(runtimes.beta, stateOf('beta'), ['r0'], 'beta'),
      'beta',
    );
    expect(view.resources).toEqual([
      { name: 'r0', primaryOn: 'alpha' },
      { name: 'r0', primaryOn: 'beta' },
    ]);
    const context: CommandContext = { ...commandContext(view), host: 'alpha', peerName: 'beta' };
    const handler = commandHandler(context, logger);
    const reply = await handler(
      {
        platform: 'slack',
        text: 'containers',
        userId: 'UALICE',
        userName: 'alice',
        roles: [],
        channelId: 'C1',
        source: 'slash-command',
      },
      { update: async () => {} },
    );
    const message = reply.message;
    expect(message.tone).toBe('warning');
    expect(message.body).toMatch(/^⚠️ r0 is Primary on both alpha and beta \(split-brain\)/);
    expect(message.body).toContain('`splitbrain r0 victim <host>`');
    expect(message.body).toMatch(/3 of 4 running\.$/);
    expect(
      message.fields?.map((f) => [
        f.label,
        f.value.split('\n').map((l) => l.split(' ').slice(0, 2).join(' ')),
      ]),
    ).toEqual([
      ['r0 on alpha (split-brain: Primary on both)', ['`db1` Running,', '`web1` Running,']],
      ['r0 on beta (split-brain: Primary on both)', ['`db1` Running,', '`web1` Stopped']],
    ]);
    // Only one side asked for it: `containers --host=beta` is the victim candidate's view.
    const beta = await handler(
      {
        platform: 'slack',
        text: 'containers --host=beta',
        userId: 'UALICE',
        userName: 'alice',
        roles: [],
        channelId: 'C1',
        source: 'slash-command',
      },
      { update: async () => {} },
    );
    expect(beta.message.fields?.map((f) => f.label)).toEqual(['r0 on beta (split-brain: Primary on both)']);
    // ip set would change one of two diverged copies: refused until the split-brain is recovered.
    expect(() =>
      ipSet.plan({ container: 'web1', addresses: ['198.51.100.20'] }, view, {
        host: 'alpha',
        resources: context.resources,
        lxd: context.lxd,
        command: 'ip-set web1 198.51.100.20',
      }),
    ).toThrow(
      'r0 is Primary on alpha and beta (split-brain): recover it first with `splitbrain r0 victim <host>`; ip set changes nothing until then.',
    );
  });
});
