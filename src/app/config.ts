// The configuration file: one YAML document, validated strictly (unknown keys are errors, so a
// typo never silently falls back to a default). Secrets never live here: they come from the
// environment or from files, and a key that looks like an inline secret is refused.

import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { validate as validateCron } from 'node-cron';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { parseSubnet } from '../core/addresses.js';
import { LEADER_DEFAULTS } from '../core/leader.js';
import { ALERT_KINDS, SEVERITIES } from '../core/notification.js';
import { MENTION_MODES, parseDuration } from '../core/oncall-workflow.js';
import { PRINCIPAL_PATTERN } from '../core/policy.js';
import {
  namingProblems,
  type SlashNaming,
  type SlashPlatform,
  slashNamingOf,
} from '../core/slash-commands.js';
import { PLATFORM_NAMES } from '../ports/chat.js';

export const DEFAULT_CONFIG_PATH = '/etc/drbd-chatops/config.yaml';

const backoffSchema = z
  .strictObject({
    initialMs: z.int().min(10).max(600_000).default(1_000),
    maxMs: z.int().min(10).max(3_600_000).default(30_000),
  })
  .refine((b) => b.maxMs >= b.initialMs, { message: 'maxMs must be at least initialMs', path: ['maxMs'] });

const drbdSchema = z.strictObject({
  /** The drbdsetup binary (or the simulator, for the demo and tests). */
  drbdsetup: z.string().min(1).default('/usr/sbin/drbdsetup'),
  drbdadm: z.string().min(1).default('/usr/sbin/drbdadm'),
  /** Arguments before every drbdadm verb, e.g. [-c, /etc/drbd.conf] (tests: [-s, the simulator]). */
  drbdadmArgs: z.array(z.string()).default([]),
  /** Arguments of the event stream; `--full` is added when `full` allows it. */
  events2Args: z.array(z.string()).default(['events2', '--timestamps', '--statistics']),
  /**
   * `--full` gives every field on every line (DRBD 9 only). `auto` tries it and drops it when
   * drbdsetup refuses the option (8.4 kernels).
   */
  full: z.enum(['auto', 'always', 'never']).default('auto'),
  /** Extra environment for drbdsetup/drbdadm, e.g. the simulator's DRBD_SIM_DIR. */
  env: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string())
    .default({}),
  restartBackoff: backoffSchema.default({ initialMs: 1_000, maxMs: 30_000 }),
  /**
   * While the event stream is down the bot is blind to this host. Shorter outages are a restart;
   * past warnAfterMs the leader posts a warning, critical past criticalAfterMs (at once when the host
   * was Primary of a resource when last seen), and a resolution when the stream is back.
   */
  streamDown: z
    .strictObject({
      warnAfterMs: z.int().min(500).max(3_600_000).default(10_000),
      criticalAfterMs: z.int().min(500).max(86_400_000).default(120_000),
    })
    .refine((s) => s.criticalAfterMs >= s.warnAfterMs, {
      message: 'criticalAfterMs must be at least warnAfterMs',
      path: ['criticalAfterMs'],
    })
    .default({ warnAfterMs: 10_000, criticalAfterMs: 120_000 }),
  /** Time limit of one drbdadm/drbdsetup command (not the event stream, which runs forever). */
  commandTimeoutMs: z.int().min(100).max(600_000).default(30_000),
});

const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `auto`: pretty on a terminal, JSON otherwise (journald, files). */
  format: z.enum(['auto', 'json', 'pretty']).default('auto'),
});

/**
 * Where a secret comes from: an environment variable (`…Env`, the default) or a file readable only by
 * root (`…File`). The value itself never appears in the configuration.
 */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

/**
 * Optional allow-lists of the channels a command may be used in, per platform: command name (or `*`
 * for every command without its own entry) → channel ids. A command without an entry, when there is
 * no `*` either, may be used anywhere the bot is.
 */
