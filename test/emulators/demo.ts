/**
 * `npm run demo`: the product on http://localhost:3000 with both emulators, a seeded portal (users, a contact, the app
 * installed, the PBX connected and users bound) and http://localhost:3000/demo — the Bitrix24 window around the app
 * with buttons that make the emulated PBX ring, so the call card pops up and the timeline fills.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';
import type { ScenarioName, ScenarioOptions } from './yeastar/types.js';
import { parentWindowHtml, servedAsBitrix24Window } from './parent-window/page.js';
import { startStack, type Stack } from '../e2e/stack.js';
import { connectPbx, frameApi } from '../e2e/frame-api.js';
import { DEMO_LANGS, DEMO_TEXTS, demoLang, fill, type DemoLang, type DemoTexts } from './demo-texts.js';

export interface DemoOptions {
  port?: number;
  /** PBX seconds per real second (1 = real time, what a person watching wants). */
  pbxSpeed?: number;
  logLevel?: string;
  /**
   * A portal as a new admin finds it (issue 12 point 6): the app installed, nothing set up. The demo page then shows
   * the emulated PBX's address and API credentials for the Connection tab. Default: set up ahead (PBX, bindings).
   */
  fresh?: boolean;
}

export interface Demo {
  url: string;
  stack: Stack;
  close(): Promise<void>;
}

const CONTROLS_JS = readFileSync(new URL('./parent-window/demo-controls.js', import.meta.url), 'utf8');

type CallKind = keyof DemoTexts['calls'];
type HoldAt = NonNullable<ScenarioOptions['holdAt']>;

/** The buttons: each plays one scripted PBX call (Yeastar emulator scenarios). `holdAt` parks it there until Hang up. */
const CALLS: Record<CallKind, (stack: Stack, record: boolean, holdAt: HoldAt | undefined) => { name: ScenarioName; opts: ScenarioOptions }> = {
  answered: (stack, record, holdAt) => ({ name: 'inbound-answered', opts: { from: stack.portal.contact.phone, to: '1001', record, talkSeconds: 20, ringSeconds: 3, hold: true, ...(holdAt ? { holdAt } : {}) } }),
  missed: (stack) => ({ name: 'inbound-missed', opts: { from: stack.portal.contact.phone, to: '1001', ringSeconds: 5 } }),
  // Blind: the emulator's blind-transfer scenario — you leave the call at the transfer (30013), Bob's phone rings.
  transfer: (stack, record, holdAt) => ({ name: 'blind-transfer', opts: { from: stack.portal.contact.phone, to: ['1001', '1002'], record, talkSeconds: 10, ringSeconds: 3, ...(holdAt ? { holdAt } : {}) } }),
  unknown: (_stack, record) => ({
    name: 'inbound-answered',
    opts: { from: `+1555${String(Math.floor(1_000_000 + Math.random() * 8_999_999))}`, to: '1001', record, talkSeconds: 6, ringSeconds: 3 },
  }),
  outbound: (stack, record) => ({ name: 'outbound-answered', opts: { from: '1001', to: stack.portal.contact.phone, record, talkSeconds: 6, ringSeconds: 2 } }),
};

const isCallKind = (value: unknown): value is CallKind => typeof value === 'string' && value in CALLS;
const HOLD_POINTS: readonly HoldAt[] = ['ringing', 'on-hold', 'transfer'];
const isHoldAt = (value: unknown): value is HoldAt => HOLD_POINTS.some((point) => point === value);

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** What the Connection tab asks for, shown on a fresh demo's page: the emulated PBX stands in for the admin's own. */
function pbxCredentialsHtml(stack: Stack, text: DemoTexts): string {
  const item = (label: string, value: string, id: string) => `<li>${escapeHtml(label)}: <code id="${id}">${escapeHtml(value)}</code></li>`;
  return `<strong>${escapeHtml(text.credentials.title)}</strong>
<ul>${item(text.credentials.address, stack.pbx.url, 'demo-pbx-url')}${item(text.credentials.clientId, stack.pbx.clientId, 'demo-pbx-client-id')}${item(text.credentials.clientSecret, stack.pbx.clientSecret, 'demo-pbx-client-secret')}</ul>`;
}

