import { z } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { PbxError, type CallRecordingRef, type PbxAdapter, type RecordingDownload, type RecordingGrant } from '../pbx/adapter.js';
import type { PortalWork } from './portal-work.js';

/**
 * A call's recording played through an instance that does not own the portal (GET /api/calls/:id/recording reaches
 * any instance). Why this design:
 * - A recording is binary and large (up to 200 MB): it must not go through portal_work's JSON rows, nor through the
 *   owner's memory. The instances know no addresses of each other (only the database), so the owner cannot stream
 *   it to the requester directly without a new instance-to-instance channel and its authentication.
 * - Yeastar's download is two steps (reference §4.5: `recording/download` answers a `download_resource_url` valid
 *   30 min, then a GET of it with `access_token`). The first step needs a login; the second only a valid token. So
 *   the requester asks the owner, as portal work, for a grant (the path and the owner's current token); the owner
 *   makes the first request over its own link. The requester then makes only the GET itself, streaming straight from
 *   the PBX to the browser through the same guarded transport (address policy, path kept on the PBX's origin,
 *   audio-only check) — without logging in: Yeastar allows 8 API tokens per PBX and only the owner holds one. Range
 *   requests work as before (the route slices the stream, knowing the size from the PBX's answer).
 * - The token is a secret and the portal_work row stays in the table a while: it is sealed with SECRET_KEY (which
 *   every instance of one database shares) before it is written, and opened only by the requester.
 * - The GET is read-only and idempotent, so the rule that only the owner sends to the PBX (its purpose: no double
 *   write, no second login) is kept in spirit: a non-owner that lost a race writes nothing and logs in nowhere.
 * - A token that expired between grant and use (the owner refreshed and revoked it) gets one fresh grant.
 */

const KIND = 'pbx.recordingGrant';
const refInput = z.object({ ref: z.string().min(1).max(1000), filename: z.string().max(1000) });
const grantAnswer = z.object({ path: z.string().min(1), filename: z.string(), sealedToken: z.string().min(1) });

export interface SealingBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** The owner's side: a grant for one recording, its token sealed. */
export function serveRecordingGrants(work: PortalWork, adapterFor: (portal: string) => PbxAdapter | undefined, box: SealingBox, log: Logger): void {
  work.handle(KIND, async (portal, input) => {
    const ref = refInput.parse(input);
    const adapter = adapterFor(portal);
    if (!adapter?.grantRecordingDownload) throw new AppError('PBX_UNAVAILABLE', 'the PBX of this portal is not connected; try again later', 503);
    const grant = await adapter.grantRecordingDownload(ref);
    log.info({ portal, file: ref.ref }, 'granted another instance the download of a recording');
    return { path: grant.path, filename: grant.filename, sealedToken: box.seal(grant.token) };
  });
}

/** The requester's side: asks the owner for a grant, then downloads with it here. */
export function downloadThroughOwnersGrant(
  work: PortalWork, box: SealingBox, log: Logger,
  downloadGranted: (portal: string, ref: CallRecordingRef, grant: RecordingGrant) => Promise<RecordingDownload>,
): (portal: string, ref: CallRecordingRef) => Promise<RecordingDownload> {
  return async (portal, ref) => {
    for (let attempt = 0; ; attempt += 1) {
      const answer = grantAnswer.parse(await work.run(portal, KIND, { ref: ref.ref, filename: ref.filename }));
      try {
        const download = await downloadGranted(portal, ref, { path: answer.path, filename: answer.filename, token: box.open(answer.sealedToken) });
        log.info({ portal, file: ref.ref }, 'recording streamed from the PBX with the owner\'s grant (no login here)');
        return download;
      } catch (err) {
        if (err instanceof PbxError && err.code === 'PBX_TOKEN_EXPIRED' && attempt === 0) continue;
        throw err;
      }
    }
  };
}
