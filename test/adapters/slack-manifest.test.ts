import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/app/config.js';
import { SLACK_BOT_SCOPES, slackManifest } from '../../src/app/slack-manifest.js';

describe('slackManifest', () => {
  it('describes a Socket Mode app with the configured slash command, interactivity and the scopes used', () => {
    const manifest = slackManifest(parseConfig({ slack: { command: '/drbd-prod' } }));
    expect(manifest.settings).toEqual({
      interactivity: { is_enabled: true },
      org_deploy_enabled: false,
      socket_mode_enabled: true,
      token_rotation_enabled: false,
    });
    expect(manifest.features.slash_commands).toEqual([
      {
        command: '/drbd-prod',
        description: expect.any(String),
        usage_hint:
          'status | containers | ip set C ADDRESS | failover R [to HOST] | splitbrain R victim HOST | help',
        should_escape: false,
      },
    ]);
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
      publicUrl: 'https://drbd.example.org/',
      name: 'drbd prod pair',
    });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.settings.interactivity).toEqual({
      is_enabled: true,
      request_url: 'https://drbd.example.org/slack/events',
    });
    expect(manifest.features.slash_commands[0]?.url).toBe('https://drbd.example.org/slack/events');
    expect(manifest.display_information.name).toBe('drbd prod pair');
    // Serialisable as is (JSON or YAML for the Slack UI).
    expect(JSON.parse(JSON.stringify(manifest))).toEqual(manifest);
  });
});
