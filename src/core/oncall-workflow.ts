// The on-call workflow as decisions, in the way on-call teams know it from Alertmanager and
// PagerDuty/Opsgenie-style chat alerts: a critical alert pages the person on call by name; an
// Acknowledge ("I'm on it") records who took it and stops the repeats; an alert nobody acknowledges
// is repeated (Alertmanager's repeat_interval) and escalated to the next person of the rotation;
// silences and maintenance windows mute what they match, with an expiry, and what they muted is
// summed up when they end; each kind of alert can link its runbook.
//
// Pure: the state, the roster, the routes' mention modes and the time are passed in. The app
// (src/app/paging.ts) keeps the state durable and replicated, times the checks on the leader and
// delivers what these functions decide.

import {
  INCIDENT_TITLES,
  type Incident,
  type Incidents,
  incidentResource,
  KIND_TITLES,
} from './incidents.js';
import type { Mention, MentionTarget, Message, MessageAction, MessageLink } from './message-tones.js';
import {
  ALERT_KINDS,
  type AlertKind,
  type Notification,
  type Severity,
  worseSeverity,
} from './notification.js';
import type { HandoverClock, Member, Roster } from './policy.js';
import { formatTime, MESSAGE_TIME_ZONE, plural } from './text-format.js';

// ---- Durations ---------------------------------------------------------------------------------

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration as people type it: "90s", "15m", "2h", "1d", "1h30m" (units s, m, h, d, largest
 * first). Undefined for anything else, so the caller can say what it expected.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (!/^(\d+[smhd])+$/.test(trimmed)) return undefined;
  let total = 0;
  let last = Number.POSITIVE_INFINITY;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhd])/g)) {
    const size = UNIT_MS[unit as keyof typeof UNIT_MS];
    // "30m2h" is a typo more often than a duration: units go from the largest down, once each.
    if (size >= last) return undefined;
    last = size;
    total += Number(amount) * size;
  }
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}

/** A duration written the way it is typed ("2h", "1h30m", "45s"), so a reply can be typed back. */
export function formatSpan(ms: number): string {
  let left = Math.max(0, Math.round(ms / 1_000)) * 1_000;
  if (left === 0) return '0s';
  let out = '';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const n = Math.floor(left / UNIT_MS[unit]);
    if (n > 0) out += `${n}${unit}`;
    left -= n * UNIT_MS[unit];
  }
  return out;
}

// ---- Mentions ----------------------------------------------------------------------------------

/**
 * How a route pages: `oncall` names the people on call (the default), `here` calls everyone active
 * in the channel, `none` pages nobody (a channel that only keeps a record).
 */
export const MENTION_MODES = ['oncall', 'here', 'none'] as const;
export type MentionMode = (typeof MENTION_MODES)[number];

/** Which of several routes to one channel wins: the loudest, so no route loses its pages. */
const LOUDNESS = { none: 0, oncall: 1, here: 2 } as const satisfies Record<MentionMode, number>;

export function loudest(modes: readonly MentionMode[]): MentionMode | undefined {
  return modes.reduce<MentionMode | undefined>(
    (a, m) => (a === undefined || LOUDNESS[m] > LOUDNESS[a] ? m : a),
    undefined,
  );
}

function target(m: Member): MentionTarget {
  return {
    name: m.name,
    ...(m.slack === undefined ? {} : { slack: m.slack }),
    ...(m.discord === undefined ? {} : { discord: m.discord }),
  };
}

/**
 * The mention a channel gets for a page: the people paged so far (on call, plus whoever an
 * escalation added); `here` adds the whole channel. Undefined when nobody is to be called.
 */
export function mentionFor(mode: MentionMode, people: readonly Member[]): Mention | undefined {
  if (mode === 'none') return undefined;
  const unique = [...new Map(people.map((p) => [p.name, p])).values()];
  if (mode === 'here') return { people: unique.map(target), here: true };
  return unique.length === 0 ? undefined : { people: unique.map(target) };
}

// ---- The escalation chain ----------------------------------------------------------------------

