// What the web console's server and its page say to each other: the JSON of the event stream and
// of the command API. Types only, and importing only pure types, because two programs read this
// file: the server's (tsconfig.json) and the page's (browser/tsconfig.json, DOM library, no Node),
// whose JSDoc imports it so that tsc checks the page's script against what the server sends.

import type { Message } from '../../core/message-tones.js';

export interface ConsoleResourceStatus {
  readonly name: string;
  /** Primary / Secondary / Unknown. */
  readonly role: string;
  /** This host's disk (one per volume, joined with "/" when there are several). */
  readonly disk: string;
  /** The connection to the peer: Connected, StandAlone, Connecting … ("—" when there is none). */
  readonly connection: string;
  /** Established, SyncSource, SyncTarget, Off … */
  readonly replication: string;
  readonly peerDisk: string;
  /** Resync progress, while one runs and statistics tell it. */
  readonly syncPercent?: number;
}

export interface ConsoleHostStatus {
  readonly host: string;
  /** False when this host's view could not be had (the peer link is down, …). */
  readonly reachable: boolean;
  readonly resources: readonly ConsoleResourceStatus[];
}

export interface ConsoleStatus {
  /** The instance that leads the pair; null when none is elected. */
  readonly leader: string | null;
  /** The leader's fencing token (0 without a lock store). */
  readonly token: number;
  readonly hosts: readonly ConsoleHostStatus[];
  /** Names of the people on call now. */
  readonly onCall?: readonly string[];
}

/** Where a command came from: typed in the command line, or a message's button. */
export type ConsoleCommandSource = 'slash-command' | 'button';

/** One message of the channel as the page gets it. */
export interface ConsoleEntry {
  readonly id: string;
  /** Order of first appearance. */
  readonly seq: number;
  readonly channel: string;
  /** The thread's parent message. */
  readonly threadOf?: string;
  readonly message: Message;
  readonly postedAt: string;
  readonly editedAt?: string;
  /** Set on the answer to a command. */
  readonly reply?: {
    readonly command: string;
    readonly user: string;
    readonly source: ConsoleCommandSource;
    readonly private: boolean;
  };
}

/** The answer to POST /api/command: the handler's CommandReply, with where the page shows it. */
export interface CommandAnswer {
  readonly id: string;
  readonly private: boolean;
  readonly message: Message;
  readonly entry: ConsoleEntry;
}

/** The status panel's content (`status` event, and in the snapshot). */
export interface StatusPayload {
  readonly status: ConsoleStatus | null;
  readonly error?: string;
  readonly at: string | null;
}

/** The first event of every stream: everything the page shows. */
export interface ConsoleSnapshot {
  readonly you: { readonly user: string };
  readonly title: string;
  readonly channel: string;
  readonly maxMessages: number;
  readonly entries: readonly ConsoleEntry[];
  readonly status: StatusPayload;
}

/** The `remove` event: a reply that turned private leaves the others' pages. */
export interface ConsoleRemoval {
  readonly id: string;
}

/** The body of POST /api/command. */
export interface CommandRequest {
  readonly text: string;
  readonly source: ConsoleCommandSource;
  /** The message whose button was clicked. */
  readonly messageId?: string;
}

/** Every error answer of the API. */
export interface ErrorAnswer {
  readonly error: string;
}
