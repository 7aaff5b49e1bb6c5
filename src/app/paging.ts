// The on-call workflow, wired: the notifier hands every notification's deliveries here before they
// reach the outbox (silences drop them and count them, a critical gets its mention, an incident's
// parent its Acknowledge button, every alert its runbook link); the leader's ticker repeats and
// escalates what nobody acknowledged and sums up silences that ended; the ack, silence and unsilence
// commands change the state. The decisions are core/oncall-workflow.ts; here they are kept on disk,
// replicated with the pair's delivery record, audited and delivered through the outbox.

import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../adapters/audit-log.js';
import { handoverClock } from '../adapters/cron.js';
import type { OnCallStore } from '../adapters/oncall-store.js';
import type { NewEntry } from '../adapters/outbox.js';
import { type Incident, type Incidents, incidentMessage, incidentResource } from '../core/incidents.js';
import type { Message } from '../core/message-tones.js';
import type { Notification } from '../core/notification.js';
import {
  acknowledge,
  afterStep,
  describeSilence,
  formatSpan,
  headlineKind,
  isActive,
  loudest,
  type MaintenanceWindow,
  type MentionMode,
  maintenanceSilence,
  mentionFor,
  type OnCallState,
  type Page,
  type PageTarget,
  type PagingSettings,
  pageIdOf,
  pageMessage,
  pageMuted,
  pageStep,
  pagingFor,
  parseDuration,
  prunePages,
  pruneSilences,
  type Runbooks,
  runbookLink,
  type Silence,
  silenceSummary,
  silenceTarget,
  silencing,
  startPage,
  tallyMuted,
  withLink,
  withPage,
} from '../core/oncall-workflow.js';
import { type Member, memberOf } from '../core/policy.js';
import { formatTime, MESSAGE_TIME_ZONE } from '../core/text-format.js';
import type { IncomingCommand, PlatformName } from '../ports/chat.js';
import { CommandError, type PagingPort } from './command-registry.js';
import type { Config, Route } from './config.js';
import type { Logger } from './log.js';
import { routeMatches } from './notifier.js';

/** The parts of the configuration the workflow reads (re-read at each use: a reload applies at once). */
export interface PagingConfig {
  readonly routes: readonly Route[];
  readonly team: readonly Member[];
  readonly defaultMention: MentionMode;
  readonly settings: PagingSettings;
  readonly runbooks: Runbooks;
  readonly maintenance: readonly MaintenanceWindow[];
}

export function pagingConfigOf(config: Config): PagingConfig {
  const paging = config.oncall.paging;
  const escalate = paging.escalateAfter === null ? null : (parseDuration(paging.escalateAfter) ?? null);
  return {
    routes: config.routes,
    team: config.oncall.team,
    defaultMention: paging.mention,
    settings: {
      repeatIntervalMs: parseDuration(paging.repeatInterval) ?? 30 * 60_000,
      escalateAfterMs: escalate,
    },
    runbooks: config.runbooks,
    maintenance: config.maintenance.map((w) =>
      'cron' in w
        ? {
            reason: w.reason,
            matches: w.match,
            cron: w.cron,
            durationMs: parseDuration(w.duration) ?? 0,
          }
        : { reason: w.reason, matches: w.match, start: w.start, end: w.end },
    ),
  };
}

/** How often the leader looks at the pages: often enough for the shortest interval configured. */
export function tickInterval(settings: PagingSettings): number {
  const shortest = Math.min(settings.repeatIntervalMs, settings.escalateAfterMs ?? Number.POSITIVE_INFINITY);
  return Math.min(15_000, Math.max(100, Math.floor(shortest / 10)));
}

/** A command silence lasts at least a second and at most two weeks (longer is a config change). */
const MAX_SILENCE_MS = 14 * 86_400_000;

