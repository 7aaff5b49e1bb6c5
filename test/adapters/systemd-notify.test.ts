// The notifier through the real `systemd-notify` tool to a real AF_UNIX datagram socket, read the way
// PID 1 reads it (sender PID from the credentials). Where nothing may be sent, a recording stand-in
// for the tool shows that nothing was run.
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { SystemdNotifier } from '../../src/adapters/systemd-notify.js';
import { createLogger } from '../../src/app/log.js';
import { startNotifySocket } from '../fakes/systemd/notify-socket.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';

const ROOT = join(import.meta.dirname, '../..');
const IS_ROOT = process.getuid?.() === 0;

function capturedLogger() {
  const lines: { level: number; msg: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination }), lines };
}

/** A stand-in for systemd-notify that records each call's arguments, one line per call. */
function recordingTool(): { command: string; calls: () => string[] } {
  const dir = tempDir('drbd-chatops-notify-tool-');
  const command = join(dir, 'systemd-notify');
  const log = join(dir, 'calls');
  writeFileSync(command, `#!/bin/sh\necho "$*" >> ${JSON.stringify(log)}\n`);
  chmodSync(command, 0o755);
  return {
    command,
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
  };
}

describe('SystemdNotifier', () => {
  it('sends READY=1, STATUS= and STOPPING=1 as this process (NotifyAccess=main accepts them)', async () => {
    const socket = await startNotifySocket();
    const { logger } = capturedLogger();
    const notifier = new SystemdNotifier({ socket: socket.path, pid: process.pid, logger });
    expect(notifier.enabled).toBe(true);
    expect(notifier.watchdogIntervalMs).toBeUndefined();

    expect(await notifier.ready('alpha: leader; DRBD events read')).toBe(true);
    expect(await notifier.status('alpha: follower\nSECRET=injected')).toBe(true);
    expect(await notifier.stopping('alpha: stopping')).toBe(true);

    expect(socket.messages.map((m) => m.fields)).toEqual([
      { READY: '1', STATUS: 'alpha: leader; DRBD events read' },
      // A newline in a status cannot start an assignment of its own.
      { STATUS: 'alpha: follower SECRET=injected' },
      { STOPPING: '1', STATUS: 'alpha: stopping' },
    ]);
    // systemd-notify, run by a privileged process, sends with its parent's PID: ours, the main PID.
    // Unprivileged it falls back to its own, which only NotifyAccess=all would accept.
    for (const message of socket.messages) {
      if (IS_ROOT) expect(message.pid).toBe(process.pid);
      else expect(message.pid).not.toBeNull();
    }
  });

  it('pings WATCHDOG=1 every half WATCHDOG_USEC, with STATUS= only when it changed, until stopped', async () => {
    const socket = await startNotifySocket();
    const { logger } = capturedLogger();
    const notifier = new SystemdNotifier({
      socket: socket.path,
      watchdogUsec: '100000',
      watchdogPid: String(process.pid),
      pid: process.pid,
      logger,
    });
    expect(notifier.watchdogIntervalMs).toBe(50);
    let status = 'alpha: follower';
    notifier.startWatchdog(() => status);
    onCleanup(() => notifier.stopWatchdog());
    await socket.waitFor((m) => m.fields.WATCHDOG === '1', { from: 2 });
    status = 'alpha: leader';
    const changed = await socket.waitFor((m) => m.fields.STATUS === 'alpha: leader');
    expect(changed.fields.WATCHDOG).toBe('1');
    await socket.waitFor((m) => m.fields.WATCHDOG === '1', { from: socket.messages.indexOf(changed) + 2 });
    await notifier.stopWatchdog();

    const pings = socket.messages.filter((m) => m.fields.WATCHDOG === '1');
    expect(pings.length).toBeGreaterThanOrEqual(5);
    expect(socket.messages.every((m) => m.fields.WATCHDOG === '1')).toBe(true);
    expect(pings.filter((m) => m.fields.STATUS !== undefined).map((m) => m.fields.STATUS)).toEqual([
      'alpha: follower',
      'alpha: leader',
    ]);
    if (IS_ROOT) expect(pings.every((m) => m.pid === process.pid)).toBe(true);
    // Stopped means stopped: ten more intervals bring nothing.
    const count = socket.messages.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(socket.messages.length).toBe(count);
  });

  it('stops pinging while the event loop hangs, so systemd restarts the bot', async () => {
    const socket = await startNotifySocket();
    // A real process with a real hang: the notifier from the build, a loop that never yields.
    const script = `
      import { SystemdNotifier } from ${JSON.stringify(join(ROOT, 'dist/src/adapters/systemd-notify.js'))};
      import { createLogger } from ${JSON.stringify(join(ROOT, 'dist/src/app/log.js'))};
      const logger = createLogger({ level: 'error', format: 'json' });
      const notifier = new SystemdNotifier({ socket: process.env.NOTIFY_SOCKET, watchdogUsec: '100000', pid: process.pid, logger });
      notifier.startWatchdog();
      process.stdin.once('data', () => { process.stdout.write('hanging\\n'); for (;;) {} });
    `;
    const child = execa(process.execPath, ['--input-type=module', '-e', script], {
      env: { NOTIFY_SOCKET: socket.path },
      reject: false,
      timeout: 30_000,
      buffer: false,
    });
    onCleanup(async () => {
      child.kill('SIGKILL');
      await child;
    });
    await socket.waitFor((m) => m.fields.WATCHDOG === '1', { from: 2 });
    const hanging = new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    child.stdin?.write('hang\n');
    await hanging;
    const before = socket.messages.length;
    // Twenty intervals: a live loop would have pinged about twenty times. At most the one ping that
    // was already on its way when the loop stopped may still arrive.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(socket.messages.length - before).toBeLessThanOrEqual(1);
    // Hung, not dead: only the watchdog can tell.
    expect(child.exitCode).toBeNull();
  });

  it('does nothing outside systemd: no $NOTIFY_SOCKET, no process run', async () => {
    const tool = recordingTool();
    const { logger } = capturedLogger();
    for (const socket of [undefined, '']) {
      const notifier = new SystemdNotifier({
        socket,
        watchdogUsec: '100000',
        pid: process.pid,
        logger,
        command: tool.command,
      });
      expect(notifier.enabled).toBe(false);
      expect(notifier.watchdogIntervalMs).toBeUndefined();
      expect(await notifier.ready('up')).toBe(false);
      notifier.startWatchdog();
      expect(await notifier.stopping('down')).toBe(false);
      await notifier.stopWatchdog();
    }
    expect(tool.calls()).toEqual([]);
  });

  it("has no watchdog for another process's WATCHDOG_PID or a WATCHDOG_USEC that is not a positive number", () => {
    const { logger, lines } = capturedLogger();
    const make = (watchdogUsec: string | undefined, watchdogPid?: string) =>
      new SystemdNotifier({ socket: '/run/systemd/notify', watchdogUsec, watchdogPid, pid: 4242, logger });
    expect(make('30000000', '4242').watchdogIntervalMs).toBe(15_000);
    expect(make('30000000').watchdogIntervalMs).toBe(15_000);
    expect(make('30000000', '1').watchdogIntervalMs).toBeUndefined();
    expect(make(undefined).watchdogIntervalMs).toBeUndefined();
    for (const bad of ['0', '-5', '30s', '1e6']) expect(make(bad).watchdogIntervalMs, bad).toBeUndefined();
    expect(lines.filter((l) => l.msg.includes('WATCHDOG_USEC is not a positive number'))).toHaveLength(4);
  });

  it('says once that notifying fails, not at every ping, and again when it works', async () => {
    const { logger, lines } = capturedLogger();
    const dir = tempDir('drbd-chatops-notify-tool-');
    const command = join(dir, 'systemd-notify');
    const broken = join(dir, 'broken');
    // Fails while the file "broken" exists, as the real tool fails while systemd is not listening.
    writeFileSync(
      command,
      `#!/bin/sh\n[ -e ${JSON.stringify(broken)} ] && { echo "Failed to notify init system: Connection refused" >&2; exit 1; }\nexit 0\n`,
    );
    chmodSync(command, 0o755);
    writeFileSync(broken, '');
    const notifier = new SystemdNotifier({ socket: join(dir, 'notify'), pid: process.pid, logger, command });
    expect(await notifier.ready('up')).toBe(false);
    expect(await notifier.status('still up')).toBe(false);
    expect(await notifier.status('still up')).toBe(false);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('could not notify systemd');
    expect(JSON.stringify(warnings[0])).toContain('Connection refused');
    rmSync(broken);
    expect(await notifier.status('up again')).toBe(true);
    expect(lines.some((l) => l.msg === 'systemd notifications are delivered again')).toBe(true);
  });
});
