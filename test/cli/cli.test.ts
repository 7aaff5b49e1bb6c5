// End to end: the real binary as a child process (run `npm run build` first; `npm test` does).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/drbd-chatops');
const FIXTURES = join(ROOT, 'test/fixtures/events2');
const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], input?: string) {
  return execa(process.execPath, [BIN, ...args], {
    reject: false,
    timeout: 20_000,
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  });
}

function jsonLines(
  stdout: string,
): { kind: string; severity: string; resource: string | null; text: string }[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('drbd-chatops --help and argument errors', () => {
  it('lists the commands', async () => {
    const r = await cli(['--help']);
    expect(r.exitCode).toBe(0);
    for (const command of ['replay', 'watch', 'check-config']) expect(r.stdout).toContain(command);
  });

  it('has --help for every command', async () => {
    for (const command of ['replay', 'watch', 'check-config']) {
      const r = await cli([command, '--help']);
      expect(r.exitCode, command).toBe(0);
      expect(r.stdout).toContain(`Usage: drbd-chatops ${command}`);
    }
  });

  it('exits 2 with a clear message on bad arguments', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage: drbd-chatops COMMAND/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['replay', join(FIXTURES, 'drbd9-switchover.events2')], /--host is required/],
      [['replay', '--host', 'alpha'], /replay needs 1 argument/],
      [['replay', '--host', 'alpha', '--bogus', 'x'], /Unknown option '--bogus'/],
      [['replay', '--host', 'alpha', join(dir, 'missing.events2')], /cannot read .*missing\.events2/],
      [['check-config', 'extra'], /takes no arguments/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(`${r.stderr}${r.stdout}`).toMatch(message);
    }
  });
});

describe('drbd-chatops replay', () => {
  it('prints one JSON notification per line for a recorded stream', async () => {
    const r = await cli(['replay', '--host', 'alpha', join(FIXTURES, 'drbd9-split-brain.events2')]);
    expect(r.exitCode).toBe(0);
    const notifications = jsonLines(r.stdout);
    expect(notifications.map((n) => n.kind)).toEqual(['connection-lost', 'split-brain', 'standalone']);
    expect(notifications[1]).toMatchObject({ severity: 'critical', resource: 'r0', host: 'alpha' });
  });

  it('reads standard input with "-" and exits 0 despite garbage lines', async () => {
    const input = [
      'exists -',
      'this is not events2',
      'create resource name:r3 role:Secondary suspended:no',
      'change resource name:r3 role:Primary',
    ].join('\r\n');
    const r = await cli(['replay', '--host', 'beta', '-'], input);
    expect(r.exitCode).toBe(0);
    expect(jsonLines(r.stdout).map((n) => n.kind)).toEqual(['resource-added', 'role-changed']);
    expect(r.stderr).toContain('-:2: skipped: unknown verb "this"');
    expect(r.stderr).toContain('1 of 4 lines skipped');
  });

  it('replays the 8.4 dialect', async () => {
    const r = await cli(['replay', '--host', 'alpha', join(FIXTURES, 'drbd84-standalone.events2')]);
    expect(jsonLines(r.stdout).map((n) => n.kind)).toContain('standalone');
  });
});

