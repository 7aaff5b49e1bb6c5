// The daemon's lifecycle with the console platform: configuration reload on SIGHUP semantics
// (routes apply at once; an invalid file keeps the running configuration) and a clean stop.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { loadConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import { createPlatforms } from '../../src/app/platforms.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { until } from '../helpers/wait.js';

const SIM_BIN = resolve(import.meta.dirname, '../../bin/drbdsetup-sim');
let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe('Daemon', () => {
  it('applies new routes on reload, keeps the running configuration when the file is invalid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-daemon-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const stateDir = join(dir, 'pair');
    const pair = SimulatedPair.init(stateDir, {
      hosts: ['alpha', 'beta'],
      resources: [{ name: 'r0', minor: 0 }],
    });
    const file = join(dir, 'config.yaml');
    const write = (routes: string) =>
      writeFileSync(
        file,
        [
          'host: alpha',
          `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
          'drbd:',
          `  drbdsetup: ${JSON.stringify(SIM_BIN)}`,
          `  env: {DRBD_SIM_DIR: ${JSON.stringify(stateDir)}, DRBD_SIM_HOST: alpha}`,
          routes,
        ].join('\n'),
      );
    write('routes: [{platform: console, channel: ops, minSeverity: critical}]');
    let out = '';
    const output = new Writable({
      write(chunk, _e, callback) {
        out += String(chunk);
        callback();
      },
    });
    const logger = createLogger({ level: 'silent', format: 'json' });
    const { config } = await loadConfig(file);
    const platforms = await createPlatforms(config, logger, COMMANDS, { console: { output } });
    const daemon = new Daemon({ commands: COMMANDS, config, configPath: file, logger, platforms });
    await daemon.start();
    cleanup.push(() => daemon.stop());
    await until(() => daemon.watch?.isLive() === true, 'the event stream');

    // Only critical goes to #ops: a role change (info) is not shown.
    pair.secondary('alpha', 'r0');
    await new Promise((r) => setTimeout(r, 500));
    expect(out).toBe('');

    write('routes: [{platform: console, channel: everything, minSeverity: info}]');
    expect(await daemon.reload()).toBe(true);
    expect(daemon.config.routes[0]?.channel).toBe('everything');
    pair.primary('alpha', 'r0');
    await until(() => out.includes('[#everything]'), 'the role change under the new route');
    expect(out).toContain('r0: Role changed');

    write('routes: [{platform: carrier-pigeon, channel: x}]');
    expect(await daemon.reload()).toBe(false);
    expect(daemon.config.routes[0]?.channel).toBe('everything');

    await daemon.stop();
    cleanup.pop();
    expect(daemon.outbox.depth).toBe(0);
  });
});
