// deploy/install.sh and deploy/rollback.sh run for real, always with --root into a temporary
// directory (never the real /etc or /opt), from a scratch source tree made of the repository's own
// package.json, bin/ and deploy/ plus a stub of the built CLI (so no build and no npm are needed).
// And the unit file: the directives the deployment depends on, and `systemd-analyze verify` when the
// machine has it (package systemd).

import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cleanup.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const UNIT_FILE = join(REPO, 'deploy/drbd-chatops.service');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const EXEC_TIMEOUT = 60_000;
const IS_ROOT = process.getuid?.() === 0;

// The built CLI, reduced to what install.sh and rollback.sh call: check-config, which refuses a
// configuration containing `rejected-key` the way the real one refuses an unknown key.
const STUB_CLI = `import { readFileSync } from 'node:fs';
export async function main(argv) {
  if (argv[0] !== 'check-config') return 2;
  const file = argv[argv.indexOf('--config') + 1];
  if (readFileSync(file, 'utf8').includes('rejected-key')) {
    process.stderr.write(file + ': invalid configuration\\n  - unknown key "rejected-key"\\n');
    return 1;
  }
  process.stdout.write('# ' + file + ': valid\\n');
  return 0;
}
// BUILD
`;

/** A source tree as a built clone has it: package files, bin/, dist/, deploy/, node_modules/. */
function makeSource(build = 'one'): string {
  const src = join(tempDir('drbd-chatops-src-'), 'src');
  mkdirSync(src, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(REPO, file), join(src, file));
  cpSync(join(REPO, 'bin'), join(src, 'bin'), { recursive: true });
  cpSync(join(REPO, 'deploy'), join(src, 'deploy'), { recursive: true });
  mkdirSync(join(src, 'dist/cli'), { recursive: true });
  writeFileSync(join(src, 'dist/cli/drbd-chatops.mjs'), STUB_CLI.replace('BUILD', build));
  // Compiled tests are no part of a release.
  mkdirSync(join(src, 'dist/test'), { recursive: true });
  writeFileSync(join(src, 'dist/test/helper.js'), '');
  // --skip-npm copies the source's node_modules (a tarball built with npm ci --omit=dev).
  mkdirSync(join(src, 'node_modules/stub-dep'), { recursive: true });
  writeFileSync(join(src, 'node_modules/stub-dep/package.json'), '{"name":"stub-dep"}\n');
  return src;
}

function setBuild(src: string, build: string): void {
  writeFileSync(join(src, 'dist/cli/drbd-chatops.mjs'), STUB_CLI.replace('BUILD', build));
}

const OFFLINE = ['--no-start', '--skip-checks', '--skip-npm'];

async function install(src: string, root: string, args: readonly string[] = OFFLINE) {
  return execa('bash', [join(src, 'deploy/install.sh'), '--root', root, ...args], {
    reject: false,
    timeout: EXEC_TIMEOUT,
    stdin: 'ignore',
  });
}

async function rollback(root: string, args: readonly string[] = ['--skip-checks']) {
  // The installed copy, as an operator runs it.
  return execa('bash', [join(root, 'opt/drbd-chatops/current/deploy/rollback.sh'), '--root', root, ...args], {
    reject: false,
    timeout: EXEC_TIMEOUT,
    stdin: 'ignore',
  });
}

function mode(path: string): string {
  return (statSync(path).mode & 0o7777).toString(8).padStart(4, '0');
}

function link(path: string): string {
  return readlinkSync(path);
}

