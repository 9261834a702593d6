import { initializeB24Frame, MessageCommands } from '@bitrix24/b24jssdk';

/** Which view the app shows, from the placement code Bitrix24 opened it with. */
export type AppView =
  | { kind: 'settings' }
  | { kind: 'timeline'; entityType: 'CONTACT' | 'LEAD' | 'COMPANY' | 'DEAL'; entityId: number }
  | { kind: 'call-card'; card: CallCardContext }
  | { kind: 'unsupported'; placement: string };

/** CALL_CARD placement options (all strings on the wire): https://apidocs.bitrix24.com/api-reference/widgets/telephony/call-card.html */
export interface CallCardContext {
  callId: string;
  phoneNumber: string;
  lineNumber: string;
  direction: string;
  state: string;
  crmEntityType: string;
  crmEntityId: number;
}

export interface FrameAuth {
  accessToken: string;
  memberId: string;
}

/**
 * What the app needs from the Bitrix24 parent window. `connectFrame()` gives the real one (SDK);
 * component tests pass their own.
 */
export interface Frame {
  placement: string;
  options: Readonly<Record<string, unknown>>;
  /** Bitrix24's LANG for the user (en, ru, de, sc, tc, …). */
  lang: string;
  isAdmin: boolean;
  auth(): FrameAuth | null;
  /** Asks the parent window for a fresh AUTH_ID (the frame token lives one hour). */
  refreshAuth(): Promise<FrameAuth | null>;
  /** Resizes the frame to its content, full width (detail tabs and the call card grow with their content). */
  fit(): void;
  /** The portal's own address of a page (`/crm/contact/details/5/` → https://portal/crm/contact/details/5/). */
  portalUrl?(path: string): string;
  /** Opens a portal page (a CRM record) in Bitrix24's slider over the portal, as Bitrix24's own call card does. */
  openPath?(path: string): Promise<void>;
}

const DETAIL_TAB = /^CRM_(CONTACT|LEAD|COMPANY|DEAL)_DETAIL_TAB$/;

function optionText(options: Readonly<Record<string, unknown>>, key: string): string {
  const value = options[key];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/** DEFAULT → settings; CRM_*_DETAIL_TAB → timeline of that record (options.ID); CALL_CARD → call card. */
export function viewFor(placement: string, options: Readonly<Record<string, unknown>>): AppView {
  if (placement === 'DEFAULT' || placement === '') return { kind: 'settings' };
  const tab = DETAIL_TAB.exec(placement);
  if (tab?.[1]) {
    const entityId = Number.parseInt(optionText(options, 'ID'), 10);
    if (Number.isFinite(entityId) && entityId > 0) {
      return { kind: 'timeline', entityType: tab[1] as 'CONTACT' | 'LEAD' | 'COMPANY' | 'DEAL', entityId };
    }
    return { kind: 'unsupported', placement };
  }
  if (placement === 'CALL_CARD') {
    const entityId = Number.parseInt(optionText(options, 'CRM_ENTITY_ID'), 10);
    return {
      kind: 'call-card',
      card: {
        callId: optionText(options, 'CALL_ID'),
        phoneNumber: optionText(options, 'PHONE_NUMBER'),
        lineNumber: optionText(options, 'LINE_NUMBER'),
        direction: optionText(options, 'CALL_DIRECTION'),
        state: optionText(options, 'CALL_STATE'),
        crmEntityType: optionText(options, 'CRM_ENTITY_TYPE'),
        crmEntityId: Number.isFinite(entityId) ? entityId : 0,
      },
    };
  }
  return { kind: 'unsupported', placement };
}

function toFrameAuth(data: false | { access_token: string; member_id: string }): FrameAuth | null {
  if (!data || !data.access_token) return null;
  return { accessToken: data.access_token, memberId: data.member_id };
}

/** Connects to the Bitrix24 parent window (window.name = DOMAIN|PROTOCOL|APP_SID, then getInitData). */
export async function connectFrame(): Promise<Frame> {
  const b24 = await initializeB24Frame();
  return {
    placement: b24.placement.placement,
    options: (b24.placement.options ?? {}) as Readonly<Record<string, unknown>>,
    lang: String(b24.getLang()),
    isAdmin: b24.auth.isAdmin,
    auth: () => toFrameAuth(b24.auth.getAuthData()),
    refreshAuth: async () => toFrameAuth(await b24.auth.refreshAuth()),
    portalUrl: (path) => b24.slider.getUrl(path).toString(),
    // https://apidocs.bitrix24.com/sdk/bx24-js-sdk/additional-functions/bx24-open-path.html: the SDK adds IFRAME=Y and
    // the width's base path; its promise settles when the slider closes, which the card does not wait for.
    openPath: async (path) => {
      void b24.slider.openPath(b24.slider.getUrl(path)).catch(() => undefined);
      return Promise.resolve();
    },
    fit: () => {
      // Width 100% (the slider decides it), height the app's content: what fitWindow sends, except that fitWindow
      // measures the document's scrollHeight, which never falls below the frame's current height, so a frame could
      // only grow (a long tab left a tall empty frame after a short one was opened). The SDK settles the command by
      // itself after a short wait (isSafely), so nothing is left pending.
      const app = document.getElementById('app');
      const height = app ? Math.ceil(app.getBoundingClientRect().bottom + window.scrollY) : b24.parent.getScrollSize().scrollHeight;
      if (height <= 0) return;
      void b24.parent.message.send(MessageCommands.resizeWindow, { width: '100%', height, isSafely: true }).catch(() => undefined);
    },
  };
}
