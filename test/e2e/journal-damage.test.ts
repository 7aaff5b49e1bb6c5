// Start-up after damage, through the real daemon: a torn audit log keeps every later record
// readable, and an incomplete record in the operations journal is quarantined instead of stopping
// the recovery of the others (or the rest of start-up).

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAudit } from '../../src/adapters/audit-log.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import type { Operation } from '../../src/core/operation.js';
import { BASE_POLICY } from '../../src/core/policy.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, slackConfig } from '../fakes/slack/index.js';
import { onCleanup } from '../helpers/cleanup.js';
import { until } from '../helpers/wait.js';
import { daemonConfig, logger, PEOPLE, setupPair, startDaemon, textOf } from './approvals-harness.js';

const CHANNEL = 'C0OPS';
const T0 = Date.now() - 60_000;

/** A request that was running (its first step done) when the process died. */
const running: Operation = {
  id: '0a1b2c3d',
  plan: {
    command: 'ip-set web1 198.51.100.20',
    name: 'ip-set',
    title: 'ip set web1 198.51.100.20',
    resource: 'r0',
    summary: 'web1 is Running on alpha.',
    fields: [],
    facts: {},
    steps: [
      {
        id: 'stop',
        host: 'alpha',
        label: 'Stop web1',
        action: { kind: 'container-stop', resource: 'r0', container: 'web1', timeoutS: 30 },
      },
      {
        id: 'start',
        host: 'alpha',
        label: 'Start web1',
        action: { kind: 'container-start', resource: 'r0', container: 'web1' },
      },
    ],
  },
  args: { container: 'web1', addresses: '198.51.100.20' },
  requester: { platform: 'slack', userId: PEOPLE.alice.slack, userName: 'alice', roles: [] },
  requestedAt: T0,
  expiresAt: T0 + 600_000,
  token: 0,
  policy: BASE_POLICY,
  channel: { platform: 'slack', channelId: CHANNEL },
  messageId: null,
  state: 'running',
  approvals: [],
  steps: [
    {
      id: 'stop',
      label: 'Stop web1',
      host: 'alpha',
      status: 'done',
      startedAt: T0,
      durationMs: 900,
      runs: [],
    },
  ],
  rollback: [],
};

describe('start-up after a crash left damaged journals (the real daemon)', () => {
  it('repairs the torn audit log, quarantines the incomplete request and still reports the interrupted one', async () => {
    const env = setupPair();
    mkdirSync(env.stateDir, { recursive: true });
    const before = [
      {
        at: new Date(T0).toISOString(),
        event: 'requested',
        host: 'alpha',
        operation: running.id,
        command: running.plan.command,
      },
      {
        at: new Date(T0 + 1).toISOString(),
        event: 'step',
        host: 'alpha',
        operation: running.id,
        command: running.plan.command,
      },
    ];
    // The crash tore the audit record being written.
    writeFileSync(
      join(env.stateDir, 'audit.ndjson'),
      `${before.map((r) => JSON.stringify(r)).join('\n')}\n{"at":"2026-12-06T03:00:00.000Z","event":"st`,
    );
    // Well-formed JSON, but no plan steps, no requester: reading it would throw in recovery.
    const incomplete = { id: '0badc0de', state: 'running', plan: { title: 'failover r0' }, token: 0 };
    writeFileSync(
      join(env.stateDir, 'operations.ndjson'),
      `${JSON.stringify(incomplete)}\n${JSON.stringify(running)}\n`,
    );

    const slack = new FakeSlack();
    await slack.start();
    onCleanup(() => slack.stop());
    const config = daemonConfig(env, { team: [PEOPLE.alice, PEOPLE.bob], slack: { apiUrl: slack.apiUrl } });
    const platform = new SlackPlatform({
      config: slackConfig(slack),
      logger,
      secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
      requestTimeoutMs: 5_000,
    });
    await startDaemon(env, config, new Map([['slack', platform]]));
    await slack.waitForConnection(1, 15_000);

    // The interrupted request is reported in the channel, with what was done and what was not.
    await slack.waitFor(
      () => slack.messages(CHANNEL).some((m) => textOf(m).includes('Interrupted: ip set web1')),
      'the interrupted request reported',
      15_000,
    );
    const report = slack
      .messages(CHANNEL)
      .map((m) => textOf(m))
      .join('\n');
    expect(report).toContain('Done: Stop web1. Not done: Start web1.');

    // Every record, those before the crash and the one written after it, is readable.
    const auditPath = join(env.stateDir, 'audit.ndjson');
    await until(
      () => readAudit(auditPath).records.some((r) => r.event === 'interrupted'),
      'the interrupted record',
    );
    const { records, damaged } = readAudit(auditPath);
    expect(damaged).toBe(0);
    expect(records.map((r) => r.event)).toEqual(['requested', 'step', 'interrupted']);
    const torn = readdirSync(env.stateDir).filter((f) => f.startsWith('audit.ndjson.torn-'));
    expect(torn).toHaveLength(1);
    expect(readFileSync(join(env.stateDir, torn[0] ?? ''), 'utf8')).toBe(
      '{"at":"2026-12-06T03:00:00.000Z","event":"st',
    );

    // The incomplete request waits in the quarantine file for a person, and was not acted on.
    const quarantine = join(env.stateDir, 'operations.ndjson.quarantine');
    expect(existsSync(quarantine)).toBe(true);
    expect(readFileSync(quarantine, 'utf8')).toContain('0badc0de');
    expect(records.some((r) => r.operation === '0badc0de')).toBe(false);
  });
});
