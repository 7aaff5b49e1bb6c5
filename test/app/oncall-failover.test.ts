// A planned failover run by the bot does not page anyone about the changes it makes itself: on the
// built-in demo pair (two real daemons, the DRBD simulator, simulated hosts and containers, the web
// console, bob on call), `failover r0` confirmed by alice and approved by bob moves r0 to beta; the
// role changes it causes are told in the plan's thread only, with no mention, no top-level alert and
// no page. The same change made by hand (not by the bot) is an alert in the channel.
import { describe, expect, it } from 'vitest';
import { startDemoPair } from '../../src/app/demo-pair.js';
import { createLogger } from '../../src/app/log.js';
import type { IncomingCommand } from '../../src/ports/chat.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { until } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent', format: 'json' });

function command(user: string, text: string): IncomingCommand {
  return {
    platform: 'web',
    text,
    userId: user,
    userName: user,
    roles: [],
    channelId: 'ops',
    source: 'slash-command',
  };
}

describe("a planned failover's own changes", () => {
  it('go into its thread: no mention, no top-level alert, no page; the same change by hand is an alert', async () => {
    const demo = await startDemoPair({ logger, port: 0, dir: tempDir('drbd-chatops-oncall-failover-') });
    onCleanup(() => demo.stop());
    const leaderOf = () => [...demo.daemons().values()].find((d) => d.elector?.mayAct() === true);
    await until(() => leaderOf() !== undefined && leaderOf()?.watch?.isLive() === true, 'a leader', 30_000);
    const leader = leaderOf();
    if (leader === undefined) throw new Error('no leader');
    // The start-up news (leadership) is out before the failover starts.
    await until(() => leader.outbox.depth === 0, 'the outbox to drain', 30_000);
    const before = new Set(demo.console.messages().map((m) => m.id));

    // Asked again until both hosts' views are in (beta's state comes over the peer link).
    let id: string | undefined;
    let refused = '';
    const deadline = Date.now() + 30_000;
    while (id === undefined && Date.now() < deadline) {
      const request = await leader.runCommand(command('alice', 'failover r0 to beta'));
      id = /(?:Plan|confirm|approve) ([0-9a-f]{8})/.exec(JSON.stringify(request.message))?.[1];
      refused = request.message.title;
      if (id === undefined) await new Promise((r) => setTimeout(r, 500));
    }
    if (id === undefined) throw new Error(`the failover was refused: ${refused}`);
    await leader.runCommand(command('alice', `confirm ${id}`));
    await leader.runCommand(command('bob', `approve ${id}`));
    await until(
      () => leader.operations.list().some((op) => op.id === id && op.state === 'succeeded'),
      'the failover to succeed',
      60_000,
    );
    const op = leader.operations.list().find((o) => o.id === id);
    const plan = op?.messageId;
    if (plan === undefined || plan === null) throw new Error('the plan has no message');
    // The other host's view and the aftermath arrive within a few seconds.
    await until(() => leader.outbox.depth === 0, 'the outbox to drain', 30_000);
    await new Promise((r) => setTimeout(r, 3_000));

    const after = demo.console.messages().filter((m) => !before.has(m.id));
    const roleChanges = after.filter(
      (m) => m.message.title.includes('Role changed') || m.message.title.includes('moved'),
    );
    // The failover's consequences are told, in the plan's thread …
    expect(roleChanges.length).toBeGreaterThan(0);
    for (const m of roleChanges) expect(m.threadOf).toBe(plan);
    // … and nothing else reaches the channel: no alert of its own, nobody mentioned, nobody paged.
    expect(after.filter((m) => m.threadOf === undefined).map((m) => m.id)).toEqual([plan]);
    expect(after.filter((m) => m.message.mention !== undefined)).toEqual([]);
    expect(Object.values(leader.paging.state.pages).filter((p) => p.endedAt === undefined)).toEqual([]);

    // The same kind of change made by hand is news: a top-level message in the channel.
    const seen = new Set(demo.console.messages().map((m) => m.id));
    demo.pair.secondary('beta', 'r1');
    await until(
      () =>
        demo.console
          .messages()
          .some((m) => !seen.has(m.id) && m.threadOf === undefined && m.message.resource === 'r1'),
      'the hand-made change in the channel',
      30_000,
    );
  }, 120_000);
});
