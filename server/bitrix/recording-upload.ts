/**
 * The multipart upload of a large call recording to the upload URL telephony.externalCall.attachRecord answered
 * (https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-attach-record.html): Bitrix24's wire
 * format, so it lives in bitrix/. calls/recording.ts hands it the bytes (a stream) and the names.
 */
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { GuardedAgents } from '../net/guarded-http.js';

/** A recording on its way from the PBX to Bitrix24's upload URL, streamed. */
export interface RecordingUpload {
  filename: string;
  contentType: string;
  stream: Readable;
  /** Bytes, when the PBX said (Content-Length). */
  size?: number;
}

/** The upload URL cannot be used at all (not http(s)): retrying cannot fix it. */
export class UploadUrlRefused extends Error {}

/** Quotes a multipart header parameter (RFC 7578 §4.2: the name and filename are quoted strings). */
const quoted = (value: string): string => `"${value.replace(/["\\\r\n]/g, '_')}"`;

/**
 * The uploader: multipart/form-data POST with the file in `fieldName`, as for disk.folder.uploadfile's uploadUrl
 * (reference §3.5; the response shape of that POST is unconfirmed, so any 2xx without an `error` is success).
 * The file streams from the PBX into the request (Content-Length when the PBX gave the size, chunked otherwise), so a
 * 200 MB recording is never held in memory. The upload URL is Bitrix24's answer, so the connection goes through the
 * Bitrix24 agents (address policy at connect time, bitrix/guarded-transport.ts); node:http follows no redirect, and
 * a 3xx answer is a failure.
 */
export function createRecordingUploader(agents: GuardedAgents, timeoutMs = 120_000): { upload(url: string, fieldName: string, file: RecordingUpload): Promise<void> } {
  return {
    async upload(url, fieldName, file) {
      const target = new URL(url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UploadUrlRefused('the recording upload URL is not http(s)');
      const boundary = `----b24-yeastar-${randomBytes(12).toString('hex')}`;
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(fieldName)}; filename=${quoted(file.filename)}\r\n`
        + `Content-Type: ${file.contentType || 'application/octet-stream'}\r\n\r\n`,
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      const headers: Record<string, string | number> = { 'Content-Type': `multipart/form-data; boundary=${boundary}` };
      if (file.size !== undefined) headers['Content-Length'] = head.length + file.size + tail.length;
      const request = (target.protocol === 'https:' ? https : http).request(target, { method: 'POST', headers, agent: agents.agentFor(target) });
      const timer = setTimeout(() => request.destroy(new Error(`recording upload took longer than ${timeoutMs} ms`)), timeoutMs);
      const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
        request.on('error', reject);
        request.on('response', (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= 64 * 1024) chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        });
      });
      try {
        const source = file.stream;
        await Promise.all([
          pipeline(async function* body() {
            yield head;
            for await (const chunk of source) yield chunk as Buffer;
            yield tail;
          }, request),
          answered,
        ]);
      } catch (err) {
        file.stream.destroy();
        request.destroy();
        throw err;
      } finally {
        clearTimeout(timer);
      }
      const { status, text } = await answered;
      if (status >= 300 && status < 400) throw new Error(`recording upload answered HTTP ${status}, a redirect; not followed`);
      if (status < 200 || status >= 300) throw new Error(`recording upload answered HTTP ${status}`);
      try {
        const body = JSON.parse(text) as { error?: unknown; error_description?: unknown };
        if (body.error) throw new Error(`recording upload refused: ${String(body.error)} ${String(body.error_description ?? '')}`.trim());
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
      }
    },
  };
}
