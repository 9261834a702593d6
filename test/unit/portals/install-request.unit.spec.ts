import { describe, expect, it } from 'vitest';
import { readInstallEventAuth, readInstallerPost } from '../../../server/portals/install-request.js';
import { AppError } from '../../../server/errors.js';

const OAUTH = 'https://oauth.bitrix.info/rest/';

describe('install grant from the installer POST', () => {
  const body = {
    AUTH_ID: 'access-1', REFRESH_ID: 'refresh-1', AUTH_EXPIRES: '3600', member_id: 'm1', APPLICATION_TOKEN: 'app-token',
    SERVER_ENDPOINT: 'https://oauth.bitrix.info/rest/', status: 'L', PLACEMENT: 'DEFAULT',
  };

  it('builds the REST base from DOMAIN/PROTOCOL and never uses APP_SID as the application token', () => {
    const grant = readInstallerPost(body, { DOMAIN: 'acme.bitrix24.com', PROTOCOL: '1', LANG: 'en', APP_SID: 'sid-123' }, OAUTH);
    expect(grant).toMatchObject({
      memberId: 'm1', domain: 'acme.bitrix24.com', clientEndpoint: 'https://acme.bitrix24.com/rest/',
      serverEndpoint: OAUTH, applicationToken: 'app-token', accessToken: 'access-1', refreshToken: 'refresh-1', expiresInSeconds: 3600,
    });
    expect(JSON.stringify(grant)).not.toContain('sid-123');
  });

  it('reaches a portal on plain http with a port (PROTOCOL=0)', () => {
    const grant = readInstallerPost(body, { DOMAIN: '127.0.0.1:4567', PROTOCOL: '0' }, OAUTH);
    expect(grant.clientEndpoint).toBe('http://127.0.0.1:4567/rest/');
  });

  it.each([
    ['AUTH_ID', { ...body, AUTH_ID: '' }],
    ['APPLICATION_TOKEN', { ...body, APPLICATION_TOKEN: undefined }],
    ['member_id', { ...body, member_id: undefined }],
  ])('refuses a POST without %s with a 400 that names it', (field, b) => {
    try {
      readInstallerPost(b, { DOMAIN: 'acme.bitrix24.com', PROTOCOL: '1' }, OAUTH);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).status).toBe(400);
      expect((err as AppError).message).toContain(field);
    }
  });

  it('refuses a DOMAIN that is not a host (no path or scheme smuggling)', () => {
    expect(() => readInstallerPost(body, { DOMAIN: 'evil.com/x?', PROTOCOL: '1' }, OAUTH)).toThrow(/DOMAIN/);
    expect(() => readInstallerPost(body, {}, OAUTH)).toThrow(/DOMAIN/);
  });
});

describe('install grant from ONAPPINSTALL auth[...]', () => {
  const auth = {
    access_token: 'a', refresh_token: 'r', expires_in: '3600', client_endpoint: 'https://acme.bitrix24.com/rest',
    member_id: 'm1', application_token: 't', domain: 'acme.bitrix24.com', scope: 'crm,telephony', status: 'F',
  };

  it('uses client_endpoint and falls back to the configured OAuth server when server_endpoint is absent', () => {
    expect(readInstallEventAuth(auth, OAUTH)).toMatchObject({
      clientEndpoint: 'https://acme.bitrix24.com/rest/', serverEndpoint: OAUTH, scope: 'crm,telephony', status: 'F',
    });
  });

  it('refuses an event without tokens', () => {
    expect(() => readInstallEventAuth({ ...auth, refresh_token: undefined }, OAUTH)).toThrow(/refresh_token/);
  });
});
