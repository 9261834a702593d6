import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseWav } from '../../../emulators/yeastar/wav.js';
import { startPbx, type Pbx } from './pbx-client.js';

// Directory, CDR and recording endpoints: documented shapes, documented refusals.

let pbx: Pbx;
let token: string;
beforeEach(async () => {
  pbx = await startPbx();
  token = await pbx.login();
});
afterEach(async () => {
  await pbx.close();
});

describe('Yeastar emulator: extensions', () => {
  it('lists extensions with paging and the Ext_Basicinfo fields', async () => {
    const page = await pbx.api('extension/list', { token, query: { page: '2', page_size: '3' } });
    expect(page).toMatchObject({ errcode: 0, total_number: 4 });
    const data = page.data as Record<string, unknown>[];
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ number: '1004', caller_id_name: 'Dave Brown', presence_status: 'available' });
    // Like the live capture: empty e-mail and mobile are left out, not sent as "".
    expect(data[0]).not.toHaveProperty('email_addr');
    expect(data[0]).not.toHaveProperty('mobile_number');
    expect(data[0]?.online_status).toBeTypeOf('object');
  });

  it('answers system/information', async () => {
    expect(await pbx.api('system/information', { token })).toMatchObject({
      errcode: 0, data: { sn: '3633D2199067', model_name: 'Yeastar P570', system_date_format: 'DD/MM/YYYY' },
    });
  });

  it('searches, gets and queries', async () => {
    pbx.emu.state.addExtension({ number: '2001', name: 'Zoe Quinn', email: 'zoe@example.com' });
    const found = await pbx.api('extension/search', { token, query: { search_value: 'zoe' } });
    expect(found).toMatchObject({ total_number: 1, data: [{ number: '2001' }] });
    const id = String((found.data as { id: number }[])[0]?.id);
    expect(await pbx.api('extension/get', { token, query: { id } })).toMatchObject({ data: { number: '2001', first_name: 'Zoe', last_name: 'Quinn' } });
    expect(await pbx.api('extension/get', { token, query: { id: '999' } })).toEqual({ errcode: 60001, errmsg: 'DATA NOT FOUND' });
    expect(await pbx.api('extension/query', { token, query: { ids: `1,${id}` } })).toMatchObject({ total_number: 2 });
  });

  it('refuses a bad page_size and sort field', async () => {
    expect((await pbx.api('extension/list', { token, query: { page_size: 'abc' } })).errcode).toBe(40002);
    expect((await pbx.api('extension/list', { token, query: { sort_by: 'password' } })).errcode).toBe(40002);
  });
});

describe('Yeastar emulator: company contacts and phonebooks', () => {
  it('requires first_name and number_list on create (40002 with invalid_param_list)', async () => {
    const answer = await pbx.api('company_contact/create', { token, body: { last_name: 'X' } });
    expect(answer).toEqual({
      errcode: 40002, errmsg: 'PARAMETER ERROR',
      invalid_param_list: [{ field: 'first_name', validation_type: 'required' }, { field: 'number_list', validation_type: 'required' }],
    });
    const badType = await pbx.api('company_contact/create', { token, body: { first_name: 'A', number_list: [{ num_type: 'fax', number: '1' }] } });
    expect(badType).toMatchObject({ errcode: 40002, invalid_param_list: [{ field: 'number_list' }] });
  });

  it('creates a phonebook, a contact in it, edits both, and shows them in every view', async () => {
    const pb = await pbx.api('phonebook/create', { token, body: { name: 'Bitrix24', member_select: 'sel_specific' } });
    expect(pb).toMatchObject({ errcode: 0, id: 1 });
    expect((await pbx.api('phonebook/create', { token, body: { name: 'Bitrix24' } })).errcode).toBe(40003);
    const created = await pbx.api('company_contact/create', {
      token,
      body: { first_name: 'Ivan', last_name: 'Petrov', company: 'ACME', phonebook_id_list: [1], number_list: [{ num_type: 'mobile_number', number: '+79001234567' }, { num_type: 'business_number', number: '+74951234567' }] },
    });
    expect(created).toMatchObject({ errcode: 0, id: 1 });
    expect(await pbx.api('company_contact/get', { token, query: { id: '1' } })).toMatchObject({
      data: { first_name: 'Ivan', last_name: 'Petrov', phonebook_list: [{ id: 1, name: 'Bitrix24' }], number_list: [{ num_type: 'mobile_number', number: '+79001234567' }, { num_type: 'business_number', number: '+74951234567' }] },
    });
    expect(await pbx.api('company_contact/search', { token, query: { search_value: '4951234' } })).toMatchObject({
      total_number: 1, data: [{ contact_name: 'Ivan Petrov', mobile: '+79001234567', business: '+74951234567', home: '' }],
    });
    expect(await pbx.api('phonebook/list', { token })).toMatchObject({ total_number: 1, data: [{ id: 1, name: 'Bitrix24', total: 1, member_select: 'sel_specific' }] });
    expect((await pbx.api('company_contact/update', { token, body: { id: 1, last_name: 'Sidorov' } })).errcode).toBe(0);
    expect(await pbx.api('phonebook/get', { token, query: { id: '1' } })).toMatchObject({ data: { total: 1, contacts_list: [{ contact_name: 'Ivan Sidorov' }] } });
    expect((await pbx.api('phonebook/update', { token, body: { id: 1, del_contacts_id_list: [1] } })).errcode).toBe(0);
    expect(await pbx.api('phonebook/query', { token, query: { ids: '1' } })).toMatchObject({ data: [{ total: 0, contacts_list: [] }] });
    expect((await pbx.api('phonebook/update', { token, body: { id: 1, add_contacts_id_list: [1] } })).errcode).toBe(0);
    expect((await pbx.api('company_contact/delete', { token, query: { id: '1' } })).errcode).toBe(0);
    expect((await pbx.api('company_contact/get', { token, query: { id: '1' } })).errcode).toBe(60001);
  });

  it('refuses adding unknown contacts to a phonebook', async () => {
    expect(await pbx.api('phonebook/create', { token, body: { name: 'X', add_contacts_id_list: [42] } }))
      .toMatchObject({ errcode: 40002, invalid_param_list: [{ field: 'add_contacts_id_list' }] });
  });
});