/**
 * Who is paged at each escalation level: level 0 is whoever is on call now; each level after it adds
 * the next person of the rotation (for a static roster: the rest of the team, in the team's order).
 */
export function escalationLevels(
  roster: Roster,
  now: Date,
  clock: HandoverClock | undefined,
): readonly (readonly Member[])[] {
  const byName = (name: string): Member => roster.team.find((m) => m.name === name) ?? { name };
  const schedule = roster.schedule;
  if (schedule.kind === 'none') return [];
  const rest = (taken: readonly string[]) =>
    roster.team.filter((m) => !taken.includes(m.name)).map((m) => [m]);
  if (schedule.kind === 'static') {
    return [schedule.onCall.map(byName), ...rest(schedule.onCall)];
  }
  const order = schedule.order;
  const since = new Date(schedule.since);
  if (clock === undefined || now < since) {
    return [[], ...order.map((name) => [byName(name)]), ...rest(order)];
  }
  const index = clock.count(since, now) % order.length;
  const rotated = [...order.slice(index), ...order.slice(0, index)];
  return [...rotated.map((name) => [byName(name)]), ...rest(order)];
}

// ---- Pages -------------------------------------------------------------------------------------

/** A channel a page goes to, and how that channel pages. */
export interface PageTarget {
  readonly platform: string;
  readonly channel: string;
  readonly mode: MentionMode;
}

/** "I'm on it": who took an alert, from which account, when. */
export interface Acknowledgement {
  /** The team member (or, outside the team, the platform's display name). */
  readonly by: string;
  /** platform:userId, for the audit log and the status. */
  readonly account: string;
  readonly at: number;
}

/** One critical incident paging its people, from the first critical until it ends or someone takes it. */
export interface Page {
  /** The incident and its opening: a reopened incident is a new page. */
  readonly id: string;
  readonly incidentKey: string;
  readonly resource: string;
  readonly startedAt: number;
  /** The last time people were called for it (start, repeat, escalation). */
  readonly lastAt: number;
  readonly repeats: number;
  /** The escalation level reached: 0 is whoever was on call. */
  readonly level: number;
  /** Everyone called so far, by name. */
  readonly paged: readonly string[];
  readonly targets: readonly PageTarget[];
  readonly ack?: Acknowledgement;
  /** The incident ended (or is gone): nothing more is said. */
  readonly endedAt?: number;
}

/** Pages by incident key (one live page per incident). */
export type Pages = Readonly<Record<string, Page>>;

export function pageIdOf(incident: Incident): string {
  return `${incident.key}@${incident.openedAt}`;
}

/**
 * What a notification does to paging:
 * - `page`: a critical that leaves its incident open and not yet paging starts a page (the mention
 *   goes on the message that reports it; repeats and escalation follow until it is acknowledged);
 * - `mention`: a critical of its own (no incident whose end could stop repeats): the mention only;
 * - `none`: not critical, caused by an operation the bot runs (the operator is watching its thread),
 *   or its incident pages already (the repeats do the calling, not every flap).
 */
export type Paging = 'page' | 'mention' | 'none';

export function pagingFor(
  n: Notification,
  incident: Incident | undefined,
  pages: Pages,
  causedByOperation: boolean,
): Paging {
  if (causedByOperation || n.severity !== 'critical') return 'none';
  if (incident === undefined) return 'mention';
  if (incident.resolvedAt !== undefined) return 'none';
  const page = pages[incident.key];
  if (page !== undefined && page.id === pageIdOf(incident)) return 'none';
  return 'page';
}

export function startPage(
  incident: Incident,
  now: number,
  paged: readonly Member[],
  targets: readonly PageTarget[],
): Page {
  return {
    id: pageIdOf(incident),
    incidentKey: incident.key,
    resource: incident.resource,
    startedAt: now,
    lastAt: now,
    repeats: 0,
    level: 0,
    paged: [...new Set(paged.map((m) => m.name))],
    targets,
  };
}

export interface PagingSettings {
  /** Repeat an unacknowledged page this often (Alertmanager's repeat_interval). */
  readonly repeatIntervalMs: number;
  /** Escalate one level each time this passes without an acknowledgement; null: never. */
  readonly escalateAfterMs: number | null;
}

