// The pair's peer link, wired: the follower forwards its notifications to the leader (so chat
// shows both hosts' view), from a durable queue that keeps them until the leader has written them
// to its own outbox (and to the pair's delivery record, which the leader pushes back here as it
// goes); the leader serves its peer's state for /status. When the follower becomes the leader, what
// it had not yet forwarded goes into its own notifier instead. A leader that stops on purpose tells
// the follower it released the lease, so the follower takes over at once.

import { join } from 'node:path';
import { z } from 'zod';
import { Journal, readJournal } from '../adapters/durable-journal.js';
import { OPERATION_RECORD } from '../adapters/operation-store.js';
import { PeerClient, PeerError, PeerServer, TokenFloor } from '../adapters/peer-link.js';
import type { OutboxEntry } from '../core/delivery.js';
import type { DeliveryRecord } from '../core/delivery-record.js';
import type { HostState } from '../core/host-state.js';
import { ALERT_KINDS, type Notification, SEVERITIES } from '../core/notification.js';
import type { Operation, StepAction } from '../core/operation.js';
import type { PeerRefusal } from '../core/peer-auth.js';
import type { PeerStream } from '../core/stream-health.js';
import { PLATFORM_NAMES } from '../ports/chat.js';
import type { PreflightCheck } from '../ports/host-ops.js';
import type { StepRun } from '../ports/step-run.js';
import type { ContainersView } from './command-registry.js';
import type { Config } from './config.js';
import type { LedgerAnswer, LedgerPush } from './delivery-replica.js';
import type { Logger } from './log.js';
import { readSecret } from './secrets.js';
import { StepFailed } from './steps.js';

const notificationSchema = z.strictObject({
  kind: z.enum(ALERT_KINDS),
  severity: z.enum(SEVERITIES),
  host: z.string().min(1).max(253),
  resource: z.string().min(1).max(200).nullable(),
  text: z.string().max(10_000),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  at: z.iso.datetime({ offset: true }),
});

const forwardSchema = z.strictObject({ notifications: z.array(notificationSchema).min(1).max(500) });

/** Deliveries a former leader had not sent; checked for shape, the message is rendered as it is. */
const handedOverSchema = z.strictObject({
  entries: z
    .array(
      z.looseObject({
        key: z.string().min(1).max(300),
        platform: z.enum(PLATFORM_NAMES),
        channel: z.string().min(1).max(200),
        op: z.enum(['open', 'reply', 'update-parent', 'post']),
        resource: z.string().max(200).nullable(),
        severity: z.enum(SEVERITIES),
        message: z.looseObject({
          title: z.string().max(4_000),
          tone: z.enum(['info', 'warning', 'critical', 'resolved', 'ok']),
        }),
        changes: z.int().min(0),
      }),
    )
    .min(1)
    .max(500),
});

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
const addresses = z.array(z.string().max(64)).max(16);
/** A plan step the leader asks this host to run; the same shapes as StepAction. */
const stepSchema = z.strictObject({
  token: z.int().min(0),
  action: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('container-stop'),
      resource: name,
      container: name,
      timeoutS: z.int().min(1).max(3_600),
    }),
    z.strictObject({ kind: z.literal('container-start'), resource: name, container: name }),
    z.strictObject({
      kind: z.literal('container-set-addresses'),
      resource: name,
      container: name,
      device: name,
      ipv4: addresses,
      ipv6: addresses,
    }),
    z.strictObject({
      kind: z.literal('container-verify'),
      resource: name,
      container: name,
      ipv4: addresses,
      ipv6: addresses,
      timeoutMs: z.int().min(0).max(3_600_000),
    }),
    z.strictObject({
      kind: z.literal('containers-stop'),
      resource: name,
      containers: z.array(name).max(500),
      timeoutS: z.int().min(1).max(3_600),
    }),
    z.strictObject({
      kind: z.literal('containers-start'),
      resource: name,
      containers: z.array(name).max(500),
    }),
    z.strictObject({
      kind: z.literal('containers-verify-all'),
      resource: name,
      expect: z.array(z.strictObject({ name, ipv4: addresses, ipv6: addresses })).max(500),
      timeoutMs: z.int().min(0).max(3_600_000),
    }),
    z.strictObject({
      kind: z.enum(['lxd-stop', 'lxd-start', 'mount', 'umount', 'holders-check']),
      resource: name,
    }),
    z.strictObject({ kind: z.literal('drbd-role'), resource: name, role: z.enum(['primary', 'secondary']) }),
    z.strictObject({ kind: z.literal('drbd-disconnect'), resource: name }),
    z.strictObject({ kind: z.literal('drbd-connect'), resource: name, discardMyData: z.boolean() }),
    z.strictObject({
      kind: z.literal('drbd-wait-synced'),
      resource: name,
      timeoutMs: z.int().min(0).max(86_400_000),
    }),
    z.strictObject({ kind: z.literal('containers-list'), resource: name }),
  ]),
});