describe('Yeastar emulator: CDR and recordings', () => {
  it('cdr/search filters by time window and status, newest first, one row per leg', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await pbx.emu.board.start('inbound-missed', {}).done;
    await pbx.emu.board.start('queue-ivr', { to: ['1001', '1002'] }).done;
    const all = await pbx.api('cdr/search', { token, query: { start_time: String(since) } });
    expect(all).toMatchObject({ errcode: 0, total_number: 4 });
    const rows = all.data as { disposition: string; call_to_number: string }[];
    expect(rows.map((r) => r.call_to_number)).toEqual(['1002', '1001', '6200', '1001']);
    const missed = await pbx.api('cdr/search', { token, query: { start_time: String(since), status: 'NO ANSWER' } });
    expect(missed).toMatchObject({ total_number: 2 });
    const future = await pbx.api('cdr/search', { token, query: { start_time: String(since + 3600) } });
    expect(future).toMatchObject({ total_number: 0, data: [] });
    expect((await pbx.api('cdr/search', { token, query: { page_size: '10001' } })).errcode).toBe(40002);
    expect((await pbx.api('cdr/search', { token, query: { status: 'MISSED' } })).errcode).toBe(40002);
    const asc = await pbx.api('cdr/list', { token, query: { order_by: 'asc', page_size: '1' } });
    expect(asc).toMatchObject({ total_number: 4, data: [{ id: 1, disposition: 'NO ANSWER', call_to_number: '1001' }] });
  });

  it('leaves zero and empty fields out of CDR rows, as the live PBX does', async () => {
    await pbx.emu.board.start('outbound-failed', {}).done;
    const [row] = (await pbx.api('cdr/search', { token })).data as Record<string, unknown>[];
    for (const key of ['id', 'talk_duration', 'ring_duration', 'duration', 'record_file', 'src_trunk', 'dst_trunk', 'did_number']) {
      expect(row).not.toHaveProperty(key);
    }
    expect(row).toMatchObject({ disposition: 'FAILED', call_from: 'Alice Smith<1001>', call_from_name: 'Alice Smith', call_to_name: '', reason: 'dst hangup    ', did: '' });
  });

  it('recording/download gives a 30-minute link that streams audio/x-wav with the access token', async () => {
    const { callId, done } = pbx.emu.board.start('inbound-answered', { talkSeconds: 3 });
    await done;
    const row = pbx.emu.state.cdr.find((r) => r.call_id === callId);
    const answer = await pbx.api('recording/download', { token, query: { file: row?.record_file ?? '' } });
    expect(answer).toMatchObject({ errcode: 0, errmsg: 'SUCCESS', file: row?.record_file });
    const link = String(answer.download_resource_url);
    expect(link).toMatch(/^\/api\/download\/.+\.wav$/);
    const res = await fetch(`${pbx.url}${link}?access_token=${token}`, { headers: { 'User-Agent': 'OpenAPI' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/x-wav');
    expect(parseWav(Buffer.from(await res.arrayBuffer()))?.seconds).toBe(3);

    const noToken = await fetch(`${pbx.url}${link}`, { headers: { 'User-Agent': 'OpenAPI' } });
    expect(await noToken.json()).toEqual({ errcode: 10004, errmsg: 'TOKEN EXPIRED' });

    const list = await pbx.api('recording/list', { token });
    expect(list).toMatchObject({ total_number: 1, data: [{ file: row?.record_file, call_type: 'Inbound', duration: 3 }] });
    const byId = await pbx.api('recording/download', { token, query: { id: String((list.data as { id: number }[])[0]?.id) } });
    expect(byId.file).toBe(row?.record_file);

    pbx.emu.state.advanceClock(30 * 60 * 1000);
    const fresh = await pbx.login();
    const expired = await fetch(`${pbx.url}${link}?access_token=${fresh}`, { headers: { 'User-Agent': 'OpenAPI' } });
    expect(expired.status).toBe(404);
    expect(expired.headers.get('content-type')).toContain('application/json');
  });

  it('recording/download of an unknown file is DATA NOT FOUND', async () => {
    expect(await pbx.api('recording/download', { token, query: { file: 'nope.wav' } })).toEqual({ errcode: 60001, errmsg: 'DATA NOT FOUND' });
    expect((await pbx.api('recording/download', { token })).errcode).toBe(40002);
  });
});
