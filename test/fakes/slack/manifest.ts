// The Slack side of an app manifest, as the fake Slack holds it: Slack checks a manifest when it is
// saved (slackapi/manifest-schema; "the slash command has an invalid name" for a built-in such as
// /status, which voids the whole command list), and afterwards sends the app only the slash
// commands the manifest lists, each to its own request URL in HTTP mode. Written from Slack's
// rules, not from the bot's own checker, so the two can catch each other out.

/** Slack's built-in commands (Slack help, "Use built-in slash commands"): no app may define them. */
const BUILT_IN = new Set([
  'active',
  'apps',
  'archive',
  'away',
  'collapse',
  'dm',
  'dnd',
  'expand',
  'feed',
  'invite',
  'join',
  'kick',
  'leave',
  'me',
  'msg',
  'mute',
  'open',
  'pro',
  'remind',
  'remove',
  'rename',
  'search',
  'shortcuts',
  'shrug',
  'status',
  'topic',
  'who',
]);

export interface InstalledCommand {
  readonly command: string;
  readonly description: string;
  readonly usageHint?: string;
  /** HTTP mode: where Slack posts it. */
  readonly url?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const length = (text: string): number => [...text].length;

/**
 * The slash commands of a manifest as Slack would install them, or Slack's refusal
 * (`invalid_manifest` with the offending pointers) as an Error.
 */
export function installSlashCommands(manifest: unknown): InstalledCommand[] {
  const errors: string[] = [];
  const features = isRecord(manifest) && isRecord(manifest.features) ? manifest.features : {};
  const list = features.slash_commands ?? [];
  if (!Array.isArray(list)) throw new Error('fake slack: invalid_manifest: /features/slash_commands');
  if (list.length > 50) errors.push('/features/slash_commands: must NOT have more than 50 items');
  const seen = new Set<string>();
  const installed = list.flatMap((entry: unknown, i): InstalledCommand[] => {
    const at = `/features/slash_commands/${i}`;
    const c = isRecord(entry) ? entry : {};
    const command = typeof c.command === 'string' ? c.command : '';
    if (!/^\/[a-z0-9_-]{1,31}$/.test(command)) {
      errors.push(`${at}/command: the slash command has an invalid name`);
    } else if (BUILT_IN.has(command.slice(1))) {
      errors.push(`${at}/command: the slash command has an invalid name (${command} is built in)`);
    } else if (seen.has(command)) {
      errors.push(`${at}/command: duplicate slash command ${command}`);
    }
    seen.add(command);
    const description = typeof c.description === 'string' ? c.description : '';
    if (length(description) < 1 || length(description) > 2000) errors.push(`${at}/description`);
    const hint = c.usage_hint;
    if (hint !== undefined && (typeof hint !== 'string' || length(hint) < 1 || length(hint) > 1000)) {
      errors.push(`${at}/usage_hint`);
    }
    const url = c.url;
    if (url !== undefined && (typeof url !== 'string' || !url.startsWith('https://') || url.length > 3000)) {
      errors.push(`${at}/url`);
    }
    return [
      {
        command,
        description,
        ...(typeof hint === 'string' ? { usageHint: hint } : {}),
        ...(typeof url === 'string' ? { url } : {}),
      },
    ];
  });
  if (errors.length > 0) throw new Error(`fake slack: invalid_manifest:\n  ${errors.join('\n  ')}`);
  return installed;
}