function commandChannelsSchema(channel: z.ZodString) {
  return (
    z
      .record(z.string(), z.array(channel).min(1))
      // Checked here rather than by the key schema, whose message zod replaces by "Invalid key".
      .superRefine((lists, ctx) => {
        for (const name of Object.keys(lists)) {
          if (!/^(\*|[a-z][a-z0-9-]*)$/.test(name)) {
            ctx.addIssue({ code: 'custom', path: [name], message: 'a command name (such as failover) or *' });
          }
        }
      })
      .default({})
  );
}

/**
 * Each command as a slash command of its own, beside the umbrella command: /failover r0, /containers,
 * /ip set web1 … Names are shared by every app of a workspace, so they can get a prefix (drbd- →
 * /drbd-status), a name each, or be turned off (only the umbrella). On Slack a built-in name
 * (/status) is never used: the command gets the umbrella's name before it (/drbd-status).
 */
function slashCommandsSchema(platform: SlashPlatform) {
  const max = platform === 'slack' ? 31 : 32;
  const name = z
    .string()
    .regex(
      new RegExp(`^/[a-z0-9_-]{1,${max}}$`),
      `a slash command such as /drbd-status (at most ${max} after the /)`,
    );
  return z
    .strictObject({
      enabled: z.boolean().default(true),
      prefix: z
        .string()
        .regex(/^[a-z0-9_-]{0,24}$/, 'lower case letters, digits, - or _, such as drbd-')
        .default(''),
      /** Per top-level command (failover, ip, status …): its slash command, or false for none. */
      names: z
        .record(z.string(), z.union([name, z.literal(false)]))
        .superRefine((names, ctx) => {
          for (const key of Object.keys(names)) {
            if (!/^[a-z][a-z0-9_]*$/.test(key)) {
              ctx.addIssue({
                code: 'custom',
                path: [key],
                message: 'a top-level command such as failover, status or ip (ip set and ip show share /ip)',
              });
            }
          }
        })
        .default({}),
    })
    .default({ enabled: true, prefix: '', names: {} });
}

/** The umbrella and the top-level names together: lengths, Slack's built-ins, one name per command. */
function checkSlashNames(platform: SlashPlatform) {
  return (
    section: { command: string; slashCommands: z.infer<ReturnType<typeof slashCommandsSchema>> },
    ctx: z.RefinementCtx,
  ) => {
    for (const message of namingProblems(slashNamingOf(section), platform)) {
      ctx.addIssue({ code: 'custom', path: ['slashCommands'], message });
    }
  };
}

const slackSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** socket: no inbound port on the hosts (default). http: Slack calls the Events API URL. */
    mode: z.enum(['socket', 'http']).default('socket'),
    /** Web API base URL; tests and corporate proxies point it elsewhere. */
    apiUrl: z.url().default('https://slack.com/api/'),
    botTokenEnv: envName.default('SLACK_BOT_TOKEN'),
    botTokenFile: z.string().min(1).optional(),
    appTokenEnv: envName.default('SLACK_APP_TOKEN'),
    appTokenFile: z.string().min(1).optional(),
    signingSecretEnv: envName.default('SLACK_SIGNING_SECRET'),
    signingSecretFile: z.string().min(1).optional(),
    /** HTTP mode only: where the Events API / interactivity requests arrive. */
    listen: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.int().min(0).max(65_535).default(3000),
      })
      .default({ host: '127.0.0.1', port: 3000 }),
    /** The umbrella slash command: every command as its first word (/drbd failover r0). */
    command: z
      .string()
      .regex(/^\/[a-z0-9_-]{1,31}$/, 'a slash command such as /drbd')
      .default('/drbd'),
    slashCommands: slashCommandsSchema('slack'),
    /**
     * The workspace whose requests are taken; any other team is refused. Default: the workspace the
     * bot token belongs to (auth.test at start).
     */
    teamId: z
      .string()
      .regex(/^T[A-Z0-9]{2,}$/, 'a Slack workspace id (T…)')
      .optional(),
    /** The Enterprise Grid organization whose requests are taken. Default: the bot token's (auth.test). */
    enterpriseId: z
      .string()
      .regex(/^E[A-Z0-9]{2,}$/, 'a Slack Enterprise Grid organization id (E…)')
      .optional(),
    /** Per command, the Slack channels it may be used in, e.g. {failover: [C0123456789]}. */
    channels: commandChannelsSchema(z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'a Slack channel id (C…)')),
  })
  .superRefine(checkSlashNames('slack'))
  .optional();

const discordSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** REST base URL (the gateway URL comes from GET /gateway/bot). */
    apiUrl: z.url().default('https://discord.com/api'),
    tokenEnv: envName.default('DISCORD_BOT_TOKEN'),
    tokenFile: z.string().min(1).optional(),
    applicationId: z.string().regex(/^\d{5,25}$/, 'a Discord application id (snowflake)'),
    /** The only guild whose interactions are taken; other guilds and DMs are refused. */
    guildId: z.string().regex(/^\d{5,25}$/, 'a Discord guild id (snowflake)'),
    /** The umbrella slash command, with one subcommand per command (/drbd failover). */
    command: z
      .string()
      .regex(/^\/[a-z0-9_-]{1,32}$/, 'a slash command such as /drbd')
      .default('/drbd'),
    slashCommands: slashCommandsSchema('discord'),
    /** Per command, the Discord channels it may be used in (threads count as their parent channel). */
    channels: commandChannelsSchema(z.string().regex(/^\d{5,25}$/, 'a Discord channel id (snowflake)')),
  })
  .superRefine(checkSlashNames('discord'))
  .optional();

const routeSchema = z.strictObject({
  platform: z.enum(PLATFORM_NAMES),
  /** Slack channel id (C…), Discord channel id, or any name for the console. */
  channel: z.string().min(1),
  /** Only these kinds (default: all). */
  kinds: z.array(z.enum(ALERT_KINDS)).optional(),
  /** Only notifications at least this severe (default: info, i.e. all). */
  minSeverity: z.enum(SEVERITIES).default('info'),
  /** Only these resources (default: all). */
  resources: z.array(z.string().min(1)).optional(),
  /**
   * Who a critical alert here pages: `oncall` the people on call by name, `here` everyone active in
   * the channel, `none` nobody (default: oncall.paging.mention).
   */
  mention: z.enum(MENTION_MODES).optional(),
});

export type Route = z.infer<typeof routeSchema>;

/** A duration as typed in chat too: 90s, 15m, 2h, 1d, 1h30m. */
const duration = z
  .string()
  .refine((d) => parseDuration(d) !== undefined, 'a duration such as 30m, 2h or 1h30m (units s, m, h, d)');

