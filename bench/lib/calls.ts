import type { YeastarEmulator, ScenarioName, ScenarioOptions } from '../../test/emulators/yeastar/harness.js';

/** Outside numbers: the first `known` are seeded as CRM contacts on every portal. */
export const outsideNumber = (i: number): string => `+1555${String(2_000_000 + i).padStart(7, '0')}`;

export const KNOWN_NUMBERS = 120;
export const knownNumbers = (): string[] => Array.from({ length: KNOWN_NUMBERS }, (_, i) => outsideNumber(i));
/** Numbers no portal knows (auto-create). */
export const unknownNumber = (i: number): string => outsideNumber(500_000 + i);

export async function startCall(pbx: YeastarEmulator, name: ScenarioName, opts: ScenarioOptions): Promise<string> {
  return (await pbx.scenario(name, opts)).callId;
}
