// The chat message both sides of the chat port share: the core builds it (src/core/message-tones.ts has
// the helpers and the tone table), the platform adapters render and send it. It lives in ports so
// that the port does not depend on the core.

/** `resolved` is how an incident's parent message looks once the resource is healthy again. */
export type Tone = 'info' | 'warning' | 'critical' | 'resolved' | 'ok';

export interface MessageField {
  readonly label: string;
  readonly value: string;
  /** Short fields may sit side by side. */
  readonly short?: boolean;
}

/**
 * A button. It carries a serialised command (the same text a person would type, e.g.
 * "failover r0 confirm 7f3a"), so a click goes through exactly the path of a typed command.
 */
export interface MessageAction {
  /** Stable id within the message (Slack action_id, Discord custom_id prefix). */
  readonly id: string;
  readonly label: string;
  readonly command: string;
  readonly style?: 'primary' | 'danger' | 'default';
}

/**
 * Someone a message calls by name (a team member: their id on each platform). Renderers turn it into
 * the platform's own mention (Slack `<@U…>`, Discord `<@id>`), which is what makes a phone ring; a
 * person without an id on that platform is named in plain text.
 */
export interface MentionTarget {
  readonly name: string;
  readonly slack?: string | undefined;
  readonly discord?: string | undefined;
}

/** Who a message pages: the people on call (and whoever an escalation added), or the whole channel. */
export interface Mention {
  readonly people: readonly MentionTarget[];
  /** Everyone active in the channel (Slack `<!here>`, Discord `@here`). */
  readonly here?: boolean;
}

/** A link shown with the message (an alert's runbook). The URL is the operator's, from the configuration. */
export interface MessageLink {
  readonly label: string;
  readonly url: string;
}

export interface Message {
  /**
   * One short line: what happened or what is blocked ("Failover r0 blocked: split-brain not
   * recovered"). The details belong in the body or the fields; a title of several lines is split by
   * `oneLineTitle` (the renderers do it) so the title never carries a whole checklist.
   */
  readonly title: string;
  readonly tone: Tone;
  /** The host that observed it (the pair has two, so this always matters). */
  readonly host?: string;
  readonly resource?: string | null;
  /** Markdown-light body: `code`, *bold* (rendered per platform). */
  readonly body?: string;
  readonly fields?: readonly MessageField[];
  readonly actions?: readonly MessageAction[];
  /** Messages with the same key belong to one incident (one thread). */
  readonly incidentKey?: string;
  /** ISO-8601 time the message is about. */
  readonly at?: string;
  /** Page these people (a critical alert, its repeats and escalations). Mentions only ring on a post. */
  readonly mention?: Mention;
  /** Links shown with it, e.g. the runbook of the alert's kind. */
  readonly links?: readonly MessageLink[];
}
