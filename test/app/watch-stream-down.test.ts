// The watch over a real event stream (a scripted drbdsetup that fails on demand): while the stream is
// down the bot says so (warning, then critical; critical at once for a host last seen Primary), the
// resolution replaces the watcher's own "blind for N s" report, and /metrics keeps the last DRBD
// series with the stream gauge and their age. Short thresholds keep the test quick; the defaults are
// exercised end to end in test/e2e/stream-down.test.ts.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/adapters/metrics.js';
import { StatusServer } from '../../src/adapters/status-server.js';
import { parseConfig } from '../../src/app/config.js';
import { createLogger } from '../../src/app/log.js';
import { type RunningWatch, startWatch, streamDownReason } from '../../src/app/watch.js';
import type { Notification } from '../../src/core/notification.js';
import { onCleanup } from '../helpers/cleanup.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { until } from '../helpers/wait.js';

const SCRIPT = join(import.meta.dirname, '../fixtures/bin/scripted-drbdsetup.mjs');
const logger = createLogger({ level: 'silent', format: 'json' });

function watchWith(
  role: 'Primary' | 'Secondary',
  streamDown: { warnAfterMs: number; criticalAfterMs: number },
  failFromStart = false,
) {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-stream-down-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const flag = join(dir, 'fail');
  if (failFromStart) writeFileSync(flag, '');
  const config = parseConfig({
    host: 'beta',
    stateDir: join(dir, 'state'),
    drbd: {
      drbdsetup: process.execPath,
      events2Args: [SCRIPT, 'events2', '--timestamps'],
      full: 'never',
      env: { SCRIPT_MODE: 'stay', SCRIPT_ROLE: role, SCRIPT_FAIL_FLAG: flag },
      restartBackoff: { initialMs: 50, maxMs: 200 },
      streamDown,
    },
  });
  const notifications: Notification[] = [];
  const watch = startWatch(config, logger, (n) => notifications.push(n));
  onCleanup(() => watch.stop());
  return {
    watch,
    notifications,
    fail: () => writeFileSync(flag, ''),
    heal: () => rmSync(flag, { force: true }),
  };
}

async function statusServer(watch: RunningWatch): Promise<string> {
  const metrics = new Metrics({
    host: 'beta',
    state: () => watch.lastKnownState(),
    stream: () => ({ up: watch.isLive(), stateAgeSeconds: watch.stateAgeSeconds() }),
    leader: () => ({ leads: true, token: 1 }),
    outboxDepth: () => 0,
    processMetrics: false,
  });
  const server = new StatusServer({
    port: 0,
    metrics,
    health: () => ({
      eventSource: watch.isLive()
        ? { ok: true }
        : { ok: false, reason: streamDownReason('beta', watch.stream()) },
    }),
    ready: () => ({}),
  });
  const address = await server.start();
  onCleanup(() => server.stop());
  return `http://${address.address}:${address.port}`;
}

const gaps = (ns: readonly Notification[]) => ns.filter((n) => n.kind === 'watcher-gap');