export type PageStep =
  | { readonly type: 'none' }
  /** The incident ended, reopened or is gone: the page is over. */
  | { readonly type: 'end' }
  | { readonly type: 'repeat'; readonly people: readonly Member[] }
  | {
      readonly type: 'escalate';
      readonly level: number;
      /** Who this level adds. */
      readonly added: readonly Member[];
      /** Everyone to call now (those called before stay called). */
      readonly people: readonly Member[];
    };

/**
 * What a page needs now. Escalation comes before a repeat (it calls someone new); a page that is
 * acknowledged, over, or muted by a silence says nothing (a muted page catches up once the silence
 * ends, if it is still unacknowledged).
 */
export function pageStep(
  page: Page,
  incident: Incident | undefined,
  now: number,
  settings: PagingSettings,
  levels: readonly (readonly Member[])[],
  muted: boolean,
): PageStep {
  if (page.endedAt !== undefined) return { type: 'none' };
  if (incident === undefined || incident.resolvedAt !== undefined || pageIdOf(incident) !== page.id)
    return { type: 'end' };
  if (page.ack !== undefined || muted) return { type: 'none' };
  const called = (upTo: number): Member[] => {
    const byName = new Map<string, Member>();
    for (const name of page.paged) byName.set(name, levels.flat().find((m) => m.name === name) ?? { name });
    for (const m of levels.slice(0, upTo + 1).flat()) byName.set(m.name, m);
    return [...byName.values()];
  };
  const escalate = settings.escalateAfterMs;
  if (escalate !== null) {
    // Levels that add nobody new (a person twice in the chain) are skipped.
    let next = page.level + 1;
    while (next < levels.length && (levels[next] ?? []).every((m) => page.paged.includes(m.name))) next++;
    if (next < levels.length && now - page.startedAt >= escalate * (page.level + 1)) {
      return { type: 'escalate', level: next, added: levels[next] ?? [], people: called(next) };
    }
  }
  if (now - page.lastAt >= settings.repeatIntervalMs) return { type: 'repeat', people: called(page.level) };
  return { type: 'none' };
}

/** The page after a step was delivered. */
export function afterStep(page: Page, step: PageStep, now: number): Page {
  switch (step.type) {
    case 'none':
      return page;
    case 'end':
      return { ...page, endedAt: now };
    case 'repeat':
      return {
        ...page,
        lastAt: now,
        repeats: page.repeats + 1,
        paged: [...new Set([...page.paged, ...step.people.map((m) => m.name)])],
      };
    case 'escalate':
      return {
        ...page,
        lastAt: now,
        level: step.level,
        paged: [...new Set([...page.paged, ...step.people.map((m) => m.name)])],
      };
  }
}

/** Pages over for longer than this are forgotten (the incident is long pruned too). */
const KEEP_ENDED_MS = 24 * 3_600_000;

export function prunePages(pages: Pages, now: number): Pages {
  return Object.fromEntries(
    Object.entries(pages).filter(([, p]) => p.endedAt === undefined || now - p.endedAt <= KEEP_ENDED_MS),
  );
}

// ---- Acknowledge -------------------------------------------------------------------------------

export type AckResult =
  | { readonly ok: true; readonly pages: Pages; readonly acknowledged: readonly Page[] }
  | { readonly ok: false; readonly reason: string };

function live(page: Page, incidents: Incidents): boolean {
  const incident = incidents[page.incidentKey];
  return (
    page.endedAt === undefined &&
    incident !== undefined &&
    incident.resolvedAt === undefined &&
    pageIdOf(incident) === page.id
  );
}

function describePage(page: Page, incidents: Incidents): string {
  const incident = incidents[page.incidentKey];
  return incident === undefined
    ? page.incidentKey
    : `${incident.resource} ${INCIDENT_TITLES[incident.family]}`;
}

/**
 * Take alerts: `what` is an incident key (what the Acknowledge button sends, `r0/connection`), a
 * resource (every waiting alert of it) or nothing (the only one waiting). Taking an alert someone
 * else took already says who has it and changes nothing.
 */
