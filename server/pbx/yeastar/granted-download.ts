import type { PbxConnectionSettings, RecordingDownload, RecordingGrant } from '../adapter.js';
import { pbxAgents } from '../address-guard.js';
import type { PbxAdapterContext } from '../brand.js';
import { DEFAULT_TIMINGS } from './adapter.js';
import { asRecording, logRefusedDownload } from './recording-file.js';
import { streamWithToken } from './rest.js';
import { createHttpTransport, DEFAULT_USER_AGENT } from './transport.js';

/**
 * A recording fetched by an instance that does not hold the portal's PBX login, with what the owner granted
 * (RecordingGrant: the recording's download path and the owner's current access token). No login and no token of
 * its own (Yeastar allows 8 per PBX), no other request than this one GET: the same transport as the link's (the
 * SSRF-guarded agents of the address policy; pbxUrl keeps the path on the PBX's configured origin, so a path the PBX
 * handed over cannot send the token elsewhere), the same audio-only check. An expired token is thrown as
 * PBX_TOKEN_EXPIRED for the caller to ask the owner for a fresh grant.
 */
export async function downloadGrantedRecording(
  portal: string, settings: PbxConnectionSettings, grant: RecordingGrant, context: PbxAdapterContext,
): Promise<RecordingDownload> {
  const log = context.log.child({ portal, pbx: 'yeastar' });
  const transport = createHttpTransport({
    baseUrl: settings.baseUrl, userAgent: DEFAULT_USER_AGENT, timeoutMs: DEFAULT_TIMINGS.requestTimeoutMs, agents: pbxAgents(context.addressPolicy),
  });
  try {
    return asRecording(await streamWithToken(transport, grant.path, grant.token, 'downloading the recording'), grant.filename, log, grant.filename);
  } catch (err) {
    logRefusedDownload(err, log, grant.filename);
    throw err;
  }
}