/** What a silence or a maintenance window matches: all, an alert kind, or a resource name. */
const silenceMatch = z
  .string()
  .regex(
    /^(all|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/,
    'all, an alert kind (split-brain …) or a resource name (r0 …)',
  );

/**
 * Planned maintenance: notifications that match are muted from `start` to `end` (once) or for
 * `duration` from each time of `cron` (recurring, host time zone), shown in status and summed up
 * when the window ends.
 */
const maintenanceSchema = z.union([
  z
    .strictObject({
      reason: z.string().min(1).max(200),
      match: z.array(silenceMatch).min(1).default(['all']),
      start: z.iso.datetime({ local: true, offset: true }),
      end: z.iso.datetime({ local: true, offset: true }),
    })
    .refine((w) => Date.parse(w.end) > Date.parse(w.start), {
      message: 'end must be after start',
      path: ['end'],
    }),
  z.strictObject({
    reason: z.string().min(1).max(200),
    match: z.array(silenceMatch).min(1).default(['all']),
    cron: z.string().refine((e) => validateCron(e), 'a cron expression, e.g. "0 2 * * 0"'),
    duration,
  }),
]);

/**
 * A runbook URL per alert kind; {resource}, {host} and {kind} are filled in (URL-encoded). Checked
 * here so a typo is found at start, not in the middle of an incident.
 */
const runbookTemplate = z
  .string()
  .max(400)
  .refine((t) => {
    if ([...t.matchAll(/\{([^}]*)\}/g)].some((m) => !['resource', 'host', 'kind'].includes(m[1] ?? '')))
      return false;
    const filled = t.replace(/\{(resource|host|kind)\}/g, 'x');
    return /^https?:\/\/[^\s<>|"]+$/.test(filled) && URL.canParse(filled);
  }, 'an http(s) URL; placeholders {resource}, {host} and {kind} only');

/**
 * The lock store that elects the leader: the same store the pair trusts for DRBD fencing.
 * file: a lock file on a path both instances see (the demo, tests, one machine);
 * command: an external program with the fence-script contract (deploy/lock-dir.sh, lock-gcs.sh);
 * etcd: one etcd cluster for many pairs, each under its own prefix.
 */
const lockSchema = z.discriminatedUnion('backend', [
  z.strictObject({ backend: z.literal('file'), dir: z.string().min(1) }),
  z.strictObject({
    backend: z.literal('command'),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    timeoutMs: z.int().min(100).max(120_000).default(8_000),
  }),
  z.strictObject({
    backend: z.literal('etcd'),
    hosts: z.array(z.url()).min(1),
    prefix: z.string().regex(/^\/[A-Za-z0-9_./-]*\/$/, 'a key prefix such as /drbd-chatops/pair-1/'),
    requestTimeoutMs: z.int().min(100).max(60_000).default(3_000),
  }),
]);

const leaderSchema = z
  .strictObject({
    /** The lease's key in the lock store. */
    key: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a key such as drbd-chatops-leader')
      .default('drbd-chatops-leader'),
    // Defaults per lock backend (LEADER_DEFAULTS, filled in by parseConfig); these are the file's.
    leaseMs: z.int().min(500).max(600_000).default(LEADER_DEFAULTS.file.leaseMs),
    renewDeadlineMs: z.int().min(300).max(600_000).default(LEADER_DEFAULTS.file.renewDeadlineMs),
    retryMs: z.int().min(100).max(120_000).default(LEADER_DEFAULTS.file.retryMs),
  })
  .refine((l) => l.leaseMs > l.renewDeadlineMs, {
    message: 'leaseMs must be greater than renewDeadlineMs',
    path: ['renewDeadlineMs'],
  })
  .refine((l) => l.renewDeadlineMs > 1.2 * l.retryMs, {
    message: 'renewDeadlineMs must be greater than 1.2 × retryMs',
    path: ['retryMs'],
  });

const cronExpression = z.string().refine((e) => validateCron(e), 'a cron expression, e.g. "0 8 * * *"');

const principal = z
  .string()
  .regex(
    PRINCIPAL_PATTERN,
    'anyone, team, oncall, a team member name, slack:ID, slack-group:ID, discord:ID, discord-role:ID, console:NAME or web:NAME',
  );

const policySchema = z.strictObject({
  requesters: z.array(principal).min(1).optional(),
  approvers: z.array(principal).min(1).optional(),
  confirm: z.boolean().optional(),
  approvals: z.int().min(0).max(5).optional(),
  approverDiffers: z.boolean().optional(),
  approverOnCall: z.boolean().optional(),
  expireAfterMs: z
    .int()
    .min(10_000)
    .max(24 * 3_600_000)
    .optional(),
});
export type PolicyConfig = z.infer<typeof policySchema>;

const memberName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9._-]{0,63}$/, 'a short name (letters, digits, . _ -)');

