// `drbdsetup status` (text and --json), `role`, `cstate` and `dstate` as seen from one host.
// The text layout follows drbd-utils' resource_status / device_status / connection_status /
// peer_device_status (user/v9/drbdsetup.c, user/v84/drbdsetup.c) as printed by the drbd-utils
// this simulator models (no open:/tls: fields).

import { colorize } from './render.js';
import {
  type CommandResult,
  established,
  isClient,
  peerOf,
  peersOf,
  replicaOf,
  SimError,
  type SimState,
} from './types.js';
import { hasQuorum, peerDiskOf, peerRoleOf, replicationOf, suspendedOf, syncOn } from './views.js';

export interface StatusOptions {
  json?: boolean;
  color?: boolean;
  /** --statistics: the counters of each object on their own line. */
  statistics?: boolean;
}

function selectResources(state: SimState, resource: string | undefined): string[] {
  if (resource === undefined || resource === 'all') return state.resources.map((r) => r.name).sort();
  if (!state.resources.some((r) => r.name === resource))
    throw new SimError(`${resource}: No such resource`, 10);
  return [resource];
}

function paint(value: string, what: Parameters<typeof colorize>[1], color: boolean): string {
  return color ? colorize(value, what) : value;
}

const SYNCING = ['SyncSource', 'SyncTarget', 'PausedSyncS', 'PausedSyncT', 'VerifyS', 'VerifyT'];

function statusText(state: SimState, host: string, resource: string, opts: StatusOptions): string {
  const color = opts.color === true;
  const replica = replicaOf(state, host, resource);
  const is84 = state.dialect === '8.4';
  const suspended = suspendedOf(state, host, resource);
  const lines = [
    `${resource} role:${paint(replica.role, 'role', color)}${suspended === 'no' ? '' : ` suspended:${suspended}`}`,
  ];
  // Not on a terminal, drbdsetup adds client:no|yes to a Diskless device (DRBD 9 only).
  const client =
    !is84 && replica.disk === 'Diskless' ? ` client:${isClient(state, host) ? 'yes' : 'no'}` : '';
  const quorum = !is84 && !hasQuorum(state, host, resource) ? ' quorum:no' : '';
  lines.push(`  disk:${paint(replica.disk, 'disk', color)}${client}${quorum}`);
  // print_device_statistics without --verbose: read and written only.
  if (opts.statistics) lines.push('      read:0 written:0');
  for (const peerHost of peersOf(state, host)) {
    const ep = state.endpoints[host]?.[resource]?.[peerHost];
    if (!ep) continue;
    // An 8.4 StandAlone resource has no connection object left to list.
    if (is84 && !ep.configured) continue;
    const peerReplica = state.replicas[peerHost]?.[resource];
    const name = is84 ? 'peer' : peerHost;
    if (ep.conn !== 'Connected') {
      lines.push(`  ${name} connection:${paint(ep.conn, 'connection', color)}`);
      if (!opts.statistics) continue;
    } else {
      lines.push(`  ${name} role:${paint(peerRoleOf(ep, peerReplica), 'peer-role', color)}`);
    }
    const parts: string[] = [];
    const repl = replicationOf(ep);
    // DRBD 9 shows replication only beyond Established; drbdsetup-84 compares 8.4 states
    // where Established (C_CONNECTED) is already "beyond" WFReportParams and so shows it.
    if ((repl !== 'Off' && repl !== 'Established') || (is84 && repl === 'Established')) {
      parts.push(`replication:${paint(repl, 'replication', color)}`);
    }
    const peerDisk = peerDiskOf(ep, peerReplica);
    if (opts.statistics || repl !== 'Off' || peerDisk !== 'DUnknown') {
      parts.push(`peer-disk:${paint(peerDisk, 'peer-disk', color)}`);
      if (!is84 && peerDisk === 'Diskless')
        parts.push(`peer-client:${isClient(state, peerHost) ? 'yes' : 'no'}`);
      const sync = syncOn(state, resource, host, peerHost);
      if (sync && established(ep) && SYNCING.includes(repl)) {
        // 8.4 (in_resync_without_details) relates the out-of-sync count to the device size and
        // shows no done: for a verify.
        if (!is84) parts.push(`done:${(100 * (1 - sync.outOfSyncKiB / sync.totalKiB)).toFixed(2)}`);
        else if (sync.kind === 'resync')
          parts.push(`done:${(100 * (1 - sync.outOfSyncKiB / state.deviceSizeKiB)).toFixed(2)}`);
      }
      const peerEp = state.endpoints[peerHost]?.[resource]?.[host];
      const susp: string[] = [];
      if (ep.pausedUser) susp.push('user');
      if (peerEp && established(ep) && (peerEp.pausedUser || peerEp.pausedDependency)) susp.push('peer');
      if (ep.pausedDependency) susp.push('dependency');
      if (susp.length > 0) parts.push(`resync-suspended:${susp.join(',')}`);
    }
    if (parts.length > 0) lines.push(`    ${parts.join(' ')}`);
    if (opts.statistics) {
      // print_peer_device_statistics without --verbose (drbdsetup.c): received and sent, and
      // out-of-sync only when non-zero; pending, unacked, dbdt1 and eta need --verbose.
      const sync = syncOn(state, resource, host, peerHost);
      const oos = (sync?.kind === 'resync' && established(ep) ? sync.outOfSyncKiB : 0) + ep.outOfSyncKiB;
      lines.push(`        received:0 sent:0${oos > 0 ? ` out-of-sync:${oos}` : ''}`);
    }
  }
  return `${lines.join('\n')}\n\n`;
}

