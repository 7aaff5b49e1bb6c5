// `drbdsetup status` (text and --json), `role`, `cstate` and `dstate` as seen from one host.

import { colorize } from './render.js';
import { type CommandResult, peerOf, type Replica, replicaOf, SimError, type SimState } from './types.js';

export interface StatusOptions {
  json?: boolean;
  color?: boolean;
}

function replicating(replica: Replica): boolean {
  return replica.conn === 'Connected' && !replica.handshaking;
}

function syncState(state: SimState, host: string, resource: string): 'SyncSource' | 'SyncTarget' | undefined {
  const resync = state.resyncs[resource];
  if (!resync) return undefined;
  return resync.source === host ? 'SyncSource' : 'SyncTarget';
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

function statusText(state: SimState, host: string, resource: string, color: boolean): string {
  const replica = replicaOf(state, host, resource);
  const peerHost = peerOf(state, host);
  const peer = replicaOf(state, peerHost, resource);
  const is84 = state.dialect === '8.4';
  const lines = [`${resource} role:${paint(replica.role, 'role', color)}`];
  // Not on a terminal, drbdsetup adds client:no to a Diskless device (DRBD 9 only).
  const client = !is84 && replica.disk === 'Diskless' ? ' client:no' : '';
  lines.push(`  disk:${paint(replica.disk, 'disk', color)}${client}`);
  // An 8.4 StandAlone resource has no connection object left to list.
  if (is84 && replica.conn === 'StandAlone') return `${lines.join('\n')}\n\n`;
  const name = is84 ? 'peer' : peerHost;
  if (replica.conn !== 'Connected') {
    lines.push(`  ${name} connection:${paint(replica.conn, 'connection', color)}`);
    return `${lines.join('\n')}\n\n`;
  }
  const peerRole = replica.handshaking ? 'Unknown' : peer.role;
  lines.push(`  ${name} role:${paint(peerRole, 'peer-role', color)}`);
  const parts: string[] = [];
  const sync = replicating(replica) ? syncState(state, host, resource) : undefined;
  const repl = replicating(replica) ? (sync ?? 'Established') : 'Off';
  // DRBD 9 shows replication only beyond Established; drbdsetup-84 compares 8.4 states
  // where Established (C_CONNECTED) is already "beyond" and so always shows it.
  if (sync !== undefined || (is84 && repl === 'Established')) {
    parts.push(`replication:${paint(repl, 'replication', color)}`);
  }
  const peerDisk = replicating(replica) ? peer.disk : 'DUnknown';
  parts.push(`peer-disk:${paint(peerDisk, 'peer-disk', color)}`);
  if (!is84 && peerDisk === 'Diskless') parts.push('peer-client:no');
  const resync = state.resyncs[resource];
  if (sync !== undefined && resync) {
    const done = is84
      ? 100 * (1 - resync.outOfSyncKiB / state.deviceSizeKiB)
      : 100 * (1 - resync.outOfSyncKiB / resync.totalKiB);
    parts.push(`done:${done.toFixed(2)}`);
  }
  lines.push(`    ${parts.join(' ')}`);
  return `${lines.join('\n')}\n\n`;
}

// Mirrors the printf layout of drbdsetup's status --json, quirks included.
function statusJson(state: SimState, host: string, resource: string): string {
  const replica = replicaOf(state, host, resource);
  const peerHost = peerOf(state, host);
  const peer = replicaOf(state, peerHost, resource);
  const res = state.resources.find((r) => r.name === resource);
  const minor = res?.minor ?? 0;
  const connected = replicating(replica);
  const sync = connected ? syncState(state, host, resource) : undefined;
  const resync = state.resyncs[resource];
  const oos = sync && resync ? resync.outOfSyncKiB : 0;
  const inSync = 100 * (1 - oos / state.deviceSizeKiB);
  let out =
    '{\n' +
    `  "name": "${resource}",\n` +
    `  "node-id": ${state.hosts.indexOf(host)},\n` +
    `  "role": "${replica.role}",\n` +
    '  "suspended": false,\n' +
    '  "write-ordering": "flush",\n' +
    '  "devices": [\n';
  out +=
    '    {\n' +
    '      "volume": 0,\n' +
    `      "minor": ${minor},\n` +
    `      "disk-state": "${replica.disk}",\n` +
    '      "client": false,\n' +
    '      "quorum": true,\n' +
    `      "size": ${state.deviceSizeKiB},\n` +
    '      "read": 0,\n' +
    '      "written": 0,\n' +
    '      "al-writes": 0,\n' +
    '      "bm-writes": 0,\n' +
    '      "upper-pending": 0,\n' +
    '      "lower-pending": 0\n' +
    '    }';
  out += ' ],\n  "connections": [\n';
  out +=
    '    {\n' +
    `      "peer-node-id": ${state.hosts.indexOf(peerHost)},\n` +
    `      "name": "${peerHost}",\n` +
    `      "connection-state": "${replica.conn}", \n` +
    '      "congested": false,\n' +
    `      "peer-role": "${connected ? peer.role : 'Unknown'}",\n` +
    '      "ap-in-flight": 0,\n' +
    '      "rs-in-flight": 0,\n' +
    '      "peer_devices": [\n';
  out +=
    '        {\n' +
    '          "volume": 0,\n' +
    `          "replication-state": "${connected ? (sync ?? 'Established') : 'Off'}",\n` +
    `          "peer-disk-state": "${connected ? peer.disk : 'DUnknown'}",\n` +
    '          "peer-client": false,\n' +
    '          "resync-suspended": "no",\n' +
    '          "received": 0,\n' +
    '          "sent": 0,\n' +
    `          "out-of-sync": ${oos},\n` +
    '          "pending": 0,\n' +
    '          "unacked": 0,\n' +
    '          "has-sync-details": false,\n' +
    '          "has-online-verify-details": false,\n' +
    `          "percent-in-sync": ${inSync.toFixed(2)}${sync ? ',' : ''}\n`;
  if (sync) out += `          "percent-resync-done": ${inSync.toFixed(2)}\n`;
  out += '        }';
  out += ' ]\n    }';
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
  const stdout = names.map((n) => statusText(state, host, n, opts.color === true)).join('');
  return { exitCode: 0, stdout, stderr: '' };
}

/** DRBD 9 prints the local role; drbdsetup-84 prints `local/peer`. */
export function role(state: SimState, host: string, resource: string): string {
  const replica = replicaOf(state, host, resource);
  if (state.dialect === '9') return replica.role;
  const peer = replicaOf(state, peerOf(state, host), resource);
  return `${replica.role}/${replicating(replica) ? peer.role : 'Unknown'}`;
}

/** DRBD 9 connection state, or the 8.4 device connection state (WFConnection, SyncSource …). */
export function cstate(state: SimState, host: string, resource: string): string {
  const replica = replicaOf(state, host, resource);
  if (state.dialect === '9') return replica.conn;
  if (replica.conn === 'Connecting') return 'WFConnection';
  if (replica.conn === 'Connected') {
    if (replica.handshaking) return 'WFReportParams';
    return syncState(state, host, resource) ?? 'Connected';
  }
  return replica.conn;
}

export function dstate(state: SimState, host: string, resource: string): string {
  const replica = replicaOf(state, host, resource);
  const peer = replicaOf(state, peerOf(state, host), resource);
  return `${replica.disk}/${replicating(replica) ? peer.disk : 'DUnknown'}`;
}
