import { existsSync, statSync } from 'node:fs';
import { extname, resolve, sep } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';

/**
 * The built client's files (dist/client). `npm run build` writes file.br and file.gz beside each text asset
 * (scripts/precompress.ts); we send the smallest one the browser accepts, never compressing per request.
 * Vite names every asset after its content hash (assets/app-BCZ0geeY.js), so a changed file is a new URL: those are
 * cached for a year and never revalidated; anything else (HTML) is revalidated on every use.
 */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';

const HASHED_ASSET = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8}\.[a-z0-9]+$/;
const ENCODINGS = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
] as const;

/** The encodings an Accept-Encoding header allows (q=0 refuses one; `*` allows all). */
export function acceptedEncodings(header: string | undefined): Set<string> {
  const accepted = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (name === '' || (q !== undefined && Number(q.slice(2)) <= 0)) continue;
    if (name === '*') ENCODINGS.forEach((e) => accepted.add(e.name));
    else accepted.add(name);
  }
  return accepted;
}

export function cacheControlFor(urlPath: string): string {
  return HASHED_ASSET.test(urlPath) ? IMMUTABLE : REVALIDATE;
}

export function staticAssets(dir: string): express.RequestHandler {
  const root = resolve(dir);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(req.path);
    } catch {
      return next();
    }
    const path = resolve(root, `.${urlPath}`);
    // Outside dist/client, a folder, or a precompressed copy asked for by name: not ours to serve.
    if (!path.startsWith(root + sep) || /\.(?:br|gz)$/.test(path) || !existsSync(path) || !statSync(path).isFile()) return next();
    const accepted = acceptedEncodings(req.get('accept-encoding'));
    const encoding = ENCODINGS.find((e) => accepted.has(e.name) && existsSync(path + e.suffix));
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('Cache-Control', cacheControlFor(urlPath));
    // The type of the original file, set before sendFile so it is not guessed from the .br/.gz name.
    res.type(extname(path));
    if (encoding) res.setHeader('Content-Encoding', encoding.name);
    res.sendFile(encoding ? path + encoding.suffix : path, { cacheControl: false, dotfiles: 'deny' }, (error?: Error) => {
      if (error && !res.headersSent) next(error);
    });
  };
}
