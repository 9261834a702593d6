import { describe, expect, it } from 'vitest';
import { assertPbxAddressAllowed, guardedLookup } from '../../../server/pbx/address-guard.js';

const strict = { allowLoopback: false, allowPrivate: false };
const open = { allowLoopback: true, allowPrivate: true };
const resolving = (...addresses: string[]) => ({ ...strict, lookup: async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })) });

describe('PBX address guard (SSRF)', () => {
  it.each([
    'http://169.254.169.254/', 'http://169.254.10.1:8088', 'http://[fe80::1]/', 'http://[fd00:ec2::254]/',
    'http://metadata.google.internal/', 'http://0.0.0.0:80/', 'http://[::ffff:169.254.169.254]/',
  ])('refuses %s even when loopback and private are allowed', async (url) => {
    await expect(assertPbxAddressAllowed(url, open)).rejects.toMatchObject({ code: 'PBX_ADDRESS_REFUSED' });
  });

  it.each(['http://127.0.0.1:8088', 'http://[::1]/', 'http://10.1.2.3', 'http://192.168.1.10:8088', 'http://172.20.0.5', 'http://[fd12::1]/', 'http://[::ffff:10.0.0.1]/'])(
    'refuses %s by default, allows it when configured', async (url) => {
      await expect(assertPbxAddressAllowed(url, strict)).rejects.toThrow(/PBX_ADDRESS_REFUSED: .*(PBX_ALLOW_LOOPBACK|PBX_ALLOW_PRIVATE)/);
      await expect(assertPbxAddressAllowed(url, open)).resolves.toBeInstanceOf(URL);
    },
  );

  it('accepts a public address and rejects other schemes and credentials in the URL', async () => {
    await expect(assertPbxAddressAllowed('https://93.184.215.7:8088', strict)).resolves.toBeInstanceOf(URL);
    await expect(assertPbxAddressAllowed('ftp://93.184.215.7', strict)).rejects.toThrow(/http:\/\/ or https:\/\//);
    await expect(assertPbxAddressAllowed('file:///etc/passwd', strict)).rejects.toThrow(/PBX_ADDRESS_REFUSED/);
    await expect(assertPbxAddressAllowed('https://u:p@93.184.215.7', strict)).rejects.toThrow(/user name or password/);
    await expect(assertPbxAddressAllowed('not a url', strict)).rejects.toThrow(/not a valid URL/);
  });

  it('checks every address a host name resolves to', async () => {
    await expect(assertPbxAddressAllowed('https://pbx.example.com', resolving('93.184.215.7'))).resolves.toBeInstanceOf(URL);
    await expect(assertPbxAddressAllowed('https://pbx.example.com', resolving('93.184.215.7', '169.254.169.254'))).rejects.toThrow(/metadata/);
    await expect(assertPbxAddressAllowed('https://pbx.example.com', resolving('127.0.0.1'))).rejects.toThrow(/loopback/);
    await expect(assertPbxAddressAllowed('https://nope.example.com', { ...strict, lookup: async () => { throw new Error('ENOTFOUND'); } }))
      .rejects.toMatchObject({ code: 'PBX_UNREACHABLE' });
  });
});

describe('guarded lookup (connect-time check against DNS rebinding)', () => {
  const fakeResolve = (addresses: { address: string; family: number }[]) =>
    ((_host: string, _opts: unknown, cb: (err: NodeJS.ErrnoException | null, a: { address: string; family: number }[]) => void) => cb(null, addresses)) as unknown as typeof import('node:dns').lookup;

  it('passes allowed addresses through, in both callback shapes', async () => {
    const lookup = guardedLookup({ allowLoopback: false, allowPrivate: false }, fakeResolve([{ address: '93.184.215.9', family: 4 }]));
    const single = await new Promise((resolve) => lookup('pbx.example.com', {}, (err, address, family) => resolve({ err, address, family })));
    expect(single).toEqual({ err: null, address: '93.184.215.9', family: 4 });
    const all = await new Promise((resolve) => lookup('pbx.example.com', { all: true }, (err, address) => resolve({ err, address })));
    expect(all).toEqual({ err: null, address: [{ address: '93.184.215.9', family: 4 }] });
  });

  it('refuses a name that now resolves to a metadata or loopback address', async () => {
    for (const address of ['169.254.169.254', '127.0.0.1']) {
      const lookup = guardedLookup({ allowLoopback: false, allowPrivate: false }, fakeResolve([{ address, family: 4 }]));
      const err = await new Promise<Error | null>((resolve) => lookup('pbx.example.com', {}, (e) => resolve(e)));
      expect(err?.message).toMatch(/^PBX_ADDRESS_REFUSED/);
    }
  });
});
