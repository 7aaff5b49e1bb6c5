// The pair's containers: each host lists the LXD daemons of the resources it is Primary for (only
// the Primary has the file system mounted and the daemon running); the leader merges its own list
// with the peer's.

import type { HostState } from '../core/host-state.js';
import { own } from '../core/lookup.js';
import type { ContainerRuntime } from '../ports/container-runtime.js';
import type { ContainersView } from './command-registry.js';

export async function localContainers(
  runtime: ContainerRuntime,
  state: HostState | undefined,
  resources: readonly string[],
  host: string,
): Promise<ContainersView> {
  const view: {
    containers: ContainersView['containers'][number][];
    resources: ContainersView['resources'][number][];
  } = {
    containers: [],
    resources: [],
  };
  await Promise.all(
    resources.map(async (name) => {
      if (own(state?.resources ?? {}, name)?.fields.role !== 'Primary') {
        view.resources.push({ name, primaryOn: null });
        return;
      }
      try {
        view.containers.push(...(await runtime.list(name)));
        view.resources.push({ name, primaryOn: host });
      } catch (err) {
        view.resources.push({
          name,
          primaryOn: host,
          problem: `LXD on ${host} did not answer: ${(err as Error).message}`,
        });
      }
    }),
  );
  view.resources.sort((a, b) => a.name.localeCompare(b.name));
  return view;
}

/**
 * Merge this host's view with the peer's (or why the peer did not answer). A resource is normally
 * Primary on one host and listed from there. While both hosts are Primary (a split-brain) each side
 * runs its own LXD daemon, so the resource is listed once per side with that side's containers: the
 * operator sees which side runs the services before choosing the victim.
 */
export function mergeContainerViews(
  own: ContainersView,
  peer: ContainersView | { readonly unreachable: string },
  peerName: string,
): ContainersView {
  if ('unreachable' in peer) {
    return {
      containers: own.containers,
      resources: own.resources.map((r) =>
        r.primaryOn === null
          ? { ...r, problem: `not Primary here, and ${peerName} did not answer: ${peer.unreachable}` }
          : r,
      ),
    };
  }
  const resources: ContainersView['resources'][number][] = [];
  const fromPeer = new Set<string>();
  for (const r of own.resources) {
    const theirs = peer.resources.find((p) => p.name === r.name && p.primaryOn !== null);
    if (r.primaryOn === null) {
      resources.push(theirs ?? r);
    } else {
      resources.push(r);
      if (theirs !== undefined) resources.push(theirs);
    }
    if (theirs?.primaryOn === peerName) fromPeer.add(r.name);
  }
  return {
    resources,
    containers: [...own.containers, ...peer.containers.filter((c) => fromPeer.has(c.resource))],
  };
}
