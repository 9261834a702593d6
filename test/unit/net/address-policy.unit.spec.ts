import { describe, expect, it } from 'vitest';
import { classifyAddress, type AddressClass } from '../../../server/net/address-policy.js';

/**
 * The address classification the SSRF guards rest on (issue 10, point 2). The attack: an address that looks like
 * IPv6 (or a reserved IPv4 range) but reaches the host itself, the metadata service or a LAN through a gateway or
 * the kernel (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo). Each must be judged as the IPv4 address it
 * carries, so the operator's switches (loopback, private) mean the same whatever the spelling.
 */

const table: [string, AddressClass, string?][] = [
  // plain IPv4
  ['93.184.215.14', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['192.168.10.1', 'private'],
  ['100.64.0.1', 'private'],
  ['198.18.0.1', 'private'],
  ['198.19.255.254', 'private'],
  ['169.254.169.254', 'metadata'],
  ['169.254.170.2', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['192.0.0.192', 'metadata'],
  ['169.254.1.1', 'link-local'],
  ['0.0.0.0', 'unusable'],
  ['0.1.2.3', 'unusable'],
  ['192.0.0.8', 'unusable'],
  ['192.0.2.1', 'unusable'],
  ['198.51.100.7', 'unusable'],
  ['203.0.113.5', 'unusable'],
  ['224.0.0.1', 'unusable'],
  ['239.255.255.250', 'unusable'],
  ['240.0.0.1', 'unusable'],
  ['255.255.255.255', 'unusable'],
  // plain IPv6
  ['2606:2800:220:1::1', 'public'],
  ['::1', 'loopback'],
  ['[::1]', 'loopback'],
  ['::', 'unusable'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['fd00:ec2::254', 'metadata'],
  ['fd12::1', 'private'],
  ['fc00::5', 'private'],
  ['fec0::1', 'private'],
  ['2001:db8::1', 'unusable'],
  ['ff02::1', 'unusable'],
  ['100::1', 'unusable'],
  // IPv4-mapped (dotted and hex, as the URL parser writes it)
  ['::ffff:127.0.0.1', 'loopback', '127.0.0.1'],
  ['::ffff:7f00:1', 'loopback', '127.0.0.1'],
  ['::ffff:a9fe:a9fe', 'metadata', '169.254.169.254'],
  ['::ffff:10.0.0.1', 'private', '10.0.0.1'],
  ['::ffff:5db8:d70e', 'public', '93.184.215.14'],
  // IPv4-translated ::ffff:0:0/96
  ['::ffff:0:7f00:1', 'loopback', '127.0.0.1'],
  // IPv4-compatible ::/96
  ['::127.0.0.1', 'loopback', '127.0.0.1'],
  ['::7f00:1', 'loopback', '127.0.0.1'],
  ['::a9fe:a9fe', 'metadata', '169.254.169.254'],
  ['::2', 'unusable'],
  // NAT64 well-known and local-use prefixes
  ['64:ff9b::7f00:1', 'loopback', '127.0.0.1'],
  ['64:ff9b::169.254.169.254', 'metadata', '169.254.169.254'],
  ['64:ff9b::a00:1', 'private', '10.0.0.1'],
  ['64:ff9b:1::7f00:1', 'loopback', '127.0.0.1'],
  ['64:ff9b::5db8:d70e', 'public', '93.184.215.14'],
  // 6to4 2002:AABB:CCDD::/48
  ['2002:7f00:1::1', 'loopback', '127.0.0.1'],
  ['2002:a9fe:a9fe::', 'metadata', '169.254.169.254'],
  ['2002:c0a8:101::1', 'private', '192.168.1.1'],
  // Teredo 2001:0::/32: server 127.0.0.1 in bytes 4-7 is enough to refuse; client (inverted) 10.0.0.1 below
  ['2001:0:7f00:1::a247:28f1', 'loopback', '127.0.0.1'],
  ['2001:0:7f00:1::', 'unusable'],
  ['2001:0:5db8:d70e::f5ff:fffe', 'private', '10.0.0.1'],
];

describe('address classification (what an IPv6 form carries is judged as IPv4)', () => {
  it.each(table)('%s is %s', (address, expected, judged) => {
    const verdict = classifyAddress(address);
    expect(verdict.class).toBe(expected);
    if (judged) expect(verdict.judged).toBe(judged);
  });

  it('anything that is not an IP address is unusable (never silently public)', () => {
    expect(classifyAddress('pbx.example.com').class).toBe('unusable');
    expect(classifyAddress('').class).toBe('unusable');
  });
});
