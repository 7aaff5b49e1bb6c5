// `events2` as a process: the dump, then the host's journal followed until killed.
// fs.watch (inotify) wakes the reader within a millisecond or so of an append; a short
// poll covers file systems where watching is unreliable. The stream also ticks the pair so
// resyncs progress and finish while somebody is watching, as they would in a kernel.

import { appendFileSync, type FSWatcher, readFileSync, watch } from 'node:fs';
import { journalPath, journalSize, readJournal } from './event-journal.js';
import { type EventsOptions, SimulatedPair } from './pair.js';
import { defaultRenderOptions, endOfDump, type RenderOptions, renderRecords, skippedLine } from './render.js';
import { statePath, systemClock } from './state.js';
import { type SimState, utilsBefore } from './types.js';
import { buildView, dumpRecords } from './views.js';

export interface StreamOptions extends EventsOptions {
  now: boolean;
}

export interface StreamIo {
  write(text: string): void;
  error(text: string): void;
}

const POLL_MS = 20;
const TICK_MS = 250;

export async function streamEvents(
  dir: string,
  host: string,
  opts: StreamOptions,
  io: StreamIo,
): Promise<number> {
  const pair = SimulatedPair.open(dir);
  // Snapshot and journal position are taken together under the lock, so no event is lost
  // or printed twice between the dump and the first followed line.
  const start = pair.mutate((tx) => ({
    up: tx.state.up[host] === true,
    dialect: tx.state.dialect,
    promotion: !utilsBefore(tx.state, '9.14'),
    dump: tx.state.up[host] ? dumpRecords(buildView(tx.state, host), tx.state, opts.resource) : [],
    offset: journalSize(dir, host),
  })).result;
  if (!start.up) {
    io.error("Could not connect to 'drbd' generic netlink family\n");
    return 20;
  }
  const ro: RenderOptions = {
    ...defaultRenderOptions(start.dialect, start.promotion),
    timestamps: opts.timestamps === true,
    statistics: opts.statistics === true,
    full: opts.full === true,
    color: opts.color === true,
  };
  const t0 = systemClock.nowMicros();
  const dump = renderRecords(start.dump, ro, t0);
  dump.push(endOfDump(ro, t0));
  io.write(`${dump.join('\n')}\n`);
  if (opts.now) return 0;

  return new Promise<number>((resolve) => {
    let offset = start.offset;
    let watcher: FSWatcher | undefined;
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      clearInterval(poller);
      clearInterval(ticker);
      watcher?.close();
      resolve(code);
    };
    const drain = () => {
      if (finished) return;
      if (journalSize(dir, host) < offset) {
        // `sim init` started a new pair in this directory: this stream's kernel is gone.
        io.error('drbdsetup events2: the simulated pair was re-initialised\n');
        finish(20);
        return;
      }
      const { entries, offset: next } = readJournal(dir, host, offset);
      offset = next;
      const out: string[] = [];
      for (const entry of entries) {
        if (entry.type === 'down') {
          if (out.length > 0) io.write(`${out.join('\n')}\n`);
          io.error('drbdsetup events2: lost the drbd kernel module (host went down)\n');
          finish(20);
          return;
        }
        if (entry.type === 'skip') out.push(skippedLine(entry.n));
        if (entry.type !== 'events') continue;
        const events = entry.events.filter(
          (e) => opts.resource === undefined || e.resource === opts.resource,
        );
        out.push(...renderRecords(events, ro, entry.t));
      }
      if (out.length > 0) io.write(`${out.join('\n')}\n`);
    };
    const tickIfBusy = () => {
      try {
        const state = JSON.parse(readFileSync(statePath(dir), 'utf8')) as SimState;
        if (Object.keys(state.resyncs).length > 0) pair.tick();
      } catch {
        // A concurrent rename or a held lock: the next tick will do.
      }
    };
    appendFileSync(journalPath(dir, host), '');
    try {
      watcher = watch(journalPath(dir, host), () => drain());
    } catch {
      watcher = undefined;
    }
    const poller = setInterval(drain, POLL_MS);
    const ticker = setInterval(tickIfBusy, TICK_MS);
    drain();
  });
}
