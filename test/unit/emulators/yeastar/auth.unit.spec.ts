import { afterEach, describe, expect, it } from 'vitest';
import { requestWithoutUserAgent, startPbx, type Pbx } from './pbx-client.js';

// The emulator must refuse what the real PBX refuses, or the adapter's error paths are never exercised.

let pbx: Pbx | undefined;
afterEach(async () => {
  await pbx?.close();
  pbx = undefined;
});

describe('Yeastar emulator: authentication', () => {
  it('answers get_token with the six documented fields', async () => {
    pbx = await startPbx();
    const answer = await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'emulator-client-secret' } });
    expect(answer).toMatchObject({ errcode: 0, errmsg: 'SUCCESS', access_token_expire_time: 1800, refresh_token_expire_time: 86400 });
    expect(typeof answer.access_token).toBe('string');
    expect(typeof answer.refresh_token).toBe('string');
  });

  it('refuses a request without User-Agent with 40002', async () => {
    pbx = await startPbx();
    const answer = await requestWithoutUserAgent(`${pbx.url}/openapi/v1.0/get_token`);
    expect(answer).toEqual({ errcode: 40002, errmsg: 'PARAMETER ERROR' });
    expect(pbx.emu.tokens.snapshot().getTokenCalls).toBe(0);
  });

  it('refuses a wrong secret with -1 FAILURE and names the field', async () => {
    pbx = await startPbx();
    const answer = await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'nope' } });
    expect(answer).toEqual({ errcode: -1, errmsg: 'FAILURE', invalid_param_list: [{ field: 'username or password', value: 'error' }] });
  });

  it('blocks the IP after 5 consecutive failures, even for the right secret, until unblocked', async () => {
    pbx = await startPbx();
    for (let i = 0; i < 5; i += 1) {
      expect((await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'bad' } })).errcode).toBe(-1);
    }
    const good = { username: 'emulator-client-id', password: 'emulator-client-secret' };
    expect(await pbx.api('get_token', { body: good })).toEqual({ errcode: 70087, errmsg: 'IP FORBIDDEN' });
    expect(pbx.emu.tokens.snapshot().blockedIps).toHaveLength(1);
    pbx.emu.tokens.unblockAll();
    expect((await pbx.api('get_token', { body: good })).errcode).toBe(0);
  });

  it('a success resets the failure count', async () => {
    pbx = await startPbx();
    for (let i = 0; i < 4; i += 1) await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'bad' } });
    await pbx.login();
    for (let i = 0; i < 4; i += 1) await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'bad' } });
    expect((await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'emulator-client-secret' } })).errcode).toBe(0);
  });

  it('caps valid access tokens per app (60002) and frees a slot on del_token', async () => {
    pbx = await startPbx({ tokenCap: 3 });
    const tokens = [await pbx.login(), await pbx.login(), await pbx.login()];
    expect(await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'emulator-client-secret' } }))
      .toEqual({ errcode: 60002, errmsg: 'MAX LIMITATION EXCEEDED' });
    expect(await pbx.api('del_token', { token: tokens[0] })).toEqual({ errcode: 0, errmsg: 'SUCCESS' });
    expect((await pbx.api('extension/list', { token: tokens[0] })).errcode).toBe(10004);
    await pbx.login();
    expect(pbx.emu.tokens.snapshot()).toMatchObject({ live: 3, capRefusals: 1, revokeCalls: 1 });
  });

  it('the cap counts only unexpired tokens', async () => {
    pbx = await startPbx({ tokenCap: 1 });
    await pbx.login();
    pbx.emu.state.advanceClock(1801 * 1000);
    await expect(pbx.login()).resolves.toBeTypeOf('string');
  });

  it('expires access tokens after their lifetime with 10004 TOKEN EXPIRED', async () => {
    pbx = await startPbx();
    const token = await pbx.login();
    expect((await pbx.api('extension/list', { token })).errcode).toBe(0);
    pbx.emu.state.advanceClock(1800 * 1000);
    expect(await pbx.api('extension/list', { token })).toEqual({ errcode: 10004, errmsg: 'TOKEN EXPIRED' });
  });

  it('takes the token only from the access_token query, not an Authorization header', async () => {
    pbx = await startPbx();
    const token = await pbx.login();
    expect((await pbx.api('extension/list', { headers: { Authorization: `Bearer ${token}` } })).errcode).toBe(10004);
  });

  it('rotates on refresh_token: new pair, the old refresh token is spent', async () => {
    pbx = await startPbx();
    const first = await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'emulator-client-secret' } });
    const refreshed = await pbx.api('refresh_token', { body: { refresh_token: first.refresh_token } });
    expect(refreshed).toMatchObject({ errcode: 0, access_token_expire_time: 1800, refresh_token_expire_time: 86400 });
    expect(refreshed.access_token).not.toBe(first.access_token);
    expect((await pbx.api('extension/list', { token: String(refreshed.access_token) })).errcode).toBe(0);
    expect((await pbx.api('refresh_token', { body: { refresh_token: first.refresh_token } })).errcode).toBe(10004);
    expect((await pbx.api('refresh_token', { body: {} })).errcode).toBe(40002);
  });

  it('refuses an expired refresh token', async () => {
    pbx = await startPbx({ refreshTokenTtlSec: 60 });
    const first = await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'emulator-client-secret' } });
    pbx.emu.state.advanceClock(61_000);
    expect((await pbx.api('refresh_token', { body: { refresh_token: first.refresh_token } })).errcode).toBe(10004);
  });

  it('answers an unknown path or a wrong method with 10001 INTERFACE NOT EXISTED', async () => {
    pbx = await startPbx();
    const token = await pbx.login();
    expect(await pbx.api('extension/nothing', { token })).toEqual({ errcode: 10001, errmsg: 'INTERFACE NOT EXISTED' });
    expect((await pbx.api('extension/list', { token, method: 'POST', body: {} })).errcode).toBe(10001);
  });

  it('never records a secret or a token in the request log', async () => {
    pbx = await startPbx();
    const token = await pbx.login();
    await pbx.api('extension/list', { token });
    const log = JSON.stringify(pbx.emu.requestLog);
    expect(log).not.toContain('emulator-client-secret');
    expect(log).not.toContain(token);
  });

  it('fault wrong_secret refuses even the right secret; ip_blocked answers the block error', async () => {
    pbx = await startPbx();
    pbx.emu.setFault({ kind: 'wrong_secret' });
    expect((await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'emulator-client-secret' } })).errcode).toBe(-1);
    pbx.emu.setFault({ kind: 'ip_blocked' });
    expect((await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'emulator-client-secret' } })).errcode).toBe(70087);
    pbx.emu.setFault(null);
    pbx.emu.tokens.unblockAll();
    await expect(pbx.login()).resolves.toBeTypeOf('string');
  });

  it('fault slow delays every REST answer', async () => {
    pbx = await startPbx();
    // The event, not a stopwatch: each answer went through the fault's delay (a busy machine cannot change that).
    pbx.emu.setFault({ kind: 'slow', delayMs: 50, forMs: 60_000 });
    await pbx.login();
    expect(pbx.emu.slowedAnswers).toBe(1);
    expect(pbx.emu.tokens.snapshot().getTokenCalls).toBe(1);
    await pbx.api('get_token', { body: { username: 'emulator-client-id', password: 'emulator-client-secret' } });
    expect(pbx.emu.slowedAnswers).toBe(2);
    pbx.emu.setFault(null);
    await pbx.login();
    expect(pbx.emu.slowedAnswers).toBe(2);
  });

  it('fault down resets connections, and lifts after forMs', async () => {
    pbx = await startPbx();
    pbx.emu.setFault({ kind: 'down', forMs: 150 });
    await expect(pbx.login()).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 200));
    await expect(pbx.login()).resolves.toBeTypeOf('string');
  });
});
