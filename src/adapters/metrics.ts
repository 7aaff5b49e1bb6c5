// Prometheus metrics: the DRBD state in the names, labels and value encodings of LINBIT's
// drbd-reactor prometheus plugin, so dashboards and alert rules written for it work unchanged,
// plus the bot's own metrics (drbdchatops_*) and prom-client's default process metrics.
//
// Source: LINBIT/drbd-reactor, src/plugin/prometheus.rs (the metric names, types, labels, help
// texts and unit conversions), src/drbd.rs (the enum values and their order) and src/events.rs
// (how events2 values become numbers and booleans), read at commit 02dfa783d70f.
//
// What is copied, exactly as drbd-reactor prints it with `enums = true`:
//
//   drbd_resource_resources            gauge    no labels           number of resources
//   drbd_resource_role                 gauge    name, drbd_resource_role            state set, see below
//   drbd_resource_suspended            gauge    name                events2 `suspended` as 0/1
//   drbd_resource_maypromote           gauge    name                `may_promote` as 0/1
//   drbd_resource_promotionscore       gauge    name                `promotion_score`
//   drbd_resource_forceiofailures      gauge    name                `force-io-failures` as 0/1
//   drbd_connection_state              gauge    name, conn_name, peer_node_id, drbd_connection_state
//   drbd_connection_congested          gauge    name, conn_name, peer_node_id   `congested` as 0/1
//   drbd_connection_apinflight_bytes   gauge    name, conn_name, peer_node_id   `ap-in-flight` × 512
//   drbd_connection_rsinflight_bytes   gauge    name, conn_name, peer_node_id   `rs-in-flight` × 512
//   drbd_peerdevice_outofsync_bytes    gauge    name, conn_name, peer_node_id, volume   `out-of-sync` × 1024
//   drbd_peerdevice_sent_bytes         counter  name, conn_name, peer_node_id, volume   `sent` × 1024
//   drbd_peerdevice_received_bytes     counter  name, conn_name, peer_node_id, volume   `received` × 1024
//   drbd_device_state                  gauge    name, volume, minor, drbd_device_state  state set
//   drbd_device_client                 gauge    name, volume, minor  `client` as 0/1
//   drbd_device_unintentionaldiskless  gauge    name, volume, minor  1 when not client and disk is Diskless
//   drbd_device_quorum                 gauge    name, volume, minor  `quorum` as 0/1
//   drbd_device_open                   gauge    name, volume, minor  `open` as 0/1
//   drbd_device_size_bytes             gauge    name, volume, minor  `size` × 1024
//   drbd_device_read_bytes_total       counter  name, volume, minor  `read` × 1024
//   drbd_device_written_bytes_total    counter  name, volume, minor  `written` × 1024
//   drbd_device_alwrites_total         counter  name, volume, minor  `al-writes`
//   drbd_device_bmwrites_total         counter  name, volume, minor  `bm-writes`
//   drbd_device_upperpending           gauge    name, volume, minor  `upper-pending`
//   drbd_device_lowerpending           gauge    name, volume, minor  `lower-pending`
//   drbd_device_alsuspended            gauge    name, volume, minor  `al-suspended` as 0/1
//
// The enum metrics are state sets, not numeric codes: one sample per possible value, labelled
// with the metric's own name, 1 for the current value and 0 for every other, e.g.
//   drbd_resource_role{name="r0",drbd_resource_role="Unknown"} 0
//   drbd_resource_role{name="r0",drbd_resource_role="Primary"} 1
//   drbd_resource_role{name="r0",drbd_resource_role="Secondary"} 0
// The values and their order are drbd-reactor's Role/DiskState/ConnectionState iterators, which are
// ROLES, DISK_STATES and CONNECTION_STATES in src/drbd/states.ts. Booleans follow drbd-reactor's
// str_to_bool: everything but `no` and `false` is 1 (so `suspended:user` is 1). events2 prints
// sizes, out-of-sync and traffic in KiB and in-flight requests in 512-byte sectors.
//
// Where this deliberately differs from drbd-reactor:
// - A field the events2 stream never printed (statistics off, an older drbd-utils) gives no sample;
//   drbd-reactor would print its Rust default (0, false, Unknown), which fires alerts such as
//   `drbd_device_quorum == 0` for data it never had. A value outside drbd-reactor's lists gives a
//   state set of all zeros (drbd-reactor drops such a line).
// - A missing peer-node-id or minor (old drbd-utils) is an empty label, not 0.
// - Not exported: drbdreactor_up and drbd_version (drbd-reactor's own process and the installed
//   versions, which the state here does not know).
// - No `host` label, like drbd-reactor: one exporter per host, the scrape target tells them apart.
//
// - While the event stream is down the DRBD series keep the last values seen (drbd-reactor's
//   exporter keeps its own last state too, but says nothing of its age) rather than vanishing, and
//   drbdchatops_events_stream_up{host} and drbdchatops_state_age_seconds{host} say that and how old
//   they are: alert on `drbdchatops_events_stream_up == 0`, not on absent series.
//
// The bot's own metrics are drbdchatops_*; the process metrics are prom-client's defaults without a
// prefix (process_*, nodejs_*), the names the usual Node.js dashboards expect.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type {
  ConnectionState,
  DeviceState,
  HostState,
  PeerDeviceState,
  ResourceState,
} from '../core/host-state.js';
import type { AlertKind, Severity } from '../core/notification.js';
import { PEER_REFUSALS, type PeerRefusal } from '../core/peer-auth.js';
import { CONNECTION_STATES, DISK_STATES, ROLES } from '../drbd/states.js';
import type { PlatformName } from '../ports/chat.js';

