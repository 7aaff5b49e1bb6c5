// The hardened peer link through the real daemon: a request whose fencing token was altered in
// transit is refused and leaves the daemon's token floor alone, a captured request replayed after
// the daemon restarted over the same state directory is refused, and each refusal shows on the
// daemon's own /metrics counter.

import { existsSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import { PEER_HEADERS, signPeerRequest } from '../../src/core/peer-auth.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { MemoryLockStore } from '../helpers/memory-lock.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { RecordingPlatform } from '../helpers/recording-platform.js';
import { until } from '../helpers/wait.js';

const SIM_BIN = resolve(import.meta.dirname, '../../bin/drbdsetup-sim');
const SECRET = 'daemon-test-peer-secret-0123456789abcdef';
const logger = createLogger({ level: 'silent', format: 'json' });

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

async function setup() {
  const dir = tempDir('drbd-chatops-peer-daemon-');
  const simDir = join(dir, 'sim');
  SimulatedPair.init(simDir, {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  const previous = process.env.DRBD_CHATOPS_PEER_SECRET;
  process.env.DRBD_CHATOPS_PEER_SECRET = SECRET;
  onCleanup(() => {
    if (previous === undefined) delete process.env.DRBD_CHATOPS_PEER_SECRET;
    else process.env.DRBD_CHATOPS_PEER_SECRET = previous;
  });
  // beta is not started: alpha's peer link listens, its requests to beta simply fail.
  const [port, betaPort] = [await freePort(), await freePort()];
  const config = parseConfig({
    host: 'alpha',
    stateDir: join(dir, 'alpha'),
    drbd: { drbdsetup: SIM_BIN, env: { DRBD_SIM_DIR: simDir, DRBD_SIM_HOST: 'alpha' } },
    delivery: { slackIntervalMs: 0, retry: { initialMs: 50, maxMs: 200 } },
    routes: [{ platform: 'slack', channel: 'C1' }],
    peer: { name: 'beta', url: `http://127.0.0.1:${betaPort}`, listen: { host: '127.0.0.1', port } },
  });
  const store = new MemoryLockStore();
  /** alpha's daemon; called again after stop(), it is alpha restarted over the same state directory. */
  const start = async () => {
    const daemon = new Daemon({
      commands: COMMANDS,
      config,
      configPath: undefined,
      logger,
      platforms: new Map([['slack', new RecordingPlatform('slack')]]),
      lockStore: store,
    });
    await daemon.start();
    onCleanup(() => daemon.stop());
    await until(() => daemon.watch?.isLive() === true, 'the event stream');
    return daemon;
  };
  return { url: `http://127.0.0.1:${port}`, stateDir: config.stateDir, start };
}

/** A request as beta would sign it. */
function signed(path: string, token: string, body: string) {
  const timestampMs = Date.now();
  const nonce = `capture-${Math.random().toString(36).slice(2)}-0123456789`;
  return {
    path,
    body,
    headers: {
      [PEER_HEADERS.timestamp]: String(timestampMs),
      [PEER_HEADERS.nonce]: nonce,
      [PEER_HEADERS.signature]: signPeerRequest(SECRET, {
        method: 'POST',
        path,
        timestampMs,
        nonce,
        token,
        body,
      }),
      [PEER_HEADERS.token]: token,
      'content-type': 'application/json',
    },
  };
}

function post(url: string, request: ReturnType<typeof signed>, headers: Record<string, string> = {}) {
  return fetch(`${url}${request.path}`, {
    method: 'POST',
    headers: { ...request.headers, ...headers },
    body: request.body,
  });
}

async function refused(daemon: Daemon, reason: string): Promise<number> {
  const families = parsePromText(await daemon.metrics.metrics());
  return sampleValue(families, 'drbdchatops_peer_requests_refused_total', { reason });
}

describe('the peer link of a running daemon', () => {
  it('refuses a tampered fencing token and a replay after a restart, and counts both', async () => {
    const env = await setup();
    const alpha = await env.start();
    const floor = join(env.stateDir, 'fencing-token.json');

    const request = signed('/v1/reconcile', '3', '{}');
    const forged = await post(env.url, request, { [PEER_HEADERS.token]: '999999999999' });
    expect(forged.status).toBe(401);
    expect(existsSync(floor)).toBe(false);
    expect(await refused(alpha, 'bad-signature')).toBe(1);

    expect((await post(env.url, request)).status).toBe(200);
    expect(JSON.parse(readFileSync(floor, 'utf8'))).toEqual({ highest: 3 });

    await alpha.stop();
    const restarted = await env.start();
    const replayed = await post(env.url, request);
    expect(replayed.status).toBe(401);
    expect(await refused(restarted, 'replayed')).toBe(1);
    expect(await refused(restarted, 'bad-signature')).toBe(0);
    expect(JSON.parse(readFileSync(floor, 'utf8'))).toEqual({ highest: 3 });
  });
});