const oncallSchema = z
  .strictObject({
    /** The people who may be on call, with their id on each platform. */
    team: z
      .array(
        z.strictObject({
          name: memberName,
          slack: z
            .string()
            .regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user id (U…)')
            .optional(),
          discord: z
            .string()
            .regex(/^\d{5,25}$/, 'a Discord user id (snowflake)')
            .optional(),
          console: z.string().min(1).max(64).optional(),
          web: z
            .string()
            .regex(/^[A-Za-z][A-Za-z0-9._-]{0,63}$/, 'a web console user name')
            .optional(),
        }),
      )
      .default([]),
    /** Always on call (a small team without a rotation). */
    static: z.array(memberName).optional(),
    /** A rotation: order[0] from `since`, the next one at each hand-over (cron, host time zone). */
    rotation: z
      .strictObject({
        order: z.array(memberName).min(1),
        handover: cronExpression,
        since: z.iso.datetime({ local: true, offset: true }),
      })
      .optional(),
    /** Post each hand-over to the channels of the routes. */
    announce: z.boolean().default(true),
    /**
     * Paging: a critical alert mentions whoever is on call (routes may say otherwise); until someone
     * presses Acknowledge it is repeated every repeatInterval and escalated to the next person of the
     * rotation after each escalateAfter (null: never escalate).
     */
    paging: z
      .strictObject({
        mention: z.enum(MENTION_MODES).default('oncall'),
        repeatInterval: duration.default('30m'),
        escalateAfter: duration.nullable().default('15m'),
      })
      .default({ mention: 'oncall', repeatInterval: '30m', escalateAfter: '15m' }),
  })
  .refine((o) => o.static === undefined || o.rotation === undefined, {
    message: 'give either static or rotation, not both',
  })
  .refine(
    (o) =>
      [...(o.static ?? []), ...(o.rotation?.order ?? [])].every((name) =>
        o.team.some((m) => m.name === name),
      ),
    { message: 'every name in static/rotation must be a member of team' },
  );
export type OncallConfig = z.infer<typeof oncallSchema>;

const argv = z.array(z.string().min(1)).min(1);

const resourceSchema = z.strictObject({
  /** The resource's LXD daemon (the recipe: /r0/lxd on the file system mounted at /r0). */
  lxdDir: z.string().min(1).optional(),
  /** Where its file system is mounted on the Primary (default /<name>). */
  mountPoint: z
    .string()
    .regex(/^\/[^\s]*$/, 'an absolute path')
    .optional(),
  /** Its DRBD device (default /dev/drbd/by-res/<name>/0, drbd-utils' udev name). */
  device: z
    .string()
    .regex(/^\/dev\/\S+$/, 'a device path')
    .optional(),
  /** The systemd unit of its LXD daemon (default <name>lxd, as in the recipe). */
  lxdUnit: z
    .string()
    .regex(/^[A-Za-z0-9@._-]+$/, 'a systemd unit name')
    .optional(),
  /**
   * The commands a failover runs, as argument arrays (never a shell), when the defaults do not fit:
   * mount, umount, lxdStart, lxdStop. Defaults: mount DEVICE MOUNTPOINT, umount MOUNTPOINT,
   * systemctl start|stop UNIT.
   */
  commands: z
    .strictObject({
      mount: argv.optional(),
      umount: argv.optional(),
      lxdStart: argv.optional(),
      lxdStop: argv.optional(),
    })
    .default({}),
  /** Where `ip set` may put addresses for this resource's containers (CIDR). */
  subnets: z
    .array(
      z.string().refine((s) => {
        try {
          parseSubnet(s);
          return true;
        } catch {
          return false;
        }
      }, 'a subnet in CIDR notation without host bits, e.g. 198.51.100.0/24'),
    )
    .default([]),
});

