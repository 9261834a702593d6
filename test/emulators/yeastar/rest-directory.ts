import { errors, isAnswer, isRecord, paginate, str, success, type InvalidParam, type RestAnswer, type RestContext } from './envelope.js';
import { formatCdrTime, NUM_TYPES, type CompanyContact, type Extension, type NumType, type PbxState, type Phonebook } from './state.js';

/** Extensions, company contacts and phonebooks (reference §5). */

const LIST_MAX = 10_000;

/** `Ext_Basicinfo` row (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/query-extension-list.html). */
/** A live capture leaves email_addr / mobile_number out when empty (milaportal samples/extension-list.json); so does the emulator. */
function extensionRow(e: Extension): Record<string, unknown> {
  return {
    id: e.id,
    online_status: {
      fxs_phone: { status: 0 },
      sip_phone: { status: 1, ext_dev_type: 'sip' },
      linkus_desktop: { status: 0 },
      linkus_mobile: { status: 0 },
      linkus_web: { status: 0, ext_dev_type: 'linkusweb' },
    },
    presence_status: e.presence_status,
    number: e.number,
    caller_id_name: e.caller_id_name || e.number,
    role_name: 'Employee',
    ...(e.email_addr ? { email_addr: e.email_addr } : {}),
    ...(e.mobile_number ? { mobile_number: e.mobile_number } : {}),
    timezone: 'Global Time Zone[0 UTC]',
    custom_presence_status: e.presence_status,
  };
}

/** GET system/information (shape of milaportal samples/system-information.json); handy for a connection test. */
export function systemInformation(state: PbxState, startedAt: number): RestAnswer {
  const now = state.now();
  return success({
    data: {
      device_name: 'Emulated PBX',
      model_name: 'Yeastar P570',
      sn: state.options.sn,
      hardware_version: 'V2.00 0000-0000',
      firmware_version: '37.23.0.83',
      system_time: formatCdrTime(now),
      up_time: Math.floor((now - startedAt) / 1000),
      system_date_format: 'DD/MM/YYYY',
      system_time_format: 'hh:mm:ss PM',
      timestamp: Math.floor(now / 1000),
    },
  });
}

function sortRows<T extends Record<string, unknown>>(rows: T[], query: URLSearchParams, allowed: string[]): T[] | RestAnswer {
  const sortBy = query.get('sort_by');
  const order = query.get('order_by') ?? 'asc';
  if (order !== 'asc' && order !== 'desc') return errors.parameter([{ field: 'order_by', validation_type: 'invalid' }]);
  if (!sortBy) return rows;
  if (!allowed.includes(sortBy)) return errors.parameter([{ field: 'sort_by', validation_type: 'invalid' }]);
  const dir = order === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => String(a[sortBy]).localeCompare(String(b[sortBy]), undefined, { numeric: true }) * dir);
}

function listAnswer(rows: Record<string, unknown>[], query: URLSearchParams, sortable: string[]): RestAnswer {
  const sorted = sortRows(rows, query, sortable);
  if (isAnswer(sorted)) return sorted;
  const paged = paginate(sorted, query, LIST_MAX);
  if (isAnswer(paged)) return paged;
  return success({ total_number: paged.total, data: paged.page });
}

const EXT_SORT = ['id', 'number', 'caller_id_name', 'email_addr', 'mobile_number', 'presence_status'];

/** GET extension/list. */
export function listExtensions(ctx: RestContext, state: PbxState): RestAnswer {
  return listAnswer(state.extensions.map(extensionRow), ctx.query, EXT_SORT);
}

/** GET extension/search?search_value= (https://help.yeastar.com/en/p-series-software-edition/developer-guide/search-specific-extensions.html). */
export function searchExtensions(ctx: RestContext, state: PbxState): RestAnswer {
  const term = (ctx.query.get('search_value') ?? '').toLowerCase();
  const rows = state.extensions.filter((e) => [e.number, e.caller_id_name, e.email_addr].some((v) => v.toLowerCase().includes(term)));
  return listAnswer(rows.map(extensionRow), ctx.query, EXT_SORT);
}

/** GET extension/get?id= ; first/last name only here, not in list rows (field names UNCONFIRMED, reference §5.1). */
export function getExtension(ctx: RestContext, state: PbxState): RestAnswer {
  const id = Number(ctx.query.get('id'));
  if (!Number.isInteger(id) || id <= 0) return errors.parameter([{ field: 'id', validation_type: 'required' }]);
  const ext = state.extensions.find((e) => e.id === id);
  if (!ext) return errors.notFound();
  return success({ data: { ...extensionRow(ext), first_name: ext.first_name, last_name: ext.last_name } });
}

