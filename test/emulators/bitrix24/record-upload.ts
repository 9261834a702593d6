/**
 * The `uploadUrl` that attachRecord hands out when only FILENAME is given: a multipart POST with the file in
 * field `file` (documented for disk uploads and "the same way" for call records:
 * https://apidocs.bitrix24.com/api-reference/disk/folder/disk-folder-upload-file.html#uploadurl). The answer's shape
 * is not documented; the emulator answers `{result: {FILE_ID}}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RestError, noAuthFound } from './errors.js';
import { readBody, sendJson } from './http-io.js';
import { storeRecord } from './methods/records.js';
import type { EmulatorState, Portal } from './state.js';
import { timeInfo } from './time-envelope.js';

export async function receiveRecordUpload(state: EmulatorState, portal: Portal, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const started = Date.now();
  try {
    const token = url.searchParams.get('auth') ?? '';
    const access = state.accessTokens.get(token);
    if (!access || access.memberId !== portal.memberId) throw noAuthFound();
    const uploadToken = url.searchParams.get('token') ?? '';
    const uploadId = uploadToken.startsWith('telephony|') ? uploadToken.slice('telephony|'.length) : '';
    const pending = portal.uploads.get(uploadId);
    if (!pending) throw new RestError('ERROR_CORE', 'Upload token is not valid', 400);
    const body = await readBody(req);
    const file = body.files.find((f) => f.field === 'file');
    if (!file || file.bytes.length === 0) throw new RestError('ERROR_CORE', 'File content is empty.', 400);
    const { callId, filename } = pending;
    const call = portal.calls.get(callId);
    if (!call) throw new RestError('ERROR_CORE', 'Call is not found', 400);
    const fileId = storeRecord(portal, call, filename, file.bytes, 'upload');
    portal.uploads.delete(uploadId);
    state.requests.push({
      seq: state.requests.length + 1, memberId: portal.memberId, method: 'upload', params: { filename, size: file.bytes.length },
      httpStatus: 200, error: null, errorDescription: null, time: new Date(started).toISOString(), viaBatch: false,
      authKind: access.kind, userId: access.userId,
    });
    sendJson(res, 200, { result: { FILE_ID: fileId }, time: timeInfo(started) });
  } catch (err) {
    const e = err instanceof RestError ? err : new RestError('INTERNAL_SERVER_ERROR', String(err), 500);
    sendJson(res, e.status, { error: e.code, error_description: e.description });
  }
}