export const configSchema = z.strictObject({
  /** This host's name as DRBD knows it (the `on NAME` of the resource files). */
  host: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a host name')
    .default(() => hostname()),
  drbd: drbdSchema.default(() => drbdSchema.parse({})),
  log: logSchema.default(() => logSchema.parse({})),
  /** Durable state: the outbox, incidents, parent message ids. */
  stateDir: z.string().min(1).default('/var/lib/drbd-chatops'),
  delivery: z
    .strictObject({
      /** Minimum time between two messages on one channel; Slack allows about one per second. */
      slackIntervalMs: z.int().min(0).max(60_000).default(1_100),
      discordIntervalMs: z.int().min(0).max(60_000).default(1_000),
      /** Retry backoff of failed deliveries. */
      retry: backoffSchema.default({ initialMs: 1_000, maxMs: 60_000 }),
      /** On SIGTERM, keep delivering for at most this long before exiting. */
      flushOnStopMs: z.int().min(0).max(60_000).default(5_000),
    })
    .default({
      slackIntervalMs: 1_100,
      discordIntervalMs: 1_000,
      retry: { initialMs: 1_000, maxMs: 60_000 },
      flushOnStopMs: 5_000,
    }),
  slack: slackSchema,
  discord: discordSchema,
  /**
   * The web console: the channel, a command line and a live status panel in a browser, as an
   * out-of-band console when Slack or Discord is unreachable. Users sign in with a token; the users
   * ("alice:TOKEN,bob:TOKEN", tokens of 16+ characters) come from usersEnv or a root-only usersFile.
   */
  web: z
    .strictObject({
      enabled: z.boolean().default(true),
      listen: z
        .strictObject({
          host: z.string().min(1).default('127.0.0.1'),
          port: z.int().min(0).max(65_535).default(7780),
        })
        .default({ host: '127.0.0.1', port: 7780 }),
      usersEnv: envName.default('DRBD_CHATOPS_WEB_USERS'),
      usersFile: z.string().min(1).optional(),
      /** The channel the page shows; routes to `{platform: web, channel: …}` post there. */
      channel: z.string().min(1).max(64).default('web'),
      title: z.string().min(1).max(80).optional(),
      /** Behind a TLS proxy: mark the session cookie Secure and accept the proxy's origin. */
      secureCookie: z.boolean().default(false),
      allowedOrigins: z.array(z.url()).default([]),
    })
    .optional(),
  /**
   * Two instances, one voice: with a lock store the instances of a pair elect a leader, and only
   * the leader connects to chat and acts. Without it this instance acts alone.
   */
  lock: lockSchema.optional(),
  /**
   * The peer link to the other instance of the pair (typically over the DRBD replication network):
   * the follower's observations reach the leader, /status shows both hosts. Requests are signed
   * with a shared secret from the environment (secretEnv) or a root-only file (secretFile).
   */
  peer: z
    .strictObject({
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a host name'),
      url: z.url(),
      listen: z.strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.int().min(0).max(65_535).default(7790),
      }),
      secretEnv: envName.default('DRBD_CHATOPS_PEER_SECRET'),
      secretFile: z.string().min(1).optional(),
      /** Accepted clock difference between the hosts; requests older than this are refused. */
      windowMs: z.int().min(1_000).max(300_000).default(30_000),
      timeoutMs: z.int().min(100).max(60_000).default(3_000),
    })
    .optional(),
  /**
   * DRBD fence locks to show in /status (read only), by key in the lock store, e.g. [r0, r1] for
   * the recipe's r0.lock, r1.lock when the lock command's `status` reads them.
   */
  fences: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a lock key')).default([]),
  leader: leaderSchema.default({ key: 'drbd-chatops-leader', ...LEADER_DEFAULTS.file }),
  /** The DRBD resources whose containers the bot manages, by name (r0, r1 …). */
  resources: z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a DRBD resource name'), resourceSchema)
    .default({}),
  lxd: z
    .strictObject({
      /** The lxc client; it talks to each resource's daemon through LXD_DIR. */
      lxc: z.string().min(1).default('lxc'),
      /** A clean stop waits this long before the container is stopped by force. */
      stopTimeoutS: z.int().min(1).max(600).default(30),
      /** Time limit of one lxc command. */
      commandTimeoutMs: z.int().min(1_000).max(900_000).default(120_000),
      /** How long a started container may take to bring its addresses up. */
      verifyTimeoutMs: z.int().min(1_000).max(600_000).default(30_000),
    })
    .default({ lxc: 'lxc', stopTimeoutS: 30, commandTimeoutMs: 120_000, verifyTimeoutMs: 30_000 }),
  /** Who is on call; changing commands are for the team, approvals may need the on-call person. */
  oncall: oncallSchema.default({
    team: [],
    announce: true,
    paging: { mention: 'oncall', repeatInterval: '30m', escalateAfter: '15m' },
  }),
  /** Per changing command: who may request it, confirmation and approvals (README: Policies). */
  policies: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'a command name'), policySchema).default({}),
  /**
   * Scheduled work (cron expressions, 5 or 6 fields, in this host's time zone; null turns a job off).
   * Only the leader runs them; a slot missed during a leadership change runs once on the new leader.
   */
  schedules: z
    .strictObject({
      /** Compare the engine with `drbdsetup events2 --now` on both hosts; differences are reported. */
      reconcile: cronExpression.nullable().default('*/10 * * * *'),
      /** The daily digest to every channel of the routes. */
      digest: cronExpression.nullable().default('0 8 * * *'),
    })
    .default({ reconcile: '*/10 * * * *', digest: '0 8 * * *' }),
  /** Prometheus /metrics, /healthz and /readyz (no authentication: keep it on loopback or a management network). */
  status: z
    .strictObject({
      enabled: z.boolean().default(true),
      listen: z
        .strictObject({
          host: z.string().min(1).default('127.0.0.1'),
          // drbd-reactor's exporter uses 9942; this one sits beside it.
          port: z.int().min(0).max(65_535).default(9943),
        })
        .default({ host: '127.0.0.1', port: 9943 }),
    })
    .default({ enabled: true, listen: { host: '127.0.0.1', port: 9943 } }),
  /** Which notifications go where. Without routes nothing is posted (the console shows all). */
  routes: z.array(routeSchema).default([]),
  /** Runbook URL templates by alert kind, linked from each alert of that kind. */
  runbooks: z.partialRecord(z.enum(ALERT_KINDS), runbookTemplate).default({}),
  /** Maintenance windows: what they match is muted while they last (see also the silence command). */
  maintenance: z.array(maintenanceSchema).default([]),
});

