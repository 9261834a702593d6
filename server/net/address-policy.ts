import { lookup as dnsLookupCallback, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * SSRF policy for addresses the server will call with credentials but did not choose itself: the PBX address an
 * admin types in, the portal address an install names. Such an address must not become a way to reach the cloud
 * metadata service or the host's own loopback services.
 * Link-local and metadata addresses are refused always; loopback and private ranges only when the operator
 * allowed them (on-premises a PBX or a Bitrix24 box on the office LAN is normal; the tests run everything on loopback).
 * Every address a name resolves to is checked (a name with one public and one private address is refused).
 */

export interface AddressPolicy {
  allowLoopback: boolean;
  allowPrivate: boolean;
  /** Replaces DNS (tests). */
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
}

/**
 * How one guard speaks: the words for the address it checks, the operator's switches, its error types.
 * The PBX guard and the portal guard share the rules and differ only here.
 */
export interface AddressGuardWording {
  /** e.g. "the PBX address". */
  subject: string;
  /** e.g. "https://pbx.example.com:8088". */
  example: string;
  /** e.g. "set PBX_ALLOW_LOOPBACK=1 to allow it". */
  loopbackHint: string;
  /** e.g. "set PBX_ALLOW_PRIVATE=1 if the PBX is on your LAN". */
  privateHint: string;
  /** e.g. "the PBX host name". */
  hostName: string;
  refused: (reason: string) => Error;
  unreachable: (reason: string) => Error;
}

const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);

const metadata = new BlockList();
metadata.addAddress('169.254.169.254', 'ipv4');
metadata.addAddress('169.254.170.2', 'ipv4');
metadata.addAddress('100.100.100.200', 'ipv4');
metadata.addAddress('fd00:ec2::254', 'ipv6');

const linkLocal = new BlockList();
linkLocal.addSubnet('169.254.0.0', 16, 'ipv4');
linkLocal.addSubnet('fe80::', 10, 'ipv6');

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

const unspecified = new BlockList();
unspecified.addSubnet('0.0.0.0', 8, 'ipv4');
unspecified.addAddress('::', 'ipv6');

const privateRanges = new BlockList();
privateRanges.addSubnet('10.0.0.0', 8, 'ipv4');
privateRanges.addSubnet('172.16.0.0', 12, 'ipv4');
privateRanges.addSubnet('192.168.0.0', 16, 'ipv4');
privateRanges.addSubnet('100.64.0.0', 10, 'ipv4');
privateRanges.addSubnet('fc00::', 7, 'ipv6');

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it carries. */
function unwrap(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return { address: mapped[1], family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

/** The host of a URL as DNS and the block lists see it: no brackets, lower case, no trailing dot. */
export function normalizedHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
}

export interface AddressGuard {
  /** Throws `refused` when one resolved address breaks the policy. */
  checkAddress(raw: string, policy: AddressPolicy): void;
  /** Validates a base URL and every address its host resolves to; returns the parsed URL. */
  assertUrlAllowed(baseUrl: string, policy: AddressPolicy): Promise<URL>;
  /**
   * A `lookup` for sockets that applies the same rules at connect time: a host name that later re-resolves to a
   * refused address (DNS rebinding) cannot be used to reach it.
   */
  guardedLookup(policy: AddressPolicy, resolve?: typeof dnsLookupCallback): LookupFunction;
}

export function createAddressGuard(w: AddressGuardWording): AddressGuard {
  function checkAddress(raw: string, policy: AddressPolicy): void {
    const { address, family } = unwrap(raw);
    if (metadata.check(address, family)) throw w.refused(`${address} is a cloud metadata address`);
    if (linkLocal.check(address, family)) throw w.refused(`${address} is a link-local address`);
    if (unspecified.check(address, family)) throw w.refused(`${address} is not a usable host address`);
    if (loopback.check(address, family) && !policy.allowLoopback) {
      throw w.refused(`${address} is this server itself (loopback); ${w.loopbackHint}`);
    }
    if (privateRanges.check(address, family) && !policy.allowPrivate) {
      throw w.refused(`${address} is a private network address; ${w.privateHint}`);
    }
  }

  async function assertUrlAllowed(baseUrl: string, policy: AddressPolicy): Promise<URL> {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw w.refused(`${w.subject} is not a valid URL (e.g. ${w.example})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw w.refused(`${w.subject} must start with http:// or https://`);
    if (url.username !== '' || url.password !== '') throw w.refused(`${w.subject} must not contain a user name or password`);
    const host = normalizedHost(url);
    if (host === '') throw w.refused(`${w.subject} has no host`);
    if (METADATA_HOSTS.has(host)) throw w.refused(`${host} is a cloud metadata host`);
    if (isIP(host) !== 0) {
      checkAddress(host, policy);
      return url;
    }
    const lookup = policy.lookup ?? ((h: string) => dnsLookup(h, { all: true, verbatim: true }));
    let addresses: { address: string; family: number }[];
    try {
      addresses = await lookup(host);
    } catch {
      throw w.unreachable(`${w.hostName} ${host} could not be resolved`);
    }
    if (addresses.length === 0) throw w.unreachable(`${w.hostName} ${host} could not be resolved`);
    for (const a of addresses) checkAddress(a.address, policy);
    return url;
  }

  function guardedLookup(policy: AddressPolicy, resolve: typeof dnsLookupCallback = dnsLookupCallback): LookupFunction {
    return (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
      resolve(hostname, { ...options, all: true }, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
        if (err) return callback(err, '');
        try {
          if (addresses.length === 0) throw w.unreachable(`${w.hostName} ${hostname} could not be resolved`);
          for (const a of addresses) checkAddress(a.address, policy);
        } catch (refusal) {
          return callback(refusal instanceof Error ? refusal : new Error(String(refusal)), '');
        }
        const first = addresses[0];
        if (options.all) return callback(null, addresses);
        return callback(null, first?.address ?? '', first?.family ?? 4);
      });
    };
  }

  return { checkAddress, assertUrlAllowed, guardedLookup };
}
