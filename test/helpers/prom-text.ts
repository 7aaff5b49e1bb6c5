// A strict parser for the Prometheus text exposition format (version 0.0.4), for tests that check
// what /metrics serves. It follows the format's rules as Prometheus' own parser (expfmt) applies
// them, and is stricter where the rules say "must" but expfmt lets it pass:
//
// - lines end with \n, the last one too; no \r anywhere; empty (or blank) lines are ignored
// - `# HELP name docstring` and `# TYPE name type`, at most once each per family and before the
//   family's first sample; other `#` lines are comments; HELP escapes only \\ and \n
// - metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not starting
//   with __, no label twice in a sample, label values in double quotes escaping only \\ \" \n,
//   an optional trailing comma inside the braces
// - values as Go's strconv.ParseFloat reads them (expfmt's rule): decimal floats, Inf/+Inf/-Inf/NaN
//   in any case, no hex floats and no underscores; an optional integer timestamp
// - every sample belongs to a TYPE'd family (`requireType`, on by default), a family's lines form
//   one group, and no series (name and label set) appears twice
// - counters and histogram buckets/counts are not negative; a histogram series has buckets with
//   strictly ascending `le`, cumulative counts, a +Inf bucket equal to `_count`, and a `_sum`;
//   a summary's quantiles carry a `quantile` label
//
// It throws PromTextError naming the line on the first violation.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** The sample's own name: `x_bucket`, `x_sum` … for histograms. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp?: number;
  readonly line: number;
}

export interface PromFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help?: string;
  readonly samples: readonly PromSample[];
}

export class PromTextError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'PromTextError';
  }
}

export interface ParseOptions {
  /** Reject samples of a family without a TYPE line (the format allows them as untyped). */
  readonly requireType?: boolean;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const METRIC_NAME_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME_PREFIX = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const DECIMAL_FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_FLOAT = /^(?:[+-]?inf(?:inity)?|nan)$/i;
const TIMESTAMP = /^-?\d+$/;
const BLANK = /^[ \t]*/;

interface MutableFamily {
  name: string;
  type: MetricType;
  typed: boolean;
  help?: string;
  samples: PromSample[];
}

/** Go's strconv.ParseFloat as expfmt uses it, or undefined when it would refuse the text. */
export function parseGoFloat(text: string): number | undefined {
  if (DECIMAL_FLOAT.test(text)) return Number(text);
  if (!SPECIAL_FLOAT.test(text)) return undefined;
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  return lower.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
}

function unescapeText(raw: string, allowed: string, line: number, what: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = raw[i + 1];
    if (next === undefined || !allowed.includes(next)) {
      throw new PromTextError(line, `invalid escape \\${next ?? ''} in ${what}`);
    }
    out += next === 'n' ? '\n' : next;
    i++;
  }
  return out;
}

/** The family a sample name belongs to, given the families TYPE'd so far. */
function familyNameOf(sample: string, families: ReadonlyMap<string, MutableFamily>): string {
  const own = families.get(sample);
  if (own?.typed === true) return sample;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const base = families.get(sample.slice(0, -suffix.length));
    if (base === undefined) continue;
    if (base.type === 'histogram' || (base.type === 'summary' && suffix !== '_bucket')) return base.name;
  }
  return sample;
}

function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([name, pairs]);
}

/** Parse `{a="1",b="x\"y"}` at the start of `text`; returns the labels and the rest of the line. */
function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = Object.create(null);
  let rest = text.slice(1).replace(BLANK, '');
  for (;;) {
    if (rest.startsWith('}')) return { labels, rest: rest.slice(1) };
    const name = LABEL_NAME_PREFIX.exec(rest)?.[0];
    if (name === undefined) throw new PromTextError(line, `expected a label name at ${JSON.stringify(rest)}`);
    if (name.startsWith('__')) throw new PromTextError(line, `label name ${name} is reserved`);
    if (name in labels) throw new PromTextError(line, `label ${name} appears twice`);
    rest = rest.slice(name.length).replace(BLANK, '');
    if (!rest.startsWith('=')) throw new PromTextError(line, `expected = after label ${name}`);
    rest = rest.slice(1).replace(BLANK, '');
    if (!rest.startsWith('"')) throw new PromTextError(line, `label ${name}: value must be in double quotes`);
    let end = 1;
    while (end < rest.length && rest[end] !== '"') end += rest[end] === '\\' ? 2 : 1;
    if (end >= rest.length) throw new PromTextError(line, `label ${name}: unterminated value`);
    labels[name] = unescapeText(rest.slice(1, end), '\\"n', line, `the value of label ${name}`);
    rest = rest.slice(end + 1).replace(BLANK, '');
    if (rest.startsWith(',')) {
      rest = rest.slice(1).replace(BLANK, '');
      continue;
    }
    if (!rest.startsWith('}')) throw new PromTextError(line, `expected , or } after label ${name}`);
  }
}