/**
 * A change request as the leader stores it: checked like a record of the operations journal, so a
 * copy the follower adopts can always be shown, expired and recovered after a takeover.
 */
const operationSchema = z.strictObject({ operation: OPERATION_RECORD });

const jobSchema = z.strictObject({
  job: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/),
  slot: z.iso.datetime(),
});

/**
 * The pair's delivery record, pushed by the leader. Authenticated by the link's signature; the
 * records are the leader's own outbox records, checked for shape only.
 */
const ledgerSchema = z.strictObject({
  epoch: z.string().min(1).max(200),
  seq: z.int().min(0),
  records: z.array(z.record(z.string(), z.unknown())).max(20_000),
});

/** A push of the delivery record waits at most this long for the follower (it must not hold the leader up). */
const LEDGER_TIMEOUT_MS = 1_000;

type QueueRecord =
  | { readonly put: { readonly id: number; readonly n: Notification } }
  | { readonly del: number };

export interface PeerLinkOptions {
  readonly config: NonNullable<Config['peer']>;
  readonly stateDir: string;
  readonly logger: Logger;
  /** True while this instance leads (and may take the follower's notifications). */
  readonly leading: () => boolean;
  /**
   * The leader's intake: resolves once the notifications are durably in its outbox and in the
   * follower's copy of the delivery record.
   */
  readonly ingest: (notifications: readonly Notification[]) => Promise<void>;
  /** The follower's side of the delivery record: the leader's pushes. */
  readonly receiveLedger?: (push: LedgerPush) => LedgerAnswer;
  /** The leader released the lease (a planned stop): try to take it now. */
  readonly onReleased?: () => void;
  /** The leader's intake of a former leader's unsent deliveries. */
  readonly adopt: (entries: readonly OutboxEntry[]) => Promise<void>;
  readonly localState: () => HostState | undefined;
  /** Whether this host's event stream is up (the leader resolves an outage it took over with it). */
  readonly localStream?: () => PeerStream | undefined;
  /** This host's containers, for the leader's `containers` and `ip` commands. */
  readonly localContainers?: () => Promise<ContainersView>;
  /** Run a plan step here for the leader. */
  readonly runLocalStep?: (action: StepAction) => Promise<StepRun[]>;
  /** A copy of the leader's change request, so a takeover finds what was running. */
  readonly adoptOperation?: (op: Operation) => Promise<void>;
  /** Whether this host can take a resource (mount point, LXD unit, binaries). */
  readonly preflight?: (resource: string) => Promise<readonly PreflightCheck[]>;
  /** Compare this host's engine with the live DRBD state, at the leader's request. */
  readonly reconcileLocal?: () => Promise<void>;
  /** The leader ran a scheduled job's slot (so this instance does not run it again on takeover). */
  readonly jobDone?: (job: string, slot: string) => Promise<void>;
  /** A request to this host's peer-link server was refused (counted by the metrics). */
  readonly onRefused?: (reason: PeerRefusal) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export class PeerLink {
  readonly #options: PeerLinkOptions;
  readonly #server: PeerServer;
  readonly #client: PeerClient;
  readonly #journal: Journal<QueueRecord>;
  readonly #queue = new Map<number, Notification>();
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #stopped = false;
  #failures = 0;

  constructor(options: PeerLinkOptions) {
    this.#options = options;
    const { config } = options;
    const secret = readSecret(
      'peer link secret',
      { envName: config.secretEnv, file: config.secretFile },
      options.env,
    );
    if (secret.length < 16)
      throw new Error('peer link secret: use at least 16 characters (e.g. openssl rand -hex 32)');
    this.#client = new PeerClient({ url: config.url, secret, timeoutMs: config.timeoutMs });
    this.#journal = new Journal(join(options.stateDir, 'forward.ndjson'));
    this.#server = new PeerServer({
      host: config.listen.host,
      port: config.listen.port,
      secret,
      windowMs: config.windowMs,
      tokens: new TokenFloor(join(options.stateDir, 'fencing-token.json')),
      nonceJournal: join(options.stateDir, 'peer-nonces.ndjson'),
      logger: options.logger,
      ...(options.onRefused === undefined ? {} : { onRefused: options.onRefused }),
      routes: [
        {
          method: 'POST',
          path: '/v1/notifications',
          handle: async (body) => {
            if (!options.leading()) throw new PeerError('not the leader', 409);
            const parsed = forwardSchema.safeParse(body);
            if (!parsed.success)
              throw new PeerError(`bad notifications: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 400);
            await options.ingest(parsed.data.notifications);
            return { accepted: parsed.data.notifications.length };
          },
        },
        {
          method: 'POST',
          path: '/v1/deliveries',
          handle: async (body) => {
            if (!options.leading()) throw new PeerError('not the leader', 409);
            const parsed = handedOverSchema.safeParse(body);
            if (!parsed.success)
              throw new PeerError(`bad deliveries: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 400);
            await options.adopt(parsed.data.entries as unknown as OutboxEntry[]);
            return { accepted: parsed.data.entries.length };
          },
        },
        {
          method: 'POST',
          path: '/v1/ledger',
          handle: async (body) => {
            if (options.leading()) throw new PeerError('this instance leads: it keeps its own record', 409);
            if (options.receiveLedger === undefined) throw new PeerError('no delivery record here', 404);
            const parsed = ledgerSchema.safeParse(body);
            if (!parsed.success)
              throw new PeerError(
                `bad delivery record: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
                400,
              );
            return options.receiveLedger({
              epoch: parsed.data.epoch,
              seq: parsed.data.seq,
              records: parsed.data.records as unknown as DeliveryRecord[],
            });
          },
        },
        {
          method: 'POST',
          path: '/v1/released',
          handle: async () => {
            options.onReleased?.();
            return { noted: options.onReleased !== undefined };
          },
        },
        {
          method: 'GET',
          path: '/v1/state',
          handle: async () => ({
            state: options.localState() ?? null,
            stream: options.localStream?.() ?? null,
          }),
        },
        {
          method: 'GET',
          path: '/v1/containers',
          handle: async () => {
            if (options.localContainers === undefined)
              throw new PeerError('no LXD resources configured here', 404);
            return await options.localContainers();
          },
        },
        {
          method: 'POST',
          path: '/v1/operations',
          fenced: true,
          handle: async (body) => {
            const parsed = operationSchema.safeParse(body);
            if (!parsed.success)
              throw new PeerError(`bad operation: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 400);
            await options.adoptOperation?.(parsed.data.operation);
            return { stored: options.adoptOperation !== undefined };
          },
        },
        {
          method: 'POST',
          path: '/v1/preflight',
          handle: async (body) => {
            const parsed = z.strictObject({ resource: name }).safeParse(body);
            if (!parsed.success) throw new PeerError('bad preflight request', 400);
            if (options.preflight === undefined) throw new PeerError('this host does no failovers', 404);
            return { checks: await options.preflight(parsed.data.resource) };
          },
        },
        {
          method: 'POST',
          path: '/v1/reconcile',
          fenced: true,
          handle: async () => {
            await options.reconcileLocal?.();
            return { reconciled: options.reconcileLocal !== undefined };
          },
        },
        {
          method: 'POST',
          path: '/v1/jobs',
          handle: async (body) => {
            const parsed = jobSchema.safeParse(body);
            if (!parsed.success)
              throw new PeerError(`bad job: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 400);
            await options.jobDone?.(parsed.data.job, parsed.data.slot);
            return { recorded: true };
          },
        },
        {
          method: 'POST',
          path: '/v1/steps',
          // Acts on this host: only for the current leader (its token is no lower than any seen).
          fenced: true,
          handle: async (body, context) => {
            const parsed = stepSchema.safeParse(body);
            if (!parsed.success)
              throw new PeerError(`bad step: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 400);
            // The token in the signed body must be the one the fence admitted.
            if (parsed.data.token !== context.token)
              throw new PeerError('the token in the body differs from the header', 400);
            if (options.runLocalStep === undefined) throw new PeerError('this host runs no steps', 404);
            try {
              return { runs: await options.runLocalStep(parsed.data.action as StepAction) };
            } catch (err) {
              return { failed: (err as Error).message, runs: err instanceof StepFailed ? err.runs : [] };
            }
          },
        },
      ],
    });
  }

  /** Notifications waiting to reach the leader. */
  get pending(): number {
    return this.#queue.size;
  }

  async start(): Promise<void> {
    for (const r of readJournal<QueueRecord>(this.#journal.path).records) {
      if ('put' in r) this.#queue.set(r.put.id, r.put.n);
      else this.#queue.delete(r.del);
    }
    this.#seq = Math.max(0, ...this.#queue.keys());
    await this.#journal.compact([...this.#queue].map(([id, n]) => ({ put: { id, n } })));
    const address = await this.#server.start();
    this.#options.logger.info({ port: address.port, pending: this.#queue.size }, 'peer link listening');
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#sending;
    await this.#server.stop();
    await this.#journal.close();
  }

  /** A follower's notification for the leader; kept on disk until the leader has it. */
  async forward(notifications: readonly Notification[]): Promise<void> {
    if (notifications.length === 0) return;
    const records = notifications.map((n) => ({ put: { id: ++this.#seq, n } }));
    await this.#journal.append(records);
    for (const r of records) this.#queue.set(r.put.id, r.put.n);
    this.#schedule(0);
  }

  /** Take the critical notifications out of the queue (to post them ourselves: nobody leads). */
  async takeCritical(): Promise<Notification[]> {
    const critical = [...this.#queue].filter(([, n]) => n.severity === 'critical');
    if (critical.length === 0) return [];
    await this.#journal.append(critical.map(([id]) => ({ del: id })));
    for (const [id] of critical) this.#queue.delete(id);
    return critical.map(([, n]) => n);
  }

  /** Push the pair's delivery record to the follower (the leader's side of DeliveryReplica). */
  async pushLedger(push: LedgerPush): Promise<LedgerAnswer> {
    return this.#client.request<LedgerAnswer>('POST', '/v1/ledger', push, { timeoutMs: LEDGER_TIMEOUT_MS });
  }

  /** Tell the follower the lease was released (a planned stop), so it takes over without waiting. */
  async tellReleased(): Promise<void> {
    try {
      await this.#client.request('POST', '/v1/released', {}, { timeoutMs: LEDGER_TIMEOUT_MS });
    } catch (err) {
      this.#options.logger.debug({ err }, 'could not tell the peer the lease is free');
    }
  }

  /** Deliver the queue now (this instance just became the leader: it goes into its own notifier). */
  flushNow(): void {
    this.#failures = 0;
    this.#schedule(0);
  }

  /** Hand deliveries this instance accepted while it led, but did not send, to the leader. */
  async handOver(entries: readonly OutboxEntry[]): Promise<void> {
    await this.#client.request('POST', '/v1/deliveries', { entries });
  }

  /** The peer's DRBD view for /status, or undefined when it does not answer. */
  async peerState(): Promise<HostState | undefined> {
    try {
      const answer = await this.#client.request<{ state: HostState | null }>('GET', '/v1/state');
      return answer.state ?? undefined;
    } catch (err) {
      this.#options.logger.debug({ err }, 'peer state unavailable');
      return undefined;
    }
  }

  /** Whether the peer's event stream is up, or undefined when it does not answer. */
  async peerStream(): Promise<PeerStream | undefined> {
    try {
      const answer = await this.#client.request<{ stream?: PeerStream | null }>('GET', '/v1/state');
      return answer.stream ?? undefined;
    } catch (err) {
      this.#options.logger.debug({ err }, 'peer stream unavailable');
      return undefined;
    }
  }

  /** The peer's containers, or why it could not say. */
  async peerContainers(): Promise<ContainersView | { readonly unreachable: string }> {
    try {
      return await this.#client.request<ContainersView>('GET', '/v1/containers', undefined, {
        timeoutMs: 30_000,
      });
    } catch (err) {
      return { unreachable: (err as Error).message };
    }
  }

  /** The peer's readiness to take a resource, or why it could not say. */
  async peerPreflight(
    resource: string,
  ): Promise<readonly PreflightCheck[] | { readonly unreachable: string }> {
    try {
      return (await this.#client.request<{ checks: PreflightCheck[] }>('POST', '/v1/preflight', { resource }))
        .checks;
    } catch (err) {
      return { unreachable: (err as Error).message };
    }
  }

  /** Ask the peer to reconcile its engine with its live DRBD state (the scheduled reconciliation). */
  async askReconcile(token: number): Promise<void> {
    try {
      await this.#client.request('POST', '/v1/reconcile', {}, { token, timeoutMs: 60_000 });
    } catch (err) {
      this.#options.logger.warn({ err }, 'the peer could not reconcile');
    }
  }

  /** Copy a change request to the peer (fenced: only the current leader's copies are kept). */
  async replicateOperation(op: Operation): Promise<void> {
    await this.#client.request('POST', '/v1/operations', { operation: op }, { token: op.token });
  }

  /** Tell the peer a scheduled slot is done. */
  async tellJobDone(job: string, slot: string): Promise<void> {
    await this.#client.request('POST', '/v1/jobs', { job, slot });
  }

  /** Run a plan step on the peer, fenced by this leader's token. */
  async runStep(action: StepAction, token: number, timeoutMs: number): Promise<StepRun[]> {
    const answer = await this.#client.request<{ runs: StepRun[]; failed?: string }>(
      'POST',
      '/v1/steps',
      { token, action },
      { token, timeoutMs },
    );
    if (answer.failed !== undefined) throw new StepFailed(answer.failed, answer.runs ?? []);
    return answer.runs;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#sending ??= this.#flush().finally(() => {
        this.#sending = undefined;
      });
    }, delayMs);
  }

  async #flush(): Promise<void> {
    if (this.#queue.size === 0) return;
    const batch = [...this.#queue].slice(0, 200);
    try {
      if (this.#options.leading()) {
        // We lead now: what we had not forwarded is ours to post.
        await this.#options.ingest(batch.map(([, n]) => n));
      } else {
        await this.#client.request('POST', '/v1/notifications', { notifications: batch.map(([, n]) => n) });
      }
      await this.#journal.append(batch.map(([id]) => ({ del: id })));
      for (const [id] of batch) this.#queue.delete(id);
      this.#failures = 0;
      this.#schedule(0);
    } catch (err) {
      this.#failures += 1;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(this.#failures, 6));
      this.#options.logger.warn(
        { err, pending: this.#queue.size, retryInMs: delay },
        'forwarding to the leader failed',
      );
      this.#schedule(delay);
    }
  }
}
