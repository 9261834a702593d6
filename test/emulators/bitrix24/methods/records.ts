/**
 * telephony.externalCall.attachRecord: only after finish; wav/mp3 only; FILE_CONTENT (base64), RECORD_URL
 * (downloaded by the portal), or FILENAME alone → `{uploadUrl, fieldName}` for a multipart upload.
 * https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-attach-record.html,
 * https://apidocs.bitrix24.com/api-reference/disk/folder/disk-folder-upload-file.html#uploadurl
 */
import { decodeBase64Strict, detectAudio } from '../audio.js';
import { coreError } from '../errors.js';
import { pickString } from '../params.js';
import type { CallRecord, Portal } from '../state.js';
import { randomHex } from '../tokens.js';
import { ok, type MethodTable } from './types.js';

const NOT_FINISHED = 'Call is not found in the statistic table. It looks like it is not finished yet.';

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** Stores the bytes as the call's record (replacing an earlier one) and links it to the CRM activity. */
export function storeRecord(portal: Portal, call: CallRecord, name: string, bytes: Buffer, via: 'content' | 'url' | 'upload'): number {
  const kind = detectAudio(bytes);
  if (!kind) throw coreError('File content is not a WAV or MP3 file (emulator check of the RIFF/WAVE or MPEG header)');
  const id = portal.nextFileId++;
  portal.files.set(id, { id, name, size: bytes.length, kind, bytes });
  call.records.push({ fileId: id, name, size: bytes.length, kind, via, at: Date.now() });
  const activityId = call.finished?.statistic.CRM_ACTIVITY_ID;
  if (typeof activityId === 'number') {
    const activity = portal.activities.get(activityId);
    if (activity) activity.FILES = [{ id, name }];
  }
  return id;
}

function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(url.hostname);
}

async function download(recordUrl: string): Promise<Buffer> {
  let url: URL;
  try {
    url = new URL(recordUrl);
  } catch {
    throw coreError('Server returns HTTP error code 0');
  }
  // The emulator never reaches beyond loopback (test rule); a real portal would fetch any public URL.
  if (!isLoopback(url)) throw coreError('Server returns HTTP error code 0');
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch {
    throw coreError('Server returns HTTP error code 0');
  }
  if (response.status !== 200) throw coreError(`Server returns HTTP error code ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

export const recordMethods: MethodTable = {
  'telephony.externalcall.attachrecord': {
    run: async ({ portal, params, accessToken }) => {
      const callId = pickString(params, 'CALL_ID') ?? '';
      const call = portal.calls.get(callId);
      if (!call || !call.finished) throw coreError(NOT_FINISHED);
      const recordUrl = pickString(params, 'RECORD_URL');
      const content = pickString(params, 'FILE_CONTENT');
      let filename = pickString(params, 'FILENAME');
      if (!recordUrl && filename === undefined) {
        throw coreError('Required parameters are not set. Request should contain either URL or FILENAME parameter');
      }
      if (recordUrl && !filename) filename = new URL(recordUrl, 'http://x/').pathname.split('/').pop() ?? '';
      if (!filename) throw coreError('File name is empty');
      const ext = extensionOf(filename);
      if (ext !== 'wav' && ext !== 'mp3') throw coreError('Wrong file extension. Only wav and mp3 are allowed');
      if (content !== undefined) {
        if (content === '') throw coreError('File content is empty.');
        const bytes = decodeBase64Strict(content);
        if (!bytes || bytes.length === 0) throw coreError('File content is not properly encoded. Base64 encoding is expected.');
        return ok({ FILE_ID: storeRecord(portal, call, filename, bytes, 'content') });
      }
      if (recordUrl) {
        const bytes = await download(recordUrl);
        return ok({ FILE_ID: storeRecord(portal, call, filename, bytes, 'url') });
      }
      const uploadId = randomHex(16);
      portal.uploads.set(uploadId, { callId, filename });
      const base = `http://${portal.domain}/rest/upload.json`;
      const query = new URLSearchParams({ auth: accessToken ?? '', token: `telephony|${uploadId}` });
      return ok({ uploadUrl: `${base}?${query.toString()}`, fieldName: 'file' });
    },
  },
};