function checkFamily(family: MutableFamily): void {
  if (family.type === 'counter') {
    for (const s of family.samples) {
      if (!(s.value >= 0)) throw new PromTextError(s.line, `counter ${s.name} has value ${s.value}`);
    }
  }
  if (family.type === 'summary') {
    for (const s of family.samples) {
      if (s.name === family.name && s.labels.quantile === undefined) {
        throw new PromTextError(s.line, `summary sample ${s.name} without quantile label`);
      }
    }
  }
  if (family.type !== 'histogram') return;

  interface Series {
    buckets: { le: number; value: number; line: number }[];
    sum?: number;
    count?: number;
    line: number;
  }
  const series = new Map<string, Series>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = seriesKey(family.name, rest);
    const entry = series.get(key) ?? { buckets: [], line: s.line };
    series.set(key, entry);
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new PromTextError(s.line, `${s.name} without le label`);
      const bound = parseGoFloat(le);
      if (bound === undefined || Number.isNaN(bound))
        throw new PromTextError(s.line, `le=${le} is not a number`);
      entry.buckets.push({ le: bound, value: s.value, line: s.line });
      continue;
    }
    if (le !== undefined) throw new PromTextError(s.line, `${s.name} must not have an le label`);
    if (s.name === `${family.name}_sum`) entry.sum = s.value;
    else if (s.name === `${family.name}_count`) entry.count = s.value;
    else throw new PromTextError(s.line, `histogram ${family.name} cannot have a sample named ${s.name}`);
  }
  for (const entry of series.values()) {
    const where = entry.line;
    let previous: { le: number; value: number } | undefined;
    for (const b of entry.buckets) {
      if (!(b.value >= 0)) throw new PromTextError(b.line, `bucket count ${b.value}`);
      if (previous !== undefined && !(b.le > previous.le)) {
        throw new PromTextError(b.line, `le ${b.le} does not ascend (after ${previous.le})`);
      }
      if (previous !== undefined && b.value < previous.value) {
        throw new PromTextError(b.line, `bucket le=${b.le} counts fewer than the one before`);
      }
      previous = b;
    }
    if (previous === undefined || previous.le !== Number.POSITIVE_INFINITY) {
      throw new PromTextError(where, `histogram ${family.name} series without a +Inf bucket`);
    }
    if (entry.count === undefined)
      throw new PromTextError(where, `histogram ${family.name} series without _count`);
    if (entry.sum === undefined)
      throw new PromTextError(where, `histogram ${family.name} series without _sum`);
    if (previous.value !== entry.count) {
      throw new PromTextError(where, `+Inf bucket ${previous.value} differs from _count ${entry.count}`);
    }
  }
}