/** What a chat command came to: ran, refused (usage, permission, precondition), or failed inside. */
export const COMMAND_OUTCOMES = ['ok', 'refused', 'error'] as const;
export type CommandOutcome = (typeof COMMAND_OUTCOMES)[number];

export interface LeaderView {
  readonly leads: boolean;
  /** The fencing token this instance holds or last saw (0 when none). */
  readonly token: number;
}

export interface StreamView {
  readonly up: boolean;
  readonly stateAgeSeconds: number | undefined;
}

export interface MetricsOptions {
  /** This host's name: the value of drbdchatops_info's `host` label. */
  readonly host: string;
  /**
   * The last DRBD state seen (kept while the event stream is down); undefined before the first
   * events2 dump. Read at every scrape.
   */
  readonly state: () => HostState | undefined;
  /**
   * Whether the event stream is up, and how old `state()` is in seconds (0 while up; undefined
   * before the first dump). Without it no stream gauges are exported.
   */
  readonly stream?: () => StreamView;
  readonly leader: () => LeaderView;
  readonly outboxDepth: () => number;
  /** Platforms whose failure counters start at 0, so `increase()` sees the first failure. */
  readonly platforms?: readonly PlatformName[];
  /** prom-client's process_* and nodejs_* metrics; on unless false (tests make many instances). */
  readonly processMetrics?: boolean;
}

/** Delivery latency buckets in seconds: a chat API call, up to an outbox that waited out an outage. */
export const DELIVERY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] as const;

/** Command names become label values; anything that does not look like one is counted as `other`. */
const COMMAND_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

type Labels = Record<string, string>;
type Sample = readonly [Labels, number];

const RESOURCE_LABELS = ['name'] as const;
const CONNECTION_LABELS = ['name', 'conn_name', 'peer_node_id'] as const;
const PEER_DEVICE_LABELS = ['name', 'conn_name', 'peer_node_id', 'volume'] as const;
const DEVICE_LABELS = ['name', 'volume', 'minor'] as const;

/** drbd-reactor's str_to_bool. */
function bool(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return value === 'no' || value === 'false' ? 0 : 1;
}

/** An unsigned integer field times `unit`, or undefined when absent or not a number. */
function count(value: string | undefined, unit = 1): number | undefined {
  if (value === undefined || !/^\d{1,20}$/.test(value)) return undefined;
  return Number(value) * unit;
}

function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?\d{1,10}$/.test(value)) return undefined;
  return Number(value);
}

function resourceLabels(r: ResourceState): Labels {
  return { name: r.name };
}

function connectionLabels(r: ResourceState, c: ConnectionState): Labels {
  return { name: r.name, conn_name: c.peer, peer_node_id: c.peerNodeId ?? '' };
}

function peerDeviceLabels(r: ResourceState, c: ConnectionState, pd: PeerDeviceState): Labels {
  return { ...connectionLabels(r, c), volume: String(pd.volume) };
}

function deviceLabels(r: ResourceState, d: DeviceState): Labels {
  return { name: r.name, volume: String(d.volume), minor: d.minor === undefined ? '' : String(d.minor) };
}

function* resources(state: HostState): Generator<ResourceState> {
  yield* Object.values(state.resources);
}

function* connections(state: HostState): Generator<[ResourceState, ConnectionState]> {
  for (const r of resources(state)) for (const c of Object.values(r.connections)) yield [r, c];
}

