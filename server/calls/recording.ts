/**
 * Recordings: after finish, the PBX recording is downloaded and attached to the Bitrix24 call with
 * telephony.externalCall.attachRecord (https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-attach-record.html):
 * - up to `inlineMaxBytes`: FILENAME + FILE_CONTENT (base64) in one outbox item (batched with the finish when both are pending);
 *   only these bytes are ever held in memory, and never more than `inlineMaxBytes` of them;
 * - larger: FILENAME alone → Bitrix24 answers where to upload (bitrix/telephony.ts readAttachRecordAnswer) → the file,
 *   streamed from the PBX to Bitrix24 by the injected uploader (bitrix/recording-upload.ts), at most `maxBytes`.
 * What the PBX sends is a recording only when the adapter says so (downloadRecording: audio/* only, on the PBX's own
 * origin, size-capped); a refusal there is final, not retried.
 * A missing or expired recording is retried with backoff a bounded number of times, then the call shows
 * recordingState 'failed' with the reason. Nothing here blocks another call: each job runs on its own.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { UploadUrlRefused, type RecordingUpload } from '../bitrix/recording-upload.js';
import { readAttachRecordAnswer } from '../bitrix/telephony.js';
import { callLog, type Logger } from '../log.js';
import { PbxError, type CallRecordingRef, type PbxAdapter, type RecordingDownload } from '../pbx/adapter.js';
import type { NewOutboxItem, Outbox } from '../outbox/types.js';
import type { CallRecord, OutboxItem } from '../store/records.js';
import type { CallsRepository } from '../store/types.js';
import { HANDLERS, attachRecordItem, itemKey } from './outbox-items.js';

export interface RecordingJob {
  portal: string;
  pbxCallId: string;
  recording: CallRecordingRef;
}

export type { RecordingUpload } from '../bitrix/recording-upload.js';

/**
 * The upload of a large recording to the URL attachRecord answered (bitrix/recording-upload.ts builds the multipart
 * request); not a REST call, so not through the outbox. Injected, so tests and the composition root choose it.
 */
export interface RecordingUploader {
  upload(url: string, fieldName: string, file: RecordingUpload): Promise<void>;
}

export interface RecordingOptions {
  /** Files up to this size go inline as base64 (about 4/3 larger in the request). */
  inlineMaxBytes: number;
  /** Larger recordings than this are not attached at all (reported as failed). */
  maxBytes: number;
  maxAttempts: number;
  /** First retry after this long, doubling each time. */
  retryBaseMs: number;
}

export const DEFAULT_RECORDING_OPTIONS: RecordingOptions = Object.freeze({
  inlineMaxBytes: 3 * 1024 * 1024,
  maxBytes: 200 * 1024 * 1024,
  maxAttempts: 5,
  retryBaseMs: 30_000,
});

export interface RecordingAttacherDeps {
  log: Logger;
  outbox: Pick<Outbox, 'enqueue'>;
  calls: Pick<CallsRepository, 'get'>;
  adapterFor(portal: string): PbxAdapter | undefined;
  /** Changes the stored call in the call's own order (CallsService.updateRecord). */
  updateRecord(portal: string, pbxCallId: string, patch: (record: CallRecord) => Partial<CallRecord> | undefined): Promise<unknown>;
  uploader: RecordingUploader;
  options?: Partial<RecordingOptions>;
  /** Looks an outbox item up by key (store.outbox.getByKey): an attach queued before a restart is not queued twice. */
  findOutboxItem?(portal: string, key: string): OutboxItem | undefined;
}

/** A reason that retrying cannot fix. */
class PermanentRecordingError extends Error {}

/** Bitrix24 takes wav and mp3 only ("Wrong file extension. Only wav and mp3 are allowed"). */
export function playableFilename(...candidates: (string | undefined)[]): string | undefined {
  for (const name of candidates) {
    const base = name?.split(/[\\/]/).pop()?.trim();
    if (base && /\.(wav|mp3)$/i.test(base)) return base;
  }
  return undefined;
}

/** The whole file when it has at most `maxBytes`; undefined (the stream destroyed) as soon as it has more. */
export async function readUpTo(download: RecordingDownload, maxBytes: number): Promise<Buffer | undefined> {
  if (download.size !== undefined && download.size > maxBytes) {
    download.stream.destroy();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of download.stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buf.length;
    if (size > maxBytes) {
      download.stream.destroy();
      return undefined;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Passes at most `maxBytes` through; more fails the stream (permanently: the file will not shrink). */
function capped(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) done(new PermanentRecordingError(`recording larger than ${maxBytes} bytes`));
      else done(null, chunk);
    },
  });
}