/** Parse an exposition; the families by name, in the order they appear. */
export function parsePromText(text: string, options: ParseOptions = {}): Map<string, PromFamily> {
  const requireType = options.requireType ?? true;
  const families = new Map<string, MutableFamily>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: string | undefined;

  if (text.includes('\r'))
    throw new PromTextError(text.slice(0, text.indexOf('\r')).split('\n').length, '\\r');
  if (text !== '' && !text.endsWith('\n')) {
    throw new PromTextError(text.split('\n').length, 'the last line does not end with \\n');
  }
  const lines = text.split('\n');
  lines.pop();

  /** Make `name` the family being written; a family whose group has ended cannot come back. */
  const enter = (name: string, line: number): MutableFamily => {
    if (current !== name) {
      if (closed.has(name)) throw new PromTextError(line, `lines of ${name} are not one group`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    let family = families.get(name);
    if (family === undefined) {
      family = { name, type: 'untyped', typed: false, samples: [] };
      families.set(name, family);
    }
    return family;
  };

  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (trimmed === '') return;

    if (trimmed.startsWith('#')) {
      if (!/^#[ \t]+(?:HELP|TYPE)(?:[ \t]|$)/.test(trimmed)) return; // a plain comment
      const comment = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(trimmed);
      if (comment === null) throw new PromTextError(line, 'HELP or TYPE without a metric name');
      const [, keyword, name = '', rest] = comment;
      if (!METRIC_NAME.test(name))
        throw new PromTextError(line, `invalid metric name ${JSON.stringify(name)}`);
      const family = enter(name, line);
      if (family.samples.length > 0) throw new PromTextError(line, `${keyword} of ${name} after its samples`);
      if (keyword === 'HELP') {
        if (family.help !== undefined) throw new PromTextError(line, `second HELP for ${name}`);
        family.help = unescapeText(rest ?? '', '\\n', line, `the HELP of ${name}`);
        return;
      }
      if (family.typed) throw new PromTextError(line, `second TYPE for ${name}`);
      const type = (rest ?? '').trim();
      if (!TYPES.has(type)) throw new PromTextError(line, `unknown type ${JSON.stringify(type)} for ${name}`);
      family.type = type as MetricType;
      family.typed = true;
      return;
    }

    const name = METRIC_NAME_PREFIX.exec(trimmed)?.[0];
    if (name === undefined)
      throw new PromTextError(line, `invalid metric name at ${JSON.stringify(trimmed)}`);
    let rest = trimmed.slice(name.length);
    let labels: Record<string, string> = Object.create(null);
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    // After `}` a blank is optional (as in expfmt); after a bare name it separates name and value.
    else if (!/^[ \t]/.test(rest)) throw new PromTextError(line, `expected a blank after ${name}`);
    const words = rest.trim().split(/[ \t]+/);
    if (words.length > 2)
      throw new PromTextError(line, `unexpected ${JSON.stringify(words.slice(2).join(' '))}`);
    const [valueText = '', stamp] = words;
    const value = parseGoFloat(valueText);
    if (value === undefined) throw new PromTextError(line, `invalid value ${JSON.stringify(valueText)}`);
    if (stamp !== undefined && !TIMESTAMP.test(stamp)) {
      throw new PromTextError(line, `invalid timestamp ${JSON.stringify(stamp)}`);
    }

    const familyName = familyNameOf(name, families);
    const family = enter(familyName, line);
    if (!family.typed && requireType) throw new PromTextError(line, `sample of ${name} before its TYPE`);
    if (name !== familyName && name === `${familyName}_bucket` && family.type !== 'histogram') {
      throw new PromTextError(line, `${name} in a ${family.type} family`);
    }
    if (family.type === 'histogram' && name === familyName) {
      throw new PromTextError(line, `histogram ${familyName} cannot have a sample named ${name}`);
    }
    const key = seriesKey(name, labels);
    if (seen.has(key)) throw new PromTextError(line, `duplicate series ${name}${JSON.stringify(labels)}`);
    seen.add(key);
    family.samples.push({
      name,
      labels: { ...labels },
      value,
      ...(stamp === undefined ? {} : { timestamp: Number(stamp) }),
      line,
    });
  });

  const result = new Map<string, PromFamily>();
  for (const family of families.values()) {
    checkFamily(family);
    const { typed: _typed, ...rest } = family;
    result.set(family.name, rest);
  }
  return result;
}

/** The samples of `name` (a sample name, e.g. `x_bucket`) whose labels include `labels`. */
export function samplesOf(
  families: ReadonlyMap<string, PromFamily>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): PromSample[] {
  const out: PromSample[] = [];
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}

/** The value of the one sample of `name` with exactly these labels; throws if there is none. */
export function sampleValue(
  families: ReadonlyMap<string, PromFamily>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const want = seriesKey(name, labels);
  for (const s of samplesOf(families, name, labels)) if (seriesKey(s.name, s.labels) === want) return s.value;
  throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
}