/** GET extension/query?ids=1,2 */
export function queryExtensions(ctx: RestContext, state: PbxState): RestAnswer {
  const ids = parseIds(ctx.query.get('ids'));
  if (!ids) return errors.parameter([{ field: 'ids', validation_type: 'required' }]);
  const rows = state.extensions.filter((e) => ids.includes(e.id));
  return success({ total_number: rows.length, data: rows.map(extensionRow) });
}

function parseIds(raw: string | null): number[] | undefined {
  if (!raw) return undefined;
  const ids = raw.split(',').map((s) => Number(s.trim()));
  return ids.every((n) => Number.isInteger(n) && n > 0) ? ids : undefined;
}

// ---- company contacts ----

const FLAT_FIELD: Record<NumType, string> = {
  business_number: 'business', business_number2: 'business2', business_fax: 'business_fax',
  mobile_number: 'mobile', mobile_number2: 'mobile2', home_number: 'home', home_number2: 'home2',
  home_fax: 'home_fax', other_number: 'other',
};

/** Flat `Contact_Info` row of list/search and phonebook contacts_list (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/search-specific-company-contacts.html). */
function contactRow(c: CompanyContact, state: PbxState): Record<string, unknown> {
  const flat: Record<string, string> = {};
  for (const field of Object.values(FLAT_FIELD)) flat[field] = '';
  for (const n of c.number_list) {
    const field = FLAT_FIELD[n.num_type];
    if (!flat[field]) flat[field] = n.number;
  }
  return {
    id: c.id,
    contact_name: `${c.first_name} ${c.last_name}`.trim(),
    company: c.company,
    email: c.email,
    phonebook_list: phonebooksOf(c, state),
    remark: c.remark,
    ...flat,
  };
}

function phonebooksOf(c: CompanyContact, state: PbxState): { id: number; name: string }[] {
  return state.phonebooks
    .filter((pb) => pb.member_select === 'sel_all' || c.phonebook_id_list.includes(pb.id))
    .map((pb) => ({ id: pb.id, name: pb.name }));
}

/** Full contact (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/query-information-of-a-company-contact.html). */
function contactDetail(c: CompanyContact, state: PbxState): Record<string, unknown> {
  const { phonebook_id_list: _ids, ...rest } = c;
  return { ...rest, phonebook_list: phonebooksOf(c, state) };
}

const CONTACT_SORT = ['id', 'contact_name', 'company', 'email'];

export function listContacts(ctx: RestContext, state: PbxState): RestAnswer {
  return listAnswer(state.contacts.map((c) => contactRow(c, state)), ctx.query, CONTACT_SORT);
}

export function searchContacts(ctx: RestContext, state: PbxState): RestAnswer {
  const term = (ctx.query.get('search_value') ?? '').toLowerCase();
  const rows = state.contacts.filter((c) =>
    [c.first_name, c.last_name, `${c.first_name} ${c.last_name}`, c.company, c.email, ...c.number_list.map((n) => n.number)]
      .some((v) => v.toLowerCase().includes(term)));
  return listAnswer(rows.map((c) => contactRow(c, state)), ctx.query, CONTACT_SORT);
}

export function getContact(ctx: RestContext, state: PbxState): RestAnswer {
  const id = Number(ctx.query.get('id'));
  if (!Number.isInteger(id) || id <= 0) return errors.parameter([{ field: 'id', validation_type: 'required' }]);
  const c = state.contacts.find((x) => x.id === id);
  return c ? success({ data: contactDetail(c, state) }) : errors.notFound();
}

type ContactFields = Omit<CompanyContact, 'id'>;

