// The daily digest: the old emailer's "all is good" heartbeat, made useful. Every resource as each
// host sees it, the incidents of the last day with their durations, the changes run through the bot,
// and the health of the bot itself (outbox, leader, lock store). Pure: the app gathers the inputs.

import type { HostState, ResourceState } from './host-state.js';
import { INCIDENT_TITLES, type Incidents } from './incidents.js';
import type { Message, MessageField } from './message-tones.js';
import { isOpen, type Operation } from './operation.js';
import { formatDuration } from './rules.js';

export interface DigestInput {
  readonly now: number;
  /** The hosts that answered (the leader's own view, and its peer's). */
  readonly hosts: readonly HostState[];
  /** Hosts of the pair that did not answer. */
  readonly silent: readonly string[];
  readonly incidents: Incidents;
  readonly operations: readonly Operation[];
  readonly outbox: { readonly depth: number; readonly deadLetters: number };
  readonly leader: { readonly host: string | null; readonly token: number };
  /** null: the lock store answered; otherwise what went wrong. */
  readonly lockStoreProblem: string | null;
  readonly onCall: readonly string[];
}

const DAY_MS = 24 * 3_600_000;

function healthy(r: ResourceState): boolean {
  const disks = Object.values(r.devices).every((d) => d.fields.disk === 'UpToDate');
  const links = Object.values(r.connections).every(
    (c) =>
      c.fields.connection === 'Connected' &&
      Object.values(c.peerDevices).every((pd) => pd.fields.replication === 'Established'),
  );
  return disks && links;
}

function line(r: ResourceState): string {
  const disks = Object.values(r.devices).map((d) => d.fields.disk ?? 'unknown');
  const peers = Object.values(r.connections).map(
    (c) =>
      `${c.peer} ${c.fields.connection ?? 'unknown'}${Object.values(c.peerDevices)
        .map((pd) => `/${pd.fields.replication ?? 'unknown'}`)
        .join('')}`,
  );
  return `${healthy(r) ? '✅' : '⚠️'} ${r.fields.role ?? 'unknown'}, disk ${disks.join('/') || '—'}${peers.length === 0 ? '' : `, ${peers.join(', ')}`}`;
}

export function digestMessage(input: DigestInput): Message {
  const since = input.now - DAY_MS;
  const fields: MessageField[] = [];
  let problems = 0;
  for (const host of input.hosts) {
    for (const r of Object.values(host.resources).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!healthy(r)) problems++;
      fields.push({ label: `${r.name} on ${host.host}`, value: line(r), short: true });
    }
  }
  for (const host of input.silent) {
    problems++;
    fields.push({ label: host, value: '⚠️ did not answer over the peer link', short: true });
  }
  const incidents = Object.values(input.incidents)
    .filter((i) => i.resolvedAt === undefined || i.resolvedAt >= since)
    .sort((a, b) => a.openedAt - b.openedAt);
  const open = incidents.filter((i) => i.resolvedAt === undefined);
  problems += open.length;
  fields.push({
    label: 'Incidents, last 24 hours',
    value:
      incidents.length === 0
        ? 'none'
        : incidents
            .map((i) =>
              i.resolvedAt === undefined
                ? `🔴 ${i.resource} ${INCIDENT_TITLES[i.family]}: open for ${formatDuration(input.now - i.openedAt)}`
                : `${i.resource} ${INCIDENT_TITLES[i.family]}: ${formatDuration(i.resolvedAt - i.openedAt)}, ${i.changes} change${i.changes === 1 ? '' : 's'}`,
            )
            .join('\n'),
  });
  const ran = input.operations.filter(
    (o) =>
      !isOpen(o.state) &&
      o.state !== 'running' &&
      (o.finishedAt ?? o.requestedAt) >= since &&
      o.steps.length > 0,
  );
  fields.push({
    label: 'Changes run, last 24 hours',
    value:
      ran.length === 0
        ? 'none'
        : ran.map((o) => `${o.plan.title}: ${o.state} (${o.id}, by ${o.requester.userName})`).join('\n'),
  });
  const health = [
    `leader ${input.leader.host ?? 'none'} (token ${input.leader.token})`,
    input.lockStoreProblem === null ? 'lock store ok' : `lock store: ${input.lockStoreProblem}`,
    `outbox ${input.outbox.depth} waiting`,
    `${input.outbox.deadLetters} dead letter${input.outbox.deadLetters === 1 ? '' : 's'}`,
  ];
  if (input.lockStoreProblem !== null || input.outbox.deadLetters > 0) problems++;
  fields.push({ label: 'The bot', value: health.join(' · ') });
  if (input.onCall.length > 0) fields.push({ label: 'On call', value: input.onCall.join(', '), short: true });
  return {
    title:
      problems === 0
        ? 'Daily digest: all healthy'
        : `Daily digest: ${problems} thing${problems === 1 ? '' : 's'} to look at`,
    tone: problems === 0 ? 'ok' : open.some((i) => i.severity === 'critical') ? 'critical' : 'warning',
    at: new Date(input.now).toISOString(),
    fields,
  };
}