function* peerDevices(state: HostState): Generator<[ResourceState, ConnectionState, PeerDeviceState]> {
  for (const [r, c] of connections(state)) for (const pd of Object.values(c.peerDevices)) yield [r, c, pd];
}

function* devices(state: HostState): Generator<[ResourceState, DeviceState]> {
  for (const r of resources(state)) for (const d of Object.values(r.devices)) yield [r, d];
}

/** One sample per possible value, labelled with the metric's name: drbd-reactor's `enums`. */
function* stateSet(
  metric: string,
  values: readonly string[],
  labels: Labels,
  current: string | undefined,
): Generator<Sample> {
  if (current === undefined) return;
  for (const value of values) yield [{ ...labels, [metric]: value }, value === current ? 1 : 0];
}

function* present(labels: Labels, value: number | undefined): Generator<Sample> {
  if (value !== undefined) yield [labels, value];
}

export interface DrbdFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly labelNames: readonly string[];
  readonly samples: (state: HostState) => Iterable<Sample>;
}

function resourceFamily(
  name: string,
  help: string,
  value: (r: ResourceState) => number | undefined,
): DrbdFamily {
  return {
    name,
    help,
    type: 'gauge',
    labelNames: RESOURCE_LABELS,
    *samples(state) {
      for (const r of resources(state)) yield* present(resourceLabels(r), value(r));
    },
  };
}

function connectionFamily(
  name: string,
  help: string,
  value: (c: ConnectionState) => number | undefined,
): DrbdFamily {
  return {
    name,
    help,
    type: 'gauge',
    labelNames: CONNECTION_LABELS,
    *samples(state) {
      for (const [r, c] of connections(state)) yield* present(connectionLabels(r, c), value(c));
    },
  };
}

function peerDeviceFamily(
  name: string,
  help: string,
  type: DrbdFamily['type'],
  value: (pd: PeerDeviceState) => number | undefined,
): DrbdFamily {
  return {
    name,
    help,
    type,
    labelNames: PEER_DEVICE_LABELS,
    *samples(state) {
      for (const [r, c, pd] of peerDevices(state)) yield* present(peerDeviceLabels(r, c, pd), value(pd));
    },
  };
}

function deviceFamily(
  name: string,
  help: string,
  type: DrbdFamily['type'],
  value: (d: DeviceState) => number | undefined,
): DrbdFamily {
  return {
    name,
    help,
    type,
    labelNames: DEVICE_LABELS,
    *samples(state) {
      for (const [r, d] of devices(state)) yield* present(deviceLabels(r, d), value(d));
    },
  };
}

