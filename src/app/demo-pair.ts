// The built-in demo as the project's default way to run: a complete simulated pair in one process.
// The DRBD simulator with r0 (Primary on alpha) and r1 (Primary on beta), two real bot instances
// (alpha and beta) electing their leader through the file lock and talking over the signed peer
// link on loopback, simulated LXD containers on both resources, and the web console as the chat
// platform. Faults come from the page (`demo split-brain r0` …) or the terminal; a crashed host's
// bot stops with it and the other one takes over, as on a real pair.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DemoFault, demoCommand } from '../../commands/demo.js';
import { COMMANDS } from '../../commands/index.js';
import { SIMULATOR_BIN } from '../adapters/package-paths.js';
import {
  type ConsoleStatus,
  hostStatus,
  signInLink,
  WebConsolePlatform,
} from '../adapters/web-console/web-console.js';
import type { Message } from '../core/message-tones.js';
import type { ChatPlatform, CommandHandler, Posted, PostOptions } from '../ports/chat.js';
import { SimulatedPair } from '../sim/pair.js';
import { SimulatedContainers } from '../sim/simulated-containers.js';
import { SimulatedHost } from '../sim/simulated-host.js';
import { parseConfig } from './config.js';
import { Daemon } from './daemon.js';
import type { Logger } from './log.js';

export const DEMO_PAIR_HOSTS = ['alpha', 'beta'] as const;
type Host = (typeof DEMO_PAIR_HOSTS)[number];
const PEER_SECRET_ENV = 'DRBD_CHATOPS_DEMO_PEER_SECRET';

/** A free loopback port (asked of the kernel, then released for the daemon to take). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}

/**
 * One web console shared by both bot instances: the page, its messages and its URL stay put while
 * leadership moves; commands go to whichever instance leads (the one whose seat is started).
 */
class ConsoleSeat implements ChatPlatform {
  readonly name = 'web' as const;
  readonly #hall: ConsoleHall;
  readonly #host: Host;
  constructor(hall: ConsoleHall, host: Host) {
    this.#hall = hall;
    this.#host = host;
  }
  async start(handler: CommandHandler): Promise<void> {
    this.#hall.take(this.#host, handler);
  }
  async stop(): Promise<void> {
    this.#hall.leave(this.#host);
  }
  post(channel: string, message: Message, options: PostOptions): Promise<Posted> {
    return this.#hall.console.post(channel, message, options);
  }
  update(channel: string, messageId: string, message: Message): Promise<void> {
    return this.#hall.console.update(channel, messageId, message);
  }
  findPosted(channel: string, key: string): Promise<Posted | undefined> {
    return this.#hall.console.findPosted(channel, key);
  }
}

