/**
 * The words of a call that several parts share: the PBX adapter reports them, the call state machine decides with
 * them, the store keeps them. They live here, below all three, so the store does not import the PBX's interface
 * (store/ sits under pbx/ and calls/, never beside them). pbx/adapter.ts re-exports them as part of its contract.
 */

export type CallDirection = 'inbound' | 'outbound' | 'internal';

export type CallResult = 'answered' | 'missed' | 'busy' | 'failed' | 'voicemail';

export interface CallRecordingRef {
  /** Opaque to everyone but the adapter that made it (for Yeastar: the recording file name). */
  ref: string;
  filename: string;
}
