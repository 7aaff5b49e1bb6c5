// Which Slack workspace a request comes from, and whether that is the bot's own.
//
// A valid signature (HTTP mode) or the Socket Mode connection proves that Slack sent a request to
// this app, not that someone of the bot's own workspace made it: a distributed app installed in a
// second workspace, an Enterprise Grid sibling workspace, or a person from another organization in
// a Slack Connect channel all reach the same app. So every command and click is checked against the
// workspace the bot belongs to (auth.test at start, or slack.teamId / slack.enterpriseId).
//
// Which ids to look at (Slack's payload references, its Slack Connect guide, and Bolt's own
// routing of requests to installations, `buildSource` in @slack/bolt):
// - Slash commands carry `team_id` (and `enterprise_id` on Enterprise Grid). A person is offered
//   the slash commands of the apps installed in their own workspace, and the payload names that
//   workspace: a person from another organization in a Slack Connect channel reaches this app's
//   command only if the app is installed in their workspace too, and then with their team_id.
// - Interactive payloads (button clicks) carry `team` (the installation the click is routed to;
//   `null` for an org-wide install), the clicking person's home workspace in `user.team_id`, and
//   `enterprise`. Anyone in a Slack Connect channel can click the bot's buttons, and `team` need not
//   be the clicking person's workspace there: `user.team_id` says whose person clicked.
// The rule: every team id a request names (installation and person) must be the bot's own, and its
// enterprise must be the bot's own (or absent on both sides). So a person from another organization
// is refused even in one of our channels, and a colleague is not refused because a shared channel is
// hosted elsewhere. An org-wide install (auth.test's is_enterprise_install) checks the organization
// only, since its requests come from any workspace of the organization; slack.teamId narrows it.

/** The bot's own workspace. At least one of the two is set. */
export interface SlackWorkspace {
  readonly teamId?: string;
  readonly enterpriseId?: string;
}

/** Where a request says it comes from. */
export interface RequestOrigin {
  /** Every team the request names: the installation's and the person's (duplicates removed). */
  readonly teamIds: readonly string[];
  readonly enterpriseId: string | undefined;
}

function id(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

function origin(teams: readonly unknown[], enterprise: unknown): RequestOrigin {
  const teamIds = [...new Set(teams.map(id).filter((t): t is string => t !== undefined))];
  return { teamIds, enterpriseId: id(enterprise) };
}

/** A slash command's form body. */
export function commandOrigin(body: unknown): RequestOrigin {
  return origin([field(body, 'team_id')], field(body, 'enterprise_id'));
}

/** An interactive (block_actions) payload. */
export function actionOrigin(body: unknown): RequestOrigin {
  const user = field(body, 'user');
  return origin(
    [field(field(body, 'team'), 'id'), field(user, 'team_id')],
    field(field(body, 'enterprise'), 'id') ?? field(user, 'enterprise_id'),
  );
}

/** Fails closed: a request naming no team, when a team is required, is not ours. */
export function isOwnWorkspace(request: RequestOrigin, own: SlackWorkspace): boolean {
  if (own.teamId === undefined && own.enterpriseId === undefined) return false;
  if (request.enterpriseId !== own.enterpriseId) return false;
  if (own.teamId === undefined) return true;
  return request.teamIds.length > 0 && request.teamIds.every((team) => team === own.teamId);
}

export function describeOrigin(request: RequestOrigin): string {
  const teams = request.teamIds.length === 0 ? 'no workspace' : `workspace ${request.teamIds.join(' / ')}`;
  return request.enterpriseId === undefined ? teams : `${teams} (organization ${request.enterpriseId})`;
}
