// The commands on a real LXD: the daemon with the real lxc adapter (LXD_DIR per resource from the
// configuration) answers `containers` and `ip show`, and runs `ip set` after its confirmation,
// through the console platform and through the fake Slack (the real Bolt client). One `ip set`
// fails for real: another machine on the parent network already uses the address, LXD refuses to
// start the container, and the bot puts the old address back and starts it again.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { readAudit } from '../../src/adapters/audit-log.js';
import { ConsolePlatform } from '../../src/adapters/console.js';
import { LxcCli } from '../../src/adapters/lxd.js';
import { SIMULATOR_BIN } from '../../src/adapters/package-paths.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import { parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import type { ChatPlatform, PlatformName } from '../../src/ports/chat.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, slackConfig } from '../fakes/slack/index.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { commandRuns } from '../helpers/command-runs.js';
import { until } from '../helpers/wait.js';
import {
  buildBusyboxImage,
  createVethParent,
  importImage,
  type LxdDaemon,
  launchRouted,
  lxdWorkDir,
  requireLxd,
  startLxdDaemon,
  suiteCleanup,
  uniqueSuffix,
  unusedAddresses,
  type VethParent,
} from './helpers/lxd-harness.js';

const ALIAS = 'busybox';
// The parent network has an address of its own, so LXD probes it for neighbours using an address.
const PARENT_NET = '198.18.7.1/24';
const SUBNET = '198.18.7.0/24';
const logger = createLogger({ level: 'silent', format: 'json' });
const suite = suiteCleanup();
const suffix = uniqueSuffix();
const c1 = `lxc-${suffix}-web1`;
const c2 = `lxc-${suffix}-web2`;

let lxd: LxdDaemon;
let parent: VethParent;
let a1: string;
let a2: string;
let free: [string, string, string];

beforeAll(async () => {
  requireLxd();
  const work = lxdWorkDir({ cleanup: suite.add });
  const image = await buildBusyboxImage(work);
  lxd = await startLxdDaemon({
    lxdDir: join(work, 'r0', 'lxd'),
    logFile: join(work, 'lxd.log'),
    cleanup: suite.add,
  });
  await importImage(lxd.lxdDir, image, ALIAS, { cleanup: suite.add });
  parent = await createVethParent(`vlc${suffix}`, { subnet: PARENT_NET, cleanup: suite.add });
  const [x, y, ...rest] = await unusedAddresses('198.18.7', 5);
  if (x === undefined || y === undefined || rest.length < 3) throw new Error('no free addresses');
  [a1, a2] = [x, y];
  free = rest as [string, string, string];
  await launchRouted(lxd.lxdDir, c1, ALIAS, parent.name, [a1], { cleanup: suite.add });
  await launchRouted(lxd.lxdDir, c2, ALIAS, parent.name, [a2], { cleanup: suite.add });
}, 180_000);

afterAll(() => suite.run(), 180_000);

const runtime = () => new LxcCli({ host: 'alpha', resources: { r0: { lxdDir: lxd.lxdDir } } });

async function live(name: string) {
  const found = (await runtime().list('r0')).find((c) => c.name === name);
  if (found === undefined) throw new Error(`${name} is not in lxc list`);
  return found;
}