/** Every path under root with its type, mode, link target or content hash. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path);
      const key = relative(root, path);
      const perm = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[key] = `link ${readlinkSync(path)}`;
      else if (st.isDirectory()) {
        out[key] = `dir ${perm} ${st.uid}`;
        walk(path);
      } else {
        const hash = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
        out[key] = `file ${perm} ${st.uid} ${hash}`;
      }
    }
  };
  walk(root);
  return out;
}

describe('deploy/install.sh', () => {
  it('installs the release, configuration, state and lock scripts with their modes; a second run changes nothing', async () => {
    const src = makeSource();
    const root = tempDir('drbd-chatops-root-');

    const first = await install(src, root);
    expect(first.stderr).toContain('--skip-checks');
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain(`installed in /opt/drbd-chatops/releases/${VERSION}`);
    expect(first.stdout).toMatch(/config\.yaml\s+created from the example/);
    expect(first.stdout).toMatch(/secrets\.env\s+created from the example/);

    const prefix = join(root, 'opt/drbd-chatops');
    const release = join(prefix, 'releases', VERSION);
    expect(link(join(prefix, 'current'))).toBe(`releases/${VERSION}`);
    expect(existsSync(join(prefix, 'previous'))).toBe(false);
    for (const file of [
      'package.json',
      'package-lock.json',
      'bin/drbd-chatops',
      'dist/cli/drbd-chatops.mjs',
      'deploy/drbd-chatops.service',
      'deploy/rollback.sh',
      'node_modules/stub-dep/package.json',
    ]) {
      expect(existsSync(join(release, file)), file).toBe(true);
    }
    expect(existsSync(join(release, 'dist/test'))).toBe(false);
    expect(mode(join(release, 'bin/drbd-chatops'))).toBe('0755');

    const etc = join(root, 'etc/drbd-chatops');
    expect(mode(etc)).toBe('0750');
    expect(mode(join(etc, 'config.yaml'))).toBe('0640');
    expect(mode(join(etc, 'secrets.env'))).toBe('0600');
    expect(readFileSync(join(etc, 'config.yaml'), 'utf8')).toBe(
      readFileSync(join(REPO, 'deploy/config.example.yaml'), 'utf8'),
    );
    expect(readFileSync(join(etc, 'secrets.env'), 'utf8')).toBe(
      readFileSync(join(REPO, 'deploy/secrets.env.example'), 'utf8'),
    );
    if (IS_ROOT) {
      expect(statSync(join(etc, 'secrets.env')).uid).toBe(0);
      expect(statSync(join(etc, 'secrets.env')).gid).toBe(0);
    }
    expect(mode(join(root, 'var/lib/drbd-chatops'))).toBe('0700');
    for (const script of ['lock-dir.sh', 'lock-gcs.sh']) {
      const installed = join(root, 'usr/local/lib/drbd-chatops', script);
      expect(mode(installed)).toBe('0755');
      expect(readFileSync(installed, 'utf8')).toBe(readFileSync(join(REPO, 'deploy', script), 'utf8'));
    }
    expect(link(join(root, 'usr/local/bin/drbd-chatops'))).toBe('/opt/drbd-chatops/current/bin/drbd-chatops');
    // Default prefix: the unit goes in unchanged.
    expect(readFileSync(join(root, 'etc/systemd/system/drbd-chatops.service'), 'utf8')).toBe(
      readFileSync(UNIT_FILE, 'utf8'),
    );
    expect(mode(join(root, 'etc/systemd/system/drbd-chatops.service'))).toBe('0644');

    // The operator edits both files; the next run keeps them and changes nothing at all.
    writeFileSync(join(etc, 'config.yaml'), 'host: alpha # edited\n');
    writeFileSync(join(etc, 'secrets.env'), 'SLACK_BOT_TOKEN=xoxb-real\n');
    const before = snapshot(root);
    const second = await install(src, root);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain(`drbd-chatops ${VERSION}: unchanged (nothing to do)`);
    expect(second.stdout).not.toMatch(/\b(installed|created|updated|removed|->\s*releases.*previous)\b/);
    expect(snapshot(root)).toEqual(before);
    expect(readFileSync(join(etc, 'config.yaml'), 'utf8')).toBe('host: alpha # edited\n');
    expect(readFileSync(join(etc, 'secrets.env'), 'utf8')).toBe('SLACK_BOT_TOKEN=xoxb-real\n');

    // A secrets file that became readable by others is put back to 0600, its content kept.
    chmodSync(join(etc, 'secrets.env'), 0o644);
    const third = await install(src, root);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stdout).toMatch(/secrets\.env\s+kept; set mode 0600/);
    expect(mode(join(etc, 'secrets.env'))).toBe('0600');
    expect(readFileSync(join(etc, 'secrets.env'), 'utf8')).toBe('SLACK_BOT_TOKEN=xoxb-real\n');
  });

  it('an upgrade switches current and keeps previous; rollback.sh switches back and forward', async () => {
    const src = makeSource('one');
    const root = tempDir('drbd-chatops-root-');
    const prefix = join(root, 'opt/drbd-chatops');
    expect((await install(src, root, [...OFFLINE, '--version', '1.0.0'])).exitCode).toBe(0);

    // Installing an existing name with other files is refused; nothing moves.
    setBuild(src, 'two');
    const clash = await install(src, root, [...OFFLINE, '--version', '1.0.0']);
    expect(clash.exitCode).toBe(1);
    expect(clash.stderr).toContain('release 1.0.0 is already installed with different files');
    expect(link(join(prefix, 'current'))).toBe('releases/1.0.0');

    const upgrade = await install(src, root, [...OFFLINE, '--version', '1.1.0']);
    expect(upgrade.exitCode, upgrade.stderr).toBe(0);
    expect(upgrade.stdout).toContain('-> releases/1.1.0 (previous: releases/1.0.0)');
    expect(link(join(prefix, 'current'))).toBe('releases/1.1.0');
    expect(link(join(prefix, 'previous'))).toBe('releases/1.0.0');
    expect(readFileSync(join(prefix, 'current/dist/cli/drbd-chatops.mjs'), 'utf8')).toContain('// two');

    const back = await rollback(root);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stdout).toContain('rolled back to 1.0.0');
    expect(link(join(prefix, 'current'))).toBe('releases/1.0.0');
    expect(link(join(prefix, 'previous'))).toBe('releases/1.1.0');
    expect(readFileSync(join(prefix, 'current/dist/cli/drbd-chatops.mjs'), 'utf8')).toContain('// one');

    const forward = await rollback(root);
    expect(forward.exitCode, forward.stderr).toBe(0);
    expect(link(join(prefix, 'current'))).toBe('releases/1.1.0');
    expect(link(join(prefix, 'previous'))).toBe('releases/1.0.0');
  });

  it('rollback.sh without a previous release changes nothing', async () => {
    const src = makeSource();
    const root = tempDir('drbd-chatops-root-');
    expect((await install(src, root)).exitCode).toBe(0);
    const result = await rollback(root);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('there is no earlier release');
    expect(link(join(root, 'opt/drbd-chatops/current'))).toBe(`releases/${VERSION}`);
  });

  it('a release that rejects the configuration does not become current, and rollback checks too', async () => {
    // Without --skip-checks: node's version and check-config of the new release run for real.
    const checked = ['--no-start', '--skip-npm'];
    const src = makeSource('one');
    const root = tempDir('drbd-chatops-root-');
    const prefix = join(root, 'opt/drbd-chatops');
    const first = await install(src, root, [...checked, '--version', '1.0.0']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/check-config \(release 1\.0\.0\)\s+configuration valid/);

    writeFileSync(join(root, 'etc/drbd-chatops/config.yaml'), 'rejected-key: 1\n');
    setBuild(src, 'two');
    const refused = await install(src, root, [...checked, '--version', '2.0.0']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('unknown key "rejected-key"');
    expect(refused.stderr).toContain('release 2.0.0 rejects /etc/drbd-chatops/config.yaml');
    expect(link(join(prefix, 'current'))).toBe('releases/1.0.0');

    // Fixed: the same command now switches (the release itself was already in place).
    writeFileSync(join(root, 'etc/drbd-chatops/config.yaml'), 'host: alpha\n');
    const fixed = await install(src, root, [...checked, '--version', '2.0.0']);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(/release 2\.0\.0\s+unchanged/);
    expect(link(join(prefix, 'current'))).toBe('releases/2.0.0');

    writeFileSync(join(root, 'etc/drbd-chatops/config.yaml'), 'rejected-key: 1\n');
    const back = await rollback(root, []);
    expect(back.exitCode).toBe(1);
    expect(back.stderr).toContain('Nothing was switched');
    expect(link(join(prefix, 'current'))).toBe('releases/2.0.0');
  });

  it('removes releases beyond --keep, never current or previous', async () => {
    const src = makeSource();
    const root = tempDir('drbd-chatops-root-');
    const releases = join(root, 'opt/drbd-chatops/releases');
    for (const version of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) {
      setBuild(src, version);
      const result = await install(src, root, [...OFFLINE, '--version', version, '--keep', '3']);
      expect(result.exitCode, result.stderr).toBe(0);
    }
    expect(readdirSync(releases).sort()).toEqual(['1.1.0', '1.2.0', '1.3.0']);
    // Roll back (current 1.2.0, previous 1.3.0), then install two more: both links survive.
    expect((await rollback(root)).exitCode).toBe(0);
    for (const version of ['1.4.0', '1.5.0']) {
      setBuild(src, version);
      expect((await install(src, root, [...OFFLINE, '--version', version, '--keep', '2'])).exitCode).toBe(0);
    }
    expect(readdirSync(releases).sort()).toEqual(['1.4.0', '1.5.0']);
    expect(link(join(root, 'opt/drbd-chatops/previous'))).toBe('releases/1.4.0');
  });

  it('--prefix is written into the unit; --snap-confine adds and removes its drop-in', async () => {
    const src = makeSource();
    const root = tempDir('drbd-chatops-root-');
    const unit = join(root, 'etc/systemd/system/drbd-chatops.service');
    const dropIn = join(root, 'etc/systemd/system/drbd-chatops.service.d/50-snap-confine.conf');
    const args = [...OFFLINE, '--prefix', '/srv/chatops'];

    expect((await install(src, root, [...args, '--snap-confine', 'yes'])).exitCode).toBe(0);
    expect(link(join(root, 'srv/chatops/current'))).toBe(`releases/${VERSION}`);
    const text = readFileSync(unit, 'utf8');
    expect(text).toContain('ExecStart=/srv/chatops/current/bin/drbd-chatops run --config');
    expect(text).not.toContain('/opt/drbd-chatops');
    expect(readFileSync(dropIn, 'utf8')).toMatch(/^CapabilityBoundingSet=.*CAP_SYS_PTRACE/m);

    // auto, with no /snap/bin/lxc or gcloud under the root: the drop-in goes.
    const auto = await install(src, root, args);
    expect(auto.exitCode, auto.stderr).toBe(0);
    expect(auto.stdout).toMatch(/50-snap-confine\.conf\s+removed/);
    expect(existsSync(dropIn)).toBe(false);

    // auto with a snap lxc: it comes back.
    mkdirSync(join(root, 'snap/bin'), { recursive: true });
    writeFileSync(join(root, 'snap/bin/lxc'), '');
    expect((await install(src, root, args)).exitCode).toBe(0);
    expect(existsSync(dropIn)).toBe(true);
  });

  it('refuses bad arguments with exit status 2 before touching anything', async () => {
    const src = makeSource();
    const root = tempDir('drbd-chatops-root-');
    for (const args of [['--bogus'], ['--prefix', 'relative'], ['--version', '../x'], ['--keep', '1']]) {
      const result = await install(src, root, args);
      expect(result.exitCode, args.join(' ')).toBe(2);
    }
    expect(readdirSync(root)).toEqual([]);
  });
});

/** The unit as section → key → values (a key may repeat; an empty assignment resets it). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let current: Record<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      const name = header[1];
      sections[name] = sections[name] ?? {};
      current = sections[name];
      continue;
    }
    const assignment = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (assignment?.[1] === undefined || assignment[2] === undefined || current === undefined) {
      throw new Error(`not a unit file line: ${raw}`);
    }
    const key = assignment[1];
    current[key] = assignment[2] === '' ? [] : [...(current[key] ?? []), assignment[2]];
  }
  return sections;
}

describe('deploy/drbd-chatops.service', () => {
  const unit = parseUnit(readFileSync(UNIT_FILE, 'utf8'));
  const words = (section: string, key: string) => (unit[section]?.[key] ?? []).flatMap((v) => v.split(/\s+/));

  it('starts after the network and DRBD without pulling DRBD in, and never gives up restarting', () => {
    expect(words('Unit', 'Wants')).toContain('network-online.target');
    expect(words('Unit', 'After')).toEqual(expect.arrayContaining(['network-online.target', 'drbd.service']));
    expect(words('Unit', 'Wants')).not.toContain('drbd.service');
    expect(unit.Unit?.Requires).toBeUndefined();
    expect(unit.Unit?.StartLimitIntervalSec).toEqual(['0']);
    expect(unit.Service?.Restart).toEqual(['always']);
    expect(unit.Service?.RestartSec).toHaveLength(1);
    expect(unit.Install?.WantedBy).toEqual(['multi-user.target']);
  });

  it('runs the current release with the configuration, state directory and secrets file', () => {
    expect(unit.Service?.ExecStart).toEqual([
      '/opt/drbd-chatops/current/bin/drbd-chatops run --config /etc/drbd-chatops/config.yaml',
    ]);
    expect(unit.Service?.ExecReload).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(unit.Service?.StateDirectory).toEqual(['drbd-chatops']);
    expect(unit.Service?.StateDirectoryMode).toEqual(['0700']);
    expect(unit.Service?.WorkingDirectory).toEqual(['/var/lib/drbd-chatops']);
    expect(unit.Service?.EnvironmentFile).toEqual(['-/etc/drbd-chatops/secrets.env']);
    expect(unit.Service?.UMask).toEqual(['0077']);
  });

  it('is Type=notify with a watchdog, notifications accepted from the main process only', () => {
    // The bot says READY=1, STOPPING=1 and WATCHDOG=1 (src/adapters/systemd-notify.ts); a bot whose
    // event loop hangs stops the pings and is killed and restarted by systemd.
    expect(unit.Service?.Type).toEqual(['notify']);
    expect(unit.Service?.WatchdogSec).toEqual(['30s']);
    expect(unit.Service?.NotifyAccess).toEqual(['main']);
    expect(unit.Service?.Restart).toEqual(['always']);
    // systemd-notify sends in the bot's name only with CAP_SYS_ADMIN; without it NotifyAccess=main
    // would drop every message and the start would time out.
    expect(words('Service', 'CapabilityBoundingSet')).toContain('CAP_SYS_ADMIN');
    expect(words('Service', 'RestrictAddressFamilies')).toContain('AF_UNIX');
    // A watchdog kill must be able to end the process: no custom signal that Node could catch.
    expect(unit.Service?.WatchdogSignal).toBeUndefined();
  });

  it('keeps the host mount namespace (mounts of /rN must reach the host) and a minimal bounding set', () => {
    // Each of these gives the service its own mount namespace: a mount made by the bot would then
    // stay invisible to the host and to rNlxd.service.
    for (const key of [
      'PrivateTmp',
      'PrivateMounts',
      'PrivateDevices',
      'ProtectSystem',
      'ProtectHome',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectKernelLogs',
      'ProtectControlGroups',
      'ProtectProc',
      'ProcSubset',
      'ReadOnlyPaths',
      'ReadWritePaths',
      'InaccessiblePaths',
      'TemporaryFileSystem',
      'BindPaths',
      'BindReadOnlyPaths',
      'RootDirectory',
      'MountFlags',
    ]) {
      expect(unit.Service?.[key], key).toBeUndefined();
    }
    expect(new Set(words('Service', 'CapabilityBoundingSet'))).toEqual(
      new Set(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN']),
    );
    expect(new Set(words('Service', 'RestrictAddressFamilies'))).toEqual(
      new Set(['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK']),
    );
    expect(unit.Service?.NoNewPrivileges).toEqual(['no']);
    expect(unit.Service?.MemoryDenyWriteExecute).toBeUndefined();
    for (const key of ['LockPersonality', 'RestrictRealtime', 'RestrictSUIDSGID']) {
      expect(unit.Service?.[key], key).toEqual(['yes']);
    }
    expect(unit.Service?.SystemCallArchitectures).toEqual(['native']);
  });

  const systemdAnalyze = execa('systemd-analyze', ['--version'], { reject: false, timeout: 10_000 }).then(
    (r) => r.exitCode === 0,
    () => false,
  );

  it('passes systemd-analyze verify (package systemd)', async (context) => {
    if (!(await systemdAnalyze)) context.skip();
    // verify insists that ExecStart exists: point it at a stand-in in a temporary directory.
    const dir = tempDir('drbd-chatops-unit-');
    const stub = join(dir, 'drbd-chatops');
    writeFileSync(stub, '#!/bin/sh\n');
    chmodSync(stub, 0o755);
    const copy = join(dir, 'drbd-chatops.service');
    writeFileSync(
      copy,
      readFileSync(UNIT_FILE, 'utf8').replace('/opt/drbd-chatops/current/bin/drbd-chatops', stub),
    );
    const result = await execa('systemd-analyze', ['verify', '--man=no', copy], {
      reject: false,
      timeout: EXEC_TIMEOUT,
      cwd: dir,
    });
    expect(result.stderr.split('\n').filter((l) => l.includes('drbd-chatops'))).toEqual([]);
    expect(result.exitCode, result.stderr).toBe(0);
  });
});