export interface PagingOptions {
  readonly host: string;
  readonly store: OnCallStore;
  readonly audit: AuditLog;
  readonly outbox: { enqueue(entries: readonly NewEntry[]): Promise<void> };
  readonly incidents: () => Incidents;
  readonly config: () => PagingConfig;
  /** Who is called at each escalation level at this time (level 0: on call now). */
  readonly levels: (now: Date) => readonly (readonly Member[])[];
  /** The resource names a silence may name. */
  readonly resources: () => Promise<readonly string[]>;
  readonly logger: Logger;
  /** Hand the state to the pair's delivery record, so the other instance continues it. */
  readonly record?: (state: OnCallState) => Promise<void>;
  readonly now?: () => number;
}

const channelOf = (platform: string, channel: string) => `${platform}\u0000${channel}`;

export class Paging implements PagingPort {
  readonly #o: PagingOptions;
  #state: OnCallState;
  /** The latest parent of each incident as the notifier wrote it, for the edit that shows an ack. */
  readonly #parents = new Map<string, Message>();
  /** Cron clocks of recurring maintenance windows (node-cron keeps every task it creates: one each). */
  readonly #clocks = new Map<string, ReturnType<typeof handoverClock>>();
  #recording: Promise<void> = Promise.resolve();

  constructor(options: PagingOptions) {
    this.#o = options;
    const loaded = options.store.load();
    if (loaded.problem !== undefined) {
      options.logger.warn(
        { problem: loaded.problem },
        'on-call state unreadable; starting without pages and silences',
      );
    }
    this.#state = loaded.state;
  }

  get state(): OnCallState {
    return this.#state;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  #set(state: OnCallState): void {
    this.#state = state;
    this.#o.store.save(state);
    const record = this.#o.record;
    if (record !== undefined) {
      this.#recording = this.#recording
        .then(() => record(state))
        .catch((err: Error) =>
          this.#o.logger.warn({ err }, 'could not record the on-call state for the peer'),
        );
    }
  }

  /** Continue from the other instance's state (this one just took over the pair). */
  adopt(state: OnCallState | undefined): void {
    if (state === undefined) return;
    this.#set(state);
  }

  // ---- Silences ----------------------------------------------------------------------------------