/** The drbd-reactor families, in the order its plugin writes them; help texts are its own. */
export const DRBD_FAMILIES: readonly DrbdFamily[] = [
  {
    name: 'drbd_resource_resources',
    help: 'Number of resources',
    type: 'gauge',
    labelNames: [],
    *samples(state) {
      yield [{}, Object.keys(state.resources).length];
    },
  },
  {
    name: 'drbd_resource_role',
    help: 'DRBD role of the resource',
    type: 'gauge',
    labelNames: [...RESOURCE_LABELS, 'drbd_resource_role'],
    *samples(state) {
      for (const r of resources(state))
        yield* stateSet('drbd_resource_role', ROLES, resourceLabels(r), r.fields.role);
    },
  },
  resourceFamily('drbd_resource_suspended', 'Boolean whether the resource is suspended', (r) =>
    bool(r.fields.suspended),
  ),
  resourceFamily('drbd_resource_maypromote', 'Boolean whether the resource may be promoted to Primary', (r) =>
    bool(r.fields.may_promote),
  ),
  resourceFamily(
    'drbd_resource_promotionscore',
    'The promotion score (higher is better) for the resource',
    (r) => integer(r.fields.promotion_score),
  ),
  resourceFamily(
    'drbd_resource_forceiofailures',
    'Boolean whether the resource is configured (could be temporarily) to force IO failures (e.g., during secondary --force)',
    (r) => bool(r.fields['force-io-failures']),
  ),
  {
    name: 'drbd_connection_state',
    help: 'DRBD connection state',
    type: 'gauge',
    labelNames: [...CONNECTION_LABELS, 'drbd_connection_state'],
    *samples(state) {
      for (const [r, c] of connections(state))
        yield* stateSet(
          'drbd_connection_state',
          CONNECTION_STATES,
          connectionLabels(r, c),
          c.fields.connection,
        );
    },
  },
  peerDeviceFamily(
    'drbd_peerdevice_outofsync_bytes',
    'Number of bytes currently out of sync with this peer, according to the bitmap that DRBD has for it',
    'gauge',
    (pd) => count(pd.fields['out-of-sync'], 1024),
  ),
  peerDeviceFamily(
    'drbd_peerdevice_sent_bytes',
    'Number of bytes currently sent to this peer',
    'counter',
    (pd) => count(pd.fields.sent, 1024),
  ),
  peerDeviceFamily(
    'drbd_peerdevice_received_bytes',
    'Number of bytes currently received from this peer',
    'counter',
    (pd) => count(pd.fields.received, 1024),
  ),
  connectionFamily(
    'drbd_connection_congested',
    'Boolean whether the TCP send buffer of the data connection is more than 80% filled',
    (c) => bool(c.fields.congested),
  ),
  connectionFamily(
    'drbd_connection_apinflight_bytes',
    'Number of application requests in flight (not completed)',
    (c) => count(c.fields['ap-in-flight'], 512),
  ),
  connectionFamily('drbd_connection_rsinflight_bytes', 'Number of resync requests in flight', (c) =>
    count(c.fields['rs-in-flight'], 512),
  ),
  {
    name: 'drbd_device_state',
    help: 'DRBD device state',
    type: 'gauge',
    labelNames: [...DEVICE_LABELS, 'drbd_device_state'],
    *samples(state) {
      for (const [r, d] of devices(state))
        yield* stateSet('drbd_device_state', DISK_STATES, deviceLabels(r, d), d.fields.disk);
    },
  },
  deviceFamily(
    'drbd_device_client',
    'Boolean whether this device is a client (i.e., intentional diskless)',
    'gauge',
    (d) => bool(d.fields.client),
  ),
  deviceFamily(
    'drbd_device_unintentionaldiskless',
    'Boolean whether the devices is unintentional diskless',
    'gauge',
    (d) => {
      const client = bool(d.fields.client);
      const disk = d.fields.disk;
      if (client === undefined || disk === undefined) return undefined;
      return client === 0 && disk === 'Diskless' ? 1 : 0;
    },
  ),
  deviceFamily('drbd_device_quorum', 'Boolean if this device has DRBD quorum', 'gauge', (d) =>
    bool(d.fields.quorum),
  ),
  deviceFamily('drbd_device_open', 'Boolean if this device is opened', 'gauge', (d) => bool(d.fields.open)),
  deviceFamily('drbd_device_size_bytes', 'Device size in bytes', 'gauge', (d) => count(d.fields.size, 1024)),
  deviceFamily('drbd_device_read_bytes_total', 'Net data read from local hard disk', 'counter', (d) =>
    count(d.fields.read, 1024),
  ),
  deviceFamily('drbd_device_written_bytes_total', 'Net data written on local disk', 'counter', (d) =>
    count(d.fields.written, 1024),
  ),
  deviceFamily(
    'drbd_device_alwrites_total',
    'Number of updates of the activity log area of the meta data',
    'counter',
    (d) => count(d.fields['al-writes']),
  ),
  deviceFamily(
    'drbd_device_bmwrites_total',
    'Number of updates of the bitmap area of the meta data',
    'counter',
    (d) => count(d.fields['bm-writes']),
  ),
  deviceFamily(
    'drbd_device_upperpending',
    'Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.',
    'gauge',
    (d) => count(d.fields['upper-pending']),
  ),
  deviceFamily(
    'drbd_device_lowerpending',
    'Number of open requests to the local I/O sub-system issued by DRBD',
    'gauge',
    (d) => count(d.fields['lower-pending']),
  ),
  deviceFamily('drbd_device_alsuspended', 'Boolean whether the Activity-Log is suspended', 'gauge', (d) =>
    bool(d.fields['al-suspended']),
  ),
];

export class Metrics {
  /** A registry of its own, never prom-client's global one. */
  readonly registry = new Registry();
  readonly #deliverySeconds: Histogram<'platform'>;
  readonly #deliveryFailures: Counter<'platform' | 'retryable'>;
  readonly #commandRuns: Counter<'command' | 'outcome'>;
  readonly #notifications: Counter<'kind' | 'severity'>;
  readonly #peerRefusals: Counter<'reason'>;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    for (const family of DRBD_FAMILIES) this.#registerDrbd(family, options.state);