export function acknowledge(
  pages: Pages,
  incidents: Incidents,
  what: string | undefined,
  ack: Acknowledgement,
): AckResult {
  const candidates = Object.values(pages).filter((p) => live(p, incidents));
  const waiting = candidates.filter((p) => p.ack === undefined);
  let chosen: Page[];
  if (what === undefined) {
    if (waiting.length === 0) {
      return { ok: false, reason: 'Nothing to acknowledge: no critical alert is waiting for someone.' };
    }
    if (waiting.length > 1) {
      return {
        ok: false,
        reason: `${waiting.length} alerts are waiting: ${waiting
          .map((p) => `${describePage(p, incidents)} (ack ${p.incidentKey})`)
          .join(', ')}. Say which one, or a resource for all of its alerts.`,
      };
    }
    chosen = waiting;
  } else {
    const matching = candidates.filter((p) => p.incidentKey === what || p.resource === what);
    if (matching.length === 0) {
      const open = Object.values(incidents).some(
        (i) => i.resolvedAt === undefined && (i.key === what || i.resource === what),
      );
      return {
        ok: false,
        reason: open
          ? `Nothing to acknowledge for ${what}: its open incidents are not critical, so nobody is being paged.`
          : `Nothing to acknowledge for ${what}: no open critical alert.`,
      };
    }
    chosen = matching.filter((p) => p.ack === undefined);
    if (chosen.length === 0) {
      const taken = matching[0]?.ack;
      return {
        ok: false,
        reason: `Already acknowledged by ${taken?.by ?? 'someone'} at ${formatTime(taken?.at ?? 0, MESSAGE_TIME_ZONE, { sameDayAs: ack.at })}: ${describePage(matching[0] as Page, incidents)}.`,
      };
    }
  }
  const updated = { ...pages };
  const acknowledged = chosen.map((p) => {
    const next: Page = { ...p, ack };
    updated[p.incidentKey] = next;
    return next;
  });
  return { ok: true, pages: updated, acknowledged };
}

// ---- What the messages say ---------------------------------------------------------------------

/** The button that takes an alert: a serialised command, as every button is. */
export function ackAction(incidentKey: string): MessageAction {
  return { id: 'ack', label: "✋ Acknowledge (I'm on it)", command: `ack ${incidentKey}`, style: 'primary' };
}

const names = (list: readonly string[]) => list.join(', ') || 'nobody';

/**
 * An incident's parent with its page: who has it ("Acknowledged: by alice at 03:12 UTC") or who is
 * being called, with the button to take it while it waits.
 */
export function withPage(message: Message, page: Page, now: number): Message {
  const fields = (message.fields ?? []).filter((f) => f.label !== 'Acknowledged' && f.label !== 'Paged');
  const actions = (message.actions ?? []).filter((a) => a.id !== 'ack');
  if (page.ack !== undefined) {
    fields.push({
      label: 'Acknowledged',
      value: `by ${page.ack.by} at ${formatTime(page.ack.at, MESSAGE_TIME_ZONE, { sameDayAs: now })}`,
      short: true,
    });
  } else if (page.endedAt === undefined && message.tone !== 'resolved') {
    // Nobody on call (no roster): the button still lets whoever looks take it and stop the repeats.
    if (page.paged.length > 0)
      fields.push({ label: 'Paged', value: `${names(page.paged)}, not acknowledged yet`, short: true });
    actions.push(ackAction(page.incidentKey));
  }
  const { actions: _a, fields: _f, ...rest } = message;
  return {
    ...rest,
    ...(fields.length === 0 ? {} : { fields }),
    ...(actions.length === 0 ? {} : { actions }),
  };
}

function incidentName(incident: Incident): string {
  const headline =
    incident.splitBrain === true ? KIND_TITLES['split-brain'] : KIND_TITLES[incident.latest.kind];
  return `${incident.resource}: ${INCIDENT_TITLES[incident.family]} — ${headline}`;
}

