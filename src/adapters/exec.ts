// Every external command the bot runs goes through here: execa with an argument array (never a
// shell), a timeout, and a CommandRun record of what happened for the audit log.

import { execa } from 'execa';
import { type CommandRun, ExternalCommandError } from '../ports/step-run.js';

const TAIL = 4096;

function tail(text: string): string {
  return text.length <= TAIL ? text : `…${text.slice(-TAIL)}`;
}

export interface ExecOptions {
  readonly timeoutMs: number;
  /** Added to the bot's own environment (e.g. LXD_DIR). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Run a command; resolves with its CommandRun on exit 0, throws ExternalCommandError otherwise. */
export async function run(file: string, args: readonly string[], options: ExecOptions): Promise<CommandRun> {
  return (await runForOutput(file, args, options)).run;
}

/**
 * The same, also answering the whole of stdout: the CommandRun keeps only its tail (for the audit log),
 * while a caller that parses the output (`lxc list --format json`) needs all of it.
 */
export async function runForOutput(
  file: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<{ run: CommandRun; stdout: string }> {
  const started = performance.now();
  const result = await execa(file, args, {
    reject: false,
    timeout: options.timeoutMs,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: 5_000,
    stdin: 'ignore',
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const stdout = String(result.stdout ?? '');
  const record: CommandRun = {
    argv: [file, ...args],
    exitCode: typeof result.exitCode === 'number' ? result.exitCode : -1,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    stdout: tail(stdout),
    stderr: tail(String(result.stderr ?? '')),
    ...(result.timedOut ? { timedOut: true } : {}),
  };
  if (result.failed) {
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : result.exitCode === undefined
        ? (result.originalMessage ?? 'could not be run')
        : `exit ${result.exitCode}`;
    const output = (record.stderr.trim() || record.stdout.trim()).split('\n').slice(-3).join(' | ');
    throw new ExternalCommandError(
      `${[file, ...args].join(' ')}: ${why}${output ? `: ${output}` : ''}`,
      record,
    );
  }
  return { run: record, stdout };
}