/** The adapter refused what the PBX sent as a recording (not audio, a path off the PBX, too large): final. */
const REFUSED_BY_ADAPTER = new Set(['PBX_URL_REFUSED', 'PBX_NOT_A_RECORDING', 'PBX_FILE_TOO_LARGE', 'PBX_ADDRESS_REFUSED']);

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const jobKey = (portal: string, pbxCallId: string): string => `${portal}\u0000${pbxCallId}`;

export class RecordingAttacher {
  private readonly log: Logger;
  private readonly opts: RecordingOptions;
  private readonly inFlight = new Set<string>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly deps: RecordingAttacherDeps) {
    this.log = deps.log.child({ part: 'recordings' });
    this.opts = { ...DEFAULT_RECORDING_OPTIONS, ...deps.options };
  }

  registerHandlers(outbox: Pick<Outbox, 'onResult' | 'onParked'>): void {
    outbox.onResult(HANDLERS.recordingAttached, (item) => this.onAttached(item));
    outbox.onResult(HANDLERS.recordingUploadUrl, (item, result) => this.onUploadUrl(item, result));
    outbox.onParked(HANDLERS.recordingParked, (item, error) => this.onParked(item, error));
  }

  /** Starts (or restarts) attaching the call's recording; returns at once. */
  attach(job: RecordingJob, attempt = 0): void {
    const key = jobKey(job.portal, job.pbxCallId);
    if (this.stopped || this.inFlight.has(key)) return;
    this.inFlight.add(key);
    this.run(job, attempt)
      .catch((err: unknown) => callLog(this.log, job).error({ err }, 'recording job failed'))
      .finally(() => this.inFlight.delete(key));
  }

  /**
   * The recording as an inline attachRecord item, when it can be fetched within `timeoutMs` and is small enough;
   * else undefined (the caller falls back to attach()). Lets the finish and the attachRecord go out together, so the
   * outbox sends them in one batch: an answered call costs register + one request.
   */
  async inlineItem(record: CallRecord, job: RecordingJob, timeoutMs: number): Promise<NewOutboxItem | undefined> {
    if (this.stopped) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const file = await Promise.race([
        this.downloadSmall(job),
        new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), timeoutMs); }),
      ]);
      if (!file || file.data === undefined) return undefined;
      return attachRecordItem(record, file.filename, file.data.toString('base64'), 0, true);
    } catch (err) {
      callLog(this.log, job).debug({ reason: errorText(err) }, 'recording not ready with the finish: attaching it later');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Another instance owns the portal now: its retry timers stop here (the new owner resumes pending recordings). */
  stopPortal(portal: string): void {
    const prefix = jobKey(portal, '');
    for (const [key, timer] of this.retries) {
      if (!key.startsWith(prefix)) continue;
      clearTimeout(timer);
      this.retries.delete(key);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
  }

  private async run(job: RecordingJob, attempt: number): Promise<void> {
    const record = this.deps.calls.get(job.portal, job.pbxCallId);
    if (!record || record.recordingState === 'attached') return;
    const earlier = this.earlierAttach(job);
    if (earlier === 'pending') return;
    if (earlier === 'attached') {
      await this.deps.updateRecord(job.portal, job.pbxCallId, () => ({ recordingState: 'attached', recordingError: undefined }));
      return;
    }
    try {
      const file = await this.downloadSmall(job);
      // Larger than inlineMaxBytes: FILENAME alone; the file is streamed to the upload URL Bitrix24 answers.
      await this.deps.outbox.enqueue([
        attachRecordItem(record, file.filename, file.data?.toString('base64'), attempt),
      ]);
      await this.deps.updateRecord(job.portal, job.pbxCallId, () => ({ recordingState: 'pending', recording: job.recording }));
    } catch (err) {
      await this.failedAttempt(job, attempt, err);
    }
  }

  /**
   * An attachRecord of this call already in the outbox: after a restart the call is resumed while the attach sent
   * with its finish (or by an earlier attempt) may still be queued or done, and attaching again would add the
   * recording to the CRM activity twice. Pending → its outcome reaches the handlers; done inline → attached.
   * A done upload-URL item proves nothing (the upload itself may not have happened), so it is tried again.
   */
  private earlierAttach(job: RecordingJob): 'pending' | 'attached' | undefined {
    const find = this.deps.findOutboxItem;
    if (!find) return undefined;
    for (let attempt = 0; attempt < this.opts.maxAttempts; attempt += 1) {
      for (const what of [`attach:${attempt}`, `attach-url:${attempt}`]) {
        const item = find(job.portal, itemKey(job.portal, job.pbxCallId, what));
        if (item?.status === 'pending') return 'pending';
        if (item?.status === 'done' && what.startsWith('attach:')) return 'attached';
      }
    }
    return undefined;
  }

  /** The PBX's download, refused (for good) when it is not a wav/mp3 recording the adapter accepted. */
  private async open(job: RecordingJob): Promise<{ download: RecordingDownload; filename: string }> {
    const adapter = this.deps.adapterFor(job.portal);
    if (!adapter) throw new Error('the PBX of this portal is not connected');
    let download: RecordingDownload;
    try {
      download = await adapter.downloadRecording(job.recording);
    } catch (err) {
      if (err instanceof PbxError && REFUSED_BY_ADAPTER.has(err.code)) throw new PermanentRecordingError(err.message);
      throw err;
    }
    const filename = playableFilename(download.filename, job.recording.filename);
    if (!filename) {
      download.stream.destroy();
      throw new PermanentRecordingError(`recording "${job.recording.filename}" is neither wav nor mp3`);
    }
    if (download.size !== undefined && download.size > this.opts.maxBytes) {
      download.stream.destroy();
      throw new PermanentRecordingError(`recording larger than ${this.opts.maxBytes} bytes`);
    }
    return { download, filename };
  }

  /** The bytes when the file fits inline (`data`), else only its name (`data` undefined, the stream closed). */
  private async downloadSmall(job: RecordingJob): Promise<{ filename: string; data: Buffer | undefined }> {
    const { download, filename } = await this.open(job);
    const data = await readUpTo(download, this.opts.inlineMaxBytes);
    if (data !== undefined && data.length === 0) throw new Error('the PBX returned an empty recording');
    return { filename, data };
  }

  private async failedAttempt(job: RecordingJob, attempt: number, err: unknown): Promise<void> {
    const reason = errorText(err);
    const next = attempt + 1;
    if (err instanceof PermanentRecordingError || err instanceof UploadUrlRefused || next >= this.opts.maxAttempts || this.stopped) {
      callLog(this.log, job).warn({ reason, attempts: next }, 'recording not attached');
      await this.deps.updateRecord(job.portal, job.pbxCallId, () => ({ recordingState: 'failed', recordingError: reason }));
      return;
    }
    const delay = this.opts.retryBaseMs * 2 ** attempt;
    callLog(this.log, job).info({ reason, retryInMs: delay }, 'recording not available yet: retrying');
    await this.deps.updateRecord(job.portal, job.pbxCallId, () => ({ recordingState: 'pending', recordingError: reason }));
    const key = jobKey(job.portal, job.pbxCallId);
    const timer = setTimeout(() => {
      this.retries.delete(key);
      this.attach(job, next);
    }, delay);
    timer.unref();
    this.retries.set(key, timer);
  }

  private jobOf(item: OutboxItem): { job: RecordingJob; attempt: number } | undefined {
    const pbxCallId = typeof item.meta?.pbxCallId === 'string' ? item.meta.pbxCallId : undefined;
    if (!pbxCallId) return undefined;
    const record = this.deps.calls.get(item.portal, pbxCallId);
    if (!record?.recording) return undefined;
    const attempt = typeof item.meta?.attempt === 'number' ? item.meta.attempt : 0;
    return { job: { portal: item.portal, pbxCallId, recording: record.recording }, attempt };
  }

  private async onAttached(item: OutboxItem): Promise<void> {
    const pbxCallId = typeof item.meta?.pbxCallId === 'string' ? item.meta.pbxCallId : undefined;
    if (!pbxCallId) return;
    await this.deps.updateRecord(item.portal, pbxCallId, () => ({ recordingState: 'attached', recordingError: undefined }));
  }

  /** Large file: Bitrix24 answered where to upload it. */
  private async onUploadUrl(item: OutboxItem, result: unknown): Promise<void> {
    const found = this.jobOf(item);
    if (!found) return;
    const { uploadUrl, fieldName } = readAttachRecordAnswer(result);
    if (!uploadUrl) {
      // Bitrix24 attached it without asking for the file (e.g. FILE_ID): nothing left to upload.
      await this.onAttached(item);
      return;
    }
    try {
      const { download, filename } = await this.open(found.job);
      const stream = download.stream.pipe(capped(this.opts.maxBytes));
      download.stream.on('error', (err) => stream.destroy(err));
      // An upload that fails half-way must not leave the PBX socket open.
      stream.on('close', () => download.stream.destroy());
      await this.deps.uploader.upload(uploadUrl, fieldName, {
        filename, contentType: download.contentType, stream, ...(download.size !== undefined ? { size: download.size } : {}),
      });
      await this.onAttached(item);
    } catch (err) {
      await this.failedAttempt(found.job, found.attempt, err);
    }
  }

  private async onParked(item: OutboxItem, error: string): Promise<void> {
    const pbxCallId = typeof item.meta?.pbxCallId === 'string' ? item.meta.pbxCallId : undefined;
    if (!pbxCallId) return;
    callLog(this.log, { portal: item.portal, pbxCallId }).warn({ error }, 'attachRecord parked');
    await this.deps.updateRecord(item.portal, pbxCallId, () => ({ recordingState: 'failed', recordingError: error }));
  }
}
