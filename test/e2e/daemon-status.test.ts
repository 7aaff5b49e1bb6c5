// The daemon's own observability and scheduled work: /metrics (parsed with the Prometheus text
// rules), /healthz and /readyz, the daily digest and the reconciliation run by the scheduler.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { SIMULATOR_BIN } from '../../src/adapters/package-paths.js';
import { parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { RecordingPlatform } from '../helpers/recording-platform.js';
import { until } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent', format: 'json' });

async function daemon(schedules: Record<string, string | null>) {
  const dir = tempDir();
  const pair = SimulatedPair.init(join(dir, 'sim'), {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  const config = parseConfig({
    host: 'alpha',
    stateDir: join(dir, 'state'),
    drbd: { drbdsetup: SIMULATOR_BIN, env: { DRBD_SIM_DIR: join(dir, 'sim'), DRBD_SIM_HOST: 'alpha' } },
    routes: [{ platform: 'slack', channel: 'C1' }],
    schedules,
    status: { listen: { host: '127.0.0.1', port: 0 } },
  });
  const platform = new RecordingPlatform('slack');
  const d = new Daemon({
    commands: COMMANDS,
    config,
    configPath: undefined,
    logger,
    platforms: new Map([['slack', platform]]),
  });
  await d.start();
  onCleanup(() => d.stop());
  await until(() => d.watch?.isLive() === true, 'the event stream to be live');
  const address = d.statusAddress;
  if (address === undefined) throw new Error('no status server');
  const url = (path: string) => `http://127.0.0.1:${address.port}${path}`;
  return { d, pair, platform, url };
}

describe('daemon: metrics, health and scheduled work', () => {
  it('serves drbd-reactor compatible metrics and the bot own, and answers health and readiness', async () => {
    const { d, url } = await daemon({ reconcile: null, digest: null });
    await d.runCommand({
      platform: 'slack',
      text: 'status',
      userId: 'U1',
      userName: 'alice',
      roles: [],
      channelId: 'C1',
      source: 'slash-command',
    });
    const response = await fetch(url('/metrics'));
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePromText(await response.text());
    expect(sampleValue(families, 'drbd_resource_role', { name: 'r0', drbd_resource_role: 'Primary' })).toBe(
      1,
    );
    expect(sampleValue(families, 'drbd_resource_role', { name: 'r0', drbd_resource_role: 'Secondary' })).toBe(
      0,
    );
    expect(sampleValue(families, 'drbdchatops_leader')).toBe(1);
    expect(
      sampleValue(families, 'drbdchatops_command_runs_total', { command: 'status', outcome: 'ok' }),
    ).toBe(1);
    const health = await fetch(url('/healthz'));
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', checks: { eventSource: { ok: true } } });
    const ready = await fetch(url('/readyz'));
    expect(ready.status).toBe(200);
  });

  it('posts the digest on its schedule and reconciles quietly while the engine is right', async () => {
    const { d, platform } = await daemon({ reconcile: '* * * * * *', digest: '* * * * * *' });
    await until(
      () => platform.posts.some((p) => p.message.title.startsWith('Daily digest')),
      'a digest',
      10_000,
    );
    const digest = platform.posts.find((p) => p.message.title.startsWith('Daily digest'));
    expect(digest?.message.title).toBe('Daily digest: all healthy');
    expect(digest?.key).toMatch(/^digest:\d{4}-\d\d-\d\dT[\d:.]+Z:slack:C1$/);
    await until(() => d.scheduler.done.reconcile !== undefined, 'a reconciliation', 10_000);
    expect(
      platform.posts.some(
        (p) => p.message.title.includes('watcher') || p.message.body?.includes('Reconciliation'),
      ),
    ).toBe(false);
  });
});
