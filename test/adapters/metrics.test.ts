// /metrics, /healthz and /readyz over real HTTP. The DRBD state comes from events2 lines through
// the project's own parser and state builder, and every /metrics answer goes through a strict
// Prometheus text-format parser, so the exposition is checked as Prometheus would read it and the
// DRBD samples are checked against drbd-reactor's names, labels and encodings.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type LeaderView,
  Metrics,
  type MetricsOptions,
  type StreamView,
} from '../../src/adapters/metrics.js';
import { type Checks, StatusServer, type StatusServerOptions } from '../../src/adapters/status-server.js';
import { applyEvent, emptyHostState, type HostState } from '../../src/core/host-state.js';
import { parseEvents2Line } from '../../src/drbd/events2.js';
import { CONNECTION_STATES, DISK_STATES, ROLES } from '../../src/drbd/states.js';
import { onCleanup } from '../helpers/cleanup.js';
import {
  type PromFamily,
  PromTextError,
  parsePromText,
  samplesOf,
  sampleValue,
} from '../helpers/prom-text.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/events2');

/** Apply events2 lines (as `drbdsetup events2 --statistics` prints them) to a host's state. */
function applyLines(lines: readonly string[], state: HostState = emptyHostState('alpha')): HostState {
  let at = 1_000;
  for (const line of lines) {
    const record = parseEvents2Line(line);
    if (record.type === 'empty' || record.type === 'end-of-dump') continue;
    if (record.type !== 'event') throw new Error(`not an event: ${line}`);
    state = applyEvent(state, record, at).state;
    at += 1_000;
  }
  return state;
}

// r0: Primary, connected to beta, which it resyncs (SyncSource, 512 MiB out of sync).
// r1: Secondary, its connection to beta StandAlone; it goes away in one test.
const DUMP = [
  'exists resource name:r0 role:Primary suspended:no force-io-failures:no write-ordering:flush may_promote:no promotion_score:10102',
  'exists device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:UpToDate client:no open:yes quorum:yes size:10485404 read:6144 written:524288 al-writes:17 bm-writes:3 upper-pending:2 lower-pending:1 al-suspended:no blocked:no',
  'exists connection name:r0 peer-node-id:1 conn-name:beta connection:Connected role:Secondary congested:no ap-in-flight:16 rs-in-flight:2048',
  'exists peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:SyncSource peer-disk:Inconsistent peer-client:no resync-suspended:no received:0 sent:1048576 out-of-sync:524288 pending:0 unacked:0 done:50.00 dbdt1:102400 eta:5',
  'exists path name:r0 peer-node-id:1 conn-name:beta local:ipv4:10.0.0.1:7789 peer:ipv4:10.0.0.2:7789 established:yes',
  'exists resource name:r1 role:Secondary suspended:user force-io-failures:no write-ordering:flush may_promote:yes promotion_score:10101',
  'exists device name:r1 volume:0 minor:1 backing_dev:/dev/vg/r1 disk:Outdated client:no open:no quorum:yes size:2097152 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0 al-suspended:no blocked:no',
  'exists connection name:r1 peer-node-id:1 conn-name:beta connection:StandAlone role:Unknown congested:no ap-in-flight:0 rs-in-flight:0',
  'exists -',
];

interface Harness {
  url: string;
  metrics: Metrics;
  setState(state: HostState | undefined): void;
  setLeader(view: LeaderView): void;
  setHealth(checks: Checks | (() => Checks)): void;
  setReady(checks: Checks | (() => Checks)): void;
}

async function serve(
  options: Partial<MetricsOptions> & Partial<Pick<StatusServerOptions, 'host'>> = {},
): Promise<Harness> {
  let state: HostState | undefined = applyLines(DUMP);
  let leader: LeaderView = { leads: true, token: 7 };
  let health: () => Checks = () => ({ eventSource: { ok: true } });
  let ready: () => Checks = () => ({ leader: { ok: true }, 'chat:slack': { ok: true } });
  const metrics = new Metrics({
    host: 'alpha',
    state: () => state,
    leader: () => leader,
    outboxDepth: () => 3,
    processMetrics: false,
    ...options,
  });
  const server = new StatusServer({
    ...(options.host === undefined ? {} : { host: options.host }),
    port: 0,
    metrics,
    health: () => health(),
    ready: async () => ready(),
  });
  const address = await server.start();
  onCleanup(() => server.stop());
  const asFn = (c: Checks | (() => Checks)) => (typeof c === 'function' ? c : () => c);
  return {
    url: `http://${address.address}:${address.port}`,
    metrics,
    setState: (s) => {
      state = s;
    },
    setLeader: (v) => {
      leader = v;
    },
    setHealth: (c) => {
      health = asFn(c);
    },
    setReady: (c) => {
      ready = asFn(c);
    },
  };
}

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePromText(await res.text());
}

