/** Reading requests and writing JSON answers on node:http, with the body parsers Bitrix24 accepts. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';
import { parseNestedPairs, parseQueryString, type Params } from './params.js';

export interface UploadedFile {
  field: string;
  filename: string;
  mimeType: string;
  bytes: Buffer;
}

export interface ParsedBody {
  params: Params;
  files: UploadedFile[];
  raw: Buffer;
}

const MAX_BODY = 64 * 1024 * 1024;

export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function readMultipart(req: IncomingMessage): Promise<ParsedBody> {
  return new Promise((resolve, reject) => {
    const pairs: [string, string][] = [];
    const files: UploadedFile[] = [];
    const bb = busboy({ headers: req.headers, limits: { fileSize: MAX_BODY } });
    bb.on('field', (name, value) => pairs.push([name, value]));
    bb.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () =>
        files.push({ field, filename: info.filename ?? '', mimeType: info.mimeType, bytes: Buffer.concat(chunks) }),
      );
    });
    bb.on('close', () => resolve({ params: parseNestedPairs(pairs), files, raw: Buffer.alloc(0) }));
    bb.on('error', reject);
    req.pipe(bb);
  });
}

export async function readBody(req: IncomingMessage): Promise<ParsedBody> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) return readMultipart(req);
  const raw = await readRaw(req);
  if (raw.length === 0) return { params: {}, files: [], raw };
  if (type.includes('application/json')) {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    const params = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Params) : {};
    return { params, files: [], raw };
  }
  // Bitrix24 (PHP) parses anything else as a form body.
  return { params: parseQueryString(raw.toString('utf8')), files: [], raw };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