function controlsHtml(stack: Stack, userId: number, lang: DemoLang, fresh: boolean): string {
  const text = DEMO_TEXTS[lang];
  const config = JSON.stringify({ userId, contactId: stack.portal.contact.id, lang, text }).replace(/</g, '\\u003c');
  const callButtons = (Object.keys(CALLS) as CallKind[]).map((kind) => `<button type="button" data-call="${kind}">${escapeHtml(text.calls[kind])}</button>`).join('\n');
  const languages = DEMO_LANGS.map((code) => `<a href="/demo?lang=${code}" hreflang="${code}"${code === lang ? ' aria-current="page"' : ''}>${code.toUpperCase()}</a>`).join(' ');
  return `<section class="controls" aria-label="${escapeHtml(text.controls)}">
<nav aria-label="${escapeHtml(text.language)}">${escapeHtml(text.language)}: ${languages}</nav>
${fresh ? pbxCredentialsHtml(stack, text) : ''}<strong>${escapeHtml(text.pbx)}</strong>
<div>${callButtons}
<button type="button" id="demo-click-to-call">${escapeHtml(text.clickToCall)}</button>
<button type="button" id="demo-hangup">${escapeHtml(text.hangUp)}</button>
<label><input type="checkbox" id="demo-record" checked /> ${escapeHtml(text.record)}</label></div>
<strong>${escapeHtml(text.openIn)}</strong>
<div><button type="button" data-view="settings">${escapeHtml(text.views.settings)}</button>
<button type="button" data-view="contact">${escapeHtml(text.views.contact)}</button>
<button type="button" data-view="card">${escapeHtml(text.views.card)}</button></div>
<p id="demo-status" role="status">${escapeHtml(text.ready)}</p>
<script type="application/json" id="demo-config">${config}</script>
</section>`;
}

function demoRouter(holder: { stack?: Stack; appUrl?: string; fresh?: boolean }): Router {
  const router = express.Router();
  const ready = (res: Response): Stack | null => {
    if (holder.stack) return holder.stack;
    res.status(503).type('text').send('The demo is still starting, reload in a moment.');
    return null;
  };
  const textsOf = (req: Request): DemoTexts => DEMO_TEXTS[demoLang((req.body as { lang?: unknown } | undefined)?.lang)];

  router.get('/demo', async (req: Request, res: Response) => {
    const stack = ready(res);
    if (!stack) return;
    const userId = stack.portal.adminId;
    const lang = demoLang(req.query.lang);
    const token = await stack.b24.frameToken(stack.portal.memberId, userId);
    const page = { memberId: stack.portal.memberId, userId, isAdmin: true, lang, placement: 'DEFAULT', placementOptions: {} };
    servedAsBitrix24Window(res);
    res.type('html').setHeader('Cache-Control', 'no-store');
    res.send(parentWindowHtml(
      { appUrl: holder.appUrl ?? '', mintToken: (m, u) => stack.b24.frameToken(m, u), controlsHtml: controlsHtml(stack, userId, lang, holder.fresh === true), controlsScript: '/demo/controls.js', title: DEMO_TEXTS[lang].title },
      page, token, req.get('host') ?? 'localhost:3000', '/demo',
    ));
  });
  router.get('/demo/controls.js', (_req, res) => {
    res.type('js').send(CONTROLS_JS);
  });
  router.post('/demo/refresh', express.json(), async (req: Request, res: Response) => {
    const stack = ready(res);
    if (!stack) return;
    const token = await stack.b24.frameToken(stack.portal.memberId, Number((req.body as { userId?: unknown }).userId));
    res.json({ AUTH_ID: token.accessToken, REFRESH_ID: token.refreshToken, AUTH_EXPIRES: token.expiresIn });
  });
  router.post('/demo/api/call', express.json(), async (req: Request, res: Response) => {
    const stack = ready(res);
    if (!stack) return;
    const body = req.body as { kind?: unknown; record?: unknown; holdAt?: unknown };
    if (!isCallKind(body.kind)) {
      res.status(400).json({ error: 'unknown call kind' });
      return;
    }
    const text = textsOf(req);
    const { name, opts } = CALLS[body.kind](stack, body.record !== false, isHoldAt(body.holdAt) ? body.holdAt : undefined);
    const started = await stack.pbx.scenario(name, opts);
    res.json({ callId: started.callId, message: fill(text.ringing, { label: text.calls[body.kind], callId: started.callId }) });
  });
  // What Bitrix24 does when an employee clicks a phone number in the CRM: the telephony event ONEXTERNALCALLSTART to
  // the app that is the default line, which dials through the PBX (the product's click-to-call).
  router.post('/demo/api/click-to-call', express.json(), async (req: Request, res: Response) => {
    const stack = ready(res);
    if (!stack) return;
    const { contact } = stack.portal;
    await stack.b24.clickToCall(stack.portal.memberId, { userId: stack.portal.adminId, phoneNumber: contact.phone, crm: { entityType: 'CONTACT', entityId: contact.id } });
    res.json({ message: fill(textsOf(req).clickToCallStarted, { phone: contact.phone }) });
  });
  // The emulator's own hang-up: every call in progress ends wherever it is — ringing, talking, on hold, transferring.
  router.post('/demo/api/hangup', express.json(), async (req: Request, res: Response) => {
    const stack = ready(res);
    if (!stack) return;
    const ended = await stack.pbx.hangUp();
    const text = textsOf(req);
    res.json({ message: ended.length > 0 ? fill(text.hungUp, { count: ended.length }) : text.noCall });
  });
  router.get('/demo/api/calls', async (_req: Request, res: Response) => {
    const stack = ready(res);
    if (!stack) return;
    const calls = await stack.b24.calls(stack.portal.memberId);
    res.json(calls.map((c) => ({
      callId: c.callId, userId: c.userId, phoneNumber: c.phoneNumber, lineNumber: c.lineNumber, type: c.type,
      crmEntityType: c.crmEntityType, crmEntityId: c.crmEntityId, finished: c.finished !== null,
    })));
  });
  return router;
}

