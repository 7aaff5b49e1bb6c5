// Changing commands, wired: a request posts its plan with Confirm / Cancel; clicks go through the
// pure `decide` (src/core/operation.ts); every transition is stored (fsynced) and audited before
// the bot acts on it, so a double click or two approvers at once run nothing twice; just before
// running, the command plans again and nothing runs if the world changed; each step edits the plan
// message; a failed step takes the completed ones back.

import { randomBytes } from 'node:crypto';
import type { AuditLog, AuditRecord } from '../adapters/audit-log.js';
import type { OperationStore } from '../adapters/operation-store.js';
import { sleep } from '../adapters/sleep.js';
import type { Message } from '../core/message-tones.js';
import {
  changedFacts,
  type Decision,
  decide,
  expireIfDue,
  isOpen,
  type Operation,
  operationMessage,
  type PlanStep,
  requestAnswer,
  type StepRecord,
} from '../core/operation.js';
import {
  type Actor,
  BASE_POLICY,
  type CommandPolicy,
  type Member,
  mayRequest,
  memberOf,
} from '../core/policy.js';
import type { ChatPlatform, CommandReply, IncomingCommand, PlatformName } from '../ports/chat.js';
import type { StepRun } from '../ports/step-run.js';
import {
  type ChangeCommand,
  type CommandContext,
  type CommandDefinition,
  CommandError,
  canonicalCommand,
  type OperationsPort,
  type PlanContext,
  validateArgs,
} from './command-registry.js';
import type { PolicyConfig } from './config.js';
import type { Logger } from './log.js';
import { StepFailed } from './steps.js';

export interface OperationsOptions {
  readonly host: string;
  readonly store: OperationStore;
  readonly audit: AuditLog;
  readonly commands: readonly CommandDefinition[];
  readonly policies: Readonly<Record<string, PolicyConfig>>;
  /** The started chat platform a plan message lives on. */
  readonly chat: (platform: PlatformName) => ChatPlatform | undefined;
  /** Run a step on its host (this one, or the peer with the token). */
  readonly runStep: (step: PlanStep['action'], host: string, token: number) => Promise<StepRun[]>;
  /** The leader's current fencing token (0 when this instance acts alone). */
  readonly token: () => number;
  readonly roster: () => { readonly team: readonly Member[]; readonly onCallNow: readonly Member[] };
  readonly context: () => CommandContext;
  readonly planContext: Omit<PlanContext, 'command'>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Copy each stored transition to the other instance (best effort). */
  readonly replicate?: (op: Operation) => Promise<void>;
  /** Called with each finished operation's outcome (metrics). */
  readonly onOutcome?: (command: string, outcome: string) => void;
}

/** The policy names a command answers to: its own, and its variants' (failover-force). */
export function policyNames(definition: ChangeCommand): string[] {
  return [definition.name, ...Object.keys(definition.variants ?? {})];
}

/** Resolve a command's (or variant's) policy: the command's own defaults, then the configuration. */
export function resolvePolicy(
  definition: ChangeCommand,
  configured: PolicyConfig | undefined,
  variant: string = definition.name,
): CommandPolicy {
  const merged = { ...BASE_POLICY, ...definition.policy, ...(definition.variants?.[variant] ?? {}) };
  for (const [key, value] of Object.entries(configured ?? {})) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  if (!merged.confirm && merged.approvals === 0) {
    throw new Error(
      `policies.${variant}: with confirm: false it needs at least one approval (nothing would stand between a typo and the change)`,
    );
  }
  return merged;
}

const actorOf = (c: IncomingCommand): Actor => ({
  platform: c.platform,
  userId: c.userId,
  userName: c.userName,
  roles: c.roles,
});

export class Operations implements OperationsPort {
  readonly #o: OperationsOptions;
  readonly #now: () => number;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #running = new Set<Promise<void>>();

  constructor(options: OperationsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const changing = options.commands.filter((c): c is ChangeCommand => c.kind === 'change');
    const known = changing.flatMap(policyNames);
    for (const name of Object.keys(options.policies)) {
      if (!known.includes(name)) {
        throw new Error(
          `policies.${name}: no such changing command (changing commands: ${known.join(', ')})`,
        );
      }
    }
    // Fail at start, not at 3 a.m., when a policy cannot work.
    for (const c of changing)
      for (const name of policyNames(c)) resolvePolicy(c, options.policies[name], name);
  }

