import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  type Change,
  carryOverVanishedConnections,
  diffHostStates,
  emptyHostState,
  type HostState,
} from '../../src/core/host-state.js';
import { type Events2Event, parseEvents2Line } from '../../src/drbd/events2.js';

function ev(line: string): Events2Event {
  const record = parseEvents2Line(line);
  if (record.type !== 'event') throw new Error(`not an event: ${line}`);
  return record;
}

function applyAll(
  lines: string[],
  state: HostState = emptyHostState('alpha'),
): { state: HostState; changes: Change[] } {
  const changes: Change[] = [];
  let at = 1_000;
  for (const line of lines) {
    const applied = applyEvent(state, ev(line), at);
    state = applied.state;
    changes.push(...applied.changes);
    at += 1_000;
  }
  return { state, changes };
}

const CONNECTED = [
  'create resource name:r0 role:Primary suspended:no may_promote:no',
  'create device name:r0 volume:0 minor:0 disk:UpToDate client:no open:yes quorum:yes',
  'create connection name:r0 peer-node-id:1 conn-name:beta connection:Connected role:Secondary',
  'create peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate',
];

describe('applyEvent', () => {
  it('builds resources, devices, connections and peer devices', () => {
    const { state } = applyAll(CONNECTED);
    const r0 = state.resources.r0;
    expect(r0?.fields.role).toBe('Primary');
    expect(r0?.devices[0]?.fields.disk).toBe('UpToDate');
    expect(r0?.devices[0]?.minor).toBe(0);
    expect(r0?.connections.beta?.fields.connection).toBe('Connected');
    expect(r0?.connections.beta?.peerNodeId).toBe('1');
    expect(r0?.connections.beta?.peerDevices[0]?.fields['peer-disk']).toBe('UpToDate');
  });

  it('reports created objects and the watched fields they start with', () => {
    const { changes } = applyAll(CONNECTED.slice(0, 1));
    expect(changes).toContainEqual(
      expect.objectContaining({ type: 'created', object: 'resource', resource: 'r0' }),
    );
    expect(changes).toContainEqual(
      expect.objectContaining({ type: 'field', field: 'role', old: undefined, new: 'Primary' }),
    );
  });

  it('emits one change per watched field that changed, with old and new value', () => {
    const { state } = applyAll(CONNECTED);
    const { changes } = applyAll(
      ['change connection name:r0 peer-node-id:1 conn-name:beta connection:Connecting role:Unknown'],
      state,
    );
    expect(changes).toEqual([
      expect.objectContaining({
        object: 'connection',
        field: 'connection',
        old: 'Connected',
        new: 'Connecting',
        peer: 'beta',
      }),
      expect.objectContaining({ object: 'connection', field: 'role', old: 'Secondary', new: 'Unknown' }),
    ]);
  });

  it('never reports statistics churn, but keeps the values', () => {
    const { state } = applyAll(CONNECTED);
    const { state: after, changes } = applyAll(
      [
        'change device name:r0 volume:0 minor:0 read:100 written:200 al-writes:3 upper-pending:1',
        'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 received:5 sent:10 out-of-sync:0 pending:1',
        'change connection name:r0 peer-node-id:1 conn-name:beta congested:no ap-in-flight:4',
        'change resource name:r0 promotion_score:10102 write-ordering:flush',
        'change device name:r0 volume:0 minor:0 disk:UpToDate',
      ],
      state,
    );
    expect(changes).toEqual([]);
    expect(after.resources.r0?.devices[0]?.fields.written).toBe('200');
  });

  it('tracks a resync without a change per percent', () => {
    const { state } = applyAll(CONNECTED);
    const { state: syncing, changes } = applyAll(
      [
        'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:SyncSource peer-disk:Inconsistent out-of-sync:4096 done:0.00',
        'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 out-of-sync:2048 done:50.00 eta:10',
        'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 out-of-sync:1024 done:75.00 eta:5',
      ],
      state,
    );
    expect(changes.map((c) => (c.type === 'field' ? c.field : c.type))).toEqual(['replication', 'peer-disk']);
    const resync = syncing.resources.r0?.connections.beta?.peerDevices[0]?.resync;
    expect(resync).toMatchObject({
      startedAt: 1_000,
      source: true,
      initialOutOfSyncKiB: 4096,
      donePercent: 75,
      outOfSyncKiB: 1024,
      etaSeconds: 5,
    });
    const { state: done } = applyAll(
      [
        'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate',
      ],
      syncing,
    );
    expect(done.resources.r0?.connections.beta?.peerDevices[0]?.resync).toBeUndefined();
  });

  it('remembers when a connection was lost and forgets it when connected again', () => {
    const { state } = applyAll(CONNECTED);
    const lost = applyEvent(
      state,
      ev('change connection name:r0 peer-node-id:1 conn-name:beta connection:Connecting'),
      5_000,
    );
    expect(lost.state.resources.r0?.connections.beta?.lostAt).toBe(5_000);
    const still = applyEvent(
      lost.state,
      ev('change connection name:r0 peer-node-id:1 conn-name:beta connection:Unconnected'),
      6_000,
    );
    expect(still.state.resources.r0?.connections.beta?.lostAt).toBe(5_000);
    const back = applyEvent(
      still.state,
      ev('change connection name:r0 peer-node-id:1 conn-name:beta connection:Connected'),
      9_000,
    );
    expect(back.state.resources.r0?.connections.beta?.lostAt).toBeUndefined();
  });

  it('treats an 8.4 connection destroyed after Disconnecting as StandAlone', () => {
    const { state } = applyAll([
      'exists resource name:r0 role:Primary suspended:no',
      'exists device name:r0 volume:0 minor:0 disk:UpToDate',
      'exists connection name:r0 peer-node-id:0 conn-name:peer connection:Connected role:Secondary',
      'exists peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:Established peer-disk:UpToDate',
    ]);
    const { state: after, changes } = applyAll(
      [
        'change connection name:r0 peer-node-id:0 conn-name:peer connection:Disconnecting role:Unknown',
        'destroy peer-device name:r0 peer-node-id:0 conn-name:peer volume:0',
        'destroy connection name:r0 peer-node-id:0 conn-name:peer',
      ],
      state,
    );
    expect(after.resources.r0?.connections.peer?.fields.connection).toBe('StandAlone');
    expect(
      changes
        .filter((c) => c.type === 'field' && c.field === 'connection')
        .map((c) => c.type === 'field' && c.new),
    ).toEqual(['Disconnecting', 'StandAlone']);
    // `drbdadm connect` on 8.4 creates the connection again.
    const { state: again } = applyAll(
      ['create connection name:r0 peer-node-id:0 conn-name:peer connection:Connecting'],
      after,
    );
    expect(again.resources.r0?.connections.peer?.fields.connection).toBe('Connecting');
  });

  it('removes a DRBD 9 connection destroyed while StandAlone (drbdadm down)', () => {
    const { state } = applyAll([
      ...CONNECTED,
      'change connection name:r0 peer-node-id:1 conn-name:beta connection:StandAlone',
      'destroy connection name:r0 peer-node-id:1 conn-name:beta',
      'destroy device name:r0 volume:0',
    ]);
    expect(state.resources.r0?.connections.beta).toBeUndefined();
    expect(state.resources.r0?.devices[0]).toBeUndefined();
    const { state: gone, changes } = applyAll(['destroy resource name:r0'], state);
    expect(gone.resources.r0).toBeUndefined();
    expect(changes).toEqual([expect.objectContaining({ type: 'destroyed', object: 'resource' })]);
  });

  it('renames resources and reports helper calls', () => {
    const { state, changes } = applyAll([
      ...CONNECTED,
      'call helper name:r0 peer-node-id:1 conn-name:beta volume:0 minor:0 helper:split-brain',
      'response helper name:r0 peer-node-id:1 conn-name:beta volume:0 minor:0 helper:split-brain status:0',
      'rename resource name:r0 new_name:data',
    ]);
    expect(changes.filter((c) => c.type === 'helper')).toEqual([
      expect.objectContaining({ phase: 'call', helper: 'split-brain', peer: 'beta', volume: 0 }),
      expect.objectContaining({ phase: 'response', helper: 'split-brain', status: 0 }),
    ]);
    expect(Object.keys(state.resources)).toEqual(['data']);
    expect(state.resources.data?.connections.beta?.splitBrain).toMatchObject({
      unresolved: true,
      localVictim: false,
    });
  });

  it('does not mutate the state it was given', () => {
    const { state } = applyAll(CONNECTED);
    const frozen = JSON.stringify(state);
    applyEvent(state, ev('change resource name:r0 role:Secondary'), 9_000);
    applyEvent(state, ev('destroy connection name:r0 peer-node-id:1 conn-name:beta'), 9_000);
    expect(JSON.stringify(state)).toBe(frozen);
  });
});