function family(families: ReadonlyMap<string, PromFamily>, name: string): PromFamily {
  const f = families.get(name);
  if (f === undefined) throw new Error(`no family ${name}`);
  return f;
}

/** The state-set samples of one enum metric for one object, as {value: 0|1}. */
function stateSet(
  families: ReadonlyMap<string, PromFamily>,
  name: string,
  labels: Record<string, string>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samplesOf(families, name, labels)) {
    const key = s.labels[name];
    if (key === undefined) throw new Error(`${name} sample without its ${name} label`);
    out[key] = s.value;
  }
  return out;
}

function oneHot(values: readonly string[], current: string): Record<string, number> {
  return Object.fromEntries(values.map((v) => [v, v === current ? 1 : 0]));
}

describe('parsePromText (the strict test parser)', () => {
  it('reads what the format allows: escapes, specials, timestamps, comments, histograms', () => {
    const text = [
      '# a plain comment',
      '# HELP odd_one A \\\\ backslash and a\\nnewline',
      '# TYPE odd_one gauge',
      'odd_one{path="C:\\\\x",quote="say \\"hi\\"",nl="a\\nb",} -1.5e3 1700000000000',
      '',
      '# TYPE specials untyped',
      'specials{v="nan"} NaN',
      'specials{v="pinf"} +Inf',
      'specials{v="ninf"} -Inf',
      '  specials{ v = "go" }Inf  ',
      '# TYPE lat_seconds histogram',
      'lat_seconds_bucket{le="0.5"} 1',
      'lat_seconds_bucket{le="1"} 2',
      'lat_seconds_bucket{le="+Inf"} 3',
      'lat_seconds_sum 4.2',
      'lat_seconds_count 3',
      '',
    ].join('\n');
    const families = parsePromText(text);
    const odd = family(families, 'odd_one');
    expect(odd.help).toBe('A \\ backslash and a\nnewline');
    expect(odd.samples[0]).toMatchObject({
      labels: { path: 'C:\\x', quote: 'say "hi"', nl: 'a\nb' },
      value: -1500,
      timestamp: 1_700_000_000_000,
    });
    expect(sampleValue(families, 'specials', { v: 'nan' })).toBeNaN();
    expect(sampleValue(families, 'specials', { v: 'pinf' })).toBe(Number.POSITIVE_INFINITY);
    expect(sampleValue(families, 'specials', { v: 'ninf' })).toBe(Number.NEGATIVE_INFINITY);
    expect(sampleValue(families, 'specials', { v: 'go' })).toBe(Number.POSITIVE_INFINITY);
    expect(family(families, 'lat_seconds').samples).toHaveLength(5);
  });

  const gauge = (sample: string) => `# TYPE m gauge\n${sample}\n`;
  const histogram = (...lines: string[]) => `# TYPE h histogram\n${lines.join('\n')}\n`;
  it.each([
    ['a metric name starting with a digit', '# TYPE 1m gauge\n1m 1\n', /invalid metric name/],
    ['a metric name with a dash', gauge('m-x 1'), /expected a blank|invalid/],
    ['an unquoted label value', gauge('m{a=1} 1'), /double quotes/],
    ['an unterminated label value', gauge('m{a="1} 1'), /unterminated/],
    ['a missing closing brace', gauge('m{a="1" 1'), /expected , or \}/],
    ['an invalid escape in a label value', gauge('m{a="\\t"} 1'), /invalid escape/],
    ['an invalid escape in HELP', '# HELP m tab\\t\n# TYPE m gauge\nm 1\n', /invalid escape/],
    ['a label name starting with a digit', gauge('m{1a="x"} 1'), /label name/],
    ['a reserved label name', gauge('m{__name__="x"} 1'), /reserved/],
    ['the same label twice', gauge('m{a="1",a="2"} 1'), /twice/],
    ['a value that is no float', gauge('m 1,5'), /invalid value/],
    ['a hex float', gauge('m 0x1p-2'), /invalid value/],
    ['an underscore in a value', gauge('m 1_000'), /invalid value/],
    ['a missing value', gauge('m{a="1"}'), /invalid value/],
    ['a fractional timestamp', gauge('m 1 1.5'), /invalid timestamp/],
    ['extra tokens', gauge('m 1 2 3'), /unexpected/],
    ['a sample without TYPE', 'm 1\n', /before its TYPE/],
    ['a second TYPE', '# TYPE m gauge\n# TYPE m gauge\nm 1\n', /second TYPE/],
    ['a second HELP', '# HELP m a\n# HELP m b\n# TYPE m gauge\nm 1\n', /second HELP/],
    ['TYPE after the samples', '# HELP m a\nm 1\n# TYPE m gauge\n', /before its TYPE|after its samples/],
    ['an unknown type', '# TYPE m gaugey\nm 1\n', /unknown type/],
    ['TYPE without a name', '# TYPE\n', /without a metric name/],
    ['a family split in two groups', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="y"} 2\n', /one group/],
    ['a duplicate series', gauge('m{a="1",b="2"} 1\nm{b="2",a="1"} 2'), /duplicate series/],
    ['a negative counter', '# TYPE c_total counter\nc_total -1\n', /counter/],
    ['no newline at the end', '# TYPE m gauge\nm 1', /does not end/],
    ['a carriage return', '# TYPE m gauge\r\nm 1\r\n', /\\r/],
    [
      'a histogram without +Inf',
      histogram('h_bucket{le="1"} 1', 'h_sum 1', 'h_count 1'),
      /without a \+Inf bucket/,
    ],
    [
      '+Inf differing from _count',
      histogram('h_bucket{le="+Inf"} 2', 'h_sum 1', 'h_count 3'),
      /differs from _count/,
    ],
    [
      'le out of order',
      histogram('h_bucket{le="2"} 1', 'h_bucket{le="1"} 1', 'h_bucket{le="+Inf"} 1', 'h_sum 1', 'h_count 1'),
      /does not ascend/,
    ],
    [
      'buckets that are not cumulative',
      histogram('h_bucket{le="1"} 2', 'h_bucket{le="+Inf"} 1', 'h_sum 1', 'h_count 1'),
      /fewer/,
    ],
    ['a bucket without le', histogram('h_bucket 1', 'h_sum 1', 'h_count 1'), /without le/],
    ['a histogram without _sum', histogram('h_bucket{le="+Inf"} 1', 'h_count 1'), /without _sum/],
    ['a bare histogram sample', histogram('h 1'), /cannot have a sample named h/],
  ])('rejects %s', (_what, text, reason) => {
    expect(() => parsePromText(text)).toThrow(PromTextError);
    expect(() => parsePromText(text)).toThrow(reason);
  });
});

