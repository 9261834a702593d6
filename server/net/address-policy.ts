import { lookup as dnsLookupCallback, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * SSRF policy for addresses the server will call with credentials but did not choose itself: the PBX address an
 * admin types in, the portal address an install names. Such an address must not become a way to reach the cloud
 * metadata service or the host's own loopback services.
 * Link-local, metadata and unusable (reserved, documentation, multicast) addresses are refused always; loopback and
 * private ranges only when the operator allowed them (on-premises a PBX or a Bitrix24 box on the office LAN is normal;
 * the tests run everything on loopback). An IPv6 address that carries an IPv4 one is judged as that IPv4 address
 * (`classifyAddress`). Every address a name resolves to is checked (a name with one public and one private address is
 * refused). The same rules run when a socket connects, IP literals included: net/guarded-http.ts.
 */

export interface AddressPolicy {
  allowLoopback: boolean;
  allowPrivate: boolean;
  /** Replaces DNS (tests). */
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
  /**
   * Asked before every new connection (guarded-http.ts): an error refuses it. The PBX link of a portal this instance
   * no longer owns (server/cluster/) opens no socket, even from a reconnect timer that fires after a pause.
   */
  refuseConnect?: () => Error | undefined;
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

/**
 * What an address is, as far as this policy cares. `unusable`: no host to call there — unspecified, broadcast,
 * multicast, documentation (RFC 5737, RFC 3849), reserved (240/4) and IETF protocol assignments (192.0.0/24, where
 * some clouds keep a metadata service too, e.g. 192.0.0.192). Refused always, like metadata and link-local.
 */
export type AddressClass = 'metadata' | 'link-local' | 'unusable' | 'loopback' | 'private' | 'public';

export interface AddressVerdict {
  class: AddressClass;
  /** The address judged (an IPv4 address an IPv6 form carries, when it carries one). */
  judged: string;
}

/** A BlockList of addresses and `address/prefix` ranges, IPv4 or IPv6 told by the colon. */
function blockList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

const metadata = blockList([
  '169.254.169.254',
  '169.254.170.2',
  '100.100.100.200',
  '192.0.0.192',
  'fd00:ec2::254',
]);

const linkLocal = blockList([
  '169.254.0.0/16',
  'fe80::/10',
]);

const loopback = blockList([
  '127.0.0.0/8',
  '::1',
]);

// IANA special-purpose registries (https://www.iana.org/assignments/iana-ipv4-special-registry/,
// https://www.iana.org/assignments/iana-ipv6-special-registry/): nothing there is a host we would call.
const unusable = blockList([
  '0.0.0.0/8',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::',
  '100::/64',
  '2001:db8::/32',
  'ff00::/8',
]);

// Not routed on the internet, so a host there is on the operator's own network: allowed with the private switch.
const privateRanges = blockList([
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '198.18.0.0/15',
  'fc00::/7',
  'fec0::/10',
]);

/** The 16 bytes of a valid IPv6 address (zone id dropped, a trailing dotted quad read as the last 4 bytes). */
function ipv6Bytes(address: string): number[] {
  let text = address.replace(/%.*$/, '').toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

const v4At = (bytes: number[], at: number, xor = 0): string =>
  bytes.slice(at, at + 4).map((b) => String(b ^ xor)).join('.');
const zero = (bytes: number[], from: number, to: number): boolean => bytes.slice(from, to).every((b) => b === 0);

/**
 * The IPv4 addresses an IPv6 address leads to: IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d),
 * IPv4-compatible (::a.b.c.d, deprecated but still routed by some stacks), NAT64 (64:ff9b::/96 RFC 6052 and the
 * local-use 64:ff9b:1::/48 RFC 8215, read as /96), 6to4 (2002:AABB:CCDD::/48 RFC 3056) and Teredo (2001::/32
 * RFC 4380: server, and the client address stored inverted). A gateway on the path turns each into a connection to
 * that IPv4 address, so each is judged as the IPv4 address it carries.
 */
function carriedIpv4(address: string): string[] {
  const b = ipv6Bytes(address);
  if (zero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return [v4At(b, 12)];
  if (zero(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && zero(b, 10, 12)) return [v4At(b, 12)];
  // ::/96 without :: and ::1 (those are the unspecified and loopback addresses, judged as IPv6).
  if (zero(b, 0, 12) && !(zero(b, 12, 15) && (b[15] ?? 0) <= 1)) return [v4At(b, 12)];
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && (zero(b, 4, 12) || (b[4] === 0 && b[5] === 1))) return [v4At(b, 12)];
  if (b[0] === 0x20 && b[1] === 0x02) return [v4At(b, 2)];
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return [v4At(b, 4), v4At(b, 12, 0xff)];
  return [];
}

const SEVERITY: AddressClass[] = ['metadata', 'link-local', 'unusable', 'loopback', 'private', 'public'];

function classOf(address: string, family: 'ipv4' | 'ipv6'): AddressClass {
  if (metadata.check(address, family)) return 'metadata';
  if (linkLocal.check(address, family)) return 'link-local';
  if (unusable.check(address, family)) return 'unusable';
  if (loopback.check(address, family)) return 'loopback';
  if (family === 'ipv4' && address === '255.255.255.255') return 'unusable';
  if (privateRanges.check(address, family)) return 'private';
  return 'public';
}

/**
 * Classifies an IP address (IPv4, or IPv6 with or without brackets). An IPv6 form that carries an IPv4 address is
 * judged as that IPv4 address (the stricter one when it carries two); anything that is not an IP address is
 * `unusable`.
 */
export function classifyAddress(raw: string): AddressVerdict {
  const address = raw.replace(/^\[|\]$/g, '');
  const version = isIP(address);
  if (version === 4) return { class: classOf(address, 'ipv4'), judged: address };
  if (version !== 6) return { class: 'unusable', judged: address };
  let verdict: AddressVerdict = { class: classOf(address, 'ipv6'), judged: address };
  for (const v4 of carriedIpv4(address)) {
    const cls = classOf(v4, 'ipv4');
    if (SEVERITY.indexOf(cls) < SEVERITY.indexOf(verdict.class) || verdict.judged === address) verdict = { class: cls, judged: v4 };
  }
  return verdict;
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
    const { class: cls, judged } = classifyAddress(raw);
    const address = judged === raw ? raw : `${raw} (${judged})`;
    if (cls === 'metadata') throw w.refused(`${address} is a cloud metadata address`);
    if (cls === 'link-local') throw w.refused(`${address} is a link-local address`);
    if (cls === 'unusable') throw w.refused(`${address} is not a usable host address (reserved, documentation, multicast or unspecified)`);
    if (cls === 'loopback' && !policy.allowLoopback) {
      throw w.refused(`${address} is this server itself (loopback); ${w.loopbackHint}`);
    }
    if (cls === 'private' && !policy.allowPrivate) {
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