/** A repeat or an escalation: a reply in the incident's thread that calls its people again. */
export function pageMessage(
  page: Page,
  incident: Incident,
  step: Extract<PageStep, { type: 'repeat' | 'escalate' }>,
  now: number,
  settings: PagingSettings,
): Message {
  const open = formatSpan(now - incident.openedAt);
  const called = step.people.map((m) => m.name);
  const title =
    step.type === 'escalate'
      ? `Escalated to ${names(step.added.map((m) => m.name))}: ${incidentName(incident)}`
      : `Still not acknowledged: ${incidentName(incident)}`;
  const lines = [
    step.type === 'escalate'
      ? `Nobody acknowledged it within ${formatSpan(now - page.startedAt)} (paged: ${names(page.paged)}).`
      : `Open for ${open}, paged ${plural(page.repeats + 1, 'time')} before (${names(page.paged)}).`,
    `Press Acknowledge (or type \`ack ${page.incidentKey}\`) to take it: the repeats stop${settings.escalateAfterMs === null ? '' : ' and it is not escalated further'}.`,
    `Latest: ${incident.latest.text}`,
  ];
  return {
    title,
    tone: 'critical',
    host: incident.latest.host,
    ...(incident.scope === 'host' ? {} : { resource: incident.resource }),
    body: lines.join('\n'),
    fields: [
      { label: 'Open for', value: open, short: true },
      { label: 'Paged', value: names(called), short: true },
    ],
    actions: [ackAction(page.incidentKey)],
    incidentKey: page.incidentKey,
    at: new Date(now).toISOString(),
  };
}

// ---- Silences and maintenance windows ----------------------------------------------------------

/**
 * What a silence matches: `all`, a resource name, or an alert kind (split-brain, connection-lost …).
 * Notifications about the whole host (the event stream) match `all` and their kind only.
 */
export type SilenceMatch = string;

export interface Silence {
  readonly id: string;
  readonly matches: readonly SilenceMatch[];
  readonly from: number;
  readonly until: number;
  readonly reason: string;
  /** Who set it (a team member, or the platform's display name); `configuration` for a maintenance window. */
  readonly by: string;
  readonly source: 'command' | 'maintenance';
  /** Ended early by `unsilence`. */
  readonly endedAt?: number;
  readonly endedBy?: string;
}

export function isAlertKind(word: string): word is AlertKind {
  return (ALERT_KINDS as readonly string[]).includes(word);
}

/** What a silence target means, or why it means nothing ("r9": neither a resource nor a kind). */
export function silenceTarget(
  word: string,
  resources: readonly string[],
):
  | { readonly ok: true; readonly match: SilenceMatch; readonly what: string }
  | { readonly ok: false; readonly reason: string } {
  if (word === 'all') return { ok: true, match: 'all', what: 'every notification' };
  if (isAlertKind(word)) return { ok: true, match: word, what: `every ${word} notification` };
  if (resources.includes(word)) return { ok: true, match: word, what: `every notification about ${word}` };
  return {
    ok: false,
    reason: `${word} is neither a resource (${resources.join(', ') || 'none known'}) nor an alert kind (${ALERT_KINDS.join(', ')}), nor all.`,
  };
}

function matchesOne(match: SilenceMatch, n: Pick<Notification, 'kind' | 'resource'>): boolean {
  return match === 'all' || match === n.kind || (n.resource !== null && match === n.resource);
}

export function isActive(silence: Silence, now: number): boolean {
  return silence.from <= now && now < (silence.endedAt ?? silence.until);
}

/** The silence that mutes this notification now, if any (the one that lasts longest). */
export function silencing(
  silences: readonly Silence[],
  n: Pick<Notification, 'kind' | 'resource'>,
  now: number,
): Silence | undefined {
  return silences
    .filter((s) => isActive(s, now) && s.matches.some((m) => matchesOne(m, n)))
    .sort((a, b) => (b.endedAt ?? b.until) - (a.endedAt ?? a.until))[0];
}

/** Is a page muted: a silence matches its resource or the kind that heads its incident. */
export function pageMuted(silences: readonly Silence[], incident: Incident, now: number): boolean {
  const kind = incident.splitBrain === true ? 'split-brain' : incident.latest.kind;
  return silencing(silences, { kind, resource: incidentResource(incident) }, now) !== undefined;
}

