// Static addresses of routed NICs: parsing, subnet membership and conflicts. Pure; the `ip set`
// command uses it before anything is planned, so a typo never reaches LXD.

import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Address {
  /** Canonical text (IPv6 compressed and lower case), as LXD and `ip addr` print it. */
  readonly text: string;
  readonly family: Family;
  readonly value: bigint;
}

export interface Subnet {
  readonly text: string;
  readonly family: Family;
  readonly network: bigint;
  readonly prefix: number;
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Value(text: string): bigint {
  let source = text.toLowerCase();
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(source);
  if (v4?.[1] !== undefined) {
    const n = ipv4Value(v4[1]);
    source = `${source.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = source.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  const groups = tail === undefined ? left : [...left, ...Array<string>(missing).fill('0'), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

function ipv6Text(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups becomes "::" (the first on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parse one address; a clear error for anything else (CIDR suffixes, names, zones). */
export function parseAddress(input: string): Address {
  const text = input.trim();
  if (isIPv4(text)) {
    const value = ipv4Value(text);
    return { text: text.split('.').map(Number).join('.'), family: 4, value };
  }
  if (isIPv6(text)) {
    const value = ipv6Value(text);
    return { text: ipv6Text(value), family: 6, value };
  }
  if (text.includes('/'))
    throw new Error(`${JSON.stringify(text)}: give a single address without a prefix length`);
  throw new Error(`${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
}

export function parseSubnet(input: string): Subnet {
  const [addressText = '', prefixText, ...rest] = input.trim().split('/');
  if (prefixText === undefined || rest.length > 0 || !/^\d{1,3}$/.test(prefixText)) {
    throw new Error(`${JSON.stringify(input)} is not a subnet in CIDR notation (e.g. 198.51.100.0/24)`);
  }
  const address = parseAddress(addressText);
  const prefix = Number(prefixText);
  const bits = address.family === 4 ? 32 : 128;
  if (prefix > bits) throw new Error(`${JSON.stringify(input)}: the prefix length is larger than ${bits}`);
  const mask = ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  if ((address.value & mask) !== address.value) {
    throw new Error(`${JSON.stringify(input)} has host bits set; did you mean the network address?`);
  }
  return { text: `${address.text}/${prefix}`, family: address.family, network: address.value, prefix };
}

export function contains(subnet: Subnet, address: Address): boolean {
  if (subnet.family !== address.family) return false;
  const bits = subnet.family === 4 ? 32 : 128;
  const shift = BigInt(bits - subnet.prefix);
  return address.value >> shift === subnet.network >> shift;
}

/** Who already has an address: another container's configured or live address. */
export interface AddressUse {
  readonly container: string;
  readonly host: string;
  readonly address: string;
}

/**
 * Validate the addresses requested for `container`: each parses, sits in one of the resource's
 * allowed subnets, is given once, and is not used by any other container on either host. Returns
 * the canonical addresses split by family, or every problem found (so one answer fixes them all).
 */
export function checkRequestedAddresses(
  requested: readonly string[],
  options: {
    readonly container: string;
    readonly allowed: readonly Subnet[];
    readonly inUse: readonly AddressUse[];
  },
): { ok: true; ipv4: string[]; ipv6: string[] } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const ipv4: string[] = [];
  const ipv6: string[] = [];
  const seen = new Set<string>();
  if (requested.length === 0) problems.push('give at least one address');
  for (const text of requested) {
    let address: Address;
    try {
      address = parseAddress(text);
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    if (seen.has(address.text)) {
      problems.push(`${address.text} is given twice`);
      continue;
    }
    seen.add(address.text);
    if (!options.allowed.some((s) => contains(s, address))) {
      problems.push(
        options.allowed.length === 0
          ? `no subnets are allowed for this resource (config: resources.<name>.subnets)`
          : `${address.text} is outside the allowed subnets ${options.allowed.map((s) => s.text).join(', ')}`,
      );
      continue;
    }
    const user = options.inUse.find(
      (u) => u.container !== options.container && sameAddress(u.address, address),
    );
    if (user !== undefined) {
      problems.push(`${address.text} is already used by ${user.container} on ${user.host}`);
      continue;
    }
    (address.family === 4 ? ipv4 : ipv6).push(address.text);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, ipv4, ipv6 };
}

function sameAddress(text: string, address: Address): boolean {
  try {
    // LXD reports some addresses with a prefix length ("198.51.100.7/32").
    const other = parseAddress(text.split('/')[0] ?? text);
    return other.family === address.family && other.value === address.value;
  } catch {
    return false;
  }
}