    new Gauge({
      name: 'drbdchatops_info',
      help: 'Always 1; the host label names the host this bot watches',
      labelNames: ['host'],
      registers,
    }).set({ host: options.host }, 1);
    const stream = options.stream;
    if (stream !== undefined) {
      new Gauge({
        name: 'drbdchatops_events_stream_up',
        help: '1 while the DRBD event stream (drbdsetup events2) runs and its state is read, else 0: the drbd_* series are then the last values seen',
        labelNames: ['host'],
        registers,
        collect() {
          this.set({ host: options.host }, stream().up ? 1 : 0);
        },
      });
      new Gauge({
        name: 'drbdchatops_state_age_seconds',
        help: 'Seconds since the drbd_* series were last known to be current (0 while the event stream is up)',
        labelNames: ['host'],
        registers,
        collect() {
          this.reset();
          const age = stream().stateAgeSeconds;
          if (age !== undefined) this.set({ host: options.host }, age);
        },
      });
    }
    new Gauge({
      name: 'drbdchatops_leader',
      help: '1 when this instance is the leader that posts and runs commands, else 0',
      registers,
      collect() {
        this.set(options.leader().leads ? 1 : 0);
      },
    });
    new Gauge({
      name: 'drbdchatops_fencing_token',
      help: 'The fencing token this instance holds or last saw (0 when none)',
      registers,
      collect() {
        this.set(options.leader().token);
      },
    });
    new Gauge({
      name: 'drbdchatops_outbox_depth',
      help: 'Chat deliveries waiting in the outbox',
      registers,
      collect() {
        this.set(options.outboxDepth());
      },
    });
    this.#deliverySeconds = new Histogram({
      name: 'drbdchatops_delivery_seconds',
      help: 'Seconds from a chat delivery entering the outbox to the platform accepting it',
      labelNames: ['platform'],
      buckets: [...DELIVERY_BUCKETS],
      registers,
    });
    this.#deliveryFailures = new Counter({
      name: 'drbdchatops_delivery_failures_total',
      help: 'Failed sends to a chat platform; retryable="false" means the message was given up',
      labelNames: ['platform', 'retryable'],
      registers,
    });
    this.#commandRuns = new Counter({
      name: 'drbdchatops_command_runs_total',
      help: 'Chat commands run, by command and outcome (ok, refused, error)',
      labelNames: ['command', 'outcome'],
      registers,
    });
    this.#notifications = new Counter({
      name: 'drbdchatops_notifications_total',
      help: 'Notifications the rules produced, by kind and severity',
      labelNames: ['kind', 'severity'],
      registers,
    });
    this.#peerRefusals = new Counter({
      name: 'drbdchatops_peer_requests_refused_total',
      help: 'Requests the peer-link server refused, by reason (bad-signature, replayed, stale, stale-token …)',
      labelNames: ['reason'],
      registers,
    });
    // Every reason starts at 0, so `increase()` sees the first forged or replayed request.
    for (const reason of PEER_REFUSALS) this.#peerRefusals.inc({ reason }, 0);
    for (const platform of options.platforms ?? []) {
      for (const retryable of ['true', 'false']) this.#deliveryFailures.inc({ platform, retryable }, 0);
    }

    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** `text/plain; version=0.0.4; charset=utf-8`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; the DRBD and leader gauges are computed now, from the callbacks. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  observeDelivery(platform: PlatformName, seconds: number): void {
    if (Number.isNaN(seconds)) return;
    this.#deliverySeconds.observe({ platform }, Math.max(0, seconds));
  }

  deliveryFailed(platform: PlatformName, retryable: boolean): void {
    this.#deliveryFailures.inc({ platform, retryable: String(retryable) });
  }

  /** `command` is the registered command's name, never the text a user typed. */
  commandRun(command: string, outcome: CommandOutcome): void {
    this.#commandRuns.inc({ command: COMMAND_NAME.test(command) ? command : 'other', outcome });
  }

  notified(kind: AlertKind, severity: Severity): void {
    this.#notifications.inc({ kind, severity });
  }

  peerRefused(reason: PeerRefusal): void {
    this.#peerRefusals.inc({ reason });
  }

  #registerDrbd(family: DrbdFamily, state: () => HostState | undefined): void {
    const config = {
      name: family.name,
      help: family.help,
      labelNames: [...family.labelNames],
      registers: [this.registry],
    };
    // Every scrape starts from nothing, so a resource, connection or device that went away
    // disappears from the output instead of keeping its last values.
    if (family.type === 'counter') {
      new Counter({
        ...config,
        collect() {
          this.reset();
          const current = state();
          if (current !== undefined)
            for (const [labels, value] of family.samples(current)) this.inc(labels, value);
        },
      });
    } else {
      new Gauge({
        ...config,
        collect() {
          this.reset();
          const current = state();
          if (current !== undefined)
            for (const [labels, value] of family.samples(current)) this.set(labels, value);
        },
      });
    }
  }
}