/** r0 Primary on alpha in the DRBD simulator, and the daemon's configuration for it. */
function pairConfig(extra: Record<string, unknown> = {}) {
  const dir = tempDir('drbd-chatops-lxd-cmd-');
  SimulatedPair.init(join(dir, 'sim'), {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  const config = parseConfig({
    host: 'alpha',
    stateDir: join(dir, 'state'),
    log: { level: 'silent', format: 'json' },
    drbd: { drbdsetup: SIMULATOR_BIN, env: { DRBD_SIM_DIR: join(dir, 'sim'), DRBD_SIM_HOST: 'alpha' } },
    resources: { r0: { lxdDir: lxd.lxdDir, subnets: [SUBNET] } },
    lxd: { stopTimeoutS: 10, verifyTimeoutMs: 20_000 },
    oncall: { team: [{ name: 'alice', slack: 'U0ALICE', console: 'alice' }], static: ['alice'] },
    ...extra,
  });
  return { dir, config };
}

async function startDaemon(
  config: ReturnType<typeof pairConfig>['config'],
  platforms: Map<PlatformName, ChatPlatform>,
) {
  const daemon = new Daemon({ commands: COMMANDS, config, configPath: undefined, logger, platforms });
  await daemon.start();
  onCleanup(() => daemon.stop());
  await until(
    () => daemon.watch?.watcher.watch.state.resources.r0?.fields.role === 'Primary',
    'the daemon to see r0 Primary',
  );
  return daemon;
}

describe('containers and ip on a real LXD', () => {
  it('through the console: list, show, set, and a failing set rolled back', async () => {
    const { config } = pairConfig();
    const input = new PassThrough();
    let printed = '';
    const output = new Writable({
      write(chunk, _e, done) {
        printed += String(chunk);
        done();
      },
    });
    const consolePlatform = new ConsolePlatform({ input, output, userName: 'alice' });
    await startDaemon(config, new Map([['console', consolePlatform]]));
    let mark = 0;
    const type = async (line: string, expected: RegExp, timeoutMs = 60_000): Promise<string> => {
      mark = printed.length;
      input.write(`${line}\n`);
      await until(() => expected.test(printed.slice(mark)), `"${line}" to print ${expected}`, timeoutMs);
      return printed.slice(mark);
    };

    const listed = await type('/drbd containers', /2 of 2 running/);
    expect(listed).toContain(`\`${c1}\` Running, up `);
    expect(listed).toContain(`· ${a1}`);
    expect(listed).toContain(`\`${c2}\` Running`);
    expect(listed).toMatch(/r0 on alpha/);

    expect(await type(`ip show ${c1}`, /Up now/)).toContain(`Up now: ${a1}`);

    const planned = await type(`ip set ${c1} ${free[0]}`, /\[Confirm\] → confirm [0-9a-f]{8}/);
    const id = /confirm ([0-9a-f]{8})/.exec(planned)?.[1] ?? '';
    expect(planned).toContain(`Stop ${c1}`);
    expect((await live(c1)).addresses.ipv4).toEqual([a1]);
    await type(`confirm ${id}`, /: done in /, 120_000);
    const moved = await live(c1);
    expect(moved.status).toBe('Running');
    expect(moved.addresses.ipv4).toEqual([free[0]]);
    expect(moved.nic?.ipv4).toEqual([free[0]]);

    // Another machine on the parent network takes the next address: LXD refuses the start.
    await parent.addNeighbourAddress(free[1]);
    const second = await type(`ip set ${c2} ${free[1]}`, /\[Confirm\] → confirm [0-9a-f]{8}/);
    const id2 = /confirm ([0-9a-f]{8})/.exec(second)?.[1] ?? '';
    const failed = await type(`confirm ${id2}`, /failed, rolled back/, 120_000);
    expect(failed).toContain(`IP address "${free[1]}" in use on parent network`);
    const back = await live(c2);
    expect(back.status).toBe('Running');
    expect(back.nic?.ipv4).toEqual([a2]);
    expect(back.addresses.ipv4).toEqual([a2]);

    const records = readAudit(join(config.stateDir, 'audit.ndjson')).records;
    expect(records.filter((r) => r.event === 'finished').map((r) => r.outcome)).toEqual([
      'succeeded',
      'rolled-back',
    ]);
    const startRun = commandRuns(
      records.find((r) => r.operation === id2 && r.step?.id === 'start')?.step?.runs,
    ).at(-1);
    expect(startRun?.argv).toEqual(['lxc', 'start', c2]);
    expect(startRun?.exitCode).toBe(1);
  }, 240_000);

  it('through the fake Slack: containers, then ip set after the Confirm click', async () => {
    const fake = new FakeSlack();
    await fake.start();
    onCleanup(() => fake.stop());
    const { config } = pairConfig({ slack: { apiUrl: fake.apiUrl } });
    const slack = new SlackPlatform({
      config: slackConfig(fake),
      logger,
      secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
      requestTimeoutMs: 10_000,
    });
    await startDaemon(config, new Map([['slack', slack]]));
    await fake.waitForConnection(1, 15_000);
    const slash = (text: string) =>
      fake.sendSlashCommand({ text, channelId: 'C0OPS', userId: 'U0ALICE', userName: 'alice' });
    // A public answer is a channel message (so it can be edited); a private one goes to the response_url.
    const channelText = () => JSON.stringify(fake.messages('C0OPS'));
    await slash('containers');
    await until(() => channelText().includes(c1) && channelText().includes(c2), 'the container list', 60_000);
    const privately = async (text: string) => {
      const { responseUrl } = await slash(text);
      const [response] = await fake.waitForResponses(responseUrl, 1, 60_000);
      return JSON.stringify(response?.body ?? {});
    };

    const target = free[2];
    expect(await privately(`ip set ${c1} ${target}`)).toMatch(/Plan [0-9a-f]{8} posted/);
    const findPlan = () =>
      fake
        .messages('C0OPS')
        .find((m) => String(m.metadata?.event_payload.key ?? '').startsWith('operation:'));
    await until(() => findPlan() !== undefined, 'the plan message');
    const plan = findPlan();
    if (plan === undefined) throw new Error('no plan message');
    const id = /operation:([0-9a-f]{8})/.exec(String(plan.metadata?.event_payload.key))?.[1] ?? '';
    const { responseUrl } = await fake.clickButton({
      channelId: 'C0OPS',
      messageTs: plan.ts,
      actionId: 'drbd:confirm',
      userId: 'U0ALICE',
      userName: 'alice',
      value: `confirm ${id}`,
    });
    const [answer] = await fake.waitForResponses(responseUrl, 1, 30_000);
    expect(JSON.stringify(answer?.body)).toContain(`Confirmed; running request ${id}.`);
    await until(
      () => JSON.stringify(plan.attachments ?? plan.blocks ?? plan.text).includes(': done in '),
      'the plan to show done',
      120_000,
    );
    expect((await live(c1)).addresses.ipv4).toEqual([target]);
    expect(readFileSync(join(config.stateDir, 'audit.ndjson'), 'utf8')).toContain('"outcome":"succeeded"');
  }, 240_000);
});