  #clock(cron: string): ReturnType<typeof handoverClock> {
    let clock = this.#clocks.get(cron);
    if (clock === undefined) {
      clock = handoverClock(cron);
      this.#clocks.set(cron, clock);
    }
    return clock;
  }

  /** Silences in force at `now`: those set by command and the maintenance windows that are on. */
  #silences(now: number): Silence[] {
    const windows = this.#o.config().maintenance.flatMap((w, i) => {
      const last = 'cron' in w ? this.#clock(w.cron).previous(new Date(now)) : null;
      const s = maintenanceSilence(w, i, now, last);
      return s === undefined ? [] : [s];
    });
    return [...this.#state.silences.filter((s) => isActive(s, now)), ...windows];
  }

  silences(): readonly Silence[] {
    const now = this.#now();
    return this.#silences(now).sort((a, b) => (a.endedAt ?? a.until) - (b.endedAt ?? b.until));
  }

  page(incidentKey: string): Page | undefined {
    return this.#state.pages[incidentKey];
  }

  mutedCount(silenceId: string): number {
    return this.#state.muted[silenceId]?.count ?? 0;
  }

  // ---- The notifier's hook -----------------------------------------------------------------------

  /** How a channel pages for this notification: its routes' mention, the loudest if several. */
  #modeOf(platform: string, channel: string, n: Notification, config: PagingConfig): MentionMode {
    const modes = config.routes
      .filter((r) => r.platform === platform && r.channel === channel && routeMatches(r, n))
      .map((r) => r.mention ?? config.defaultMention);
    return loudest(modes) ?? 'none';
  }

  /** Everyone a page called so far, as this channel mentions them (ids from the team as it is now). */
  #mentionOn(page: Page, target: PageTarget) {
    const team = new Map(this.#o.config().team.map((m) => [m.name, m]));
    return mentionFor(
      target.mode,
      page.paged.map((name) => team.get(name) ?? { name }),
    );
  }

  /**
   * A notification's deliveries, reviewed: muted by a silence (counted for its summary; the
   * incident's parent edits still go, they ring no phone), the mention on what reports a critical,
   * the page on its incident's parent, the runbook link on each.
   */
  review(
    n: Notification,
    entries: readonly NewEntry[],
    context: { readonly incidents: Incidents; readonly operation: boolean },
  ): NewEntry[] {
    const now = this.#now();
    const config = this.#o.config();
    let state = this.#state;
    let out = [...entries];
    let silenced = false;
    if (!context.operation) {
      const silence = silencing(this.#silences(now), n, now);
      if (silence !== undefined) {
        silenced = true;
        const muted = out.filter((e) => e.op !== 'update-parent');
        out = out.filter((e) => e.op === 'update-parent');
        if (muted.length > 0) {
          state = {
            ...state,
            muted: {
              ...state.muted,
              [silence.id]: tallyMuted(
                state.muted[silence.id],
                silence,
                n,
                muted.map((e) => channelOf(e.platform, e.channel)),
              ),
            },
          };
          this.#o.store
            .recordMuted([{ at: now, silence: silence.id, notification: n }])
            .catch((err: Error) => this.#o.logger.error({ err }, 'could not keep a muted notification'));
        }
      }
    }

    const incidentKey = out.find(
      (e) =>
        e.incidentKey !== undefined &&
        context.incidents[e.incidentKey] !== undefined &&
        e.op !== 'update-parent',
    )?.incidentKey;
    const incident = incidentKey === undefined ? undefined : context.incidents[incidentKey];
    const reports = out.filter((e) => e.op === 'open' || e.op === 'reply' || e.op === 'post');
    const paging =
      silenced || reports.length === 0 ? 'none' : pagingFor(n, incident, state.pages, context.operation);
    const levels = paging === 'none' ? [] : this.#o.levels(new Date(now));
    const onCallNow = levels[0] ?? [];
    if (paging === 'page' && incident !== undefined) {
      const targets = [
        ...new Map(
          reports.map((e) => [
            channelOf(e.platform, e.channel),
            {
              platform: e.platform,
              channel: e.channel,
              mode: this.#modeOf(e.platform, e.channel, n, config),
            },
          ]),
        ).values(),
      ];
      state = {
        ...state,
        pages: { ...state.pages, [incident.key]: startPage(incident, now, onCallNow, targets) },
      };
    }

    // An incident that ended ends its page at once: no repeat between now and the next tick.
    for (const page of Object.values(state.pages)) {
      const inc = context.incidents[page.incidentKey];
      if (page.endedAt !== undefined) continue;
      if (inc === undefined || inc.resolvedAt !== undefined || pageIdOf(inc) !== page.id) {
        state = { ...state, pages: { ...state.pages, [page.incidentKey]: { ...page, endedAt: now } } };
      }
    }

    out = out.map((e) => {
      let message = e.message;
      let urgent = e.urgent;
      const parentOf =
        (e.op === 'open' || e.op === 'update-parent') && e.incidentKey !== undefined
          ? context.incidents[e.incidentKey]
          : undefined;
      if (parentOf !== undefined) {
        this.#parents.set(parentOf.key, message);
        message = this.#asParent(message, parentOf, state, e, now);
        message = withLink(message, runbookLink(config.runbooks, headlineKind(parentOf), parentOf.latest));
      } else {
        message = withLink(message, runbookLink(config.runbooks, n.kind, n));
      }
      if (paging !== 'none' && (e.op === 'open' || e.op === 'reply' || e.op === 'post')) {
        const mention = mentionFor(this.#modeOf(e.platform, e.channel, n, config), onCallNow);
        if (mention !== undefined) {
          message = { ...message, mention };
          // Sent first and never folded into a summary: the mention must reach the phone.
          urgent = true;
        }
      }
      return message === e.message && urgent === e.urgent ? e : { ...e, message, urgent };
    });

    if (state !== this.#state) this.#set(state);
    return out;
  }

  /** An incident's parent with its page (who has it, or who is called and the button to take it). */
  #asParent(message: Message, incident: Incident, state: OnCallState, e: NewEntry, now: number): Message {
    const page = state.pages[incident.key];
    const { mention: _m, ...plain } = message;
    if (page === undefined || page.id !== pageIdOf(incident)) return plain;
    const decorated = withPage(plain, page, now);
    if (page.ack !== undefined || page.endedAt !== undefined) return decorated;
    const target = page.targets.find((t) => t.platform === e.platform && t.channel === e.channel);
    // The parent keeps naming who is called (an edit rings nobody; a parent posted in its latest form does).
    const mention = target === undefined ? undefined : this.#mentionOn(page, target);
    return mention === undefined ? decorated : { ...decorated, mention };
  }

  // ---- The leader's ticker -----------------------------------------------------------------------

  /** Repeat and escalate what waits, end what is over, sum up silences that ended. */
  async tick(at: Date = new Date(this.#now())): Promise<void> {
    const now = at.getTime();
    const config = this.#o.config();
    const incidents = this.#o.incidents();
    const silences = this.#silences(now);
    let state = this.#state;
    const entries: NewEntry[] = [];
    let levels: readonly (readonly Member[])[] | undefined;
    for (const page of Object.values(state.pages)) {
      const incident = incidents[page.incidentKey];
      const muted = incident !== undefined && pageMuted(silences, incident, now);
      levels ??= this.#o.levels(at);
      const step = pageStep(page, incident, now, config.settings, levels, muted);
      if (step.type === 'none') continue;
      const next = afterStep(page, step, now);
      state = { ...state, pages: { ...state.pages, [page.incidentKey]: next } };
      if (step.type === 'end' || incident === undefined) continue;
      const counter = step.type === 'escalate' ? `level-${step.level}` : `repeat-${next.repeats}`;
      for (const target of page.targets) {
        if (target.mode === 'none') continue;
        let message = pageMessage(page, incident, step, now, config.settings);
        const mention = mentionFor(target.mode, step.people);
        if (mention !== undefined) message = { ...message, mention };
        message = withLink(message, runbookLink(config.runbooks, headlineKind(incident), incident.latest));
        entries.push(this.#entry(target, `page:${page.id}:${counter}`, 'reply', incident, message));
        // The parent says who is called now.
        entries.push(
          this.#entry(
            target,
            `page:${page.id}:${counter}:edit`,
            'update-parent',
            incident,
            this.#parentNow(incident, next, target, now),
          ),
        );
      }
      this.#o.logger.info(
        { incident: page.incidentKey, step: step.type, paged: next.paged },
        step.type === 'escalate' ? 'alert escalated' : 'alert repeated',
      );
    }
    state = this.#endSilences(state, now, incidents, entries);
    const pruned = pruneSilences({ ...state, pages: prunePages(state.pages, now) }, now);
    if (pruned !== this.#state) this.#set(pruned);
    if (entries.length > 0) await this.#o.outbox.enqueue(entries);
  }

  #parentNow(incident: Incident, page: Page, target: PageTarget, now: number): Message {
    const base = this.#parents.get(incident.key) ?? incidentMessage(incident, now);
    const { mention: _m, ...plain } = base;
    const decorated = withLink(
      withPage(plain, page, now),
      runbookLink(this.#o.config().runbooks, headlineKind(incident), incident.latest),
    );
    const mention = page.ack === undefined ? this.#mentionOn(page, target) : undefined;
    return mention === undefined ? decorated : { ...decorated, mention };
  }

  #entry(
    target: { readonly platform: string; readonly channel: string },
    key: string,
    op: 'reply' | 'update-parent' | 'post',
    incident: Incident | undefined,
    message: Message,
  ): NewEntry {
    return {
      key: `${key}:${target.platform}:${target.channel}`,
      platform: target.platform as PlatformName,
      channel: target.channel,
      op,
      ...(incident === undefined ? {} : { incidentKey: incident.key }),
      message,
      resource: incident === undefined ? null : incidentResource(incident),
      severity: message.tone === 'critical' ? 'critical' : message.tone === 'warning' ? 'warning' : 'info',
      // What calls someone (a repeat, an escalation, a summary of a silence with a critical still
      // open) is sent first and never folded into a summary: its mention must reach the phone.
      urgent: op !== 'update-parent' && message.mention !== undefined,
      kinds: {},
      changes: 0,
    };
  }

  /** Silences over (expired, ended early, a maintenance window past): their summaries, and forgotten. */
  #endSilences(state: OnCallState, now: number, incidents: Incidents, entries: NewEntry[]): OnCallState {
    const current = new Map(state.silences.map((s) => [s.id, s]));
    const muted = { ...state.muted };
    let changed = false;
    for (const [id, tally] of Object.entries(state.muted)) {
      const silence = current.get(id) ?? tally.silence;
      if (isActive(silence, now)) continue;
      delete muted[id];
      changed = true;
      let message = silenceSummary({ ...tally, silence }, incidents, state.pages, now);
      const config = this.#o.config();
      for (const channel of tally.channels) {
        const [platform = '', name = ''] = channel.split('\u0000');
        // Something critical is still open: whoever is on call hears about it now.
        if (message.tone === 'critical') {
          const mode =
            loudest(
              config.routes
                .filter((r) => r.platform === platform && r.channel === name)
                .map((r) => r.mention ?? config.defaultMention),
            ) ?? 'none';
          const mention = mentionFor(mode, this.#o.levels(new Date(now))[0] ?? []);
          message = mention === undefined ? message : { ...message, mention };
        }
        entries.push(
          this.#entry({ platform, channel: name }, `silence-ended:${id}`, 'post', undefined, message),
        );
      }
      this.#o.logger.info({ silence: id, muted: tally.count }, 'silence ended; summary posted');
    }
    return changed ? { ...state, muted } : state;
  }

  // ---- Commands ----------------------------------------------------------------------------------

  /** The team member behind a command; outside a configured team nobody may page-manage. */
  #who(command: IncomingCommand, what: string): { by: string; member: string | undefined } {
    const team = this.#o.config().team;
    const actor = {
      platform: command.platform,
      userId: command.userId,
      userName: command.userName,
      roles: command.roles,
    };
    const member = memberOf(actor, team);
    if (team.length > 0 && member === undefined) {
      throw new CommandError(
        `${command.userName} is not in the on-call team (oncall.team): only its members can ${what}.`,
      );
    }
    return { by: member?.name ?? command.userName, member: member?.name };
  }

  async #audit(
    event: 'acknowledged' | 'silenced' | 'unsilenced',
    text: string,
    command: IncomingCommand,
    member: string | undefined,
    reason?: string,
  ): Promise<void> {
    await this.#o.audit.append({
      at: new Date(this.#now()).toISOString(),
      event,
      host: this.#o.host,
      operation: null,
      command: text,
      actor: {
        platform: command.platform,
        userId: command.userId,
        userName: command.userName,
        ...(member === undefined ? {} : { member }),
      },
      ...(reason === undefined ? {} : { reason }),
    });
  }

  async acknowledge(what: string | undefined, command: IncomingCommand): Promise<Message> {
    const { by, member } = this.#who(command, 'acknowledge alerts');
    const now = this.#now();
    const incidents = this.#o.incidents();
    const result = acknowledge(this.#state.pages, incidents, what, {
      by,
      account: `${command.platform}:${command.userId}`,
      at: now,
    });
    if (!result.ok) throw new CommandError(result.reason);
    // Audited before anything else happens: who took it is what the record is for.
    for (const page of result.acknowledged) {
      await this.#audit('acknowledged', `ack ${page.incidentKey}`, command, member);
    }
    this.#set({ ...this.#state, pages: { ...this.#state.pages, ...result.pages } });
    const entries: NewEntry[] = [];
    const taken: string[] = [];
    for (const page of result.acknowledged) {
      const incident = incidents[page.incidentKey];
      if (incident === undefined) continue;
      taken.push(incidentMessage(incident, now).title);
      for (const target of page.targets) {
        entries.push(
          this.#entry(
            target,
            `ack:${page.id}`,
            'update-parent',
            incident,
            this.#parentNow(incident, page, target, now),
          ),
        );
      }
    }
    await this.#o.outbox.enqueue(entries);
    this.#o.logger.info(
      { by, incidents: result.acknowledged.map((p) => p.incidentKey) },
      'alert acknowledged',
    );
    return {
      title: `✋ ${by} acknowledged ${taken.join('; ')}`,
      tone: 'info',
      body: `At ${formatTime(now, MESSAGE_TIME_ZONE)}. Repeats and escalation stopped; the incident stays open until DRBD reports it over.`,
    };
  }

  async silence(
    match: string,
    durationMs: number,
    reason: string,
    command: IncomingCommand,
  ): Promise<Message> {
    const { by, member } = this.#who(command, 'set silences');
    const target = silenceTarget(match, await this.#o.resources());
    if (!target.ok) throw new CommandError(target.reason);
    if (durationMs < 1_000 || durationMs > MAX_SILENCE_MS) {
      throw new CommandError(
        `A silence lasts from 1s to ${formatSpan(MAX_SILENCE_MS)}; for longer, add a maintenance window to the configuration.`,
      );
    }
    const now = this.#now();
    const silence: Silence = {
      id: randomBytes(4).toString('hex'),
      matches: [target.match],
      from: now,
      until: now + durationMs,
      reason,
      by,
      source: 'command',
    };
    await this.#audit(
      'silenced',
      `silence ${match} ${formatSpan(durationMs)} ${reason}`,
      command,
      member,
      `until ${new Date(silence.until).toISOString()}`,
    );
    this.#set({ ...this.#state, silences: [...this.#state.silences, silence] });
    this.#o.logger.info({ by, match, until: silence.until, id: silence.id }, 'silence set');
    return {
      title: `🔕 Silenced ${target.what} for ${formatSpan(durationMs)}, until ${formatTime(silence.until, MESSAGE_TIME_ZONE, { sameDayAs: now })}`,
      tone: 'info',
      body: [
        `Reason: ${reason} (set by ${by}).`,
        'What it mutes is still recorded, shown as counted in `status`, and summed up here when the silence ends.',
        `End it early: \`unsilence ${silence.id}\``,
      ].join('\n'),
    };
  }

  async unsilence(what: string, command: IncomingCommand): Promise<Message> {
    const { by, member } = this.#who(command, 'end silences');
    const now = this.#now();
    const ending = this.#state.silences.filter(
      (s) => isActive(s, now) && (s.id === what || s.matches.includes(what)),
    );
    if (ending.length === 0) {
      const window = this.#silences(now).find(
        (s) => s.source === 'maintenance' && (s.id === what || s.matches.includes(what)),
      );
      throw new CommandError(
        window !== undefined
          ? `${what} is muted by a maintenance window of the configuration (${window.reason}); remove or change it there and reload.`
          : `No silence of ${what} is in force. In force: ${
              this.silences()
                .map((s) => describeSilence(s, now))
                .join('; ') || 'none'
            }.`,
      );
    }
    for (const s of ending)
      await this.#audit('unsilenced', `unsilence ${s.id}`, command, member, s.matches.join(', '));
    const ids = new Set(ending.map((s) => s.id));
    const state: OnCallState = {
      ...this.#state,
      silences: this.#state.silences.map((s) => (ids.has(s.id) ? { ...s, endedAt: now, endedBy: by } : s)),
    };
    const entries: NewEntry[] = [];
    this.#set(this.#endSilences(state, now, this.#o.incidents(), entries));
    await this.#o.outbox.enqueue(entries);
    return {
      title: `🔔 ${by} ended ${ending.length === 1 ? 'the silence' : `${ending.length} silences`} of ${[...new Set(ending.flatMap((s) => s.matches))].join(', ')}`,
      tone: 'info',
      body:
        entries.length > 0
          ? 'What it muted is summed up in the channels it would have gone to.'
          : 'It muted nothing.',
    };
  }
}
