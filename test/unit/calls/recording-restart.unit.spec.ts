import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RecordingAttacher } from '../../../server/calls/recording.js';
import { itemKey } from '../../../server/calls/outbox-items.js';
import { createLogger } from '../../../server/log.js';
import type { NewOutboxItem } from '../../../server/outbox/types.js';
import type { PbxAdapter } from '../../../server/pbx/adapter.js';
import type { CallRecord, OutboxItem } from '../../../server/store/records.js';

// Before: a call resumed after a restart attached its recording again although the attach sent with its finish was
// still queued (or already done): the CRM activity got the recording twice. After: an attach already in the
// outbox is left to finish, and a done inline one counts as attached.

const RIFF = Buffer.from('RIFF....WAVEfmt ', 'ascii');
const record: CallRecord = {
  portal: 'p1', pbxCallId: '1.1', direction: 'inbound', external: '+15550001111', extensions: ['1001'], shownTo: [11],
  startedAt: 1, talkSeconds: 5, result: 'answered', b24CallId: 'externalCall.x', origin: 'pbx',
  recording: { ref: 'r.wav', filename: 'r.wav' }, recordingState: 'pending', phase: 'logged', updatedAt: 1,
};
const adapter = {
  downloadRecording: async () => ({ stream: Readable.from([RIFF]), contentType: 'audio/x-wav', filename: 'r.wav' }),
} as unknown as PbxAdapter;

function attacherWith(existing: OutboxItem | undefined) {
  const enqueued: NewOutboxItem[] = [];
  const patches: Partial<CallRecord>[] = [];
  const attacher = new RecordingAttacher({
    log: createLogger('silent'),
    outbox: { enqueue: async (items) => { enqueued.push(...items); return []; } },
    calls: { get: () => record },
    adapterFor: () => adapter,
    updateRecord: async (_p, _c, patch) => { patches.push(patch(record) ?? {}); },
    uploader: { upload: async () => undefined },
    findOutboxItem: (_portal, key) => (existing && existing.key === key ? existing : undefined),
  });
  return { attacher, enqueued, patches };
}

const outboxItem = (what: string, status: OutboxItem['status']): OutboxItem => ({
  id: 'i', portal: 'p1', group: 'call:1.1', seq: 1, method: 'telephony.externalCall.attachRecord', params: {},
  key: itemKey('p1', '1.1', what), status, attempts: 0, nextAttemptAt: 0, createdAt: 0,
});

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('recording attach after a restart', () => {
  it('leaves an attach still queued to finish: nothing enqueued again', async () => {
    const { attacher, enqueued } = attacherWith(outboxItem('attach:0', 'pending'));
    attacher.attach({ portal: 'p1', pbxCallId: '1.1', recording: { ref: 'r.wav', filename: 'r.wav' } });
    await settle();
    expect(enqueued).toHaveLength(0);
  });

  it('counts a done inline attach as attached', async () => {
    const { attacher, enqueued, patches } = attacherWith(outboxItem('attach:0', 'done'));
    attacher.attach({ portal: 'p1', pbxCallId: '1.1', recording: { ref: 'r.wav', filename: 'r.wav' } });
    await settle();
    expect(enqueued).toHaveLength(0);
    expect(patches).toContainEqual(expect.objectContaining({ recordingState: 'attached' }));
  });

  it('attaches when nothing was queued before', async () => {
    const { attacher, enqueued } = attacherWith(undefined);
    attacher.attach({ portal: 'p1', pbxCallId: '1.1', recording: { ref: 'r.wav', filename: 'r.wav' } });
    await settle();
    expect(enqueued.map((i) => i.method)).toEqual(['telephony.externalCall.attachRecord']);
  });
});
