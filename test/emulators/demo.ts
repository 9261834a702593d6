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

/** The buttons: each plays one scripted PBX call (Yeastar emulator scenarios). */
const CALLS: Record<string, { label: string; run(stack: Stack, record: boolean): { name: ScenarioName; opts: ScenarioOptions } }> = {
  answered: {
    label: 'John Doe calls · answered (stays on the line until Hang up)',
    run: (stack, record) => ({ name: 'inbound-answered', opts: { from: stack.portal.contact.phone, to: '1001', record, talkSeconds: 20, ringSeconds: 3, hold: true } }),
  },
  missed: {
    label: 'John Doe calls · missed',
    run: (stack) => ({ name: 'inbound-missed', opts: { from: stack.portal.contact.phone, to: '1001', ringSeconds: 5 } }),
  },
  transfer: {
    label: 'John Doe calls · Alice answers, transfers to Bob',
    run: (stack, record) => ({ name: 'blind-transfer', opts: { from: stack.portal.contact.phone, to: ['1001', '1002'], record, talkSeconds: 10, ringSeconds: 3 } }),
  },
  unknown: {
    label: 'Unknown number calls · a lead is created',
    run: (_stack, record) => ({
      name: 'inbound-answered',
      opts: { from: `+1555${String(Math.floor(1_000_000 + Math.random() * 8_999_999))}`, to: '1001', record, talkSeconds: 6, ringSeconds: 3 },
    }),
  },
  outbound: {
    label: 'You call John Doe · outbound',
    run: (stack, record) => ({ name: 'outbound-answered', opts: { from: '1001', to: stack.portal.contact.phone, record, talkSeconds: 6, ringSeconds: 2 } }),
  },
};

/** What the Connection tab asks for, shown on a fresh demo's page: the emulated PBX stands in for the admin's own. */
function pbxCredentialsHtml(stack: Stack): string {
  const item = (label: string, value: string, id: string) => `<li>${label}: <code id="${id}">${escapeText(value)}</code></li>`;
  return `<strong>Your PBX (emulated) — enter these on the app's Connection tab</strong>
<ul>${item('PBX address', stack.pbx.url, 'demo-pbx-url')}${item('Client ID', stack.pbx.clientId, 'demo-pbx-client-id')}${item('Client secret', stack.pbx.clientSecret, 'demo-pbx-client-secret')}</ul>`;
}

function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function controlsHtml(stack: Stack, userId: number, fresh: boolean): string {
  const config = JSON.stringify({ userId, contactId: stack.portal.contact.id }).replace(/</g, '\\u003c');
  const callButtons = Object.entries(CALLS).map(([kind, call]) => `<button type="button" data-call="${kind}">${call.label}</button>`).join('\n');
  return `<section class="controls" aria-label="Demo controls">
${fresh ? pbxCredentialsHtml(stack) : ''}<strong>Emulated PBX</strong>
<div>${callButtons}
<button type="button" id="demo-hangup">Hang up</button>
<label><input type="checkbox" id="demo-record" checked /> record calls</label></div>
<strong>Open in Bitrix24</strong>
<div><button type="button" data-view="settings">App settings</button>
<button type="button" data-view="contact">John Doe · contact tab “Calls”</button>
<button type="button" data-view="card">Last call card</button></div>
<p id="demo-status" role="status">Press a call button: the call card pops up in the frame below.</p>
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

  router.get('/demo', async (req: Request, res: Response) => {
    const stack = ready(res);
    if (!stack) return;
    const userId = stack.portal.adminId;
    const lang = typeof req.query.lang === 'string' ? req.query.lang : 'en';
    const token = await stack.b24.frameToken(stack.portal.memberId, userId);
    const page = { memberId: stack.portal.memberId, userId, isAdmin: true, lang, placement: 'DEFAULT', placementOptions: {} };
    servedAsBitrix24Window(res);
    res.type('html').setHeader('Cache-Control', 'no-store');
    res.send(parentWindowHtml(
      { appUrl: holder.appUrl ?? '', mintToken: (m, u) => stack.b24.frameToken(m, u), controlsHtml: controlsHtml(stack, userId, holder.fresh === true), controlsScript: '/demo/controls.js', title: 'PBX connector demo' },
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
    const body = req.body as { kind?: unknown; record?: unknown };
    const call = CALLS[String(body.kind)];
    if (!call) {
      res.status(400).json({ error: 'unknown call kind' });
      return;
    }
    const { name, opts } = call.run(stack, body.record !== false);
    const started = await stack.pbx.scenario(name, opts);
    res.json({ message: `${call.label}: ringing (PBX call ${started.callId})` });
  });
  router.post('/demo/api/hangup', async (_req: Request, res: Response) => {
    const stack = ready(res);
    if (!stack) return;
    const live = await stack.pbx.liveCalls();
    const ended = await Promise.all(live.held.map((callId) => stack.pbx.continue(callId)));
    res.json({ message: ended.length > 0 ? `Hung up ${ended.length} call(s).` : 'No call is on the line.' });
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

/** Calls the product's /api as a frame user, the way the app in the browser does. */
async function frameApi(stack: Stack, userId: number, method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const token = await stack.b24.frameToken(stack.portal.memberId, userId);
  const response = await fetch(`${stack.server.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token.accessToken}`, 'x-member-id': stack.portal.memberId, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer: unknown = await response.json();
  if (!response.ok) throw new Error(`${method} /api${path} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

/** What an admin would do in the settings page, done ahead so calls flow at once: PBX, auto-create, bindings. */
async function configurePortal(stack: Stack): Promise<void> {
  const admin = stack.portal.adminId;
  await frameApi(stack, admin, 'PUT', '/settings', {
    enabled: true,
    pbx: { baseUrl: stack.pbx.url, clientId: stack.pbx.clientId, clientSecret: stack.pbx.clientSecret, events: 'websocket' },
    autoCreate: { enabled: true, inbound: true, outbound: true, entityType: 'LEAD' },
  });
  const until = Date.now() + 20_000;
  for (;;) {
    const status = (await frameApi(stack, admin, 'GET', '/status')) as { pbx: { state: string } };
    if (status.pbx.state === 'connected') break;
    if (Date.now() > until) throw new Error(`the PBX link did not come up (state ${status.pbx.state})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
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
  const port = Number.parseInt(process.env.PORT ?? '3000', 10);
  const demo = await startDemo({ port, logLevel: process.env.LOG_LEVEL ?? 'warn', fresh: process.env.DEMO_FRESH === '1' });
  console.log(`\n  PBX connector demo: ${demo.url}\n  (the product on http://localhost:${port}; Ctrl+C stops everything)\n`);
  const stop = (): void => {
    void demo.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