  /**
   * Store a transition, and copy it to the other instance of the pair: if this one dies in the
   * middle of a change, the next leader finds it and reports it as interrupted.
   */
  async #put(op: Operation): Promise<void> {
    await this.#o.store.put(op);
    this.#o
      .replicate?.(op)
      .catch((err: Error) =>
        this.#o.logger.debug({ err, operation: op.id }, 'could not copy the request to the peer'),
      );
  }

  /** A copy of the leader's request (this instance is the follower). */
  async adopt(op: Operation): Promise<void> {
    await this.#serial(() => this.#o.store.put(op));
  }

  /** Load the stored requests (call once, before anything else). */
  async open(): Promise<void> {
    const { damaged, quarantined } = await this.#o.store.open();
    if (damaged > 0) this.#o.logger.warn({ damaged }, 'operation store: unreadable lines skipped');
    if (quarantined > 0) {
      this.#o.logger.warn(
        { quarantined, file: `${this.#o.store.path}.quarantine` },
        'operation store: incomplete records moved to the quarantine file; start-up goes on without them',
      );
    }
  }

  list(): readonly Operation[] {
    return this.#o.store.all();
  }

  /** Serialise every transition: decisions read, decide and store one at a time. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async request(
    definition: ChangeCommand,
    raw: Record<string, string>,
    command: IncomingCommand,
  ): Promise<CommandReply> {
    const actor = actorOf(command);
    const { team, onCallNow } = this.#o.roster();
    const args = validateArgs(definition, raw);
    const variant = definition.policyName?.(args) ?? definition.name;
    const policy = resolvePolicy(definition, this.#o.policies[variant], variant);
    const text = canonicalCommand(definition, raw);
    const verdict = mayRequest(policy, variant, actor, { team, onCallNow });
    if (!verdict.ok) {
      await this.#audit({ event: 'refused', operation: null, command: text, actor, reason: verdict.reason });
      throw new CommandError(verdict.reason);
    }
    const world = await definition.observe(args, this.#o.context());
    const plan = definition.plan(args, world, { ...this.#o.planContext, command: text });
    const now = this.#now();
    const platform = this.#o.chat(command.platform);
    if (platform === undefined)
      throw new Error(`no started ${command.platform} platform to post the plan on`);
    const op: Operation = {
      id: randomBytes(4).toString('hex'),
      plan,
      args: raw,
      requester: actor,
      requestedAt: now,
      expiresAt: now + policy.expireAfterMs,
      token: this.#o.token(),
      policy,
      channel: { platform: command.platform, channelId: command.channelId },
      messageId: null,
      state: policy.confirm ? 'awaiting-confirmation' : 'awaiting-approval',
      approvals: [],
      steps: [],
      rollback: [],
    };
    await this.#put(op);
    await this.#audit({ event: 'requested', operation: op.id, command: text, actor, token: op.token, plan });
    let posted: { messageId: string };
    try {
      posted = await platform.post(command.channelId, operationMessage(op, team), {
        idempotencyKey: `operation:${op.id}`,
      });
    } catch (err) {
      const reason = `the plan could not be posted: ${(err as Error).message}`;
      await this.#serial(async () => {
        const current = this.#o.store.get(op.id) ?? op;
        await this.#put({ ...current, state: 'aborted', finishedAt: this.#now(), reason });
      });
      await this.#audit({ event: 'aborted', operation: op.id, command: text, reason });
      throw new CommandError(
        `Could not post the plan in this channel (${(err as Error).message}); nothing will run.`,
      );
    }
    // A click may have arrived while the post was on its way (the button was already visible): keep
    // whatever state it reached and only add where the message is, then show that state on it.
    await this.#serial(async () => {
      const current = this.#o.store.get(op.id) ?? op;
      const located = { ...current, messageId: posted.messageId };
      await this.#put(located);
      if (located.state !== op.state || located.steps.length > 0) await this.#render(located);
    });
    return { message: { title: requestAnswer(op), tone: 'info' }, private: true };
  }

  decide(id: string, decision: Decision, command: IncomingCommand, typed?: string): Promise<CommandReply> {
    return this.#serial(async () => {
      const op = this.#o.store.get(id);
      if (op === undefined) {
        throw new CommandError(
          `No request ${id} here. Requests stay with the bot instance that took them: if leadership moved to the other host since, it expired with it; issue the command again.`,
        );
      }
      const actor = actorOf(command);
      const { team, onCallNow } = this.#o.roster();
      const result = decide(op, decision, actor, {
        now: this.#now(),
        token: this.#o.token(),
        team,
        onCallNow,
        ...(typed === undefined ? {} : { typed }),
      });
      if (result.changed) {
        const next = result.operation;
        await this.#put(next);
        const event =
          next.state === 'expired'
            ? 'expired'
            : next.state === 'cancelled'
              ? 'cancelled'
              : decision === 'confirm'
                ? 'confirmed'
                : 'approved';
        await this.#audit({
          event,
          operation: id,
          command: op.plan.command,
          actor,
          token: this.#o.token(),
          ...(next.reason === undefined ? {} : { reason: next.reason }),
        });
        await this.#render(next);
        if (!isOpen(next.state) && next.state !== 'running') this.#o.onOutcome?.(op.plan.name, next.state);
      } else {
        // Refusals and repeated clicks are recorded too: who tried what is part of the story.
        await this.#audit({
          event: 'refused',
          operation: id,
          command: op.plan.command,
          actor,
          reason: result.answer,
        });
      }
      if (result.run) this.#track(this.#execute(result.operation));
      // Nothing changed and a warning: the click was refused (a benign repeat is only info).
      const outcome = !result.changed && result.tone === 'warning' ? 'refused' : 'ok';
      return { message: { title: result.answer, tone: result.tone }, private: true, outcome };
    });
  }

  #track(run: Promise<void>): void {
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  /** Plan again against the live state, then run the steps; on failure take back the done ones. */
  async #execute(start: Operation): Promise<void> {
    let op = start;
    // Saved through the same queue as clicks and the request's own bookkeeping, so no write is lost.
    const save = (next: Operation) =>
      this.#serial(async () => {
        // The plan message may have been located after the run began (a fast click on a slow post).
        op = { ...next, messageId: next.messageId ?? this.#o.store.get(next.id)?.messageId ?? null };
        await this.#put(op);
        await this.#render(op);
      });
    const definition = this.#o.commands.find(
      (c): c is ChangeCommand => c.kind === 'change' && c.name === op.plan.name,
    );
    try {
      if (definition === undefined) throw new CommandError(`the command ${op.plan.name} no longer exists`);
      const args = validateArgs(definition, { ...op.args });
      const world = await definition.observe(args, this.#o.context());
      const fresh = definition.plan(args, world, { ...this.#o.planContext, command: op.plan.command });
      const changed = changedFacts(op.plan.facts, fresh.facts);
      if (changed.length > 0)
        throw new CommandError(`the situation changed since the plan (${changed.join('; ')})`);
    } catch (err) {
      const reason =
        err instanceof CommandError
          ? `Nothing was run: ${err.message.replace(/\.$/, '')}. Issue the command again to see a new plan.`
          : `Nothing was run: checking the plan again failed (${(err as Error).message}).`;
      await this.#audit({ event: 'aborted', operation: op.id, command: op.plan.command, reason });
      await save({ ...op, state: 'aborted', finishedAt: this.#now(), reason });
      this.#o.onOutcome?.(op.plan.name, 'aborted');
      return;
    }
    const done: PlanStep[] = [];
    let failure: { step: PlanStep; message: string } | undefined;
    for (const step of op.plan.steps) {
      const startedAt = this.#now();
      await save({
        ...op,
        steps: [
          ...op.steps,
          { id: step.id, label: step.label, host: step.host, status: 'running', startedAt, runs: [] },
        ],
      });
      const record = await this.#runRecorded(step.id, step.label, step.host, step.action, op);
      await this.#audit({
        event: 'step',
        operation: op.id,
        command: op.plan.command,
        token: op.token,
        step: auditStep(record),
      });
      await save({ ...op, steps: [...op.steps.slice(0, -1), record] });
      if (record.status !== 'done') {
        failure = { step, message: record.error ?? 'failed' };
        break;
      }
      done.push(step);
    }
    if (failure === undefined) {
      await this.#audit({
        event: 'finished',
        operation: op.id,
        command: op.plan.command,
        outcome: 'succeeded',
      });
      await save({ ...op, state: 'succeeded', finishedAt: this.#now() });
      this.#o.onOutcome?.(op.plan.name, 'succeeded');
      return;
    }
    // Take back what was done, newest first.
    let rollbackFailed: string | undefined;
    for (const step of [...done].reverse()) {
      for (const [i, action] of (step.undo ?? []).entries()) {
        const label = `Undo: ${step.label}${(step.undo?.length ?? 0) > 1 ? ` (${i + 1})` : ''}`;
        const record = await this.#runRecorded(`${step.id}-undo-${i}`, label, step.host, action, op);
        await this.#audit({
          event: 'rollback-step',
          operation: op.id,
          command: op.plan.command,
          token: op.token,
          step: auditStep(record),
        });
        await save({ ...op, rollback: [...op.rollback, record] });
        if (record.status !== 'done') rollbackFailed ??= `${label}: ${record.error ?? 'failed'}`;
      }
    }
    const state = rollbackFailed === undefined ? 'rolled-back' : 'failed';
    const reason =
      rollbackFailed === undefined
        ? `${failure.step.label} failed: ${failure.message}. Everything done before it was taken back.`
        : `${failure.step.label} failed: ${failure.message}. Taking it back failed too (${rollbackFailed}): check by hand.`;
    await this.#audit({
      event: 'finished',
      operation: op.id,
      command: op.plan.command,
      outcome: state,
      reason,
    });
    await save({ ...op, state, finishedAt: this.#now(), reason });
    this.#o.onOutcome?.(op.plan.name, state);
  }

  async #runRecorded(
    id: string,
    label: string,
    host: string,
    action: PlanStep['action'],
    op: Operation,
  ): Promise<StepRecord> {
    const startedAt = this.#now();
    const t0 = performance.now();
    try {
      const runs = await this.#o.runStep(action, host, op.token);
      return { id, label, host, status: 'done', startedAt, durationMs: performance.now() - t0, runs };
    } catch (err) {
      const runs = err instanceof StepFailed ? err.runs : [];
      return {
        id,
        label,
        host,
        status: 'failed',
        startedAt,
        durationMs: performance.now() - t0,
        runs,
        error: (err as Error).message,
      };
    }
  }

  /**
   * At start: requests that were running when the process stopped are reported as interrupted (the
   * bot never continues one by itself); open ones stay open until they expire.
   */
  async recover(): Promise<void> {
    await this.#serial(async () => {
      for (const op of this.#o.store.all()) {
        if (op.state !== 'running') continue;
        // One request that cannot be reported must not keep the others (or the rest of start-up)
        // from running: log it and go on.
        try {
          await this.#recoverOne(op);
        } catch (err) {
          this.#o.logger.error({ err, operation: op.id }, 'could not report an interrupted request');
        }
      }
    });
  }

  async #recoverOne(op: Operation): Promise<void> {
    const done = op.steps.filter((s) => s.status === 'done').map((s) => s.label);
    const notDone = op.plan.steps.filter((s) => !op.steps.some((r) => r.id === s.id && r.status === 'done'));
    const reason = `The bot stopped while this was running. Done: ${done.join('; ') || 'nothing'}. Not done: ${notDone.map((s) => s.label).join('; ') || 'nothing'}. Check the live state (status, containers) before doing anything else; it will not continue by itself.`;
    const next: Operation = { ...op, state: 'interrupted', finishedAt: this.#now(), reason };
    await this.#put(next);
    await this.#audit({ event: 'interrupted', operation: op.id, command: op.plan.command, reason });
    await this.#render(next);
    await this.#announceInterrupted(next);
  }

  /** A new message under the interrupted one: what was done, what was not, and the live state now. */
  async #announceInterrupted(op: Operation): Promise<void> {
    const platform = this.#o.chat(op.channel.platform);
    if (platform === undefined) return;
    const status = this.#o.commands.find((c) => c.name === 'status');
    let live: Message | undefined;
    if (status?.kind === 'query') {
      try {
        live = await status.run(
          { resource: op.plan.resource ?? undefined },
          {
            platform: op.channel.platform,
            text: 'status',
            userId: 'drbd-chatops',
            userName: 'drbd-chatops',
            roles: [],
            channelId: op.channel.channelId,
            source: 'slash-command',
          },
          this.#o.context(),
        );
      } catch (err) {
        this.#o.logger.warn({ err }, 'could not read the live state for an interrupted request');
      }
    }
    try {
      await platform.post(
        op.channel.channelId,
        {
          title: `Interrupted: ${op.plan.title} (request ${op.id})`,
          tone: 'critical',
          ...(op.plan.resource === null ? {} : { resource: op.plan.resource }),
          body: `${op.reason ?? ''} Nothing will continue by itself: check, then issue the command again or finish by hand.`,
          fields: live?.fields ?? [],
        },
        { idempotencyKey: `operation:${op.id}:interrupted` },
      );
    } catch (err) {
      this.#o.logger.warn({ err, operation: op.id }, 'could not post the interruption');
    }
  }

  /** Close open requests whose time or leader is gone, and show it on their messages. */
  sweep(): Promise<number> {
    return this.#serial(async () => {
      let expired = 0;
      for (const op of this.#o.store.all()) {
        const next = expireIfDue(op, this.#now(), this.#o.token());
        if (next === op) continue;
        expired++;
        await this.#put(next);
        await this.#audit({
          event: 'expired',
          operation: op.id,
          command: op.plan.command,
          reason: next.reason ?? '',
        });
        await this.#render(next);
        this.#o.onOutcome?.(op.plan.name, 'expired');
      }
      return expired;
    });
  }

  /** Wait for running operations (on stop). */
  async idle(): Promise<void> {
    await this.#chain;
    await Promise.all(this.#running);
  }

  async #render(op: Operation): Promise<void> {
    if (op.messageId === null) return;
    const platform = this.#o.chat(op.channel.platform);
    if (platform === undefined) return;
    const message = operationMessage(op, this.#o.roster().team);
    for (let attempt = 1; ; attempt++) {
      try {
        await platform.update(op.channel.channelId, op.messageId, message);
        return;
      } catch (err) {
        // Progress edits are best effort; the final state is also in the store and the audit log.
        if (attempt >= 3) {
          this.#o.logger.warn({ err, operation: op.id }, 'could not update the plan message');
          return;
        }
        await sleep(250 * attempt);
      }
    }
  }

  async #audit(record: Omit<AuditRecord, 'at' | 'host' | 'actor'> & { actor?: Actor }): Promise<void> {
    const { actor, ...rest } = record;
    const member = actor === undefined ? undefined : memberOf(actor, this.#o.roster().team)?.name;
    await this.#o.audit.append({
      at: new Date(this.#now()).toISOString(),
      host: this.#o.host,
      ...rest,
      ...(actor === undefined
        ? {}
        : {
            actor: {
              platform: actor.platform,
              userId: actor.userId,
              userName: actor.userName,
              ...(member === undefined ? {} : { member }),
            },
          }),
    });
  }
}

function auditStep(record: StepRecord): NonNullable<AuditRecord['step']> {
  return {
    id: record.id,
    label: record.label,
    host: record.host,
    status: record.status,
    ...(record.durationMs === undefined ? {} : { durationMs: Math.round(record.durationMs) }),
    ...(record.error === undefined ? {} : { error: record.error }),
    // Commands without their output (it is in the step's message); lock calls as they are.
    runs: record.runs.map((r) =>
      'argv' in r
        ? {
            argv: r.argv,
            exitCode: r.exitCode,
            durationMs: r.durationMs,
            ...(r.timedOut === true ? { timedOut: true } : {}),
          }
        : r,
    ),
  };
}