/** Validates a create/update body; `partial` for update, where only `id` is required. */
function contactFields(body: Record<string, unknown>, state: PbxState, partial: boolean): Partial<ContactFields> | RestAnswer {
  const invalid: InvalidParam[] = [];
  const out: Partial<ContactFields> = {};
  const text = ['first_name', 'last_name', 'company', 'email', 'remark', 'zip_code', 'street', 'city', 'state', 'country'] as const;
  for (const key of text) {
    const v = body[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') invalid.push({ field: key, validation_type: 'invalid' });
    else out[key] = v;
  }
  if (!partial && !out.first_name) invalid.push({ field: 'first_name', validation_type: 'required' });
  if (body.number_list !== undefined || !partial) {
    const list = body.number_list;
    if (!Array.isArray(list) || list.length === 0) {
      invalid.push({ field: 'number_list', validation_type: 'required' });
    } else {
      const numbers: CompanyContact['number_list'] = [];
      for (const item of list) {
        const numType = isRecord(item) ? str(item.num_type) : undefined;
        const number = isRecord(item) ? str(item.number) : undefined;
        if (!numType || !(NUM_TYPES as readonly string[]).includes(numType) || !number || !/^[+\d*#()\- ]{1,64}$/.test(number)) {
          invalid.push({ field: 'number_list', validation_type: 'invalid' });
          break;
        }
        numbers.push({ num_type: numType as NumType, number });
      }
      out.number_list = numbers;
    }
  }
  if (body.phonebook_id_list !== undefined) {
    const ids = body.phonebook_id_list;
    if (!Array.isArray(ids) || !ids.every((i) => state.phonebooks.some((pb) => pb.id === Number(i)))) {
      invalid.push({ field: 'phonebook_id_list', validation_type: 'invalid' });
    } else {
      out.phonebook_id_list = ids.map(Number);
    }
  }
  return invalid.length > 0 ? errors.parameter(invalid) : out;
}

/** POST company_contact/create — first_name and number_list required (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/add-a-company-contact.html). */
export function createContact(ctx: RestContext, state: PbxState): RestAnswer {
  const fields = contactFields(ctx.body, state, false);
  if (isAnswer(fields)) return fields;
  const contact: CompanyContact = {
    id: state.nextId('contact'),
    first_name: fields.first_name ?? '', last_name: fields.last_name ?? '', company: fields.company ?? '', email: fields.email ?? '',
    remark: fields.remark ?? '', phonebook_id_list: fields.phonebook_id_list ?? [], number_list: fields.number_list ?? [],
    zip_code: fields.zip_code ?? '', street: fields.street ?? '', city: fields.city ?? '', state: fields.state ?? '', country: fields.country ?? '',
  };
  state.contacts.push(contact);
  return success({ id: contact.id });
}

/** POST company_contact/update — id plus any fields (https://help.yeastar.com/zh-cn/p-series-software-edition/developer-guide/edit-a-company-contact.html). */
export function updateContact(ctx: RestContext, state: PbxState): RestAnswer {
  const id = Number(ctx.body.id);
  if (!Number.isInteger(id) || id <= 0) return errors.parameter([{ field: 'id', validation_type: 'required' }]);
  const contact = state.contacts.find((c) => c.id === id);
  if (!contact) return errors.notFound();
  const fields = contactFields(ctx.body, state, true);
  if (isAnswer(fields)) return fields;
  Object.assign(contact, fields);
  return success();
}

/** GET company_contact/delete?id= — GET deletes, per the Request Structure page; endpoint UNCONFIRMED (reference §5.2). */
export function deleteContact(ctx: RestContext, state: PbxState): RestAnswer {
  const id = Number(ctx.query.get('id'));
  const index = state.contacts.findIndex((c) => c.id === id);
  if (index < 0) return errors.notFound();
  state.contacts.splice(index, 1);
  return success();
}

// ---- phonebooks ----

function phonebookSummary(pb: Phonebook, state: PbxState): Record<string, unknown> {
  return { id: pb.id, name: pb.name, member_select: pb.member_select, total: state.contactsInPhonebook(pb).length };
}

/** Phonebook with its contacts (https://help.yeastar.com/en/p-series-software-edition/developer-guide/query-information-of-a-phonebook.html). */
function phonebookDetail(pb: Phonebook, state: PbxState): Record<string, unknown> {
  const contacts = state.contactsInPhonebook(pb);
  return { id: pb.id, name: pb.name, member_select: pb.member_select, contacts_list: contacts.map((c) => contactRow(c, state)), total: contacts.length };
}

/** GET phonebook/list rows {id, name, total, member_select} (https://help.yeastar.com/en/p-series/developer-guide/query-phonebook-list.html). */
export function listPhonebooks(ctx: RestContext, state: PbxState): RestAnswer {
  return listAnswer(state.phonebooks.map((pb) => phonebookSummary(pb, state)), ctx.query, ['id', 'name']);
}

export function searchPhonebooks(ctx: RestContext, state: PbxState): RestAnswer {
  const term = (ctx.query.get('search_value') ?? '').toLowerCase();
  const rows = state.phonebooks.filter((pb) => pb.name.toLowerCase().includes(term));
  return listAnswer(rows.map((pb) => phonebookSummary(pb, state)), ctx.query, ['id', 'name']);
}

export function getPhonebook(ctx: RestContext, state: PbxState): RestAnswer {
  const id = Number(ctx.query.get('id'));
  if (!Number.isInteger(id) || id <= 0) return errors.parameter([{ field: 'id', validation_type: 'required' }]);
  const pb = state.phonebooks.find((p) => p.id === id);
  return pb ? success({ data: phonebookDetail(pb, state) }) : errors.notFound();
}

/** GET phonebook/query?ids=5,10 (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/query-information-of-multiple-phonebooks.html). */
export function queryPhonebooks(ctx: RestContext, state: PbxState): RestAnswer {
  const ids = parseIds(ctx.query.get('ids'));
  if (!ids) return errors.parameter([{ field: 'ids', validation_type: 'required' }]);
  const rows = state.phonebooks.filter((pb) => ids.includes(pb.id));
  return success({ total_number: rows.length, data: rows.map((pb) => phonebookDetail(pb, state)) });
}

interface PhonebookFields {
  name?: string;
  member_select?: Phonebook['member_select'];
  add?: number[];
  del?: number[];
}

function contactIdList(body: Record<string, unknown>, field: string, state: PbxState): number[] | RestAnswer | undefined {
  const ids = body[field];
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids) || !ids.every((i) => state.contacts.some((c) => c.id === Number(i)))) {
    return errors.parameter([{ field, validation_type: 'invalid' }]);
  }
  return ids.map(Number);
}