describe('a watched event stream that goes down', () => {
  it('warns, escalates, and resolves once with what was missed; /metrics and /healthz say so meanwhile', async () => {
    const { watch, notifications, fail, heal } = watchWith('Secondary', {
      warnAfterMs: 600,
      criticalAfterMs: 1_500,
    });
    const url = await statusServer(watch);
    await until(() => watch.isLive(), 'the first dump');
    let families = parsePromText(await (await fetch(`${url}/metrics`)).text());
    expect(sampleValue(families, 'drbdchatops_events_stream_up', { host: 'beta' })).toBe(1);
    expect(sampleValue(families, 'drbdchatops_state_age_seconds', { host: 'beta' })).toBe(0);

    fail();
    await until(() => gaps(notifications).length >= 1, 'the warning', 5_000);
    const [warning] = gaps(notifications);
    expect(warning).toMatchObject({
      severity: 'warning',
      host: 'beta',
      resource: null,
      details: { stream: 'down' },
    });
    expect(warning?.text).toContain(
      'Cause: drbdsetup exited with code 20: "drbdsetup: netlink: Permission denied / events2: giving up"',
    );
    // Decided at the threshold, counted from the moment the stream ended.
    expect(warning?.details.downMs).toBeGreaterThanOrEqual(600);

    // While down: the last DRBD series stay, marked down and with their age; /healthz says why.
    families = parsePromText(await (await fetch(`${url}/metrics`)).text());
    expect(sampleValue(families, 'drbdchatops_events_stream_up', { host: 'beta' })).toBe(0);
    expect(sampleValue(families, 'drbdchatops_state_age_seconds', { host: 'beta' })).toBeGreaterThanOrEqual(
      0.6,
    );
    expect(sampleValue(families, 'drbd_resource_role', { name: 'r0', drbd_resource_role: 'Secondary' })).toBe(
      1,
    );
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { reasons: string[] };
    expect(body.reasons[0]).toMatch(
      /^eventSource: the DRBD event stream on beta is down since \S+Z \(\d+ s\): drbdsetup exited with code 20: "drbdsetup: netlink: Permission denied/,
    );

    await until(() => gaps(notifications).length >= 2, 'the escalation', 5_000);
    expect(gaps(notifications)[1]).toMatchObject({ severity: 'critical', details: { stream: 'still-down' } });

    heal();
    await until(() => gaps(notifications).length >= 3, 'the resolution', 5_000);
    const resolution = gaps(notifications)[2];
    expect(resolution).toMatchObject({ severity: 'info', details: { stream: 'back', missed: 0 } });
    expect(resolution?.text).toMatch(
      /^The bot sees DRBD on beta again: its event stream is back after \d+s .*Nothing changed meanwhile\.$/,
    );
    // The resolution took the place of the watcher's own "restarted …; it was blind for N s".
    await new Promise((r) => setTimeout(r, 200));
    expect(gaps(notifications)).toHaveLength(3);
    families = parsePromText(await (await fetch(`${url}/metrics`)).text());
    expect(sampleValue(families, 'drbdchatops_events_stream_up', { host: 'beta' })).toBe(1);
    expect(sampleValue(families, 'drbdchatops_state_age_seconds', { host: 'beta' })).toBe(0);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('is critical at once for a host last seen Primary', async () => {
    const { watch, notifications, fail } = watchWith('Primary', {
      warnAfterMs: 500,
      criticalAfterMs: 60_000,
    });
    await until(() => watch.isLive(), 'the first dump');
    fail();
    await until(() => gaps(notifications).length >= 1, 'the alert', 5_000);
    expect(gaps(notifications)[0]).toMatchObject({ severity: 'critical', details: { primary: 'r0' } });
    expect(gaps(notifications)[0]?.text).toContain('beta was Primary of r0 when last seen.');
  });

  it('says nothing but the usual gap report for a restart shorter than warnAfterMs', async () => {
    const { watch, notifications, fail, heal } = watchWith('Secondary', {
      warnAfterMs: 60_000,
      criticalAfterMs: 120_000,
    });
    await until(() => watch.isLive(), 'the first dump');
    fail();
    await until(() => !watch.isLive(), 'the stream down');
    expect(watch.stream()).toMatchObject({ up: false, cause: expect.stringContaining('code 20') });
    heal();
    await until(() => watch.isLive() && gaps(notifications).length === 1, 'the stream back');
    expect(gaps(notifications)[0]?.text).toMatch(/restarted .*it was blind for/);
    expect(watch.stream().up).toBe(true);
  });

  it('counts a stream that never printed its state from the start of watching', async () => {
    // drbdsetup fails from the first start on: nothing was ever seen.
    const { watch, notifications, heal } = watchWith(
      'Secondary',
      { warnAfterMs: 500, criticalAfterMs: 60_000 },
      true,
    );
    await until(() => gaps(notifications).length >= 1, 'the warning', 5_000);
    expect(gaps(notifications)[0]?.severity).toBe('warning');
    expect(watch.isLive()).toBe(false);
    expect(watch.lastKnownState()).toBeUndefined();
    expect(watch.stateAgeSeconds()).toBeUndefined();
    heal();
    await until(() => gaps(notifications).length >= 2, 'the resolution', 5_000);
    expect(gaps(notifications)[1]?.text).toContain('This is the first DRBD state the bot has read on beta');
  });
});