describe('/metrics', () => {
  it("serves drbd-reactor's names, labels and encodings for a Primary resyncing its peer", async () => {
    const { url } = await serve({ processMetrics: true });
    const families = await scrape(url);
    const r0 = { name: 'r0' };
    const dev0 = { name: 'r0', volume: '0', minor: '0' };
    const beta = { name: 'r0', conn_name: 'beta', peer_node_id: '1' };
    const beta0 = { ...beta, volume: '0' };

    expect(sampleValue(families, 'drbd_resource_resources')).toBe(2);
    expect(stateSet(families, 'drbd_resource_role', r0)).toEqual(oneHot(ROLES, 'Primary'));
    expect(stateSet(families, 'drbd_device_state', dev0)).toEqual(oneHot(DISK_STATES, 'UpToDate'));
    expect(stateSet(families, 'drbd_connection_state', beta)).toEqual(oneHot(CONNECTION_STATES, 'Connected'));
    // drbd-reactor's enum order, which is also the order the samples come in.
    expect(samplesOf(families, 'drbd_resource_role', r0).map((s) => s.labels.drbd_resource_role)).toEqual([
      'Unknown',
      'Primary',
      'Secondary',
    ]);

    // out-of-sync, sizes and traffic are KiB in events2, bytes here; in-flight is 512-byte sectors.
    expect(sampleValue(families, 'drbd_peerdevice_outofsync_bytes', beta0)).toBe(524288 * 1024);
    expect(sampleValue(families, 'drbd_peerdevice_sent_bytes', beta0)).toBe(1048576 * 1024);
    expect(sampleValue(families, 'drbd_peerdevice_received_bytes', beta0)).toBe(0);
    expect(sampleValue(families, 'drbd_connection_apinflight_bytes', beta)).toBe(16 * 512);
    expect(sampleValue(families, 'drbd_connection_rsinflight_bytes', beta)).toBe(2048 * 512);
    expect(sampleValue(families, 'drbd_connection_congested', beta)).toBe(0);
    expect(sampleValue(families, 'drbd_device_size_bytes', dev0)).toBe(10485404 * 1024);
    expect(sampleValue(families, 'drbd_device_read_bytes_total', dev0)).toBe(6144 * 1024);
    expect(sampleValue(families, 'drbd_device_written_bytes_total', dev0)).toBe(524288 * 1024);
    expect(sampleValue(families, 'drbd_device_alwrites_total', dev0)).toBe(17);
    expect(sampleValue(families, 'drbd_device_bmwrites_total', dev0)).toBe(3);
    expect(sampleValue(families, 'drbd_device_upperpending', dev0)).toBe(2);
    expect(sampleValue(families, 'drbd_device_lowerpending', dev0)).toBe(1);
    expect(sampleValue(families, 'drbd_device_quorum', dev0)).toBe(1);
    expect(sampleValue(families, 'drbd_device_open', dev0)).toBe(1);
    expect(sampleValue(families, 'drbd_device_client', dev0)).toBe(0);
    expect(sampleValue(families, 'drbd_device_unintentionaldiskless', dev0)).toBe(0);
    expect(sampleValue(families, 'drbd_device_alsuspended', dev0)).toBe(0);
    expect(sampleValue(families, 'drbd_resource_promotionscore', r0)).toBe(10102);
    expect(sampleValue(families, 'drbd_resource_maypromote', r0)).toBe(0);
    expect(sampleValue(families, 'drbd_resource_forceiofailures', r0)).toBe(0);
    expect(sampleValue(families, 'drbd_resource_suspended', r0)).toBe(0);
    // drbd-reactor's str_to_bool: anything but no/false is true, so suspended:user is 1.
    expect(sampleValue(families, 'drbd_resource_suspended', { name: 'r1' })).toBe(1);
    expect(stateSet(families, 'drbd_connection_state', { name: 'r1', conn_name: 'beta' })).toEqual(
      oneHot(CONNECTION_STATES, 'StandAlone'),
    );
    expect(stateSet(families, 'drbd_device_state', { name: 'r1' })).toEqual(oneHot(DISK_STATES, 'Outdated'));
    // r1 has no peer device (StandAlone), so no out-of-sync sample.
    expect(samplesOf(families, 'drbd_peerdevice_outofsync_bytes', { name: 'r1' })).toEqual([]);

    // Types and help as drbd-reactor declares them; no host label on any DRBD sample.
    const types: Record<string, string> = {
      drbd_resource_role: 'gauge',
      drbd_device_state: 'gauge',
      drbd_connection_state: 'gauge',
      drbd_peerdevice_outofsync_bytes: 'gauge',
      drbd_peerdevice_sent_bytes: 'counter',
      drbd_device_read_bytes_total: 'counter',
      drbd_device_alwrites_total: 'counter',
      drbd_device_size_bytes: 'gauge',
    };
    for (const [name, type] of Object.entries(types)) expect(family(families, name).type).toBe(type);
    expect(family(families, 'drbd_peerdevice_outofsync_bytes').help).toBe(
      'Number of bytes currently out of sync with this peer, according to the bitmap that DRBD has for it',
    );
    for (const f of families.values()) {
      if (!f.name.startsWith('drbd_')) continue;
      for (const s of f.samples) expect(Object.keys(s.labels)).not.toContain('host');
    }

    // prom-client's process metrics come along, unprefixed, and parse too.
    expect(family(families, 'process_cpu_seconds_total').type).toBe('counter');
    expect(family(families, 'nodejs_eventloop_lag_seconds').type).toBe('gauge');
  });

  it('drops a resource that went away from every family, and follows changes', async () => {
    const h = await serve();
    let state = applyLines(DUMP);
    expect(samplesOf(await scrape(h.url), 'drbd_resource_role', { name: 'r1' })).toHaveLength(3);

    state = applyLines(
      [
        'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate out-of-sync:0 done:100.00',
        'destroy connection name:r1 peer-node-id:1 conn-name:beta',
        'destroy device name:r1 volume:0 minor:1',
        'destroy resource name:r1',
      ],
      state,
    );
    h.setState(state);
    const families = await scrape(h.url);
    for (const f of families.values()) {
      for (const s of f.samples) expect(s.labels.name, `${s.name} still has r1`).not.toBe('r1');
    }
    expect(sampleValue(families, 'drbd_resource_resources')).toBe(1);
    expect(
      sampleValue(families, 'drbd_peerdevice_outofsync_bytes', {
        name: 'r0',
        conn_name: 'beta',
        peer_node_id: '1',
        volume: '0',
      }),
    ).toBe(0);
    expect(samplesOf(families, 'drbd_resource_role', { name: 'r0' })).toHaveLength(3);
  });

  it('reads the drbd-utils test-suite stream (real drbdsetup output)', async () => {
    const h = await serve();
    const lines = readFileSync(join(FIXTURES, 'drbd-utils/events2-sync.statistics.events2'), 'utf8').split(
      '\n',
    );
    h.setState(applyLines(lines));
    const families = await scrape(h.url);
    const res = { name: 'some-resource' };
    const conn = { ...res, conn_name: 'some-peer', peer_node_id: '1' };
    const dev = { ...res, volume: '0', minor: '1000' };
    expect(stateSet(families, 'drbd_resource_role', res)).toEqual(oneHot(ROLES, 'Secondary'));
    expect(sampleValue(families, 'drbd_resource_maypromote', res)).toBe(1);
    expect(sampleValue(families, 'drbd_resource_promotionscore', res)).toBe(10101);
    expect(stateSet(families, 'drbd_connection_state', conn)).toEqual(oneHot(CONNECTION_STATES, 'Connected'));
    expect(stateSet(families, 'drbd_device_state', dev)).toEqual(oneHot(DISK_STATES, 'UpToDate'));
    expect(sampleValue(families, 'drbd_peerdevice_outofsync_bytes', { ...conn, volume: '0' })).toBe(
      2500 * 1024,
    );
    expect(sampleValue(families, 'drbd_connection_apinflight_bytes', conn)).toBe(10 * 512);
    expect(sampleValue(families, 'drbd_device_size_bytes', dev)).toBe(5 * 1024);
  });

  it('gives no DRBD sample for what events2 never printed, and none before the first dump', async () => {
    const h = await serve();
    // Without --statistics there are no sizes, counters or out-of-sync figures: no samples, not zeros.
    h.setState(
      applyLines([
        'exists resource name:r0 role:Secondary suspended:no may_promote:no',
        'exists device name:r0 volume:0 minor:0 disk:UpToDate client:no open:no',
        'exists connection name:r0 peer-node-id:1 conn-name:beta connection:Connected role:Primary',
        'exists peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate',
      ]),
    );
    let families = await scrape(h.url);
    expect(stateSet(families, 'drbd_resource_role', { name: 'r0' })).toEqual(oneHot(ROLES, 'Secondary'));
    for (const name of [
      'drbd_peerdevice_outofsync_bytes',
      'drbd_device_size_bytes',
      'drbd_device_quorum',
      'drbd_connection_apinflight_bytes',
      'drbd_resource_promotionscore',
    ]) {
      expect(samplesOf(families, name), name).toEqual([]);
    }

    h.setState(undefined);
    families = await scrape(h.url);
    expect(sampleValue(families, 'drbd_resource_resources')).toBe(0);
    expect(samplesOf(families, 'drbd_resource_role')).toEqual([]);
    expect(family(families, 'drbd_resource_role').type).toBe('gauge');
  });

  it("counts the bot's own events", async () => {
    const h = await serve({ platforms: ['slack', 'discord'] });
    let families = await scrape(h.url);
    expect(sampleValue(families, 'drbdchatops_info', { host: 'alpha' })).toBe(1);
    expect(sampleValue(families, 'drbdchatops_leader')).toBe(1);
    expect(sampleValue(families, 'drbdchatops_fencing_token')).toBe(7);
    expect(sampleValue(families, 'drbdchatops_outbox_depth')).toBe(3);
    // Failure counters of the configured platforms start at 0.
    expect(
      sampleValue(families, 'drbdchatops_delivery_failures_total', { platform: 'slack', retryable: 'true' }),
    ).toBe(0);

    const m = h.metrics;
    m.observeDelivery('slack', 0.3);
    m.observeDelivery('slack', 4);
    m.observeDelivery('discord', 0.05);
    m.deliveryFailed('discord', true);
    m.deliveryFailed('discord', true);
    m.deliveryFailed('discord', false);
    m.commandRun('status', 'ok');
    m.commandRun('status', 'ok');
    m.commandRun('failover', 'refused');
    m.commandRun('rm -rf /', 'error');
    m.notified('split-brain', 'critical');
    h.setLeader({ leads: false, token: 9 });

    families = await scrape(h.url);
    expect(sampleValue(families, 'drbdchatops_leader')).toBe(0);
    expect(sampleValue(families, 'drbdchatops_fencing_token')).toBe(9);
    const slack = { platform: 'slack' };
    expect(sampleValue(families, 'drbdchatops_delivery_seconds_bucket', { ...slack, le: '0.25' })).toBe(0);
    expect(sampleValue(families, 'drbdchatops_delivery_seconds_bucket', { ...slack, le: '0.5' })).toBe(1);
    expect(sampleValue(families, 'drbdchatops_delivery_seconds_bucket', { ...slack, le: '5' })).toBe(2);
    expect(sampleValue(families, 'drbdchatops_delivery_seconds_bucket', { ...slack, le: '+Inf' })).toBe(2);
    expect(sampleValue(families, 'drbdchatops_delivery_seconds_count', slack)).toBe(2);
    expect(sampleValue(families, 'drbdchatops_delivery_seconds_sum', slack)).toBeCloseTo(4.3);
    expect(sampleValue(families, 'drbdchatops_delivery_seconds_count', { platform: 'discord' })).toBe(1);
    expect(family(families, 'drbdchatops_delivery_seconds').type).toBe('histogram');
    expect(
      sampleValue(families, 'drbdchatops_delivery_failures_total', {
        platform: 'discord',
        retryable: 'true',
      }),
    ).toBe(2);
    expect(
      sampleValue(families, 'drbdchatops_delivery_failures_total', {
        platform: 'discord',
        retryable: 'false',
      }),
    ).toBe(1);
    expect(
      sampleValue(families, 'drbdchatops_command_runs_total', { command: 'status', outcome: 'ok' }),
    ).toBe(2);
    expect(
      sampleValue(families, 'drbdchatops_command_runs_total', { command: 'failover', outcome: 'refused' }),
    ).toBe(1);
    // Free text never becomes a label value.
    expect(
      sampleValue(families, 'drbdchatops_command_runs_total', { command: 'other', outcome: 'error' }),
    ).toBe(1);
    expect(
      sampleValue(families, 'drbdchatops_notifications_total', { kind: 'split-brain', severity: 'critical' }),
    ).toBe(1);
    for (const name of ['drbdchatops_command_runs_total', 'drbdchatops_notifications_total']) {
      expect(family(families, name).type).toBe('counter');
    }
  });

  it('says whether the event stream is up and how old the DRBD series are, keeping them while it is down', async () => {
    let view: StreamView = { up: true, stateAgeSeconds: 0 };
    const h = await serve({ stream: () => view });
    let families = await scrape(h.url);
    expect(sampleValue(families, 'drbdchatops_events_stream_up', { host: 'alpha' })).toBe(1);
    expect(sampleValue(families, 'drbdchatops_state_age_seconds', { host: 'alpha' })).toBe(0);
    expect(family(families, 'drbdchatops_events_stream_up').type).toBe('gauge');
    expect(family(families, 'drbdchatops_state_age_seconds').type).toBe('gauge');

    // Down for 12.5 s: the last state seen is still exported (the daemon hands over the state from
    // before the outage), and its age says how stale it is.
    view = { up: false, stateAgeSeconds: 12.5 };
    families = await scrape(h.url);
    expect(sampleValue(families, 'drbdchatops_events_stream_up', { host: 'alpha' })).toBe(0);
    expect(sampleValue(families, 'drbdchatops_state_age_seconds', { host: 'alpha' })).toBe(12.5);
    expect(stateSet(families, 'drbd_resource_role', { name: 'r0' })).toEqual(oneHot(ROLES, 'Primary'));
    expect(sampleValue(families, 'drbd_resource_resources')).toBe(2);

    // Never seen (before the first dump): down, and no age because there is no state to age.
    view = { up: false, stateAgeSeconds: undefined };
    h.setState(undefined);
    families = await scrape(h.url);
    expect(sampleValue(families, 'drbdchatops_events_stream_up', { host: 'alpha' })).toBe(0);
    expect(samplesOf(families, 'drbdchatops_state_age_seconds')).toEqual([]);
  });

  it('exports no stream gauges when nobody says how the stream is', async () => {
    const h = await serve();
    const families = await scrape(h.url);
    expect(families.has('drbdchatops_events_stream_up')).toBe(false);
    expect(families.has('drbdchatops_state_age_seconds')).toBe(false);
  });

  it('answers 500 without details when collecting fails', async () => {
    const h = await serve({
      outboxDepth: () => {
        throw new Error('outbox file /secret/path unreadable');
      },
    });
    const res = await fetch(`${h.url}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain('/secret/path');
  });
});

describe('/healthz and /readyz', () => {
  it('/healthz: 200 while the event source runs, 503 naming the failing check', async () => {
    const h = await serve();
    let res = await fetch(`${h.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual({
      status: 'ok',
      checks: { process: { ok: true }, eventSource: { ok: true } },
    });

    h.setHealth({ eventSource: { ok: false, reason: 'drbdsetup exited with status 20; restarting' } });
    res = await fetch(`${h.url}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'failing',
      checks: {
        process: { ok: true },
        eventSource: { ok: false, reason: 'drbdsetup exited with status 20; restarting' },
      },
      reasons: ['eventSource: drbdsetup exited with status 20; restarting'],
    });
  });

  it('/readyz: 200 when leading with chat up, 503 with every reason otherwise', async () => {
    const h = await serve();
    let res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });

    h.setReady({
      leader: { ok: false, reason: 'beta leads (token 8)' },
      'chat:slack': { ok: false, reason: 'Socket Mode disconnected' },
      'chat:discord': { ok: true },
    });
    res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; reasons: string[] };
    expect(body.status).toBe('failing');
    expect(body.reasons).toEqual(['leader: beta leads (token 8)', 'chat:slack: Socket Mode disconnected']);
  });

  it('a check that throws is a failure whose message stays in the log', async () => {
    const h = await serve();
    h.setReady(() => {
      throw new Error('token xoxb-secret rejected');
    });
    const res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).not.toContain('xoxb-secret');
    expect(JSON.parse(text)).toMatchObject({ status: 'failing', checks: { ready: { ok: false } } });
  });
});

describe('StatusServer routing', () => {
  it('404 for unknown paths, 405 with Allow for other methods, HEAD and query strings work', async () => {
    const h = await serve();
    expect((await fetch(`${h.url}/`)).status).toBe(404);
    expect((await fetch(`${h.url}/metrics/extra`)).status).toBe(404);
    const post = await fetch(`${h.url}/metrics`, { method: 'POST', body: 'x=1' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${h.url}/readyz`, { method: 'DELETE' })).status).toBe(405);
    const head = await fetch(`${h.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${h.url}/healthz?verbose=1`)).status).toBe(200);
  });

  it('listens on loopback unless told otherwise; a taken port fails start()', async () => {
    const h = await serve();
    expect(new URL(h.url).hostname).toBe('127.0.0.1');
    const second = new StatusServer({
      port: Number(new URL(h.url).port),
      metrics: h.metrics,
      health: () => ({}),
      ready: () => ({}),
    });
    await expect(second.start()).rejects.toThrow(/EADDRINUSE/);
    await second.stop();
  });
});
