// `status [resource]`: every resource as this host sees it (role, disk, connection, replication,
// resync progress) and the open incidents.
import { z } from 'zod';
import { ARGS, CommandError, defineQuery } from '../src/app/command-registry.js';
import type { ResourceState } from '../src/core/host-state.js';
import { INCIDENT_TITLES } from '../src/core/incidents.js';
import type { MessageField, Tone } from '../src/core/message-tones.js';
import { describeSilence, type Page } from '../src/core/oncall-workflow.js';
import { formatDuration, formatKiB } from '../src/core/rules.js';
import { formatTime, MESSAGE_TIME_ZONE, plural } from '../src/core/text-format.js';

/** Who has an open critical incident, or who is being called for it. */
function paged(page: Page | undefined, openedAt: number, now: number): string {
  if (page === undefined || page.endedAt !== undefined || !page.id.endsWith(`@${openedAt}`)) return '';
  if (page.ack !== undefined)
    return `\nAcknowledged by ${page.ack.by} at ${formatTime(page.ack.at, MESSAGE_TIME_ZONE, { sameDayAs: now })}`;
  return `\nNot acknowledged: paging ${page.paged.join(', ') || 'the channel'} (ack ${page.incidentKey})`;
}

const muted = (count: number | undefined) =>
  count === undefined || count === 0 ? '' : ` · ${plural(count, 'notification')} muted so far`;

function describe(resource: ResourceState): { text: string; healthy: boolean } {
  const lines: string[] = [];
  const role = resource.fields.role ?? 'role unknown';
  const disks = Object.values(resource.devices).map((d) => d.fields.disk ?? 'unknown');
  lines.push(`${role}, disk ${disks.join('/') || '—'}`);
  let healthy = disks.every((d) => d === 'UpToDate');
  for (const conn of Object.values(resource.connections)) {
    const state = conn.fields.connection ?? 'connection unknown';
    const peerDevices = Object.values(conn.peerDevices);
    const replication = peerDevices.map((pd) => pd.fields.replication ?? 'unknown').join('/');
    const peerDisks = peerDevices.map((pd) => pd.fields['peer-disk'] ?? 'unknown').join('/');
    let line = `${conn.peer}: ${state}, ${conn.fields.role ?? 'role unknown'}, peer disk ${peerDisks || '—'}, ${replication || 'no replication'}`;
    for (const pd of peerDevices) {
      if (pd.resync?.donePercent !== undefined) {
        line += `, resync ${pd.resync.donePercent.toFixed(1)}%`;
        if (pd.resync.outOfSyncKiB !== undefined) line += ` (${formatKiB(pd.resync.outOfSyncKiB)} left)`;
      }
    }
    lines.push(line);
    healthy &&= state === 'Connected' && peerDevices.every((pd) => pd.fields.replication === 'Established');
  }
  return { text: lines.join('\n'), healthy };
}

export const status = defineQuery({
  kind: 'query',
  name: 'status',
  description: "Every resource's role, disks, connection and replication, and the open incidents",
  options: [
    {
      name: 'resource',
      description: 'Only this resource (e.g. r0)',
      type: 'string',
      required: false,
      names: 'resource',
    },
  ],
  args: z.object({ resource: ARGS.resource.optional() }),
  async run(args, _command, context) {
    const wanted = args.resource;
    const fields: MessageField[] = [];
    let allHealthy = true;
    const hosts = await context.hosts();
    for (const host of hosts) {
      for (const resource of Object.values(host.resources).sort((a, b) => a.name.localeCompare(b.name))) {
        if (wanted !== undefined && resource.name !== wanted) continue;
        const { text, healthy } = describe(resource);
        allHealthy &&= healthy;
        fields.push({ label: `${resource.name} on ${host.host}`, value: text });
      }
    }
    if (wanted !== undefined && fields.length === 0) {
      throw new CommandError(`No resource ${wanted} on ${hosts.map((h) => h.host).join(', ')}.`);
    }
    const now = context.now();
    const open = Object.values(context.incidents()).filter(
      (i) => i.resolvedAt === undefined && (wanted === undefined || i.resource === wanted),
    );
    for (const incident of open) {
      fields.push({
        label: `Open incident: ${incident.resource} ${INCIDENT_TITLES[incident.family]}`,
        value: `${incident.latest.text} (for ${formatDuration(now - incident.openedAt)}, ${plural(incident.changes, 'change')})${paged(context.paging?.page(incident.key), incident.openedAt, now)}`,
      });
    }
    // What is muted, until when and why: a silence nobody remembers is how alerts get lost.
    const silences = (context.paging?.silences() ?? []).filter(
      (s) => wanted === undefined || s.matches.includes(wanted) || s.matches.includes('all'),
    );
    if (silences.length > 0) {
      fields.push({
        label: `🔕 ${plural(silences.length, 'silence')} in force`,
        value: silences
          .map((s) => `${describeSilence(s, now)}${muted(context.paging?.mutedCount(s.id))}`)
          .join('\n'),
      });
    }
    // The last few that ended, so "what happened tonight" is one command.
    const recent = Object.values(context.incidents())
      .filter((i) => i.resolvedAt !== undefined && (wanted === undefined || i.resource === wanted))
      .sort((a, b) => (b.resolvedAt ?? 0) - (a.resolvedAt ?? 0))
      .slice(0, 3);
    if (recent.length > 0) {
      fields.push({
        label: 'Recent incidents',
        value: recent
          .map(
            (i) =>
              `${i.resource} ${INCIDENT_TITLES[i.family]}: ${formatDuration((i.resolvedAt ?? now) - i.openedAt)}, ended ${formatDuration(now - (i.resolvedAt ?? now))} ago`,
          )
          .join('\n'),
      });
    }
    if (context.leadership !== undefined) {
      const view = await context.leadership();
      fields.push({
        label: 'Leader',
        value:
          view.leader === null
            ? 'none elected'
            : `${view.leader} (token ${view.token})${view.leader === view.self ? '' : `; answered by ${view.self}`}`,
        short: true,
      });
      for (const fence of view.fences) {
        const value =
          fence.error !== undefined
            ? `unknown: ${fence.error}`
            : fence.holder === null
              ? 'free'
              : `held by ${fence.holder}${fence.expiresAt === null ? '' : ` until ${formatTime(fence.expiresAt, MESSAGE_TIME_ZONE, { sameDayAs: now })}`}`;
        fields.push({ label: `Fence ${fence.key}`, value, short: true });
      }
    }
    // A status answer is information, not the end of an incident: healthy is "info", never
    // "resolved" (that label belongs to an incident that ended).
    const tone: Tone = open.some((i) => i.severity === 'critical')
      ? 'critical'
      : allHealthy && open.length === 0
        ? 'info'
        : 'warning';
    return {
      title: wanted === undefined ? 'DRBD status' : `DRBD status of ${wanted}`,
      tone,
      host: context.host,
      body:
        fields.length === 0
          ? 'No DRBD resources seen yet.'
          : allHealthy && open.length === 0
            ? '✅ All resources healthy.'
            : '',
      fields,
    };
  },
});
