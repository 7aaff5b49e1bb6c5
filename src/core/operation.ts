// A changing command's life: its plan (steps as data, so it can be stored, shown, checked again
// and audited), the confirmation and approvals it waits for, and how it ends. Pure: `decide`
// takes a click and answers the new operation and whether it may run now; the app layer persists
// every transition before acting on it, which is what makes a double click run nothing twice.

import type { StepRun } from '../ports/step-run.js';
import type { Message, MessageAction, MessageField, Tone } from './message-tones.js';
import {
  type Actor,
  type CommandPolicy,
  describeActor,
  type Member,
  mayApprove,
  memberOf,
  samePerson,
} from './policy.js';
import { formatDuration } from './rules.js';
import { formatTime, MESSAGE_TIME_ZONE } from './text-format.js';

/** One thing a step does, as data. Run by the app's step runner on the step's host. */
export type StepAction =
  | {
      readonly kind: 'container-stop';
      readonly resource: string;
      readonly container: string;
      readonly timeoutS: number;
    }
  | { readonly kind: 'container-start'; readonly resource: string; readonly container: string }
  | {
      readonly kind: 'container-set-addresses';
      readonly resource: string;
      readonly container: string;
      readonly device: string;
      readonly ipv4: readonly string[];
      readonly ipv6: readonly string[];
    }
  | {
      /** Wait until the container is Running with exactly these addresses up. */
      readonly kind: 'container-verify';
      readonly resource: string;
      readonly container: string;
      readonly ipv4: readonly string[];
      readonly ipv6: readonly string[];
      readonly timeoutMs: number;
    }
  // A failover's steps. Containers are stopped and started in parallel, one step for all of them.
  | {
      readonly kind: 'containers-stop';
      readonly resource: string;
      readonly containers: readonly string[];
      readonly timeoutS: number;
    }
  | { readonly kind: 'containers-start'; readonly resource: string; readonly containers: readonly string[] }
  | {
      /** Wait until each is Running with its addresses up. */
      readonly kind: 'containers-verify-all';
      readonly resource: string;
      readonly expect: readonly {
        readonly name: string;
        readonly ipv4: readonly string[];
        readonly ipv6: readonly string[];
      }[];
      readonly timeoutMs: number;
    }
  | {
      readonly kind: 'lxd-stop' | 'lxd-start' | 'mount' | 'umount' | 'holders-check';
      readonly resource: string;
    }
  | { readonly kind: 'drbd-role'; readonly resource: string; readonly role: 'primary' | 'secondary' }
  | { readonly kind: 'drbd-disconnect'; readonly resource: string }
  | { readonly kind: 'drbd-connect'; readonly resource: string; readonly discardMyData: boolean }
  /** Wait until this host's DRBD view shows the resource Connected and UpToDate on both sides. */
  | { readonly kind: 'drbd-wait-synced'; readonly resource: string; readonly timeoutMs: number }
  /** Take (or give back) the resource's fence lock in the lock store for `holder`. */
  | { readonly kind: 'fence-acquire' | 'fence-release'; readonly resource: string; readonly holder: string }
  /** List the resource's containers (after LXD started them by itself). */
  | { readonly kind: 'containers-list'; readonly resource: string };

export interface PlanStep {
  readonly id: string;
  /** The host it runs on (the leader reaches the other one over the peer link). */
  readonly host: string;
  readonly label: string;
  readonly action: StepAction;
  /** Run, in order, to take this step back when a later one fails. */
  readonly undo?: readonly StepAction[];
}

export interface Plan {
  /** The command line that asked for it, canonical: "ip-set web1 198.51.100.7". */
  readonly command: string;
  /** The command's name, for the policy and the audit log. */
  readonly name: string;
  readonly title: string;
  readonly resource: string | null;
  readonly summary: string;
  readonly fields: readonly MessageField[];
  /**
   * What the plan relies on ("web1 status" → "Running"). Checked again just before running: if any
   * differs, nothing runs.
   */
  readonly facts: Readonly<Record<string, string>>;
  readonly steps: readonly PlanStep[];
  /**
   * The requester confirms by typing `confirm <id> <this>` (a forced failover: the resource name),
   * not with a button: a click is too easy for what cannot be undone.
   */
  readonly typedConfirmation?: string;
  /** Service downtime runs from the start of one step to the end of another (a failover's). */
  readonly downtime?: { readonly from: string; readonly to: string };
}

export const OPEN_STATES = ['awaiting-confirmation', 'awaiting-approval'] as const;
export const OPERATION_STATES = [
  ...OPEN_STATES,
  'running',
  'succeeded',
  'rolled-back',
  'failed',
  'cancelled',
  'expired',
  'aborted',
  'interrupted',
] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

