import { describe, expect, it } from 'vitest';
import { demoCommand } from '../../commands/demo.js';
import { COMMANDS } from '../../commands/index.js';
import { usage } from '../../src/app/command-registry.js';
import { ConfigError, parseConfig } from '../../src/app/config.js';
import {
  slackManifest as buildManifest,
  SLACK_BOT_SCOPES,
  SLACK_MANIFEST_LIMITS,
  SlackManifestError,
  type SlackManifestOptions,
  slackManifestProblems,
} from '../../src/app/slack-manifest.js';
import { installSlashCommands } from '../fakes/slack/manifest.js';

/** The top-level commands: each command's first word (`ip-set`, `ip-show` → `ip`), in order. */
const KEYS = [...new Set(COMMANDS.map((c) => c.name.split('-')[0] ?? c.name))];

/** The manifest for the real chat commands, as `drbd-chatops manifest slack` prints it. */
const slackManifest = (
  config: Parameters<typeof buildManifest>[0],
  options: Partial<SlackManifestOptions> = {},
) => buildManifest(config, { commands: COMMANDS, ...options });

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof SlackManifestError) return err.problems;
    throw err;
  }
  throw new Error('expected a SlackManifestError');
}

describe('slackManifest', () => {
  it('describes a Socket Mode app with the configured slash command, interactivity and the scopes used', () => {
    const manifest = slackManifest(parseConfig({ slack: { command: '/drbd-prod' } }));
    expect(manifest.settings).toEqual({
      interactivity: { is_enabled: true },
      org_deploy_enabled: false,
      socket_mode_enabled: true,
      token_rotation_enabled: false,
    });
    expect(manifest.features.slash_commands[0]).toEqual({
      command: '/drbd-prod',
      description: 'DRBD pair status and operations',
      // Every command's syntax, as usage() and help write it.
      usage_hint: COMMANDS.map(usage).join(' | '),
      should_escape: false,
    });
    expect(manifest.features.bot_user.display_name).toBe('drbd-chatops');
    expect(manifest.oauth_config.scopes.bot).toEqual([
      'chat:write',
      'commands',
      'channels:history',
      'groups:history',
      'usergroups:read',
    ]);
    expect(manifest.oauth_config.scopes.bot).toEqual([...SLACK_BOT_SCOPES]);
  });

  it('uses the defaults when the configuration has no slack section', () => {
    const manifest = slackManifest(parseConfig({}));
    expect(manifest.features.slash_commands[0]?.command).toBe('/drbd');
    expect(manifest.settings.socket_mode_enabled).toBe(true);
  });

  it('points command and interactivity at the public request URL in HTTP mode', () => {
    const manifest = slackManifest(parseConfig({ slack: { mode: 'http' } }), {
      publicUrl: 'https://drbd.ops.acme-corp.io/',
      name: 'drbd prod pair',
    });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.settings.interactivity).toEqual({
      is_enabled: true,
      request_url: 'https://drbd.ops.acme-corp.io/slack/events',
    });
    expect(manifest.features.slash_commands[0]?.url).toBe('https://drbd.ops.acme-corp.io/slack/events');
    expect(manifest.display_information.name).toBe('drbd prod pair');
    // Serialisable as is (JSON or YAML for the Slack UI).
    expect(JSON.parse(JSON.stringify(manifest))).toEqual(manifest);
  });

  const http = parseConfig({ slack: { mode: 'http' } });

  it('keeps a path prefix of the public URL (a reverse proxy under /drbd)', () => {
    const manifest = slackManifest(http, { publicUrl: 'https://ops.acme-corp.io/drbd//' });
    expect(manifest.settings.interactivity.request_url).toBe('https://ops.acme-corp.io/drbd/slack/events');
  });

  it('refuses HTTP mode without a public https URL Slack can reach, and never prints a placeholder', () => {
    expect(problemsOf(() => slackManifest(http))).toEqual([
      expect.stringMatching(
        /^slack\.mode is http: Slack needs the public https address .* --public-url https:\/\//,
      ),
    ]);
    const cases: [string, RegExp][] = [
      ['http://drbd.ops.acme-corp.io', /must start with https:\/\/ \(Slack calls request URLs only over TLS/],
      ['drbd.ops.acme-corp.io', /must be an https URL, got "drbd\.ops\.acme-corp\.io"/],
      ['https://localhost:3000', /not "localhost"/],
      ['https://127.0.0.1', /not "127\.0\.0\.1"/],
      ['https://10.1.2.3', /not "10\.1\.2\.3"/],
      ['https://172.20.0.5', /not "172\.20\.0\.5"/],
      ['https://192.168.1.10', /not "192\.168\.1\.10"/],
      ['https://[::1]:8443', /not "\[::1\]"/],
      ['https://[fd00::5]', /not "\[fd00::5\]"/],
      ['https://drbd-chatops.example.com', /not "drbd-chatops\.example\.com"/],
      ['https://bot.pair.internal', /not "bot\.pair\.internal"/],
      ['https://drbd.ops.acme-corp.io/?team=1', /must not have a query or fragment/],
      ['https://user:pw@drbd.ops.acme-corp.io', /must not contain a user name or password/],
    ];
    for (const [publicUrl, problem] of cases) {
      expect(
        problemsOf(() => slackManifest(http, { publicUrl })),
        publicUrl,
      ).toEqual([expect.stringMatching(problem)]);
    }
    // Public addresses that merely look like private ones are fine.
    for (const publicUrl of ['https://172.32.0.5', 'https://11.0.0.1', 'https://example.com.acme-corp.io']) {
      expect(slackManifest(http, { publicUrl }).settings.interactivity.request_url, publicUrl).toBe(
        `${publicUrl}/slack/events`,
      );
    }
  });

  it('refuses a --public-url in Socket Mode, where Slack would never use it', () => {
    expect(
      problemsOf(() => slackManifest(parseConfig({}), { publicUrl: 'https://drbd.ops.acme-corp.io' })),
    ).toEqual([
      expect.stringContaining('--public-url is for slack.mode: http; this configuration uses Socket Mode'),
    ]);
  });

  it('takes an app name of 1–35 characters as Slack counts them, and refuses the rest instead of cutting it', () => {
    const config = parseConfig({});
    expect(slackManifest(config, { name: 'x'.repeat(35) }).display_information.name).toHaveLength(35);
    // 35 emoji are 70 UTF-16 units but 35 characters.
    expect(slackManifest(config, { name: '🛟'.repeat(35) }).features.bot_user.display_name).toBe(
      '🛟'.repeat(35),
    );
    expect(slackManifest(config, { name: '  drbd prod  ' }).display_information.name).toBe('drbd prod');
    expect(problemsOf(() => slackManifest(config, { name: 'x'.repeat(36) }))).toEqual([
      `--name must be at most 35 characters (Slack's limit for an app name), got 36: "${'x'.repeat(36)}"`,
    ]);
    for (const name of ['', '   ']) {
      expect(problemsOf(() => slackManifest(config, { name }))).toEqual([
        '--name must not be empty (Slack: 1–35 characters)',
      ]);
    }
    expect(problemsOf(() => slackManifest(config, { name: 'drbd\nprod' }))).toEqual([
      '--name must be one line of text without control characters',
    ]);
    // Every problem at once, not one per attempt.
    expect(problemsOf(() => slackManifest(http, { name: '', publicUrl: 'http://127.0.0.1' }))).toHaveLength(
      3,
    );
  });

  it("stays within Slack's manifest schema, and the check catches what would not", () => {
    for (const config of [
      parseConfig({}),
      parseConfig({ slack: { command: `/${'d'.repeat(31)}`, slashCommands: { enabled: false } } }),
    ]) {
      expect(slackManifestProblems(slackManifest(config))).toEqual([]);
    }
    const manifest = slackManifest(http, { publicUrl: 'https://drbd.ops.acme-corp.io' });
    expect(manifest.display_information.long_description.length).toBeGreaterThanOrEqual(
      SLACK_MANIFEST_LIMITS.longDescription.min,
    );
    const command = manifest.features.slash_commands[0];
    if (command === undefined) throw new Error('no slash command');
    const broken = {
      ...manifest,
      display_information: {
        ...manifest.display_information,
        long_description: 'too short',
        background_color: 'red',
      },
      features: {
        ...manifest.features,
        slash_commands: [
          command,
          { ...command, command: `/${'x'.repeat(32)}`, url: 'http://drbd.ops.acme-corp.io/slack/events' },
          command,
          { ...command, command: '/status' },
          { ...command, command: '/Failover', usage_hint: '' },
        ],
      },
    };
    expect(slackManifestProblems(broken)).toEqual([
      'display_information.long_description must be 175–4000 characters, is 9',
      'display_information.background_color must be #RGB or #RRGGBB, is red',
      `slash command /${'x'.repeat(32)} must be 2–32 characters, is 33`,
      `request URL of /${'x'.repeat(32)} must be https`,
      `slash command ${command.command} appears twice`,
      'slash command /status is built into Slack: Slack refuses the whole list ("invalid name")',
      'slash command /Failover must be / and lower case letters, digits, - or _',
      'usage hint of /Failover must be 1–1000 characters, is 0',
    ]);
  });
});