/** A maintenance window from the configuration: once (start/end) or recurring (cron + duration). */
export type MaintenanceWindow = {
  readonly reason: string;
  readonly matches: readonly SilenceMatch[];
} & (
  | { readonly start: string; readonly end: string }
  | { readonly cron: string; readonly durationMs: number }
);

/**
 * The silence a maintenance window stands for at `now`, if it is on. `lastStart` is the recurring
 * window's latest start at or before now (from its cron expression; the app asks the clock).
 */
export function maintenanceSilence(
  window: MaintenanceWindow,
  index: number,
  now: number,
  lastStart: Date | null,
): Silence | undefined {
  let from: number;
  let until: number;
  if ('start' in window) {
    from = Date.parse(window.start);
    until = Date.parse(window.end);
  } else {
    if (lastStart === null) return undefined;
    from = lastStart.getTime();
    until = from + window.durationMs;
  }
  if (!(from <= now && now < until)) return undefined;
  return {
    id: `maintenance-${index + 1}-${from}`,
    matches: window.matches,
    from,
    until,
    reason: window.reason,
    by: 'configuration',
    source: 'maintenance',
  };
}

/** What a silence kept from the channels: counted, the first few kept, for the summary at its end. */
export interface MutedTally {
  /** The silence as it was when it muted (a maintenance window's occurrence is not stored elsewhere). */
  readonly silence: Silence;
  readonly count: number;
  readonly kinds: Readonly<Partial<Record<AlertKind, number>>>;
  readonly worst: Severity;
  readonly first: readonly Pick<Notification, 'kind' | 'severity' | 'host' | 'resource' | 'text' | 'at'>[];
  /** The channels (platform\u0000channel) the muted messages would have gone to. */
  readonly channels: readonly string[];
}

const QUOTED = 5;

export function tallyMuted(
  tally: MutedTally | undefined,
  silence: Silence,
  n: Notification,
  channels: readonly string[],
): MutedTally {
  const kinds: Partial<Record<AlertKind, number>> = { ...(tally?.kinds ?? {}) };
  kinds[n.kind] = (kinds[n.kind] ?? 0) + 1;
  const { kind, severity, host, resource, text, at } = n;
  return {
    silence,
    count: (tally?.count ?? 0) + 1,
    kinds,
    worst: tally === undefined ? n.severity : worseSeverity(tally.worst, n.severity),
    first:
      (tally?.first.length ?? 0) < QUOTED
        ? [...(tally?.first ?? []), { kind, severity, host, resource, text, at }]
        : (tally?.first ?? []),
    channels: [...new Set([...(tally?.channels ?? []), ...channels])],
  };
}

function describeMatches(matches: readonly SilenceMatch[]): string {
  return matches.includes('all') ? 'everything' : matches.join(', ');
}

/** One line per silence for `status` and answers: what, until when, who and why. */
export function describeSilence(s: Silence, now: number): string {
  const until = formatTime(s.endedAt ?? s.until, MESSAGE_TIME_ZONE, { sameDayAs: now });
  const left = formatSpan((s.endedAt ?? s.until) - now);
  const who = s.source === 'maintenance' ? 'maintenance window' : `by ${s.by}`;
  return `${describeMatches(s.matches)} until ${until} (${left} left), ${who}: ${s.reason} [${s.id}]`;
}

/**
 * The summary when a silence ends: everything it kept from the channels, counted by kind, the first
 * few quoted, and what is still open among what it matched, so nothing muted is lost.
 */
