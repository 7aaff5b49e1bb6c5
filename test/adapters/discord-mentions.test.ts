// A page on Discord through the real discord.js against the fake Discord: the people on call are
// mentioned in the message content (embeds never ping) and allowed_mentions lets exactly them ping;
// @here only when the route asks for it; the runbook is a link button, the Acknowledge button sends
// `ack <incident>`. The fake decides who is pinged the way Discord does.
import { describe, expect, it } from 'vitest';
import { DiscordPlatform } from '../../src/adapters/discord/discord-platform.js';
import { createLogger } from '../../src/app/log.js';
import type { Message } from '../../src/core/message-tones.js';
import { ackAction } from '../../src/core/oncall-workflow.js';
import { FakeDiscord } from '../fakes/discord/index.js';
import { onCleanup } from '../helpers/cleanup.js';

const logger = createLogger({ level: 'silent', format: 'json' });
const ALICE = '400000000000000001';
const PAGE: Message = {
  title: 'r0: Replication link — Connection lost',
  tone: 'critical',
  host: 'alpha',
  resource: 'r0',
  body: 'r0: alpha lost its connection to beta while Primary: writes are not replicated.',
  actions: [ackAction('r0/connection')],
  links: [
    { label: 'Runbook: Connection lost', url: 'https://wiki.example/drbd/connection-lost?resource=r0' },
  ],
  // bob has no Discord id: named, not pinged; carol's name would ping nobody either.
  mention: {
    people: [
      { name: 'alice', discord: ALICE },
      { name: 'bob', slack: 'UBOB' },
    ],
  },
};

async function setup() {
  const fake = new FakeDiscord();
  await fake.start();
  onCleanup(() => fake.stop());
  const platform = new DiscordPlatform({
    config: {
      apiUrl: fake.apiUrl,
      applicationId: fake.applicationId,
      guildId: fake.guildId,
    },
    token: fake.token,
    logger,
    commands: [],
    requestTimeoutMs: 2_000,
  });
  onCleanup(() => platform.stop());
  return { fake, platform };
}

const { mention: _mention, ...UNPAGED } = PAGE;

describe('a page on Discord', () => {
  it('pings the person on call, names the one without a Discord id, and links the runbook', async () => {
    const { fake, platform } = await setup();
    const posted = await platform.post(fake.channelId, PAGE, { idempotencyKey: 'page-1' });
    const stored = fake.messagesIn(fake.channelId).find((m) => m.id === posted.messageId);
    expect(stored?.content).toBe(`<@${ALICE}> @bob`);
    expect(stored?.mentions).toEqual([{ id: ALICE }]);
    expect(stored?.mention_everyone).toBe(false);
    expect(stored?.components).toEqual([
      {
        type: 1,
        components: [
          { type: 2, style: 1, label: "✋ Acknowledge (I'm on it)", custom_id: 'cmd:ack r0/connection' },
          {
            type: 2,
            style: 5,
            label: '📖 Runbook: Connection lost',
            url: 'https://wiki.example/drbd/connection-lost?resource=r0',
          },
        ],
      },
    ]);
  });

  it('@here only when asked for, and nothing else in the content pings', async () => {
    const { fake, platform } = await setup();
    const here = await platform.post(
      fake.channelId,
      { ...PAGE, mention: { people: [], here: true } },
      { idempotencyKey: 'page-2' },
    );
    const quiet = await platform.post(fake.channelId, UNPAGED, { idempotencyKey: 'page-3' });
    const [a, b] = [here, quiet].map((p) =>
      fake.messagesIn(fake.channelId).find((m) => m.id === p.messageId),
    );
    expect([a?.content, a?.mention_everyone, a?.mentions]).toEqual(['@here', true, []]);
    expect([b?.content, b?.mention_everyone, b?.mentions]).toEqual(['', false, []]);
  });
});