class ConsoleHall {
  readonly #handlers = new Map<Host, CommandHandler>();
  #active: Host | undefined;
  constructor(readonly console: WebConsolePlatform) {}
  take(host: Host, handler: CommandHandler): void {
    this.#handlers.set(host, handler);
    this.#active = host;
  }
  leave(host: Host): void {
    this.#handlers.delete(host);
    if (this.#active === host) this.#active = this.#handlers.keys().next().value;
  }
  readonly handler: CommandHandler = async (command, context) => {
    const handler = this.#active === undefined ? undefined : this.#handlers.get(this.#active);
    if (handler === undefined) {
      return {
        message: {
          title: 'No bot instance leads right now (a takeover takes a few seconds); try again.',
          tone: 'warning',
        },
        private: true,
      };
    }
    return handler(command, context);
  };
}

export interface DemoPairOptions {
  readonly logger: Logger;
  /** The web console's port (0: any free one). */
  readonly port: number;
  readonly host?: string;
  /** Keep the state here instead of a temporary directory removed at stop. */
  readonly dir?: string;
}

export interface DemoPair {
  /** Sign-in links per user (/login#token=…): the page they open asks "Sign in as …?" first. */
  readonly urls: Readonly<Record<'alice' | 'bob', string>>;
  readonly pair: SimulatedPair;
  readonly daemons: () => ReadonlyMap<Host, Daemon>;
  readonly console: WebConsolePlatform;
  fault(fault: DemoFault, target: string, resource?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startDemoPair(options: DemoPairOptions): Promise<DemoPair> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'drbd-chatops-demo-'));
  const simDir = join(dir, 'drbd');
  const pair = SimulatedPair.init(simDir, {
    hosts: [...DEMO_PAIR_HOSTS],
    resources: [
      { name: 'r0', minor: 0 },
      { name: 'r1', minor: 1 },
    ],
    primary: { r0: 'alpha', r1: 'beta' },
  });
  pair.setResyncSeconds(8);
  const containersDir = join(dir, 'lxd');
  SimulatedContainers.init(containersDir, [
    {
      name: 'db1',
      resource: 'r0',
      status: 'Running',
      device: 'eth0',
      parent: 'enp5s0',
      ipv4: ['198.51.100.10'],
      ipv6: ['2001:db8:100::10'],
    },
    {
      name: 'web1',
      resource: 'r0',
      status: 'Running',
      device: 'eth0',
      parent: 'enp5s0',
      ipv4: ['198.51.100.11'],
      ipv6: [],
    },
    {
      name: 'jenkins',
      resource: 'r0',
      status: 'Stopped',
      device: 'eth0',
      parent: 'enp5s0',
      ipv4: ['198.51.100.12'],
      ipv6: [],
    },
    {
      name: 'dhcp1',
      resource: 'r1',
      status: 'Running',
      device: 'eth0',
      parent: 'enp5s0',
      ipv4: ['203.0.113.2'],
      ipv6: [],
    },
  ]);
  // The peer link's shared secret, for this process only.
  process.env[PEER_SECRET_ENV] = randomBytes(24).toString('hex');
  const tokens = { alice: randomBytes(16).toString('hex'), bob: randomBytes(16).toString('hex') };
  const ports = { alpha: await freePort(), beta: await freePort() };
  const daemons = new Map<Host, Daemon>();

  const status = async (): Promise<ConsoleStatus> => {
    const leader = [...daemons.values()].find((d) => d.elector?.mayAct() === true);
    return {
      leader: leader?.config.host ?? null,
      token: leader?.elector?.state.token ?? 0,
      hosts: DEMO_PAIR_HOSTS.map((h) => hostStatus(h, daemons.get(h)?.watch?.watcher.watch.state)),
      onCall: ['bob'],
    };
  };
  const web = new WebConsolePlatform({
    ...(options.host === undefined ? {} : { host: options.host }),
    port: options.port,
    users: new Map([
      [tokens.alice, 'alice'],
      [tokens.bob, 'bob'],
    ]),
    title: 'drbd-chatops demo: alpha + beta',
    channel: 'ops',
    status,
    logger: options.logger.child({ part: 'web' }),
  });
  const hall = new ConsoleHall(web);
  await web.start(hall.handler);