describe('diffHostStates', () => {
  it('finds what changed between two dumps, including vanished and new resources', () => {
    const { state: before } = applyAll([...CONNECTED, 'create resource name:old role:Secondary']);
    const { state: after } = applyAll([
      'exists resource name:r0 role:Secondary suspended:no may_promote:no',
      'exists device name:r0 volume:0 minor:0 disk:UpToDate client:no open:no quorum:yes',
      'exists connection name:r0 peer-node-id:1 conn-name:beta connection:Connected role:Primary',
      'exists peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate',
      'exists resource name:new role:Secondary',
    ]);
    const changes = diffHostStates(before, after, 42);
    expect(changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'destroyed', resource: 'old' }),
        expect.objectContaining({ type: 'created', resource: 'new' }),
        expect.objectContaining({ field: 'role', old: 'Primary', new: 'Secondary', resource: 'r0', at: 42 }),
        expect.objectContaining({ field: 'role', old: 'Secondary', new: 'Primary', peer: 'beta' }),
        expect.objectContaining({ field: 'open', old: 'yes', new: 'no' }),
      ]),
    );
    expect(changes).toHaveLength(5);
  });

  it('keeps an 8.4 connection that vanished from the fresh dump as StandAlone', () => {
    const { state: before } = applyAll(CONNECTED);
    const { state: fresh } = applyAll([
      'exists resource name:r0 role:Primary suspended:no may_promote:no',
      'exists device name:r0 volume:0 minor:0 disk:UpToDate client:no open:yes quorum:yes',
    ]);
    const carried = carryOverVanishedConnections(before, fresh);
    expect(carried.resources.r0?.connections.beta?.fields.connection).toBe('StandAlone');
    expect(diffHostStates(before, carried, 1)).toEqual([
      expect.objectContaining({ field: 'connection', old: 'Connected', new: 'StandAlone' }),
      expect.objectContaining({ field: 'role', old: 'Secondary', new: 'Unknown' }),
    ]);
  });
});