function phonebookFields(body: Record<string, unknown>, state: PbxState, selfId?: number): PhonebookFields | RestAnswer {
  const out: PhonebookFields = {};
  if (body.name !== undefined || selfId === undefined) {
    const name = str(body.name)?.trim();
    if (!name) return errors.parameter([{ field: 'name', validation_type: 'required' }]);
    if (state.phonebooks.some((pb) => pb.name === name && pb.id !== selfId)) return errors.duplicate('name', name);
    out.name = name;
  }
  if (body.member_select !== undefined) {
    if (body.member_select !== 'sel_all' && body.member_select !== 'sel_specific') return errors.parameter([{ field: 'member_select', validation_type: 'invalid' }]);
    out.member_select = body.member_select;
  }
  const add = contactIdList(body, 'add_contacts_id_list', state);
  if (isAnswer(add)) return add;
  const del = selfId === undefined ? undefined : contactIdList(body, 'del_contacts_id_list', state);
  if (isAnswer(del)) return del;
  if (add) out.add = add;
  if (del) out.del = del;
  return out;
}

function changeMembers(pbId: number, add: number[], del: number[], state: PbxState): void {
  for (const c of state.contacts) {
    if (add.includes(c.id) && !c.phonebook_id_list.includes(pbId)) c.phonebook_id_list.push(pbId);
    if (del.includes(c.id)) c.phonebook_id_list = c.phonebook_id_list.filter((id) => id !== pbId);
  }
}

/**
 * POST phonebook/create {name, member_select?, add_contacts_id_list?} → id
 * (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/add-a-phonebook.html).
 */
export function createPhonebook(ctx: RestContext, state: PbxState): RestAnswer {
  const fields = phonebookFields(ctx.body, state);
  if (isAnswer(fields)) return fields;
  const pb: Phonebook = { id: state.nextId('phonebook'), name: fields.name ?? '', member_select: fields.member_select ?? 'sel_specific' };
  state.phonebooks.push(pb);
  changeMembers(pb.id, fields.add ?? [], [], state);
  return success({ id: pb.id });
}

/**
 * POST phonebook/update {id, name?, member_select?, add_contacts_id_list?, del_contacts_id_list?}
 * (https://help.yeastar.com/en/p-series-software-edition/developer-guide/edit-a-phonebook.html).
 */
export function updatePhonebook(ctx: RestContext, state: PbxState): RestAnswer {
  const id = Number(ctx.body.id);
  if (!Number.isInteger(id) || id <= 0) return errors.parameter([{ field: 'id', validation_type: 'required' }]);
  const pb = state.phonebooks.find((p) => p.id === id);
  if (!pb) return errors.notFound();
  const fields = phonebookFields(ctx.body, state, id);
  if (isAnswer(fields)) return fields;
  if (fields.name) pb.name = fields.name;
  if (fields.member_select) pb.member_select = fields.member_select;
  changeMembers(pb.id, fields.add ?? [], fields.del ?? [], state);
  return success();
}

/** GET phonebook/delete?id= — endpoint name by the GET-deletes pattern, UNCONFIRMED; contacts stay (Manage Company Phonebooks page). */
export function deletePhonebook(ctx: RestContext, state: PbxState): RestAnswer {
  const id = Number(ctx.query.get('id'));
  const index = state.phonebooks.findIndex((p) => p.id === id);
  if (index < 0) return errors.notFound();
  state.phonebooks.splice(index, 1);
  changeMembers(id, [], state.contacts.map((c) => c.id), state);
  return success();
}