export function silenceSummary(tally: MutedTally, incidents: Incidents, pages: Pages, now: number): Message {
  const silence = tally.silence;
  const open = Object.values(incidents).filter(
    (i) =>
      i.resolvedAt === undefined &&
      silence.matches.some((m) => matchesOne(m, { kind: i.latest.kind, resource: i.resource })),
  );
  const what =
    silence.source === 'maintenance'
      ? `Maintenance window (${silence.reason})`
      : `Silence of ${describeMatches(silence.matches)}`;
  const endedEarly = silence.endedAt !== undefined && silence.endedAt < silence.until;
  const tallyText = (Object.entries(tally.kinds) as [AlertKind, number][])
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind} ×${n}`)
    .join(', ');
  const lines = [
    ...tally.first.map(
      (n) =>
        `• ${formatTime(n.at, MESSAGE_TIME_ZONE, { sameDayAs: now })} ${n.resource === null ? '' : `${n.resource}: `}${KIND_TITLES[n.kind]} (${n.host}): ${n.text}`,
    ),
    ...(tally.count > tally.first.length
      ? [`… and ${plural(tally.count - tally.first.length, 'more')}`]
      : []),
    `Counted: ${tallyText}`,
  ];
  const fields = [
    { label: 'Muted', value: plural(tally.count, 'notification'), short: true },
    { label: 'Worst', value: tally.worst, short: true },
    {
      label: 'Still open',
      value:
        open.length === 0
          ? 'nothing: all of it is over'
          : open
              .map((i) => {
                const ack = pages[i.key]?.ack;
                return `${incidentName(i)} (${i.severity}${ack === undefined ? '' : `, acknowledged by ${ack.by}`})`;
              })
              .join('\n'),
    },
  ];
  const worstOpen = open.reduce<Severity | undefined>(
    (a, i) => (a === undefined ? i.severity : worseSeverity(a, i.severity)),
    undefined,
  );
  return {
    title: `${what} ${endedEarly ? `ended early${silence.endedBy === undefined ? '' : ` by ${silence.endedBy}`}` : 'ended'}: ${plural(tally.count, 'notification')} muted`,
    tone: worstOpen ?? 'info',
    body: lines.join('\n'),
    fields,
    at: new Date(now).toISOString(),
  };
}

// ---- Runbooks ----------------------------------------------------------------------------------

/** Runbook URL templates per kind, with `{resource}`, `{host}` and `{kind}` filled in. */
export type Runbooks = Readonly<Partial<Record<AlertKind, string>>>;

export const RUNBOOK_PLACEHOLDERS = ['resource', 'host', 'kind'] as const;

/** The runbook link of a kind, with the placeholders filled in (URL-encoded), if one is configured. */
export function runbookLink(
  runbooks: Runbooks,
  kind: AlertKind,
  where: { readonly resource: string | null; readonly host: string },
): MessageLink | undefined {
  const template = runbooks[kind];
  if (template === undefined) return undefined;
  const values: Record<(typeof RUNBOOK_PLACEHOLDERS)[number], string> = {
    resource: where.resource ?? '',
    host: where.host,
    kind,
  };
  const url = template.replace(/\{(resource|host|kind)\}/g, (_m, key: keyof typeof values) =>
    encodeURIComponent(values[key]),
  );
  return { label: `Runbook: ${KIND_TITLES[kind]}`, url };
}

/** The kind an incident's parent is about: a split-brain stays the headline until it is over. */
export function headlineKind(incident: Incident): AlertKind {
  return incident.splitBrain === true && incident.resolvedAt === undefined
    ? 'split-brain'
    : incident.latest.kind;
}

/** The message with a link added (once: a parent edited many times keeps one). */
export function withLink(message: Message, link: MessageLink | undefined): Message {
  if (link === undefined || message.links?.some((l) => l.url === link.url) === true) return message;
  return { ...message, links: [...(message.links ?? []), link] };
}

// ---- The state kept (durable, and replicated to the other instance) ----------------------------

export interface OnCallState {
  readonly pages: Pages;
  /** Silences set by command (maintenance windows come from the configuration). */
  readonly silences: readonly Silence[];
  /** What each silence muted so far, by silence id, until its summary is posted. */
  readonly muted: Readonly<Record<string, MutedTally>>;
}

export const EMPTY_ONCALL: OnCallState = { pages: {}, silences: [], muted: {} };

/** Silences set by command that are over and whose summary (if any) went out: forgotten. */
export function pruneSilences(state: OnCallState, now: number): OnCallState {
  const silences = state.silences.filter(
    (s) => isActive(s, now) || s.from > now || state.muted[s.id] !== undefined,
  );
  return silences.length === state.silences.length ? state : { ...state, silences };
}
