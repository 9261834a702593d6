import { describe, expect, it } from 'vitest';
import { pbxUrl } from '../../../server/pbx/yeastar/transport.js';

/**
 * The one function every URL to the PBX is built with (issue 10, point 2). The attack: a PBX (or whoever answers in
 * its name) hands back a `download_resource_url` that resolves to another host — `/\169.254.169.254/…` resolves to
 * the metadata service under WHATWG URL rules — and we would call it with the PBX's access token. What the customer
 * cares about: a URL built from PBX data always stays on the PBX's own origin.
 */

const BASE = 'https://pbx.example.com:8088';

describe('pbxUrl keeps every PBX path on the PBX origin', () => {
  it.each([
    ['/openapi/v1.0/get_token', 'https://pbx.example.com:8088/openapi/v1.0/get_token'],
    ['/api/download/2026-12-06/rec%20one.wav', 'https://pbx.example.com:8088/api/download/2026-12-06/rec%20one.wav'],
    ['/api/v2.0/download?file=a.wav', 'https://pbx.example.com:8088/api/v2.0/download?file=a.wav&access_token=T'],
    ['/x:y/z', 'https://pbx.example.com:8088/x:y/z'],
    ['/a/../../../b', 'https://pbx.example.com:8088/b'],
  ])('accepts %s', (path, expected) => {
    const query = path.includes('?') ? { access_token: 'T' } : undefined;
    expect(pbxUrl(BASE, path, query).href).toBe(expected);
  });

  it('keeps the base URL\'s path prefix (a PBX behind a reverse proxy)', () => {
    expect(pbxUrl('https://gw.example.com/pbx1/', '/openapi/v1.0/x').href).toBe('https://gw.example.com/pbx1/openapi/v1.0/x');
    expect(pbxUrl('https://gw.example.com/pbx1', '/openapi/v1.0/x').href).toBe('https://gw.example.com/pbx1/openapi/v1.0/x');
  });

  it.each([
    ['/\\169.254.169.254/latest/meta-data/', /backslash/],
    ['/\\127.0.0.1:9999/secret', /backslash/],
    ['\\\\127.0.0.1/secret', /not a path/],
    ['//169.254.169.254/latest/meta-data/', /another host/],
    ['///evil.example/x', /another host/],
    ['http://169.254.169.254/', /not a path/],
    ['https://pbx.example.com:8088/api/download/a.wav', /not a path/],
    ['HTTP://evil.example/', /not a path/],
    ['/\t/evil.example/x', /control character/],
    ['/\n/evil.example/x', /control character/],
    ['/\u0000/x', /control character/],
    ['/\u007f/x', /control character/],
    [' //evil.example/x', /not a path/],
    ['api/download/a.wav', /not a path/],
    ['', /not a path/],
  ])('refuses %j with PBX_URL_REFUSED', (path, why) => {
    let caught: unknown;
    try {
      pbxUrl(BASE, path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'PBX_URL_REFUSED' });
    expect(String(caught)).toMatch(why);
    // The path itself never appears in the message (a signed link may be in it).
    if (path.length > 3) expect(String(caught)).not.toContain(path);
  });
});
