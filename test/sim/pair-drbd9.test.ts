import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedPair } from '../../src/sim/pair.js';
import { ManualClock, tempDir } from './helpers.js';

const R0_ALPHA = 'name:r0 peer-node-id:1 conn-name:beta';
const R0_BETA = 'name:r0 peer-node-id:0 conn-name:alpha';
const PATH_ALPHA = `path ${R0_ALPHA} local:ipv4:10.0.0.1:7789 peer:ipv4:10.0.0.2:7789`;

describe('SimulatedPair, DRBD 9 dialect', () => {
  let dir: string;
  let cleanup: () => void;
  let clock: ManualClock;
  let pair: SimulatedPair;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    clock = new ManualClock();
    pair = SimulatedPair.init(
      dir,
      {
        hosts: ['alpha', 'beta'],
        resources: [
          { name: 'r0', minor: 0 },
          { name: 'r1', minor: 1 },
        ],
        dialect: '9',
        primary: { r1: 'beta' },
      },
      { clock },
    );
  });
  afterEach(() => cleanup());

  it('dumps the initial state of each host like events2 --now', () => {
    // drbd-utils 9.28+ drbdsetup_events2.c print_changes: resource, connections, devices, then
    // per connection its peer-devices and paths.
    expect(pair.eventsNow('alpha')).toEqual([
      'exists resource name:r0 role:Primary suspended:no force-io-failures:no may_promote:no promotion_score:10102',
      `exists connection ${R0_ALPHA} connection:Connected role:Secondary`,
      'exists device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:UpToDate client:no open:no quorum:yes',
      `exists peer-device ${R0_ALPHA} volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no`,
      `exists ${PATH_ALPHA} established:yes`,
      'exists resource name:r1 role:Secondary suspended:no force-io-failures:no may_promote:no promotion_score:10102',
      'exists connection name:r1 peer-node-id:1 conn-name:beta connection:Connected role:Primary',
      'exists device name:r1 volume:0 minor:1 backing_dev:/dev/vg/r1 disk:UpToDate client:no open:no quorum:yes',
      'exists peer-device name:r1 peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no',
      'exists path name:r1 peer-node-id:1 conn-name:beta local:ipv4:10.0.0.1:7790 peer:ipv4:10.0.0.2:7790 established:yes',
      'exists -',
    ]);
    expect(pair.eventsNow('beta', { resource: 'r0' })[0]).toBe(
      'exists resource name:r0 role:Secondary suspended:no force-io-failures:no may_promote:no promotion_score:10102',
    );
  });

  it('adds counters with --statistics, timestamps with --timestamps and colours with --color', () => {
    const stats = pair.eventsNow('alpha', { resource: 'r0', statistics: true });
    expect(stats[0]).toBe(
      'exists resource name:r0 role:Primary suspended:no force-io-failures:no write-ordering:flush may_promote:no promotion_score:10102',
    );
    // drbdsetup.c print_device_statistics / print_connection_statistics; events2 --statistics
    // also sets opt_verbose (option 's': ++opt_verbose), so every counter is printed.
    expect(stats[1]).toBe(
      `exists connection ${R0_ALPHA} connection:Connected role:Secondary congested:no ap-in-flight:0 rs-in-flight:0`,
    );
    expect(stats[2]).toMatch(
      / quorum:yes size:1048576 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0 al-suspended:no blocked:no$/,
    );
    // print_peer_device_statistics: with opt_verbose out-of-sync is printed even when 0.
    expect(stats[3]).toMatch(/resync-suspended:no received:0 sent:0 out-of-sync:0 pending:0 unacked:0$/);

    const stamped = pair.eventsNow('alpha', { timestamps: true });
    for (const line of stamped)
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d (exists|create|change)/);
    expect(stamped.at(-1)).toMatch(/ exists -$/);

    const colored = pair.eventsNow('alpha', { resource: 'r0', color: true });
    expect(colored[0]).toContain('role:\x1b[1;36mPrimary\x1b[0m');
    expect(colored[2]).toContain('disk:\x1b[1;32mUpToDate\x1b[0m');
    expect(colored[3]).toContain('peer-disk:\x1b[32mUpToDate\x1b[0m');
  });

  it('refuses a second Primary while connected (-1, exit 11) and changes nothing', () => {
    const mark = pair.mark('beta');
    const result = pair.primary('beta', 'r0');
    expect(result.exitCode).toBe(11);
    expect(result.stderr).toBe('r0: State change failed: (-1) Multiple primaries not allowed by config\n');
    expect(pair.eventsSince('beta', mark)).toEqual([]);
    expect(pair.role('beta', 'r0')).toBe('Secondary');
  });

  it('promoting an already Primary host succeeds without events', () => {
    const mark = pair.mark('alpha');
    expect(pair.primary('alpha', 'r0')).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(pair.eventsSince('alpha', mark)).toEqual([]);
  });

  it('refuses to promote without UpToDate data (-2, exit 17) unless forced', () => {
    pair.secondary('alpha', 'r0');
    pair.diskFail('beta', 'r0');
    const refused = pair.primary('beta', 'r0');
    expect(refused.exitCode).toBe(17);
    expect(refused.stderr).toBe('r0: State change failed: (-2) Need access to UpToDate data\n');
    expect(pair.primary('beta', 'r0', { force: true }).exitCode).toBe(17);
  });

  it('disk failure shows Failed then Diskless locally and on the peer', () => {
    const alpha = pair.mark('alpha');
    const beta = pair.mark('beta');
    pair.diskFail('beta', 'r0');
    expect(pair.eventsSince('beta', beta)).toEqual([
      'change resource name:r0 may_promote:no promotion_score:1',
      'change device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:Failed client:no open:no quorum:yes',
      'change device name:r0 volume:0 minor:0 backing_dev:none disk:Diskless client:no open:no quorum:yes',
    ]);
    expect(pair.eventsSince('alpha', alpha)).toEqual([
      'change resource name:r0 may_promote:no promotion_score:10101',
      `change peer-device ${R0_ALPHA} volume:0 peer-disk:Failed peer-client:no`,
      `change peer-device ${R0_ALPHA} volume:0 peer-disk:Diskless peer-client:no`,
    ]);
    expect(pair.status('beta', 'r0').stdout).toBe(
      'r0 role:Secondary\n  disk:Diskless client:no\n  alpha role:Primary\n    peer-disk:UpToDate\n\n',
    );
  });

  it('disk-attach brings the disk back Inconsistent and resyncs it from the peer', () => {
    pair.diskFail('beta', 'r0');
    const beta = pair.mark('beta');
    pair.diskAttach('beta', 'r0');
    expect(pair.eventsSince('beta', beta)).toContain(
      `change peer-device ${R0_BETA} volume:0 replication:SyncTarget done:0.00`,
    );
    expect(pair.dstate('beta', 'r0')).toBe('Inconsistent/UpToDate');
    clock.advance(2500);
    pair.tick();
    expect(pair.dstate('beta', 'r0')).toBe('UpToDate/UpToDate');
    expect(pair.cstate('beta', 'r0')).toBe('Connected');
  });

  it('secondary is refused while something holds the device open (-12, exit 11)', () => {
    pair.openDevice('alpha', 'r0', 'multipathd');
    expect(pair.eventsNow('alpha', { resource: 'r0' })[2]).toContain(' open:yes ');
    const refused = pair.secondary('alpha', 'r0');
    expect(refused.exitCode).toBe(11);
    expect(refused.stderr.split('\n')[0]).toBe(
      'r0: State change failed: (-12) Device is held open by someone',
    );
    expect(refused.stderr).toContain('multipathd');

    pair.closeDevice('alpha', 'r0', 'multipathd');
    const alpha = pair.mark('alpha');
    const beta = pair.mark('beta');
    expect(pair.secondary('alpha', 'r0').exitCode).toBe(0);
    expect(pair.eventsSince('alpha', alpha)).toEqual([
      'change resource name:r0 role:Secondary may_promote:yes promotion_score:10102',
    ]);
    expect(pair.eventsSince('beta', beta)).toEqual([
      'change resource name:r0 may_promote:yes promotion_score:10102',
      `change connection ${R0_BETA} role:Secondary`,
    ]);
  });

  it('disconnect goes Disconnecting → StandAlone locally, the peer falls back to Connecting', () => {
    const alpha = pair.mark('alpha');
    const beta = pair.mark('beta');
    expect(pair.disconnect('alpha', 'r0').exitCode).toBe(0);
    // drbd_receiver.c conn_disconnect runs on both sides: the `disconnected` helper
    // (drbd_maybe_khelper(NULL, connection, "disconnected")), then Unconnected unless the
    // connection was Disconnecting (oc >= C_UNCONNECTED), so the initiator goes StandAlone.
    expect(pair.eventsSince('alpha', alpha)).toEqual([
      'change resource name:r0 may_promote:no promotion_score:10101',
      `change connection ${R0_ALPHA} connection:Disconnecting role:Unknown`,
      `change peer-device ${R0_ALPHA} volume:0 replication:Off peer-disk:DUnknown peer-client:no`,
      `change ${PATH_ALPHA} established:no`,
      `call helper ${R0_ALPHA} helper:disconnected`,
      `response helper ${R0_ALPHA} helper:disconnected status:0`,
      `change connection ${R0_ALPHA} connection:StandAlone`,
    ]);
    // The peer gets the cluster-wide change as TearDown, then reconnects like after any loss.
    expect(pair.eventsSince('beta', beta)).toEqual([
      'change resource name:r0 may_promote:yes promotion_score:10101',
      `change connection ${R0_BETA} connection:TearDown role:Unknown`,
      `change peer-device ${R0_BETA} volume:0 replication:Off peer-disk:DUnknown peer-client:no`,
      'change path name:r0 peer-node-id:0 conn-name:alpha local:ipv4:10.0.0.2:7789 peer:ipv4:10.0.0.1:7789 established:no',
      `call helper ${R0_BETA} helper:disconnected`,
      `response helper ${R0_BETA} helper:disconnected status:0`,
      `change connection ${R0_BETA} connection:Unconnected`,
      `change connection ${R0_BETA} connection:Connecting`,
    ]);
    expect(pair.status('alpha', 'r0').stdout).toBe(
      'r0 role:Primary\n  disk:UpToDate\n  beta connection:StandAlone\n\n',
    );
    expect(pair.status('beta', 'r0').stdout).toBe(
      'r0 role:Secondary\n  disk:UpToDate\n  alpha connection:Connecting\n\n',
    );
    expect(pair.cstate('alpha', 'r0')).toBe('StandAlone');
    expect(pair.connect('beta', 'r0').stderr).toBe(
      'r0: Failure: (125) Device has a net-config (use disconnect first)\n',
    );
  });

  it('a split-brain ends StandAlone on both hosts with helper events, and recovers with --discard-my-data', () => {
    const alpha = pair.mark('alpha');
    const beta = pair.mark('beta');
    pair.splitBrain('r0');
    for (const [host, events, conn] of [
      ['alpha', pair.eventsSince('alpha', alpha), R0_ALPHA],
      ['beta', pair.eventsSince('beta', beta), R0_BETA],
    ] as const) {
      const helpers = events.filter((l) => l.includes(' helper '));
      // The link loss first (conn_disconnect: `disconnected`), then drbd_receiver.c's handshake:
      // initial-split-brain for every split-brain, split-brain when after-sb cannot resolve it.
      expect(helpers, host).toEqual([
        `call helper ${conn} helper:disconnected`,
        `response helper ${conn} helper:disconnected status:0`,
        `call helper ${conn} volume:0 minor:0 helper:initial-split-brain`,
        `response helper ${conn} volume:0 minor:0 helper:initial-split-brain status:0`,
        `call helper ${conn} volume:0 minor:0 helper:split-brain`,
        `response helper ${conn} volume:0 minor:0 helper:split-brain status:0`,
      ]);
      const tail = events.slice(events.indexOf(helpers[5] ?? ''));
      expect(tail).toContain(`change connection ${conn} connection:Disconnecting`);
      expect(tail.at(-1)).toBe(`change connection ${conn} connection:StandAlone`);
    }
    expect(pair.role('alpha', 'r0')).toBe('Primary');
    expect(pair.role('beta', 'r0')).toBe('Primary');
    expect(pair.status('beta', 'r0').stdout).toBe(
      'r0 role:Primary\n  disk:UpToDate\n  alpha connection:StandAlone\n\n',
    );

    // The documented manual recovery, beta being the victim.
    expect(pair.disconnect('beta', 'r0').exitCode).toBe(0);
    expect(pair.secondary('beta', 'r0').exitCode).toBe(0);
    expect(pair.connect('beta', 'r0', { discardMyData: true }).exitCode).toBe(0);
    expect(pair.cstate('beta', 'r0')).toBe('Connecting');
    const afterConnect = pair.mark('alpha');
    expect(pair.connect('alpha', 'r0').exitCode).toBe(0);
    expect(pair.eventsSince('alpha', afterConnect)).toContain(
      `change peer-device ${R0_ALPHA} volume:0 replication:SyncSource peer-disk:Inconsistent peer-client:no done:0.00`,
    );
    expect(pair.status('beta', 'r0').stdout).toBe(
      'r0 role:Secondary\n  disk:Inconsistent\n  alpha role:Primary\n    replication:SyncTarget peer-disk:UpToDate done:0.00\n\n',
    );
    clock.advance(1000);
    pair.tick();
    expect(pair.status('alpha', 'r0').stdout).toContain(
      'replication:SyncSource peer-disk:Inconsistent done:50.00',
    );
    const done = pair.mark('alpha');
    clock.advance(1000);
    pair.tick();
    expect(pair.eventsSince('alpha', done)).toEqual([
      'change resource name:r0 may_promote:no promotion_score:10102',
      `change peer-device ${R0_ALPHA} volume:0 replication:Established peer-disk:UpToDate peer-client:no`,
    ]);
    expect(pair.status('beta', 'r0').stdout).toBe(
      'r0 role:Secondary\n  disk:UpToDate\n  alpha role:Primary\n    peer-disk:UpToDate\n\n',
    );
  });

  it('without usermode helpers a split-brain shows only the StandAlone connection', () => {
    const { dir: other, cleanup: cleanupOther } = tempDir();
    try {
      const quiet = SimulatedPair.init(other, {
        hosts: ['alpha', 'beta'],
        resources: [{ name: 'r0', minor: 0 }],
        usermodeHelper: false,
      });
      const mark = quiet.mark('alpha');
      quiet.splitBrain('r0');
      const events = quiet.eventsSince('alpha', mark);
      expect(events.some((l) => l.includes('helper'))).toBe(false);
      expect(events.at(-1)).toBe(`change connection ${R0_ALPHA} connection:StandAlone`);
    } finally {
      cleanupOther();
    }
  });

  it('a link flap resyncs what the Primary wrote meanwhile, with progress in the statistics', () => {
    pair.linkDown('r0');
    expect(pair.cstate('alpha', 'r0')).toBe('Connecting');
    expect(pair.cstate('alpha', 'r1')).toBe('Connected');
    const beta = pair.mark('beta');
    pair.linkUp('r0');
    expect(pair.dstate('beta', 'r0')).toBe('Inconsistent/UpToDate');
    clock.advance(500);
    pair.tick();
    const lines = pair.eventsSince('beta', beta, { statistics: true });
    expect(lines).toContain(
      `change peer-device ${R0_BETA} volume:0 done:25.00 received:0 sent:0 out-of-sync:78644 pending:0 unacked:0 dbdt1:51.20 eta:2`,
    );
    expect(pair.eventsSince('beta', beta)).toContain(`change peer-device ${R0_BETA} volume:0 done:25.00`);
  });

  it('sim resync runs for the requested time from the chosen source', () => {
    pair.resync('r1', { seconds: 4, source: 'alpha' });
    expect(pair.cstate('alpha', 'r1')).toBe('Connected');
    expect(pair.dstate('beta', 'r1')).toBe('Inconsistent/UpToDate');
    const json = JSON.parse(pair.status('alpha', 'r1', { json: true }).stdout) as {
      connections: { peer_devices: { 'replication-state': string }[] }[];
    }[];
    expect(json[0]?.connections[0]?.peer_devices[0]?.['replication-state']).toBe('SyncSource');
    clock.advance(3000);
    pair.tick();
    expect(pair.dstate('beta', 'r1')).toBe('Inconsistent/UpToDate');
    clock.advance(1000);
    pair.tick();
    expect(pair.dstate('beta', 'r1')).toBe('UpToDate/UpToDate');
  });

  it('a crashed host disappears for its peer and comes back Secondary after boot', () => {
    const alpha = pair.mark('alpha');
    pair.crash('beta');
    expect(pair.eventsSince('alpha', alpha)).toContain(
      'change connection name:r1 peer-node-id:1 conn-name:beta connection:NetworkFailure role:Unknown',
    );
    expect(pair.status('beta').exitCode).toBe(20);
    expect(pair.primary('beta', 'r0').exitCode).toBe(20);
    expect(pair.eventsNow('beta')).toEqual(['exists -']);
    // alpha takes over r1 while beta is gone.
    expect(pair.primary('alpha', 'r1').exitCode).toBe(0);
    pair.boot('beta');
    expect(pair.role('beta', 'r1')).toBe('Secondary');
    expect(pair.dstate('beta', 'r1')).toBe('Inconsistent/UpToDate');
    expect(pair.cstate('beta', 'r0')).toBe('Connected');
    clock.advance(2000);
    pair.tick();
    expect(pair.dstate('beta', 'r1')).toBe('UpToDate/UpToDate');
  });

  it('status --json follows drbdsetup field names', () => {
    const json = JSON.parse(pair.status('alpha', undefined, { json: true }).stdout) as Record<
      string,
      unknown
    >[];
    expect(json.map((r) => r.name)).toEqual(['r0', 'r1']);
    expect(json[0]).toMatchObject({
      name: 'r0',
      'node-id': 0,
      role: 'Primary',
      devices: [{ volume: 0, minor: 0, 'disk-state': 'UpToDate' }],
      connections: [
        {
          'peer-node-id': 1,
          name: 'beta',
          'connection-state': 'Connected',
          'peer-role': 'Secondary',
          peer_devices: [{ 'replication-state': 'Established', 'peer-disk-state': 'UpToDate' }],
        },
      ],
    });
  });

  it('--full prints every field on change lines', () => {
    const mark = pair.mark('alpha');
    pair.secondary('alpha', 'r0');
    expect(pair.eventsSince('alpha', mark, { full: true })).toEqual([
      'change resource name:r0 role:Secondary suspended:no force-io-failures:no write-ordering:flush may_promote:yes promotion_score:10102',
    ]);
  });

  it('reports unknown resources like drbdsetup', () => {
    expect(pair.status('alpha', 'r9')).toEqual({
      exitCode: 10,
      stdout: '',
      stderr: 'r9: No such resource\n',
    });
    expect(() => pair.linkDown('r9')).toThrow('r9: No such resource');
  });
});
