import { handTelephonyToOwner } from './telephony-handover.js';
import type { TelephonyEventHandlers } from '../calls/types.js';
import type { Logger } from '../log.js';
import type { PbxAdapter, PbxLinkStatus } from '../pbx/adapter.js';
import { remoteLinkStatus, remotePbxAdapter, serveRemotePbx } from './remote-pbx.js';
import type { PbxSupervisor } from '../pbx/supervisor.js';
import type { Store } from '../store/types.js';
import type { Ownership } from './ownership.js';
import { createPortalWork } from './portal-work.js';
import { handWebhookPushesToOwner } from './webhook-handover.js';
import { handContactResyncToOwner, type ContactResync, type ContactResyncAnywhere } from './contact-sync-handover.js';
import { downloadThroughOwnersGrant, serveRecordingGrants } from './recording-handover.js';

/**
 * What the product's parts look like from an instance that may not own a portal (several instances on PostgreSQL,
 * issue 14): Bitrix24's click-to-call events, the /api's PBX requests and the link's status go to the portal's owner
 * (cluster/portal-work.ts), and settings saved through another instance reach the owner's link. Without PostgreSQL
 * every portal is this instance's and all of it is the parts themselves.
 *
 * The owner is `ownership.owns()` (the lease, cluster/ownership.ts); parts wired by hand without one (tests) take the
 * instance holding the portal's PBX link.
 */
export interface ClusterHandover {
  owns(memberId: string): boolean;
  telephonyEvents: TelephonyEventHandlers;
  /** The PBX as the /api sees it: the link here, or requests handed to the owner's link. */
  apiAdapterFor(memberId: string): PbxAdapter | undefined;
  linkStatus(memberId: string): PbxLinkStatus;
  /** An admin saved settings here: the link follows them if it is this instance's to run. */
  settingsChanged(memberId: string): Promise<void>;
  /** A checked PBX webhook push for a portal another instance owns, handed to it (cluster/webhook-handover.ts). */
  handPushToOwner(memberId: string, event: unknown): Promise<void>;
  /** Contact sync's re-sync, run on the owner and asked of it (cluster/contact-sync-handover.ts). */
  contactResync: ContactResyncAnywhere;
  stop(): Promise<void>;
}

export function createClusterHandover(deps: {
  store: Store;
  log: Logger;
  ownership?: Ownership;
  supervisor: Pick<PbxSupervisor, 'adapter' | 'status' | 'reconcile' | 'acceptPushedEvent' | 'downloadGrantedRecording'>;
  telephony: TelephonyEventHandlers;
  /** Contact sync's re-sync as it runs on the owner. */
  contactResync: ContactResync;
}): ClusterHandover {
  const { store, log, ownership, supervisor } = deps;
  const { database } = store;
  const owns = (memberId: string): boolean => (ownership ? ownership.owns(memberId) : !database || supervisor.adapter(memberId) !== undefined);
  const work = createPortalWork({
    log,
    ...(database ? { database: { pool: database.pool, notifier: database.notifier, instanceId: database.instanceId } } : {}),
    owns,
    epoch: (memberId) => ownership?.epoch(memberId),
  });
  ownership?.onGained(() => work.sweep().catch(() => undefined));
  // Settings saved (or the app re-installed, or removed) through another instance: the owner's link follows them.
  // Only the owner: another instance reconciling would open a second link to the PBX.
  database?.onRemoteChange((change) => {
    if ((change.kind === 'settings' || change.kind === 'portal') && owns(change.memberId)) {
      supervisor.reconcile(change.memberId).catch((err: unknown) => log.warn({ err, portal: change.memberId }, 'could not apply another instance\'s change to the PBX link'));
    }
  });
  serveRemotePbx(work, (memberId) => supervisor.adapter(memberId), (memberId) => supervisor.status(memberId));
  const ownersStatus = remoteLinkStatus(work);
  // Recordings: the owner grants, the requester downloads itself (the why: cluster/recording-handover.ts).
  const recordingLog = log.child({ part: 'recording-handover' });
  if (database) serveRecordingGrants(work, (memberId) => supervisor.adapter(memberId), database.secrets, recordingLog);
  const downloadRecording = database
    ? downloadThroughOwnersGrant(work, database.secrets, recordingLog, (memberId, ref, grant) => supervisor.downloadGrantedRecording(memberId, ref, grant))
    : undefined;
  const handPushToOwner = handWebhookPushesToOwner(work, (memberId, event) => supervisor.acceptPushedEvent(memberId, event), log.child({ part: 'webhook-handover' }));
  /** Whether the portal's PBX is meant to be linked: only then is there an owner's link to ask. */
  const pbxOn = (memberId: string): boolean => {
    const settings = store.settings.get(memberId);
    return settings.enabled && settings.pbx !== null;
  };

  return {
    owns,
    telephonyEvents: handTelephonyToOwner(deps.telephony, work),
    apiAdapterFor(memberId) {
      const here = supervisor.adapter(memberId);
      if (here || !database || owns(memberId)) return here;
      return pbxOn(memberId) ? remotePbxAdapter(memberId, work, downloadRecording) : undefined;
    },
    linkStatus(memberId) {
      if (!database || owns(memberId) || !pbxOn(memberId)) return supervisor.status(memberId);
      return ownersStatus(memberId);
    },
    // With leases only the owner opens or closes the link; the others' saves reach it through store_changed.
    settingsChanged: (memberId) => (!ownership || ownership.owns(memberId) ? supervisor.reconcile(memberId) : Promise.resolve()),
    handPushToOwner,
    contactResync: handContactResyncToOwner(deps.contactResync, work),
    stop: () => work.stop(),
  };
}