export interface StepRecord {
  readonly id: string;
  readonly label: string;
  readonly host: string;
  readonly status: 'running' | 'done' | 'failed';
  readonly startedAt: number;
  readonly durationMs?: number;
  readonly runs: readonly StepRun[];
  readonly error?: string;
}

export interface Signed {
  readonly actor: Actor;
  readonly at: number;
}

export interface Operation {
  readonly id: string;
  readonly plan: Plan;
  /** The validated arguments, to plan again just before running. */
  readonly args: Readonly<Record<string, string>>;
  readonly requester: Actor;
  readonly requestedAt: number;
  readonly expiresAt: number;
  /** The leader's fencing token when it was requested: a new leader does not run old requests. */
  readonly token: number;
  readonly policy: CommandPolicy;
  /** Where the plan message is, so every step can edit it. */
  readonly channel: { readonly platform: Actor['platform']; readonly channelId: string };
  readonly messageId: string | null;
  readonly state: OperationState;
  readonly confirmedBy?: Signed;
  readonly approvals: readonly Signed[];
  readonly closedBy?: Signed;
  /** Why it ended the way it did (expired, aborted, failed …). */
  readonly reason?: string;
  readonly steps: readonly StepRecord[];
  /** Steps taken back after a failure. */
  readonly rollback: readonly StepRecord[];
  readonly finishedAt?: number;
}

export type Decision = 'confirm' | 'approve' | 'cancel';

export interface DecisionContext {
  readonly now: number;
  /** The current leader's fencing token. */
  readonly token: number;
  readonly team: readonly Member[];
  readonly onCallNow: readonly Member[];
  /** What the requester typed after `confirm <id>`. */
  readonly typed?: string;
}

export interface DecisionResult {
  readonly operation: Operation;
  /** True exactly once per operation: the transition into `running`. */
  readonly run: boolean;
  /** What the person who clicked is told. */
  readonly answer: string;
  readonly tone: Tone;
  /** False when nothing changed (no need to store or re-render). */
  readonly changed: boolean;
}

export function isOpen(state: OperationState): boolean {
  return (OPEN_STATES as readonly string[]).includes(state);
}

function nameOf(actor: Actor, team: readonly Member[]): string {
  return memberOf(actor, team)?.name ?? actor.userName;
}

const FINISHED: Partial<Record<OperationState, string>> = {
  succeeded: 'has already run',
  'rolled-back': 'has already run (and failed and was rolled back)',
  failed: 'has already run and failed',
  cancelled: 'was cancelled',
  expired: 'has expired',
  aborted: 'was stopped before it ran',
  interrupted: 'was interrupted',
};

/** Close an open request as expired when its time or its leader is gone; otherwise unchanged. */
export function expireIfDue(op: Operation, now: number, token: number): Operation {
  if (!isOpen(op.state)) return op;
  if (token !== op.token) {
    return {
      ...op,
      state: 'expired',
      finishedAt: now,
      reason: `the bot's leadership changed since it was requested (token ${op.token} → ${token}); issue the command again`,
    };
  }
  if (now >= op.expiresAt) {
    return {
      ...op,
      state: 'expired',
      finishedAt: now,
      reason: `nobody finished it within ${formatDuration(op.policy.expireAfterMs)}; issue the command again`,
    };
  }
  return op;
}

