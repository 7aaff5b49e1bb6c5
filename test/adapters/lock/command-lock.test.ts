import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CommandLockStore, parseLeaseLine } from '../../../src/adapters/lock/command-lock.js';
import { LockStoreError } from '../../../src/ports/leases.js';
import { tempDir } from '../../helpers/cleanup.js';
import { describeLockContract } from './contract.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

// The backend with prefix arguments and an interpreter as the command: `sh lock-dir.sh --dir DIR …`.
describeLockContract(
  'command (sh deploy/lock-dir.sh with prefix arguments)',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-command-lock-'));
    return {
      store: new CommandLockStore({
        command: 'sh',
        args: [join(ROOT, 'deploy/lock-dir.sh'), '--dir', dir],
        timeoutMs: 15_000,
      }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { ttlMs: 1000, expiryToleranceMs: 1100, propertyTimeMs: 5000 },
);

/**
 * A scripted stand-in for the operator's command: it records its arguments (one per line) and
 * answers with what the test put in its environment.
 */
function fakeCommand(): { dir: string; script: string; argv: () => string[] } {
  const dir = tempDir('drbd-chatops-command-lock-');
  const script = join(dir, 'fake-lock');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      'printf "%s\\n" "$@" > "$(dirname "$0")/argv"',
      '[ -z "$FAKE_SLEEP" ] || sleep "$FAKE_SLEEP"',
      '[ -z "$FAKE_SIGNAL" ] || kill -s "$FAKE_SIGNAL" $$',
      'printf "%b" "$FAKE_STDOUT"',
      'printf "%b" "$FAKE_STDERR" >&2',
      'exit $((FAKE_EXIT + 0))',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  return {
    dir,
    script,
    argv: () => readFileSync(join(dir, 'argv'), 'utf8').split('\n').slice(0, -1),
  };
}

function store(
  script: string,
  env: Record<string, string>,
  extra: { args?: string[]; timeoutMs?: number; now?: () => number } = {},
) {
  return new CommandLockStore({ command: script, timeoutMs: extra.timeoutMs ?? 10_000, env, ...extra });
}

describe('CommandLockStore', () => {
  it('runs `PREFIX… lock KEY HOLDER TTL_SECONDS` and reads the lease it prints', async () => {
    const fake = fakeCommand();
    const s = store(
      fake.script,
      { FAKE_STDOUT: 'holder=alpha expires=1900000000.25 token=7\\n' },
      { args: ['--x', 'y'] },
    );
    const state = await s.acquireOrRenew('r0', 'alpha', 30_000);
    expect(state).toEqual({ held: true, holder: 'alpha', expiresAt: 1_900_000_000_250, token: 7 });
    expect(fake.argv()).toEqual(['--x', 'y', 'lock', 'r0', 'alpha', '30']);
  });

  it('passes the TTL in whole seconds, rounded up, at least 1', async () => {
    const fake = fakeCommand();
    const s = store(fake.script, { FAKE_STDOUT: 'holder=alpha expires=1900000000 token=1' });
    for (const [ms, seconds] of [
      [1, '1'],
      [999, '1'],
      [1000, '1'],
      [1001, '2'],
      [15_500, '16'],
    ] as const) {
      await s.acquireOrRenew('r0', 'alpha', ms);
      expect(fake.argv().at(-1), `${ms} ms`).toBe(seconds);
    }
  });

  it('exit 1 means someone else holds it, and says who', async () => {
    const fake = fakeCommand();
    const s = store(fake.script, {
      FAKE_EXIT: '1',
      FAKE_STDOUT: 'holder=beta expires=1900000000 token=3\\n',
    });
    expect(await s.acquireOrRenew('r0', 'alpha', 5000)).toEqual({
      held: false,
      holder: 'beta',
      expiresAt: 1_900_000_000_000,
      token: 3,
    });
  });

  it('refuses answers that contradict their exit status', async () => {
    const fake = fakeCommand();
    await expect(
      store(fake.script, { FAKE_STDOUT: 'holder=beta expires=1900000000 token=3' }).acquireOrRenew(
        'r0',
        'alpha',
        5000,
      ),
    ).rejects.toThrow(/exited 0 \(taken\) but reports holder "beta"/);
    await expect(
      store(fake.script, { FAKE_EXIT: '1', FAKE_STDOUT: 'holder=- expires=- token=3' }).acquireOrRenew(
        'r0',
        'alpha',
        5000,
      ),
    ).rejects.toThrow(LockStoreError);
    await expect(
      store(fake.script, {
        FAKE_EXIT: '1',
        FAKE_STDOUT: 'holder=alpha expires=1900000000 token=3',
      }).acquireOrRenew('r0', 'alpha', 5000),
    ).rejects.toThrow(LockStoreError);
  });

  it('reads status leniently: log lines, CRLF, any field order, extra fields, empty holder', async () => {
    const fake = fakeCommand();
    const out = 'checking bucket…\\r\\ntoken=4  holder=alpha  generation=17 expires=1900000000.5\\r\\n';
    expect(await store(fake.script, { FAKE_STDOUT: out }).read('r0')).toEqual({
      held: true,
      holder: 'alpha',
      expiresAt: 1_900_000_000_500,
      token: 4,
    });
    expect(fake.argv()).toEqual(['status', 'r0']);
    for (const free of ['holder= expires= token=4', 'holder=- expires=- token=4', 'holder=- token=4']) {
      expect(await store(fake.script, { FAKE_STDOUT: free }).read('r0')).toEqual({
        held: false,
        holder: null,
        expiresAt: null,
        token: 4,
      });
    }
  });

  it('a lease status reports as expired by now is nobody’s, and keeps its token', async () => {
    const fake = fakeCommand();
    const s = store(
      fake.script,
      { FAKE_STDOUT: 'holder=alpha expires=1000 token=9' },
      { now: () => 1_000_001 },
    );
    expect(await s.read('r0')).toEqual({ held: false, holder: null, expiresAt: null, token: 9 });
  });

  it('rejects output it cannot read with LockStoreError naming the problem and the output', async () => {
    const fake = fakeCommand();
    const cases: [string, RegExp][] = [
      ['', /no "holder=… expires=… token=…" line/],
      ['all good\\n', /no "holder=… expires=… token=…" line/],
      ['holder=alpha expires=1900000000', /no "holder=… expires=… token=…" line/],
      ['holder=alpha expires=1900000000 token=', /bad token ""/],
      ['holder=alpha expires=1900000000 token=-1', /bad token "-1"/],
      ['holder=alpha expires=1900000000 token=1.5', /bad token "1.5"/],
      ['holder=alpha expires=soon token=1', /bad expires "soon"/],
      ['holder=alpha token=1', /bad expires ""/],
      ['expires=1900000000 token=1', /no holder= field/],
    ];
    for (const [stdout, message] of cases) {
      const err = await store(fake.script, { FAKE_STDOUT: stdout })
        .read('r0')
        .catch((e: unknown) => e);
      expect(err, stdout).toBeInstanceOf(LockStoreError);
      expect((err as Error).message, stdout).toMatch(message);
    }
  });

  it('unlock: exit 0 with or without output; anything else is an error', async () => {
    const fake = fakeCommand();
    await store(fake.script, {}).release('r0', 'alpha');
    expect(fake.argv()).toEqual(['unlock', 'r0', 'alpha']);
    await store(fake.script, { FAKE_STDOUT: 'holder=- expires=- token=2' }).release('r0', 'alpha');
    await expect(store(fake.script, { FAKE_EXIT: '1' }).release('r0', 'alpha')).rejects.toThrow(
      /unexpected status 1/,
    );
  });

  it('an unknown exit status is a LockStoreError carrying the trimmed, length-limited stderr', async () => {
    const fake = fakeCommand();
    const err = await store(fake.script, { FAKE_EXIT: '3', FAKE_STDERR: '  bucket unreachable: 503\\n\\n' })
      .acquireOrRenew('r0', 'alpha', 5000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockStoreError);
    expect((err as LockStoreError).code).toBe('LOCK_STORE_UNAVAILABLE');
    expect((err as Error).message).toMatch(
      /lock r0 alpha 5` exited with unexpected status 3: bucket unreachable: 503$/,
    );

    const long = await store(fake.script, { FAKE_EXIT: '2', FAKE_STDERR: 'x'.repeat(5000) })
      .read('r0')
      .catch((e: unknown) => e as Error);
    expect((long as Error).message.length).toBeLessThan(1000);
    expect((long as Error).message).toMatch(/… \(5000 chars\)$/);
  });

  it('a timeout ends the command and everything it started, with LockStoreError', async () => {
    const fake = fakeCommand();
    const started = Date.now();
    // `sleep` is a child of the script and holds its output open: the whole group must go.
    const err = await store(
      fake.script,
      { FAKE_SLEEP: '30', FAKE_STDERR: 'never printed' },
      { timeoutMs: 300 },
    )
      .acquireOrRenew('r0', 'alpha', 5000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockStoreError);
    expect((err as Error).message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a command killed by a signal, or one that cannot be started, is a LockStoreError', async () => {
    const fake = fakeCommand();
    await expect(store(fake.script, { FAKE_SIGNAL: 'KILL' }).read('r0')).rejects.toThrow(/killed by SIGKILL/);
    await expect(store(join(fake.dir, 'missing'), {}).read('r0')).rejects.toThrow(/could not be run/);
  });

  it('runs without a shell: metacharacters in a key reach the command as they are', async () => {
    const fake = fakeCommand();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, meant to stay unexpanded
    const key = 'r0;touch${IFS}pwned$(touch${IFS}pwned)`touch${IFS}pwned`|&>pwned*';
    await store(fake.script, { FAKE_STDOUT: 'holder=- expires=- token=0' }).read(key);
    expect(fake.argv()).toEqual(['status', key]);
    expect(readdirSync(fake.dir).filter((f) => f.includes('pwned'))).toEqual([]);
    expect(existsSync(join(process.cwd(), 'pwned'))).toBe(false);
  });

  it('refuses keys and holders that would not stay one plain argument', async () => {
    const fake = fakeCommand();
    const s = store(fake.script, { FAKE_STDOUT: 'holder=- expires=- token=0' });
    for (const key of ['', 'r 0', '-r0', '--help', 'r0\n', 'a\tb', 'x'.repeat(257)]) {
      await expect(s.read(key), JSON.stringify(key)).rejects.toThrow(RangeError);
    }
    for (const holder of ['', 'al pha', '-', '-alpha', 'alpha\n']) {
      await expect(s.acquireOrRenew('r0', holder, 1000), JSON.stringify(holder)).rejects.toThrow(RangeError);
    }
    await expect(s.acquireOrRenew('r0', 'alpha', 0)).rejects.toThrow(RangeError);
    expect(existsSync(join(fake.dir, 'argv'))).toBe(false);
  });

  it('is closed by close()', async () => {
    const fake = fakeCommand();
    const s = store(fake.script, {});
    await s.close();
    await expect(s.read('r0')).rejects.toBeInstanceOf(LockStoreError);
  });
});

describe('parseLeaseLine', () => {
  it('takes the last record line', () => {
    expect(parseLeaseLine('holder=a expires=1 token=1\nholder=b expires=2 token=2\n')).toEqual({
      holder: 'b',
      expiresAt: 2000,
      token: 2,
    });
  });

  it('keeps an "=" inside a holder name', () => {
    expect(parseLeaseLine('holder=a=b expires=1 token=1')).toMatchObject({ holder: 'a=b' });
  });
});
