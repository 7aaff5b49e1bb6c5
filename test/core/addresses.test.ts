import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRequestedAddresses, contains, parseAddress, parseSubnet } from '../../src/core/addresses.js';

describe('addresses', () => {
  it('parses IPv4 and IPv6 into one canonical spelling', () => {
    expect(parseAddress(' 198.51.100.7 ').text).toBe('198.51.100.7');
    expect(parseAddress('2001:DB8:0:0:0:0:0:1').text).toBe('2001:db8::1');
    expect(parseAddress('2001:db8:0:1:0:0:0:0').text).toBe('2001:db8:0:1::');
    expect(parseAddress('::ffff:192.0.2.1').text).toBe('::ffff:c000:201');
    expect(parseAddress('2001:db8::1').family).toBe(6);
  });

  it('refuses what is not one address, saying what it got', () => {
    expect(() => parseAddress('198.51.100.7/32')).toThrow(/without a prefix length/);
    expect(() => parseAddress('web1')).toThrow(/"web1" is not an IPv4 or IPv6 address/);
    expect(() => parseAddress('198.51.100.256')).toThrow(/not an IPv4/);
    expect(() => parseAddress('1.2.3.4;reboot')).toThrow(/not an IPv4/);
  });

  it('checks subnets in CIDR notation and membership', () => {
    const net = parseSubnet('198.51.100.0/24');
    expect(contains(net, parseAddress('198.51.100.255'))).toBe(true);
    expect(contains(net, parseAddress('198.51.101.0'))).toBe(false);
    expect(contains(parseSubnet('2001:db8:100::/64'), parseAddress('2001:db8:100::7'))).toBe(true);
    expect(contains(net, parseAddress('2001:db8:100::7'))).toBe(false);
    expect(contains(parseSubnet('0.0.0.0/0'), parseAddress('203.0.113.1'))).toBe(true);
    expect(() => parseSubnet('198.51.100.1/24')).toThrow(/host bits set/);
    expect(() => parseSubnet('198.51.100.0')).toThrow(/CIDR/);
    expect(() => parseSubnet('198.51.100.0/33')).toThrow(/larger than 32/);
  });

  it('canonical IPv6 text parses back to the same value (RFC 5952 round trip)', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const a = parseAddress(text);
        expect(parseAddress(a.text).value).toBe(a.value);
        expect(parseAddress(a.text).text).toBe(a.text);
      }),
      { numRuns: 2_000 },
    );
  });

  it('validates a request: subnet, duplicates, and addresses other containers use', () => {
    const allowed = [parseSubnet('198.51.100.0/24'), parseSubnet('2001:db8:100::/64')];
    const inUse = [
      { container: 'db1', host: 'beta', address: '198.51.100.10' },
      { container: 'web1', host: 'alpha', address: '198.51.100.20/32' },
    ];
    expect(
      checkRequestedAddresses(['198.51.100.20', '2001:DB8:100::20'], { container: 'web1', allowed, inUse }),
    ).toEqual({ ok: true, ipv4: ['198.51.100.20'], ipv6: ['2001:db8:100::20'] });
    const bad = checkRequestedAddresses(
      ['198.51.100.10', '203.0.113.5', 'x', '198.51.100.30', '198.51.100.30'],
      {
        container: 'web1',
        allowed,
        inUse,
      },
    );
    expect(bad).toEqual({
      ok: false,
      problems: [
        '198.51.100.10 is already used by db1 on beta',
        '203.0.113.5 is outside the allowed subnets 198.51.100.0/24, 2001:db8:100::/64',
        '"x" is not an IPv4 or IPv6 address',
        '198.51.100.30 is given twice',
      ],
    });
    expect(checkRequestedAddresses(['198.51.100.5'], { container: 'web1', allowed: [], inUse: [] })).toEqual({
      ok: false,
      problems: ['no subnets are allowed for this resource (config: resources.<name>.subnets)'],
    });
  });
});
