import type { NextFunction, Request, Response } from 'express';
import type { Portal } from '../../store/records.js';

export interface SecurityHeadersDeps {
  /** The installed portals (store.portals.list): whose pages may frame ours. */
  portals(): Portal[];
  /** FRAME_ANCESTORS: sources the operator allows to frame the pages as well. */
  extraAncestors?: readonly string[];
}

/**
 * Bitrix24 Cloud portal zones. A page request that names no known portal (a bare asset, a first look at the app) may
 * still be framed by a cloud portal; a box on its own domain is recognised by name (below).
 */
const CLOUD_PORTALS = [
  'bitrix24.com', 'bitrix24.ru', 'bitrix24.de', 'bitrix24.eu', 'bitrix24.es', 'bitrix24.fr', 'bitrix24.it', 'bitrix24.pl',
  'bitrix24.uk', 'bitrix24.in', 'bitrix24.com.br', 'bitrix24.com.tr', 'bitrix24.cn', 'bitrix24.jp', 'bitrix24.kz',
  'bitrix24.by', 'bitrix24.ua', 'bitrix24.vn', 'bitrix24.id', 'bitrix24.co', 'bitrix24.mx',
].map((zone) => `https://*.${zone}`).join(' ');

/** `DOMAIN` of a frame load (reference §1.2): a host with an optional port, nothing else. */
const HOST = /^[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$/;

/**
 * Answers nothing renders: API JSON, events, webhooks, metrics, recordings. Nothing may load, nothing may frame them.
 */
const MACHINE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const MACHINE_PATHS = /^\/(?:api|b24|pbx|healthz|metrics)(?:\/|$)/;

/**
 * The pages (app, placements, installer, static files, their errors): what the built Vue app and the Bitrix24 frame SDK
 * need, checked against dist/client (`npx vite build`):
 * - scripts: only the module bundles under /assets, no inline script, no eval → `script-src 'self'`;
 * - styles: the bundle's CSS file, plus <style> elements the Bitrix24 UI kit writes at run time (its colour theme)
 *   and style properties Vue sets → `style-src 'self' 'unsafe-inline'` (no hash can name run-time content);
 * - data: URIs for the UI kit's inline SVG icons and fonts → `img-src`/`font-src` `'self' data:`;
 * - recordings are played from a Blob URL the app fetched with its token → `media-src 'self' blob:`;
 * - the app talks only to its own /api; the frame SDK talks to Bitrix24 by postMessage, loads nothing external
 *   → `connect-src 'self'` (plus the portal's own origin when known, for the SDK's REST calls).
 */
function pagePolicy(ancestors: string, portalOrigin: string | undefined): string {
  const connect = portalOrigin ? `'self' ${portalOrigin}` : "'self'";
  return [
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "font-src 'self' data:",
    "media-src 'self' blob:", `connect-src ${connect}`, "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    `frame-ancestors ${ancestors}`,
  ].join('; ');
}

function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `X-Content-Type-Options: nosniff` and a Content-Security-Policy on EVERY answer (set before any route runs, so
 * errors and static files carry them too).
 *
 * Why frame-ancestors is chosen per request: the app lives in an iframe of the portal that opened it, and a
 * self-hosted Bitrix24 (a "box") can sit on any domain, so no fixed list can name every allowed parent; allowing any
 * parent would let any site frame the app (clickjacking). Bitrix24 loads every frame with `?DOMAIN=<portal host>`
 * (reference §1.2); that value is the requester's word, so it is only believed when it names a portal that installed
 * the app (its address as the trusted install stored it). The installer is the one page a portal opens before it is
 * known: there the named host itself may frame it (the installer shows nothing but the install's own outcome).
 * Anything else: our own origin and Bitrix24 Cloud's zones.
 */
export function securityHeaders(deps: SecurityHeadersDeps) {
  const extra = deps.extraAncestors ?? [];
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (MACHINE_PATHS.test(req.path)) {
      res.setHeader('Content-Security-Policy', MACHINE_POLICY);
      next();
      return;
    }
    const named = typeof req.query.DOMAIN === 'string' && HOST.test(req.query.DOMAIN) ? req.query.DOMAIN.toLowerCase() : undefined;
    const portal = named ? deps.portals().find((p) => !p.uninstalledAt && p.domain.toLowerCase() === named) : undefined;
    const portalOrigin = portal ? originOf(portal.clientEndpoint) : undefined;
    let ancestors = `'self' ${CLOUD_PORTALS}`;
    if (portalOrigin) ancestors = `'self' ${portalOrigin}`;
    else if (named && req.path === '/install') ancestors = `'self' ${req.query.PROTOCOL === '0' ? 'http' : 'https'}://${named} ${CLOUD_PORTALS}`;
    res.setHeader('Content-Security-Policy', pagePolicy([ancestors, ...extra].join(' '), portalOrigin));
    next();
  };
}
