// The Slack app manifest for the configured Slack section: paste it into "Create New App → From a
// manifest" (api.slack.com/apps) and the app has exactly the command, interactivity and scopes the
// adapter uses. `drbd-chatops manifest slack` prints it.

import { HTTP_EVENTS_PATH } from '../adapters/slack/slack-platform.js';
import { type Config, parseConfig } from './config.js';

export interface SlackAppManifest {
  readonly _metadata: { readonly major_version: 1; readonly minor_version: 1 };
  readonly display_information: {
    readonly name: string;
    readonly description: string;
    readonly long_description: string;
    readonly background_color: string;
  };
  readonly features: {
    readonly app_home: {
      readonly home_tab_enabled: false;
      readonly messages_tab_enabled: false;
      readonly messages_tab_read_only_enabled: true;
    };
    readonly bot_user: { readonly display_name: string; readonly always_online: true };
    readonly slash_commands: readonly {
      readonly command: string;
      readonly description: string;
      readonly usage_hint: string;
      readonly should_escape: false;
      readonly url?: string;
    }[];
  };
  readonly oauth_config: { readonly scopes: { readonly bot: readonly string[] } };
  readonly settings: {
    readonly interactivity: { readonly is_enabled: true; readonly request_url?: string };
    readonly org_deploy_enabled: false;
    readonly socket_mode_enabled: boolean;
    readonly token_rotation_enabled: false;
  };
}

export interface SlackManifestOptions {
  /** App and bot user name (Slack: at most 35 characters). */
  readonly name?: string;
  /**
   * HTTP mode: the public https base URL Slack reaches the listener at (a reverse proxy in front of
   * slack.listen), e.g. https://drbd-bot.example.com. The request URL is this plus /slack/events.
   */
  readonly publicUrl?: string;
}

/**
 * The scopes the adapter needs, and why:
 * - chat:write: post notifications and command replies, edit them (chat.update);
 * - commands: the slash command;
 * - channels:history, groups:history: findPosted reads recent messages and their metadata in public
 *   and private channels after a crash (conversations.history / conversations.replies);
 * - usergroups:read: which user groups a user is in, for policies that name slack-group:S….
 * Socket Mode also needs an app-level token with connections:write, which is not a bot scope: it is
 * created under "Basic Information → App-Level Tokens".
 */
export const SLACK_BOT_SCOPES = [
  'chat:write',
  'commands',
  'channels:history',
  'groups:history',
  'usergroups:read',
] as const;

const PUBLIC_URL_PLACEHOLDER = 'https://drbd-chatops.example.com';

export function slackManifest(config: Config, options: SlackManifestOptions = {}): SlackAppManifest {
  const slack = config.slack ?? parseConfig({ slack: {} }).slack;
  if (slack === undefined) throw new Error('slack configuration defaults missing');
  const name = (options.name ?? 'drbd-chatops').slice(0, 35);
  const http = slack.mode === 'http';
  const requestUrl = http
    ? `${(options.publicUrl ?? PUBLIC_URL_PLACEHOLDER).replace(/\/+$/, '')}${HTTP_EVENTS_PATH}`
    : undefined;
  return {
    _metadata: { major_version: 1, minor_version: 1 },
    display_information: {
      name,
      description: 'DRBD pair alerts and approved failovers from chat.',
      long_description:
        'Posts every DRBD state change and split-brain of a two-node DRBD + LXD pair as a notification a ' +
        'person on call can act on, and runs status queries and failovers from chat after confirmation ' +
        'and approval. Runs on both hosts of the pair; one speaks at a time.',
      background_color: '#1f2328',
    },
    features: {
      app_home: {
        home_tab_enabled: false,
        messages_tab_enabled: false,
        messages_tab_read_only_enabled: true,
      },
      bot_user: { display_name: name, always_online: true },
      slash_commands: [
        {
          command: slack.command,
          description: 'DRBD pair status and operations',
          usage_hint:
            'status | containers | ip set C ADDRESS | failover R [to HOST] | splitbrain R victim HOST | help',
          should_escape: false,
          ...(requestUrl === undefined ? {} : { url: requestUrl }),
        },
      ],
    },
    oauth_config: { scopes: { bot: [...SLACK_BOT_SCOPES] } },
    settings: {
      interactivity: { is_enabled: true, ...(requestUrl === undefined ? {} : { request_url: requestUrl }) },
      org_deploy_enabled: false,
      socket_mode_enabled: !http,
      token_rotation_enabled: false,
    },
  };
}
