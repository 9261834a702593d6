import type { Frame } from './frame.js';

export type CrmRecordKind = 'CONTACT' | 'COMPANY' | 'LEAD' | 'DEAL';

/** Where Bitrix24 shows a CRM record: /crm/contact/details/5/ (what its own call card and lists open in a slider). */
export function crmRecordPath(kind: CrmRecordKind, id: number): string {
  return `/crm/${kind.toLowerCase()}/details/${id}/`;
}

// Set once by the entry (call-card.ts, main.ts) from the connected frame; component tests leave it unset, and a link
// then is a plain relative link that opens nothing in the parent.
let frame: Pick<Frame, 'portalUrl' | 'openPath'> | null = null;

export function setPortalLinks(value: Pick<Frame, 'portalUrl' | 'openPath'> | null): void {
  frame = value;
}

/** The record's address on the portal, for the link's href (a middle click opens it in a tab). */
export function portalHref(path: string): string {
  return frame?.portalUrl ? frame.portalUrl(path) : path;
}

/** Opens the page in Bitrix24's slider; false when there is no parent window to ask (then the link is followed). */
export function openInSlider(path: string): boolean {
  if (!frame?.openPath) return false;
  void frame.openPath(path);
  return true;
}
