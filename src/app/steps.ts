// Runs one plan step's action on this host through the ports. The leader runs steps for the other
// host over the peer link (the /v1/steps route, fenced by the leader's token); that host runs them
// here too, so both ends execute exactly the same code.

import type { StepAction } from '../core/operation.js';
import { type ContainerRuntime, ExternalCommandError, type StepRun } from '../ports/containers.js';

/** A step that failed, with every command it ran (the failed one included) for the audit log. */
export class StepFailed extends Error {
  readonly code = 'STEP_FAILED';
  constructor(
    message: string,
    readonly runs: readonly StepRun[],
  ) {
    super(message);
    this.name = 'StepFailed';
  }
}

export interface StepPorts {
  readonly containers: ContainerRuntime;
  /** For waiting in `container-verify`; tests pass a faster one. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function collect(work: () => Promise<StepRun[]>): Promise<StepRun[]> {
  try {
    return await work();
  } catch (err) {
    // An adapter call of several commands reports all of them (`runs`), the failing one last; a
    // refusal before any command (e.g. the container is not stopped) may carry the inspection.
    const runs = (err as { runs?: unknown }).runs;
    if (Array.isArray(runs)) throw new StepFailed((err as Error).message, runs as StepRun[]);
    if (err instanceof ExternalCommandError) throw new StepFailed(err.message, [err.run]);
    throw err;
  }
}

export async function runAction(action: StepAction, ports: StepPorts): Promise<StepRun[]> {
  const lxd = ports.containers;
  switch (action.kind) {
    case 'container-stop':
      return collect(() => lxd.stop(action.resource, action.container, { timeoutS: action.timeoutS }));
    case 'container-start':
      return collect(() => lxd.start(action.resource, action.container));
    case 'container-set-addresses':
      return collect(() =>
        lxd.setAddresses(action.resource, action.container, action.device, {
          ipv4: action.ipv4,
          ipv6: action.ipv6,
        }),
      );
    case 'container-verify': {
      const sleep = ports.sleep ?? delay;
      const now = ports.now ?? Date.now;
      const deadline = now() + action.timeoutMs;
      const wanted = [...action.ipv4, ...action.ipv6];
      let seen = 'not found';
      for (;;) {
        const found = (await lxd.list(action.resource)).find((c) => c.name === action.container);
        if (found !== undefined) {
          const up = [...found.addresses.ipv4, ...found.addresses.ipv6];
          if (found.status === 'Running' && wanted.every((a) => up.includes(a))) return [];
          seen = `${found.status}, up: ${up.join(', ') || 'no address'}`;
        }
        if (now() >= deadline) {
          throw new StepFailed(
            `${action.container} did not come up with ${wanted.join(', ')} within ${Math.round(action.timeoutMs / 1000)} s (${seen})`,
            [],
          );
        }
        await sleep(500);
      }
    }
  }
}
