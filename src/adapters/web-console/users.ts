// Who may use the web console: user names with their access tokens, as the environment variable (or
// file) gives them: "alice:TOKEN,bob:TOKEN" (commas or new lines between entries; blank lines and
// lines starting with # are skipped in a file). A token never appears in an error message.

/** The same rule as a team member's `web` id in the configuration. */
export const WEB_USER_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
export const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_LENGTH = 512;
/** Printable ASCII without spaces or commas. */
const TOKEN_CHARS = /^[\x21-\x2b\x2d-\x7e]+$/;

export class WebUsersError extends Error {
  readonly code = 'WEB_USERS_INVALID';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: ${problems.join('; ')}`);
    this.name = 'WebUsersError';
  }
}

/** The problems of one user name / token pair, as phrases (empty when it is fine). */
export function webUserProblems(name: string, token: string): string[] {
  const problems: string[] = [];
  if (!WEB_USER_NAME.test(name))
    problems.push(
      `${JSON.stringify(name.slice(0, 70))} is not a user name (a letter, then up to 63 letters, digits, . _ -)`,
    );
  if (token.length < MIN_TOKEN_LENGTH)
    problems.push(`the token of ${name} is shorter than ${MIN_TOKEN_LENGTH} characters`);
  else if (token.length > MAX_TOKEN_LENGTH)
    problems.push(`the token of ${name} is longer than ${MAX_TOKEN_LENGTH} characters`);
  else if (!TOKEN_CHARS.test(token))
    problems.push(`the token of ${name} may only have printable characters without spaces or commas`);
  return problems;
}

/**
 * "alice:TOKEN,bob:TOKEN" → token → user name. Throws a WebUsersError listing every problem
 * (`source` names where the text came from, e.g. the environment variable).
 */
export function parseWebUsers(text: string, source = 'web console users'): Map<string, string> {
  const users = new Map<string, string>();
  const problems: string[] = [];
  const entries = text
    .split(/[,\r\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '' && !e.startsWith('#'));
  if (entries.length === 0) throw new WebUsersError(source, ['no users given (expected name:token,…)']);
  entries.forEach((entry, i) => {
    const where = `entry ${i + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) {
      // The entry may be a bare token: never show it.
      problems.push(`${where}: expected name:token`);
      return;
    }
    const name = entry.slice(0, colon).trim();
    const token = entry.slice(colon + 1).trim();
    const own = webUserProblems(name, token);
    if (own.length > 0) {
      problems.push(...own.map((p) => `${where}: ${p}`));
      return;
    }
    const holder = users.get(token);
    if (holder !== undefined) {
      problems.push(
        `${where}: ${name} has the same token as ${holder}; every user needs a token of their own`,
      );
      return;
    }
    users.set(token, name);
  });
  if (problems.length > 0) throw new WebUsersError(source, problems);
  return users;
}
