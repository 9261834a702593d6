/** Faults injected through the control API: per portal or for all ('*'), optionally time-limited. */
import type { Fault, FaultKind } from './control-types.js';
import type { EmulatorState, Portal } from './state.js';

export function setFault(state: EmulatorState, portal: Portal | null, fault: Fault | null): void {
  const until = fault?.forMs !== undefined ? Date.now() + fault.forMs : null;
  if (portal) {
    portal.fault = fault;
    portal.faultUntil = until;
  } else {
    state.globalFault = fault;
    state.globalFaultUntil = until;
  }
}

export function activeFault(state: EmulatorState, portal: Portal | null): FaultKind | null {
  const now = Date.now();
  if (portal?.fault) {
    if (portal.faultUntil === null || portal.faultUntil > now) return portal.fault.kind;
    portal.fault = null;
    portal.faultUntil = null;
  }
  if (state.globalFault) {
    if (state.globalFaultUntil === null || state.globalFaultUntil > now) return state.globalFault.kind;
    state.globalFault = null;
    state.globalFaultUntil = null;
  }
  return null;
}

/** The Location of an active redirect fault (call after activeFault said 'redirect' or 'oauth_redirect'). */
export function faultLocation(state: EmulatorState, portal: Portal | null): string {
  return portal?.fault?.location ?? state.globalFault?.location ?? 'http://127.0.0.1:9/';
}

/** The delay of an active `slow` fault (call after activeFault said 'slow'). */
export function faultDelayMs(state: EmulatorState, portal: Portal | null): number {
  return portal?.fault?.delayMs ?? state.globalFault?.delayMs ?? 2_000;
}