describe('the slash commands of the manifest', () => {
  const commandsOf = (manifest: ReturnType<typeof slackManifest>) =>
    manifest.features.slash_commands.map((c) => c.command);
  const entry = (manifest: ReturnType<typeof slackManifest>, command: string) => {
    const found = manifest.features.slash_commands.find((c) => c.command === command);
    if (found === undefined) throw new Error(`no ${command} in ${commandsOf(manifest).join(' ')}`);
    return found;
  };

  it('lists each command as a slash command of its own beside /drbd, with the real syntax as hint', () => {
    const manifest = slackManifest(parseConfig({}));
    // /status is built into Slack: a manifest naming it is refused whole.
    expect(commandsOf(manifest)).toEqual([
      '/drbd',
      ...KEYS.map((k) => (k === 'status' ? '/drbd-status' : `/${k}`)),
    ]);
    expect(commandsOf(manifest)).toEqual(
      expect.arrayContaining(['/drbd-status', '/containers', '/ip', '/failover', '/oncall', '/help']),
    );
    expect(entry(manifest, '/failover')).toEqual({
      command: '/failover',
      description: 'Move a resource and its containers to the other host (checked, approved, rolled back)',
      usage_hint: '<resource> [to <host>] [--force]',
      should_escape: false,
    });
    expect(entry(manifest, '/ip').usage_hint).toBe('show <container> | set <container> <addresses>');
    expect(entry(manifest, '/ip').description).toMatch(/^show: .*; set: /);
    expect(entry(manifest, '/splitbrain').usage_hint).toBe('<resource> victim <host>');
    // No arguments, no hint (Slack takes none rather than an empty one).
    expect(entry(manifest, '/oncall').usage_hint).toBeUndefined();
  });

  it('names them as slack.slashCommands says: a prefix, names per command, some or all off', () => {
    const prefixed = slackManifest(
      parseConfig({
        slack: { slashCommands: { prefix: 'drbd-', names: { failover: '/move', help: false } } },
      }),
    );
    expect(commandsOf(prefixed)).toEqual([
      '/drbd',
      ...KEYS.filter((k) => k !== 'help').map((k) => (k === 'failover' ? '/move' : `/drbd-${k}`)),
    ]);
    expect(commandsOf(prefixed)).toContain('/drbd-ip');
    const off = slackManifest(
      parseConfig({ slack: { command: '/pair1', slashCommands: { enabled: false } } }),
    );
    expect(commandsOf(off)).toEqual(['/pair1']);
  });

  it('points every command at the request URL in HTTP mode', () => {
    const manifest = slackManifest(parseConfig({ slack: { mode: 'http' } }), {
      publicUrl: 'https://drbd.ops.acme-corp.io',
    });
    for (const command of manifest.features.slash_commands) {
      expect(command.url, command.command).toBe('https://drbd.ops.acme-corp.io/slack/events');
    }
  });

  it("stays within Slack's limits in every naming, as the bot and as the fake Slack check them", () => {
    const configs = [
      parseConfig({}),
      parseConfig({ slack: { slashCommands: { prefix: 'drbd-' } } }),
      // Names as long as Slack takes them: 32 characters with the slash.
      parseConfig({
        slack: {
          command: `/${'d'.repeat(31)}`,
          slashCommands: { prefix: 'p'.repeat(21), names: { status: `/${'s'.repeat(31)}` } },
        },
      }),
    ];
    for (const config of configs) {
      for (const commands of [COMMANDS, [...COMMANDS, demoCommand(async () => 'ok')]]) {
        const manifest = slackManifest(config, { commands });
        expect(slackManifestProblems(manifest)).toEqual([]);
        expect(manifest.features.slash_commands.length).toBeLessThanOrEqual(
          SLACK_MANIFEST_LIMITS.slashCommands.max,
        );
        for (const c of manifest.features.slash_commands) {
          expect([...c.command].length).toBeLessThanOrEqual(32);
          expect([...(c.usage_hint ?? 'x')].length).toBeLessThanOrEqual(1000);
        }
        // What Slack itself accepts when the manifest is saved (the fake's independent check).
        expect(installSlashCommands(manifest).map((c) => c.command)).toEqual(
          manifest.features.slash_commands.map((c) => c.command),
        );
      }
    }
  });

  it('refuses names Slack would refuse, or that would be two commands at once', () => {
    expect(
      problemsOf(() =>
        slackManifest(parseConfig({ slack: { slashCommands: { prefix: 'a-long-prefix-for-pair1-' } } })),
      ),
    ).toContain(
      'slack.slashCommands: /a-long-prefix-for-pair1-containers (containers): longer than 31 characters or not a valid name; name it in names.containers',
    );
    expect(
      problemsOf(() =>
        slackManifest(parseConfig({ slack: { slashCommands: { names: { statsu: '/drbd-st' } } } })),
      ),
    ).toEqual([
      expect.stringMatching(
        /^slack\.slashCommands: names\.statsu: no such command \(top-level commands: status, containers, ip,/,
      ),
    ]);
    expect(
      problemsOf(() =>
        slackManifest(parseConfig({ slack: { slashCommands: { names: { oncall: '/help' } } } })),
      ),
    ).toEqual(['slack.slashCommands: /help would be both help and oncall; give one of them another name']);
    // The configuration itself refuses Slack's built-ins and bad names before any manifest.
    expect(() => parseConfig({ slack: { slashCommands: { names: { status: '/status' } } } })).toThrow(
      /slack\.slashCommands: names\.status: \/status is a built-in Slack command/,
    );
    expect(() => parseConfig({ slack: { slashCommands: { names: { 'ip-set': '/ipset' } } } })).toThrow(
      ConfigError,
    );
    expect(() => parseConfig({ slack: { slashCommands: { names: { status: 'drbd-status' } } } })).toThrow(
      /a slash command such as \/drbd-status/,
    );
  });
});