// Mirrors the printf layout of drbdsetup's status --json, quirks included.
function statusJson(state: SimState, host: string, resource: string): string {
  const replica = replicaOf(state, host, resource);
  const res = state.resources.find((r) => r.name === resource);
  const minor = res?.minor ?? 0;
  let out =
    '{\n' +
    `  "name": "${resource}",\n` +
    `  "node-id": ${state.hosts.indexOf(host)},\n` +
    `  "role": "${replica.role}",\n` +
    `  "suspended": ${suspendedOf(state, host, resource) !== 'no'},\n` +
    '  "write-ordering": "flush",\n' +
    '  "devices": [\n';
  out +=
    '    {\n' +
    '      "volume": 0,\n' +
    `      "minor": ${minor},\n` +
    `      "disk-state": "${replica.disk}",\n` +
    `      "client": ${isClient(state, host)},\n` +
    `      "quorum": ${hasQuorum(state, host, resource)},\n` +
    `      "size": ${state.deviceSizeKiB},\n` +
    '      "read": 0,\n' +
    '      "written": 0,\n' +
    '      "al-writes": 0,\n' +
    '      "bm-writes": 0,\n' +
    '      "upper-pending": 0,\n' +
    '      "lower-pending": 0\n' +
    '    }';
  out += ' ],\n  "connections": [\n';
  const connections = peersOf(state, host).map((peerHost) => {
    const ep = state.endpoints[host]?.[resource]?.[peerHost];
    const peerReplica = state.replicas[peerHost]?.[resource];
    if (!ep) return '';
    const repl = replicationOf(ep);
    const sync = syncOn(state, resource, host, peerHost);
    const syncing = sync !== undefined && established(ep) && SYNCING.includes(repl);
    const oos = (syncing && sync?.kind === 'resync' ? sync.outOfSyncKiB : 0) + ep.outOfSyncKiB;
    const inSync = 100 * (1 - oos / state.deviceSizeKiB);
    let c =
      '    {\n' +
      `      "peer-node-id": ${state.hosts.indexOf(peerHost)},\n` +
      `      "name": "${peerHost}",\n` +
      `      "connection-state": "${ep.conn}", \n` +
      '      "congested": false,\n' +
      `      "peer-role": "${peerRoleOf(ep, peerReplica)}",\n` +
      '      "ap-in-flight": 0,\n' +
      '      "rs-in-flight": 0,\n' +
      '      "peer_devices": [\n';
    c +=
      '        {\n' +
      '          "volume": 0,\n' +
      `          "replication-state": "${repl}",\n` +
      `          "peer-disk-state": "${peerDiskOf(ep, peerReplica)}",\n` +
      `          "peer-client": ${isClient(state, peerHost)},\n` +
      `          "resync-suspended": "${ep.pausedUser ? 'user' : ep.pausedDependency ? 'dependency' : 'no'}",\n` +
      '          "received": 0,\n' +
      '          "sent": 0,\n' +
      `          "out-of-sync": ${oos},\n` +
      '          "pending": 0,\n' +
      '          "unacked": 0,\n' +
      '          "has-sync-details": false,\n' +
      '          "has-online-verify-details": false,\n' +
      `          "percent-in-sync": ${inSync.toFixed(2)}${syncing ? ',' : ''}\n`;
    if (syncing) c += `          "percent-resync-done": ${inSync.toFixed(2)}\n`;
    c += '        }';
    c += ' ]\n    }';
    return c;
  });
  out += connections.join(',\n');
  out += ' ]\n}\n';
  return out;
}

