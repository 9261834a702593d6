import type { Logger } from '../../log.js';
import { PbxError, type RecordingDownload } from '../adapter.js';
import type { PbxStreamResponse } from './transport.js';

/**
 * The media type of a recording: what the PBX said, without parameters; a generic octet-stream named .wav/.mp3 is
 * taken as that audio type.
 */
function contentTypeFor(filename: string, given: string): string {
  const type = given.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== '' && type !== 'application/octet-stream') return type;
  if (/\.wav$/i.test(filename)) return 'audio/x-wav';
  if (/\.mp3$/i.test(filename)) return 'audio/mpeg';
  return type || 'application/octet-stream';
}

/** `audio/<subtype>` and nothing else passes as a recording. */
const AUDIO_TYPE = /^audio\/[a-z0-9][a-z0-9.+-]*$/;

/**
 * A file the PBX streamed, as a recording: only audio reaches a user's browser (GET /api/calls/:id/recording) or
 * Bitrix24 (attachRecord): a PBX that answers text/html would otherwise have its page served from our origin.
 */
export function asRecording(file: PbxStreamResponse, filename: string, log: Logger, ref: string): RecordingDownload {
  const contentType = contentTypeFor(filename, file.contentType);
  if (!AUDIO_TYPE.test(contentType)) {
    file.stream.destroy();
    log.warn({ contentType: contentType.slice(0, 100), file: ref }, 'recording refused: the PBX answered something that is not audio');
    throw new PbxError('PBX_NOT_A_RECORDING', `the PBX answered ${contentType.slice(0, 100)} instead of an audio file`);
  }
  return { stream: file.stream, contentType, filename, ...(file.size !== undefined ? { size: file.size } : {}) };
}

/** A refused download (off-origin path, refused address, too large) is worth a log line with the file's name. */
export function logRefusedDownload(err: unknown, log: Logger, ref: string): void {
  if (err instanceof PbxError && (err.code === 'PBX_URL_REFUSED' || err.code === 'PBX_ADDRESS_REFUSED' || err.code === 'PBX_FILE_TOO_LARGE')) {
    log.warn({ code: err.code, reason: err.message, file: ref }, 'recording download refused');
  }
}
