// Secrets come from the environment or from a file (readable only by root), never from the
// configuration file and never into a log line.

import { readFileSync } from 'node:fs';

export class SecretError extends Error {
  readonly code = 'SECRET_MISSING';
}

/**
 * The secret from `file` when given, else from the environment variable `envName`. `what` names it
 * in the error ("Slack bot token"); the value is never part of an error or log.
 */
export function readSecret(
  what: string,
  source: { envName: string; file?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (source.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(source.file, 'utf8');
    } catch (err) {
      throw new SecretError(
        `${what}: cannot read ${source.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    const value = text.trim();
    if (value === '') throw new SecretError(`${what}: ${source.file} is empty`);
    return value;
  }
  const value = env[source.envName]?.trim();
  if (value === undefined || value === '') {
    throw new SecretError(
      `${what}: set the environment variable ${source.envName} (or name a file in the configuration)`,
    );
  }
  return value;
}