export function status(
  state: SimState,
  host: string,
  resource: string | undefined,
  opts: StatusOptions,
): CommandResult {
  let names: string[];
  try {
    names = selectResources(state, resource);
  } catch (err) {
    if (err instanceof SimError) return { exitCode: err.exitCode, stdout: '', stderr: `${err.message}\n` };
    throw err;
  }
  if (opts.json) {
    if (state.dialect === '8.4') {
      return { exitCode: 20, stdout: '', stderr: "drbdsetup: unrecognized option '--json'\n" };
    }
    const body = names.map((n) => statusJson(state, host, n)).join(',\n');
    return { exitCode: 0, stdout: `[\n${body}]\n\n`, stderr: '' };
  }
  const stdout = names.map((n) => statusText(state, host, n, opts)).join('');
  return { exitCode: 0, stdout, stderr: '' };
}

/** DRBD 9 prints the local role; drbdsetup-84 prints `local/peer`. */
export function role(state: SimState, host: string, resource: string): string {
  const replica = replicaOf(state, host, resource);
  if (state.dialect === '9') return replica.role;
  const peer = peerOf(state, host);
  const ep = state.endpoints[host]?.[resource]?.[peer];
  const peerReplica = state.replicas[peer]?.[resource];
  return `${replica.role}/${ep ? peerRoleOf(ep, peerReplica) : 'Unknown'}`;
}

/** DRBD 9 connection state, or the 8.4 device connection state (WFConnection, SyncSource …). */
export function cstate(state: SimState, host: string, resource: string, peer?: string): string {
  replicaOf(state, host, resource);
  const ep = state.endpoints[host]?.[resource]?.[peer ?? peerOf(state, host)];
  if (!ep) throw new SimError(`${resource}: No such connection`, 10);
  if (state.dialect === '9') return ep.conn;
  if (ep.conn === 'Connecting') return 'WFConnection';
  if (ep.conn === 'Connected') {
    if (ep.repl === 'Off') return 'WFReportParams';
    return ep.repl === 'Established' ? 'Connected' : ep.repl;
  }
  return ep.conn;
}

export function dstate(state: SimState, host: string, resource: string): string {
  const replica = replicaOf(state, host, resource);
  const peer = peerOf(state, host);
  const ep = state.endpoints[host]?.[resource]?.[peer];
  const peerReplica = state.replicas[peer]?.[resource];
  return `${replica.disk}/${ep ? peerDiskOf(ep, peerReplica) : 'DUnknown'}`;
}