export type Config = z.infer<typeof configSchema>;

/**
 * How each configured chat platform names its slash commands (for `help`, which shows the syntax
 * as it is typed there: CommandContext.slashCommands).
 */
export function slashNamings(config: Config): Partial<Record<SlashPlatform, SlashNaming>> {
  return {
    ...(config.slack === undefined ? {} : { slack: slashNamingOf(config.slack) }),
    ...(config.discord === undefined ? {} : { discord: slashNamingOf(config.discord) }),
  };
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

// Names that, holding a literal value, can only be a secret pasted into the file.
const SECRET_KEY = /(token|secret|password|passwd|apikey|api_key|privatekey|private_key)$/i;
// …while these say where the secret is, which is what we want.
const SECRET_REFERENCE = /(file|env|path)$/i;

function findInlineSecrets(value: unknown, path: string[] = []): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => findInlineSecrets(v, [...path, String(i)]));
  if (value === null || typeof value !== 'object') return [];
  const found: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const here = [...path, key];
    if (SECRET_KEY.test(key) && !SECRET_REFERENCE.test(key) && typeof child !== 'object') {
      found.push(
        `${here.join('.')}: secrets must not be written in the configuration file; ` +
          `put it in the environment or a file readable only by root and name that instead`,
      );
    } else {
      found.push(...findInlineSecrets(child, here));
    }
  }
  return found;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/**
 * The leader timings left out are the lock backend's defaults (LEADER_DEFAULTS: a slow backend such
 * as a command needs a longer retry than a file or etcd). Only fills in; checks stay with the schema.
 */