describe('drbd-chatops check-config', () => {
  function config(name: string, text: string): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  it('prints the effective configuration of a valid file', async () => {
    const file = config('good.yaml', 'host: alpha\ndrbd:\n  drbdsetup: /usr/local/sbin/drbdsetup\n');
    const r = await cli(['check-config', '--config', file]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`# ${file}: valid`);
    expect(r.stdout).toContain('drbdsetup: /usr/local/sbin/drbdsetup');
    expect(r.stdout).toContain('commandTimeoutMs: 30000');
  });

  it('names the key, the value and what was expected', async () => {
    const file = config(
      'bad.yaml',
      'host: alpha\ndrbd:\n  restartBackoff:\n    initialMs: soon\n  full: maybe\n',
    );
    const r = await cli(['check-config', '--config', file]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('drbd.restartBackoff.initialMs');
    expect(r.stderr).toContain('"soon"');
    expect(r.stderr).toMatch(/drbd\.full: .*"auto"\|"always"\|"never".*got "maybe"/);
  });

  it('rejects unknown keys, bad YAML and secrets written in the file', async () => {
    const typo = await cli(['check-config', '--config', config('typo.yaml', 'hots: alpha\n')]);
    expect(typo.exitCode).toBe(1);
    expect(typo.stderr).toContain('unknown key "hots"');
    const yaml = await cli(['check-config', '--config', config('broken.yaml', 'host: [alpha\n')]);
    expect(yaml.exitCode).toBe(1);
    expect(yaml.stderr).toContain('not valid YAML');
    const secret = await cli([
      'check-config',
      '--config',
      config('secret.yaml', 'drbd:\n  env:\n    API_TOKEN: xoxb-123\n'),
    ]);
    expect(secret.exitCode).toBe(1);
    expect(secret.stderr).toContain(
      'drbd.env.API_TOKEN: secrets must not be written in the configuration file',
    );
    expect(secret.stderr).not.toContain('xoxb-123');
  });

  it('fails clearly on a file that does not exist', async () => {
    const r = await cli(['check-config', '--config', join(dir, 'nope.yaml')]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/nope\.yaml: invalid configuration\n {2}- cannot read/);
  });
});

describe('drbd-chatops watch', () => {
  it('runs the configured event stream and prints notifications as text until stopped', async () => {
    const script = join(ROOT, 'test/fixtures/bin/scripted-drbdsetup.mjs');
    const file = join(dir, 'watch.yaml');
    writeFileSync(
      file,
      [
        'host: alpha',
        'log: {level: warn, format: json}',
        'drbd:',
        `  drbdsetup: ${JSON.stringify(process.execPath)}`,
        `  events2Args: [${JSON.stringify(script)}, events2, --timestamps]`,
        '  full: never',
        `  env: {SCRIPT_MODE: exit-after-dump, SCRIPT_LOG: ${JSON.stringify(join(dir, 'watch-starts.log'))}}`,
        '  restartBackoff: {initialMs: 50, maxMs: 100}',
      ].join('\n'),
    );
    // No forced SIGKILL after our SIGTERM: the point is that watch stops cleanly by itself.
    const child = execa(process.execPath, [BIN, 'watch', '--config', file], {
      reject: false,
      timeout: 20_000,
      forceKillAfterDelay: false,
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const deadline = Date.now() + 15_000;
    while (!out.includes('role-changed') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const result = await child;
    expect(out).toMatch(/WARN \[alpha\] watcher-gap: The DRBD event stream on alpha restarted/);
    expect(out).toMatch(/INFO \[alpha\/r0\] role-changed: r0 on alpha is now (Secondary|Primary)/);
    expect(result.exitCode, `${result.signal ?? ''} ${result.stderr}`).toBe(0);
  });
});

describe('drbd-chatops watch --console', () => {
  it('shows incidents as the bot would post them and answers typed commands', async () => {
    const sim = join(ROOT, 'bin/drbdsetup-sim');
    const stateDir = join(dir, 'console-pair');
    const init = await execa(
      sim,
      ['sim', 'init', '--hosts', 'alpha,beta', '--resources', 'r0:0', '--primary', 'r0=alpha'],
      {
        env: { DRBD_SIM_DIR: stateDir },
        timeout: 20_000,
      },
    );
    expect(init.exitCode).toBe(0);
    const file = join(dir, 'console.yaml');
    writeFileSync(
      file,
      [
        'host: alpha',
        'log: {level: warn, format: json}',
        'drbd:',
        `  drbdsetup: ${JSON.stringify(sim)}`,
        `  env: {DRBD_SIM_DIR: ${JSON.stringify(stateDir)}, DRBD_SIM_HOST: alpha}`,
      ].join('\n'),
    );
    const child = execa(
      process.execPath,
      [BIN, 'watch', '--console', '--config', file, '--state-dir', join(dir, 'console-state')],
      {
        reject: false,
        timeout: 30_000,
        forceKillAfterDelay: false,
      },
    );
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const waitFor = async (pattern: RegExp) => {
      const deadline = Date.now() + 15_000;
      while (!pattern.test(out)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; got:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    child.stdin?.write('/drbd status\n');
    await waitFor(/⮑ \[RESOLVED\] DRBD status \(on alpha\)/);
    await execa(sim, ['sim', 'link-down', 'r0'], { env: { DRBD_SIM_DIR: stateDir }, timeout: 20_000 });
    await waitFor(/\[#console\] \[CRITICAL\] r0: Replication link — Connection lost/);
    await execa(sim, ['sim', 'link-up', 'r0'], { env: { DRBD_SIM_DIR: stateDir }, timeout: 20_000 });
    await waitFor(/\[#console ↳ m\d+\] \[INFO\] r0: Connection restored/);
    await waitFor(/\[#console ✎ m\d+\] \[RESOLVED\] r0: Replication link — resolved/);
    child.stdin?.write('status r7\n');
    await waitFor(/⮑ \[WARNING\] No resource r7 on alpha\./);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode, result.stderr).toBe(0);
  });
});