export function decide(
  op: Operation,
  decision: Decision,
  actor: Actor,
  context: DecisionContext,
): DecisionResult {
  const name = nameOf(actor, context.team);
  const unchanged = (answer: string, tone: Tone = 'warning'): DecisionResult => ({
    operation: op,
    run: false,
    answer,
    tone,
    changed: false,
  });
  if (op.state === 'running')
    return unchanged(`Request ${op.id} is already running; nothing was started twice.`, 'info');
  const finished = FINISHED[op.state];
  if (finished !== undefined) {
    return unchanged(
      `Request ${op.id} ${finished}; nothing was run.${op.reason === undefined ? '' : ` (${op.reason})`}`,
    );
  }
  const expired = expireIfDue(op, context.now, context.token);
  if (expired !== op) {
    return {
      operation: expired,
      run: false,
      answer: `Request ${op.id} expired: ${expired.reason ?? ''}. Nothing was run.`,
      tone: 'warning',
      changed: true,
    };
  }
  const signed: Signed = { actor, at: context.now };
  const command = op.plan.name;
  if (decision === 'cancel') {
    const allowed =
      samePerson(actor, op.requester, context.team) ||
      mayApprove(
        { ...op.policy, approverDiffers: false, approverOnCall: false },
        command,
        actor,
        op.requester,
        [],
        context,
      ).ok;
    if (!allowed)
      return unchanged(`${name} may not cancel request ${op.id}; the requester or an approver can.`);
    return {
      operation: {
        ...op,
        state: 'cancelled',
        closedBy: signed,
        finishedAt: context.now,
        reason: `cancelled by ${name}`,
      },
      run: false,
      answer: `Request ${op.id} cancelled; nothing was run.`,
      tone: 'info',
      changed: true,
    };
  }
  if (decision === 'confirm') {
    if (!samePerson(actor, op.requester, context.team)) {
      return unchanged(
        `Only ${nameOf(op.requester, context.team)}, who asked for it, can confirm request ${op.id}.`,
      );
    }
    if (op.state !== 'awaiting-confirmation')
      return unchanged(`Request ${op.id} is already confirmed.`, 'info');
    const wanted = op.plan.typedConfirmation;
    if (wanted !== undefined && context.typed !== wanted) {
      return unchanged(
        `This cannot be confirmed with a click: type \`confirm ${op.id} ${wanted}\` to confirm it.`,
      );
    }
    if (op.policy.approvals > 0) {
      return {
        operation: { ...op, state: 'awaiting-approval', confirmedBy: signed },
        run: false,
        answer: `Confirmed. Request ${op.id} now needs ${approvalsWanted(op.policy.approvals)}.`,
        tone: 'info',
        changed: true,
      };
    }
    return {
      operation: { ...op, state: 'running', confirmedBy: signed },
      run: true,
      answer: `Confirmed; running request ${op.id}.`,
      tone: 'info',
      changed: true,
    };
  }
  // approve
  if (op.state === 'awaiting-confirmation') {
    return unchanged(
      `${nameOf(op.requester, context.team)} must confirm request ${op.id} before it can be approved.`,
    );
  }
  const verdict = mayApprove(
    op.policy,
    command,
    actor,
    op.requester,
    op.approvals.map((a) => a.actor),
    context,
  );
  if (!verdict.ok) return unchanged(verdict.reason);
  const approvals = [...op.approvals, signed];
  if (approvals.length < op.policy.approvals) {
    return {
      operation: { ...op, approvals },
      run: false,
      answer: `Approved by ${name}; request ${op.id} needs ${approvalsWanted(op.policy.approvals - approvals.length)} more.`,
      tone: 'info',
      changed: true,
    };
  }
  return {
    operation: { ...op, approvals, state: 'running' },
    run: true,
    answer: `Approved by ${name}; running request ${op.id}.`,
    tone: 'info',
    changed: true,
  };
}

function approvalsWanted(n: number): string {
  return n === 1 ? 'one approval' : `${n} approvals`;
}

const STATE_TITLES: Record<OperationState, string> = {
  'awaiting-confirmation': 'waiting for confirmation',
  'awaiting-approval': 'waiting for approval',
  running: 'running',
  succeeded: 'done',
  'rolled-back': 'failed, rolled back',
  failed: 'FAILED',
  cancelled: 'cancelled',
  expired: 'expired',
  aborted: 'not run',
  interrupted: 'interrupted',
};

const STATE_TONES: Record<OperationState, Tone> = {
  'awaiting-confirmation': 'info',
  'awaiting-approval': 'info',
  running: 'info',
  succeeded: 'ok',
  'rolled-back': 'warning',
  failed: 'critical',
  cancelled: 'info',
  expired: 'warning',
  aborted: 'warning',
  interrupted: 'critical',
};

function stepLine(record: StepRecord | undefined, step: { label: string; host: string }): string {
  if (record === undefined) return `◻️ ${step.label} (${step.host})`;
  const took = record.durationMs === undefined ? '' : ` — ${formatMs(record.durationMs)}`;
  if (record.status === 'running') return `⏳ ${step.label} (${step.host})`;
  if (record.status === 'done') return `✅ ${step.label} (${step.host})${took}`;
  return `❌ ${step.label} (${step.host})${took}: ${record.error ?? 'failed'}`;
}