function withLeaderDefaults(document: unknown): unknown {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return document;
  const { lock, leader } = document as { lock?: unknown; leader?: unknown };
  const backend = (lock as { backend?: unknown } | undefined)?.backend;
  if (backend !== 'command' && backend !== 'etcd') return document;
  if (leader !== undefined && (typeof leader !== 'object' || leader === null || Array.isArray(leader)))
    return document;
  return { ...document, leader: { ...LEADER_DEFAULTS[backend], ...(leader as object | undefined) } };
}

/** Validate an already parsed document; the error names each key, its value and what was expected. */
export function parseConfig(raw: unknown, source = 'configuration'): Config {
  const document = raw ?? {};
  const secrets = findInlineSecrets(document);
  if (secrets.length > 0) throw new ConfigError(source, secrets);
  const result = configSchema.safeParse(withLeaderDefaults(document));
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return `${key === '(top level)' ? '' : `${key}: `}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    }
    return `${key}: ${issue.message}, got ${describeValue(valueAt(document, issue.path))}`;
  });
  throw new ConfigError(source, problems);
}

/** Read and validate a YAML configuration file. A missing default file means "all defaults". */
export async function loadConfig(path: string | undefined): Promise<{ config: Config; path: string | null }> {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (path === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { config: parseConfig({}, 'defaults'), path: null };
    }
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [yamlProblem(err, text)]);
  }
  return { config: parseConfig(raw, file), path: file };
}

/**
 * A YAML syntax error as a person fixes it: line and column, the reason, and the line itself with a
 * caret under the column (the yaml package's own message ends in "…at line 2, column 1:" followed by
 * context that does not survive being cut to one line).
 */
export function yamlProblem(err: unknown, text: string): string {
  if (!(err instanceof YAMLParseError)) {
    const detail = (err instanceof Error ? err.message : String(err)).replace(/[:\s]+$/, '');
    return detail === '' ? 'not valid YAML' : `not valid YAML: ${detail}`;
  }
  const firstLine = err.message.split('\n')[0] ?? '';
  const reason = firstLine.replace(/ at line \d+, column \d+:?$/, '').replace(/[:\s]+$/, '') || err.code;
  const at = err.linePos?.[0];
  if (at === undefined) return `not valid YAML: ${reason}`;
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  let line = at.line;
  let col = at.col;
  let atEnd = '';
  // An unclosed bracket or quote is reported past the last line: show the line that has the text.
  if (lines.slice(line - 1).every((l) => l.trim() === '')) {
    const previous = lines.slice(0, line - 1).findLastIndex((l) => l.trim() !== '');
    if (previous >= 0) {
      line = previous + 1;
      col = (lines[previous] ?? '').length + 1;
      atEnd = ' (where the file ends)';
    }
  }
  // Tabs are shown (YAML refuses them as indentation), one character each so the caret stays in place.
  let shown = (lines[line - 1] ?? '').replace(/\t/g, '→');
  let caretAt = col - 1;
  if (shown.length > 100 && caretAt > 60) {
    shown = `…${shown.slice(caretAt - 50)}`;
    caretAt = 51;
  }
  if (shown.length > 100) shown = `${shown.slice(0, 99)}…`;
  const number = String(line);
  return (
    `not valid YAML at line ${line}, column ${col}${atEnd}: ${reason}\n` +
    `    ${number} | ${shown}\n` +
    `    ${' '.repeat(number.length)} | ${' '.repeat(caretAt)}^`
  );
}

const MASK = '********';

/** The effective configuration for display: anything secret-looking is masked. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  if (typeof value === 'string' && SECRET_KEY.test(key) && !SECRET_REFERENCE.test(key)) return MASK;
  return value;
}
