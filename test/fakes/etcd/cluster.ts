// A real etcd (Debian's etcd-server) for system tests: one member or a cluster of several, each on
// free loopback ports with its own temporary data directory. Members can be stopped (SIGTERM, or
// SIGKILL for a crash) and started again on the same ports and data, for fault tests. Every process
// started here is killed by its PID in stop(), and as a last resort when the test process exits.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

const ETCD = 'etcd';
const LOG_TAIL_CHARS = 8_000;

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
}

export interface EtcdClusterOptions {
  /** Number of members (default 1). */
  readonly members?: number;
  /** How long to wait for the cluster to become healthy (default 20 s). */
  readonly startTimeoutMs?: number;
}

interface RunningMember {
  readonly pid: number;
  readonly exited: Promise<void>;
  log: string;
}

// PIDs of every member alive in this process, killed if the test process exits without stop().
const livePids = new Set<number>();
let exitHookInstalled = false;
function trackPid(pid: number): void {
  livePids.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of livePids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Fails with a clear message when etcd is not installed: the system tests need the real one. */
export async function requireEtcd(): Promise<string> {
  try {
    const { stdout } = await execa(ETCD, ['--version'], { timeout: 10_000 });
    return stdout.split('\n')[0] ?? stdout;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') {
      throw new Error(
        'etcd is not installed: the etcd system tests need the real server (apt-get install -y etcd-server etcd-client)',
      );
    }
    throw new Error(`etcd --version failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Distinct free TCP ports on 127.0.0.1 (held open together so no two are the same). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class EtcdCluster {
  private readonly running = new Map<number, RunningMember>();
  private readonly paused = new Set<number>();
  private stopped = false;

  private constructor(
    readonly members: readonly EtcdMember[],
    private readonly baseDir: string,
    private readonly clusterToken: string,
  ) {}

  /** Starts the members and waits until the cluster has a leader and every member answers. */
  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    await requireEtcd();
    const count = options.members ?? 1;
    const ports = await freePorts(count * 2);
    const baseDir = mkdtempSync(join(tmpdir(), 'drbd-chatops-etcd-'));
    const members = Array.from({ length: count }, (_, i) => ({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
      peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
      dataDir: join(baseDir, `m${i}`),
    }));
    const cluster = new EtcdCluster(members, baseDir, `test-${process.pid}-${Date.now().toString(36)}`);
    try {
      for (let i = 0; i < count; i++) cluster.spawn(i);
      await cluster.waitHealthy(options.startTimeoutMs ?? 20_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get clientUrls(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  isRunning(i: number): boolean {
    return this.running.has(i);
  }

  /** The last lines member i wrote (for failure messages). */
  log(i: number): string {
    return this.running.get(i)?.log ?? '';
  }

  /** Stops member i: SIGTERM, then SIGKILL after `graceMs`; `signal: 'SIGKILL'` simulates a crash. */
  async stopMember(
    i: number,
    options: { signal?: 'SIGTERM' | 'SIGKILL'; graceMs?: number } = {},
  ): Promise<void> {
    const member = this.running.get(i);
    if (!member) return;
    const signal = options.signal ?? 'SIGTERM';
    const graceMs = options.graceMs ?? 5_000;
    this.signal(member.pid, signal);
    if (this.paused.delete(i)) this.signal(member.pid, 'SIGCONT');
    const exitedInTime = await Promise.race([
      member.exited.then(() => true),
      sleep(graceMs).then(() => false),
    ]);
    if (!exitedInTime) {
      this.signal(member.pid, 'SIGKILL');
      await member.exited;
    }
    livePids.delete(member.pid);
    this.running.delete(i);
  }

  /** Freezes member i (SIGSTOP): its ports stay open but nothing answers, like a hung host. */
  pauseMember(i: number): void {
    const member = this.running.get(i);
    if (!member) throw new Error(`member ${i} is not running`);
    this.signal(member.pid, 'SIGSTOP');
    this.paused.add(i);
  }

  /** Lets a paused member run again (SIGCONT). */
  resumeMember(i: number): void {
    const member = this.running.get(i);
    if (!member || !this.paused.delete(i)) return;
    this.signal(member.pid, 'SIGCONT');
  }

  /** Starts member i again on its ports and data directory; waits until it answers /health. */
  async startMember(i: number, timeoutMs = 20_000): Promise<void> {
    if (this.running.has(i)) return;
    this.spawn(i);
    await this.waitMemberHealthy(i, timeoutMs);
  }

  /** Index of the member that is the raft leader, as the running members report it. */
  async leaderIndex(): Promise<number> {
    for (const i of this.running.keys()) {
      const member = this.members[i];
      if (!member) continue;
      try {
        const status = await postJson(`${member.clientUrl}/v3/maintenance/status`, {});
        const leader = String(status.leader ?? '');
        if (leader === '' || leader === '0') continue;
        for (const j of this.running.keys()) {
          const other = this.members[j];
          if (!other) continue;
          const s = await postJson(`${other.clientUrl}/v3/maintenance/status`, {});
          const header = s.header as { member_id?: unknown } | undefined;
          if (String(header?.member_id ?? '') === leader) return j;
        }
      } catch {
        // try the next member
      }
    }
    throw new Error('no running member knows a leader');
  }

  /** Waits until every running member reports healthy (has a leader and answers). */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await Promise.all([...this.running.keys()].map((i) => this.waitMemberHealthy(i, timeoutMs)));
  }

  /** Stops every member (SIGTERM, then SIGKILL) and removes the data directories. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.running.keys()].map((i) => this.stopMember(i)));
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  private spawn(i: number): void {
    const member = this.members[i];
    if (!member) throw new Error(`no member ${i}`);
    if (this.stopped) throw new Error('the cluster was stopped');
    const initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    // A long-running daemon: no timeout, killed by PID in stopMember()/stop().
    const child = execa(
      ETCD,
      [
        '--name',
        member.name,
        '--data-dir',
        member.dataDir,
        '--listen-client-urls',
        member.clientUrl,
        '--advertise-client-urls',
        member.clientUrl,
        '--listen-peer-urls',
        member.peerUrl,
        '--initial-advertise-peer-urls',
        member.peerUrl,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        this.clusterToken,
        '--logger',
        'zap',
        '--log-outputs',
        'stderr',
      ],
      { buffer: false, reject: false, stdin: 'ignore', extendEnv: false, env: etcdEnv() },
    );
    const pid = child.pid;
    if (pid === undefined) throw new Error(`etcd member ${member.name} did not start`);
    trackPid(pid);
    const running: RunningMember = {
      pid,
      exited: child.then(() => undefined),
      log: '',
    };
    const keep = (chunk: Buffer) => {
      running.log = (running.log + chunk.toString()).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    void running.exited.then(() => livePids.delete(pid));
    this.running.set(i, running);
  }

  private async waitMemberHealthy(i: number, timeoutMs: number): Promise<void> {
    const member = this.members[i];
    const running = this.running.get(i);
    if (!member || !running) throw new Error(`member ${i} is not running`);
    let exited = false;
    void running.exited.then(() => {
      exited = true;
    });
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (exited) throw new Error(`etcd member ${member.name} exited while starting:\n${running.log}`);
      try {
        const response = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
        const body = (await response.json()) as { health?: unknown };
        if (body.health === 'true' || body.health === true) return;
        last = JSON.stringify(body);
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(100);
    }
    throw new Error(
      `etcd member ${member.name} (${member.clientUrl}) not healthy after ${timeoutMs} ms (${last}):\n${running.log}`,
    );
  }

  private signal(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** The environment without ETCD_* variables, which would override the flags. */
function etcdEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('ETCD')) env[name] = value;
  }
  return env;
}

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(2_000),
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}