export function formatMs(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/**
 * The plan message: the same message is edited as the request moves on. `zone`: the zone its times
 * are shown in (default MESSAGE_TIME_ZONE), named beside them.
 */
export function operationMessage(
  op: Operation,
  team: readonly Member[],
  options: { readonly zone?: string } = {},
): Message {
  const plan = op.plan;
  const byId = new Map(op.steps.map((s) => [s.id, s]));
  const lines = plan.steps.map((step) => stepLine(byId.get(step.id), step));
  const fields: MessageField[] = [...plan.fields, { label: 'Steps', value: lines.join('\n') }];
  if (op.rollback.length > 0) {
    fields.push({ label: 'Rollback', value: op.rollback.map((r) => stepLine(r, r)).join('\n') });
  }
  const failed = op.steps.find((s) => s.status === 'failed');
  const output = failed?.runs.at(-1);
  // A command's own words; a lock that could not be taken is explained by the step's error.
  if (
    output !== undefined &&
    'argv' in output &&
    (output.stderr.trim() !== '' || output.stdout.trim() !== '')
  ) {
    fields.push({
      label: `Output of ${output.argv.join(' ')} (exit ${output.exitCode})`,
      value: `\`${(output.stderr.trim() || output.stdout.trim()).slice(-1_500)}\``,
    });
  }
  // The person and the account used: four eyes are checked per person, so the message shows both.
  const people = [`requested by ${describeActor(op.requester, team)}`];
  if (op.confirmedBy !== undefined) people.push('confirmed');
  if (op.approvals.length > 0)
    people.push(`approved by ${op.approvals.map((a) => describeActor(a.actor, team)).join(', ')}`);
  if (op.closedBy !== undefined && op.state === 'cancelled')
    people.push(`cancelled by ${describeActor(op.closedBy.actor, team)}`);
  fields.push({
    label: 'Request',
    value: `${op.id} · ${people.join(' · ')} · token ${op.token}`,
    short: true,
  });
  if (isOpen(op.state)) {
    fields.push({
      label: 'Expires',
      value: formatTime(op.expiresAt, options.zone ?? MESSAGE_TIME_ZONE, { sameDayAs: op.requestedAt }),
      short: true,
    });
  }
  const from = plan.downtime === undefined ? undefined : byId.get(plan.downtime.from);
  const to = plan.downtime === undefined ? undefined : byId.get(plan.downtime.to);
  if (from !== undefined && to?.status === 'done' && to.durationMs !== undefined) {
    fields.push({
      label: 'Service downtime',
      value: `${formatMs(to.startedAt + to.durationMs - from.startedAt)} (first container stopped → last one running)`,
      short: true,
    });
  }
  const actions: MessageAction[] = [];
  if (op.state === 'awaiting-confirmation') {
    if (plan.typedConfirmation === undefined) {
      actions.push({ id: 'confirm', label: 'Confirm', command: `confirm ${op.id}`, style: 'primary' });
    } else {
      fields.push({ label: 'To confirm', value: `type \`confirm ${op.id} ${plan.typedConfirmation}\`` });
    }
  }
  if (op.state === 'awaiting-approval') {
    actions.push({ id: 'approve', label: 'Approve', command: `approve ${op.id}`, style: 'primary' });
  }
  if (isOpen(op.state))
    actions.push({ id: 'cancel', label: 'Cancel', command: `cancel ${op.id}`, style: 'danger' });
  const total =
    op.finishedAt !== undefined && op.steps[0] !== undefined
      ? ` in ${formatMs(op.finishedAt - op.steps[0].startedAt)}`
      : '';
  return {
    title: `${plan.title}: ${STATE_TITLES[op.state]}${op.state === 'succeeded' ? total : ''}`,
    tone: STATE_TONES[op.state],
    resource: plan.resource,
    body: [plan.summary, op.reason === undefined ? '' : emphasiseFirstLine(op.reason)]
      .filter((s) => s !== '')
      .join('\n'),
    fields,
    ...(actions.length > 0 ? { actions } : {}),
  };
}

/**
 * Bold works within one line on every platform: a reason that carries a checklist (a plan blocked
 * when checked again) has its first line bold and the list as it is.
 */
function emphasiseFirstLine(text: string): string {
  const [first = '', ...rest] = text.split('\n');
  return [first.trim() === '' ? '' : `*${first.trim()}*`, ...rest].filter((l) => l !== '').join('\n');
}

/**
 * What the requester is told once the plan is posted: the next step as it really is. A plan
 * confirmed by typing has no Confirm button, so it names the words to type instead.
 */
export function requestAnswer(op: Operation): string {
  const typed = op.plan.typedConfirmation;
  const next =
    op.state !== 'awaiting-confirmation'
      ? `It needs ${approvalsWanted(op.policy.approvals)}`
      : typed === undefined
        ? 'Check it and press Confirm'
        : `Check it, then type \`confirm ${op.id} ${typed}\` to confirm (there is no button for this one)`;
  return `Plan ${op.id} posted. ${next}; nothing runs before that.`;
}

/** Which facts differ between the plan and a fresh look, as "fact: was X, now Y". */
export function changedFacts(
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k}: was ${before[k] ?? '(nothing)'}, now ${after[k] ?? '(nothing)'}`);
}