  const faults = async (fault: DemoFault, target: string, resource: string | undefined): Promise<string> => {
    const host = (DEMO_PAIR_HOSTS as readonly string[]).includes(target) ? (target as Host) : undefined;
    const needHost = () => {
      if (host === undefined) throw new Error(`${target} is not a host (alpha, beta)`);
      return host;
    };
    const needResource = (name: string | undefined) => {
      if (name !== 'r0' && name !== 'r1') throw new Error(`${name ?? 'nothing'} is not a resource (r0, r1)`);
      return name;
    };
    switch (fault) {
      case 'link-down':
        pair.linkDown(needResource(target));
        return `The replication link of ${target} is down.`;
      case 'link-up':
        pair.linkUp(needResource(target));
        return `The replication link of ${target} is back.`;
      case 'split-brain':
        pair.splitBrain(needResource(target));
        return `Split-brain on ${target}: both sides were Primary and wrote while disconnected.`;
      case 'crash': {
        const h = needHost();
        // The host goes down with its bot instance; the other instance takes over the lead.
        pair.crash(h);
        await daemons.get(h)?.stop();
        daemons.delete(h);
        // Its mounts and LXD daemons are gone with it, and so are its running containers.
        const sim = new SimulatedContainers(containersDir, h);
        const held = sim.hostState();
        const lost = ['r0', 'r1'].filter((r) => held.mounted[r] === h || held.lxd[r] === h);
        sim.setHostState({
          mounted: Object.fromEntries(lost.map((r) => [r, null])),
          lxd: Object.fromEntries(lost.map((r) => [r, null])),
        });
        sim.stopAll(lost);
        return `${h} crashed (DRBD and its bot instance).`;
      }
      case 'boot': {
        const h = needHost();
        pair.boot(h);
        if (!daemons.has(h)) await startHost(h);
        return `${h} booted; its bot instance is back as follower (or leader if none leads).`;
      }
      case 'disk-fail':
        pair.diskFail(needHost(), needResource(resource));
        return `The backing disk of ${resource} on ${target} failed.`;
      case 'disk-attach':
        pair.diskAttach(needHost(), needResource(resource));
        return `The backing disk of ${resource} on ${target} is attached again.`;
    }
  };
  const commands = [...COMMANDS.slice(0, -1), demoCommand(faults), ...COMMANDS.slice(-1)];

  const configFor = (host: Host) => {
    const other: Host = host === 'alpha' ? 'beta' : 'alpha';
    return parseConfig({
      host,
      stateDir: join(dir, 'state', host),
      log: { level: 'warn', format: 'json' },
      drbd: {
        drbdsetup: SIMULATOR_BIN,
        env: { DRBD_SIM_DIR: simDir, DRBD_SIM_HOST: host },
        restartBackoff: { initialMs: 300, maxMs: 2_000 },
      },
      lock: { backend: 'file', dir: join(dir, 'locks') },
      // Short leases so a crash is taken over in seconds, which is what a demo wants to show.
      leader: { key: 'drbd-chatops-leader', leaseMs: 6_000, renewDeadlineMs: 4_000, retryMs: 1_000 },
      peer: {
        name: other,
        url: `http://127.0.0.1:${ports[other]}`,
        listen: { host: '127.0.0.1', port: ports[host] },
        secretEnv: PEER_SECRET_ENV,
      },
      resources: {
        r0: { subnets: ['198.51.100.0/24', '2001:db8:100::/64'] },
        r1: { subnets: ['203.0.113.0/24'] },
      },
      lxd: { stopTimeoutS: 5, verifyTimeoutMs: 5_000 },
      oncall: {
        team: [
          { name: 'alice', web: 'alice' },
          { name: 'bob', web: 'bob' },
        ],
        static: ['bob'],
      },
      routes: [{ platform: 'web', channel: 'ops' }],
      schedules: { reconcile: '*/2 * * * *', digest: null },
      status: { enabled: false },
    });
  };

  async function startHost(host: Host): Promise<void> {
    const daemon = new Daemon({
      config: configFor(host),
      configPath: undefined,
      logger: options.logger.child({ host }),
      platforms: new Map([['web', new ConsoleSeat(hall, host)]]),
      containers: new SimulatedContainers(containersDir, host),
      host: new SimulatedHost(pair, new SimulatedContainers(containersDir, host), host),
      commands,
    });
    daemons.set(host, daemon);
    await daemon.start();
  }
  for (const host of DEMO_PAIR_HOSTS) await startHost(host);

  const base = web.url ?? '';
  return {
    // Sign-in links: they open the console's "Sign in as alice" page; the click signs in.
    urls: { alice: signInLink(base, tokens.alice), bob: signInLink(base, tokens.bob) },
    pair,
    daemons: () => daemons,
    console: web,
    fault: (fault, target, resource) => faults(fault, target, resource),
    async stop() {
      await Promise.all([...daemons.values()].map((d) => d.stop()));
      daemons.clear();
      await web.stop();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