/** What an admin would do in the settings page, done ahead so calls flow at once: PBX, auto-create, bindings. */
async function configurePortal(stack: Stack): Promise<void> {
  const admin = stack.portal.adminId;
  await connectPbx(stack, { autoCreate: { enabled: true, inbound: true, outbound: true, entityType: 'LEAD' } });
  await frameApi(stack, admin, 'POST', '/bindings/auto', { dryRun: false });
  // The person watching the demo is the portal admin: extension 1001 rings them, so the call card pops in their window.
  const alice = stack.portal.agents[0]?.id;
  await frameApi(stack, admin, 'PUT', '/bindings', { bindings: [...(alice ? [{ userId: alice, extension: null }] : []), { userId: admin, extension: '1001' }] });
}

export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const holder: { stack?: Stack; appUrl?: string; fresh?: boolean } = { fresh: opts.fresh === true };
  const port = opts.port ?? 3000;
  const stack = await startStack({ port, pbxSpeed: opts.pbxSpeed ?? 1, logLevel: opts.logLevel ?? 'info', rootRouters: () => [demoRouter(holder)] });
  holder.appUrl = `http://localhost:${port}`;
  try {
    if (!opts.fresh) await configurePortal(stack);
  } catch (error) {
    await stack.close();
    throw error;
  }
  holder.stack = stack;
  return { url: `http://localhost:${port}/demo`, stack, close: () => stack.close() };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // DEMO_PORT (or PORT) moves the demo off 3000, e.g. when the product itself already runs there.
  const port = Number.parseInt(process.env.DEMO_PORT ?? process.env.PORT ?? '3000', 10);
  const demo = await startDemo({ port, logLevel: process.env.LOG_LEVEL ?? 'warn', fresh: process.env.DEMO_FRESH === '1' });
  console.log(`\n  PBX connector demo: ${demo.url}\n  (the product on http://localhost:${port}; Ctrl+C stops everything)\n`);
  const stop = (): void => {
    void demo.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
