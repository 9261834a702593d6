import { describe, expect, it } from 'vitest';
import { SKIP_NO_COMPANY_TITLE, SKIP_NO_NAME, SKIP_NO_PHONE } from '../../../server/contacts/pbx-contact.js';
import { FAIL_PBX_NOT_CONNECTED, REMOVED_RECORD_GONE, SKIP_RECORD_GONE, syncReasonKind } from '../../../server/contacts/sync.js';

// The settings page counts skipped and failed records by these kinds (issue 12 point 8): each stored reason lands in one.
describe('syncReasonKind', () => {
  it.each([
    ['skipped', SKIP_NO_PHONE, 'no-phone'],
    ['removed', SKIP_NO_PHONE, 'no-phone'],
    ['skipped', SKIP_NO_NAME, 'no-name'],
    ['skipped', SKIP_NO_COMPANY_TITLE, 'no-name'],
    ['skipped', SKIP_RECORD_GONE, 'record-gone'],
    ['removed', REMOVED_RECORD_GONE, 'record-gone'],
    ['failed', FAIL_PBX_NOT_CONNECTED, 'pbx-not-connected'],
    ['failed', 'PBX_REQUEST_FAILED: company_contact/create failed [PBX said 60002 MAX LIMITATION EXCEEDED]', 'phonebook-full'],
    ['failed', 'PBX_REQUEST_FAILED: company_contact/create failed [PBX said 10002 PARAMETER ERROR]', 'pbx-refused'],
    ['failed', 'socket hang up', 'other'],
  ] as const)('%s "%s" is %s', (state, reason, kind) => {
    expect(syncReasonKind(state, reason)).toBe(kind);
  });

  it('has no kind for a synced record (a note about dropped numbers is not a failure)', () => {
    expect(syncReasonKind('synced', '1 number(s) did not fit the PBX contact')).toBeNull();
  });
});
