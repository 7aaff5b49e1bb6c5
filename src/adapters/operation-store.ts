// Pending and recent operations, on disk. Every transition is written (fsynced) before the bot acts
// on it: a restart finds open requests where they were, and a request that was running when the
// process died is found and reported as interrupted, never continued.

import { isOpen, type Operation } from '../core/operation.js';
import { Journal, readJournal } from './journal.js';

/** Finished operations kept so a late click gets "already ran" rather than "unknown". */
const KEEP_FINISHED = 200;

export class OperationStore {
  readonly #journal: Journal<Operation>;
  readonly #operations = new Map<string, Operation>();

  constructor(readonly path: string) {
    this.#journal = new Journal(path);
  }

  /** Load what is on disk (the last record of each id wins) and compact the file. */
  async open(): Promise<{ damaged: number }> {
    const { records, damaged } = readJournal<Operation>(this.path);
    for (const op of records) {
      if (typeof op?.id === 'string') this.#operations.set(op.id, op);
    }
    await this.#compact();
    return { damaged };
  }

  get(id: string): Operation | undefined {
    return this.#operations.get(id);
  }

  all(): Operation[] {
    return [...this.#operations.values()];
  }

  async put(op: Operation): Promise<void> {
    await this.#journal.append([op]);
    this.#operations.set(op.id, op);
    if (this.#journal.appended > 1_000) await this.#compact();
  }

  async #compact(): Promise<void> {
    const all = [...this.#operations.values()];
    const live = all.filter((op) => isOpen(op.state) || op.state === 'running');
    const finished = all
      .filter((op) => !isOpen(op.state) && op.state !== 'running')
      .sort((a, b) => (a.finishedAt ?? a.requestedAt) - (b.finishedAt ?? b.requestedAt))
      .slice(-KEEP_FINISHED);
    const keep = [...finished, ...live];
    this.#operations.clear();
    for (const op of keep) this.#operations.set(op.id, op);
    await this.#journal.compact(keep);
  }

  close(): Promise<void> {
    return this.#journal.close();
  }
}
