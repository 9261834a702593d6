import { AppError } from '../errors.js';
import type { PortalFileName } from './layout.js';

/**
 * Fenced portals: one portal's unreadable file must not stop the server for every other portal (issue 10 point 4).
 * A portal whose file (or a sealed value in it) cannot be read is fenced off instead: its data in that file is not
 * served, nothing is written over the unreadable file, and its live work (PBX link, outbox) does not run, while
 * every other portal is served as usual. The fence says in plain words what is wrong and who can fix it.
 *
 * Who repairs what:
 * - `repair`: a portal admin, with POST /api/repair: the unreadable file is moved aside (`<file>.corrupt-<time>`)
 *   and the portal starts that document afresh (store `repairPortal`).
 * - `reinstall`: a sealed token in the portal's record (portals.json) cannot be opened; installing the app again
 *   gives new tokens, and the fence lifts when they are stored (store/portals.ts).
 * - `operator`: a server-wide file (the webhook key) is missing or damaged; only the operator can restore it.
 */
export type FencedFile = PortalFileName | 'portals.json' | 'webhook.key';

export type FenceRepair = 'repair' | 'reinstall' | 'operator';

export interface Fence {
  file: FencedFile;
  /** Plain words: what is wrong with the file (never a secret, never an absolute path). */
  reason: string;
  repair: FenceRepair;
  since: number;
}

export interface PortalFences {
  list(memberId: string): Fence[];
  /** Every fenced portal (GET /metrics, logs). */
  portals(): string[];
  isFenced(memberId: string): boolean;
  has(memberId: string, file: FencedFile): boolean;
  add(memberId: string, fence: Omit<Fence, 'since'>): void;
  lift(memberId: string, file: FencedFile): void;
  /** A fenced portal's write to a fenced file is refused with this error. */
  refuse(memberId: string, file: FencedFile): AppError;
}

export function createPortalFences(now: () => number = Date.now): PortalFences {
  const fences = new Map<string, Map<FencedFile, Fence>>();
  return {
    list: (memberId) => [...(fences.get(memberId)?.values() ?? [])].map((f) => ({ ...f })),
    portals: () => [...fences.keys()],
    isFenced: (memberId) => (fences.get(memberId)?.size ?? 0) > 0,
    has: (memberId, file) => fences.get(memberId)?.has(file) ?? false,
    add(memberId, fence) {
      let files = fences.get(memberId);
      if (!files) fences.set(memberId, (files = new Map()));
      files.set(fence.file, { ...fence, since: files.get(fence.file)?.since ?? now() });
    },
    lift(memberId, file) {
      const files = fences.get(memberId);
      files?.delete(file);
      if (files?.size === 0) fences.delete(memberId);
    },
    refuse: (memberId, file) => new AppError('PORTAL_FENCED',
      `${file} of this portal cannot be read, so nothing is written to it: ${fenceAdvice(fences.get(memberId)?.get(file))}`, 409,
      { file }),
  };
}

/** What to do about a fence, in the words the status page and the error answers show. */
export function fenceAdvice(fence: Fence | undefined): string {
  if (!fence) return 'ask the operator to look at the server log.';
  switch (fence.repair) {
    case 'repair':
      return `${fence.file} is unreadable (${fence.reason}). A portal admin can start it afresh with POST /api/repair ` +
        `(the unreadable file is kept as ${fence.file}.corrupt-<time> for the operator), or the operator restores it from a backup.`;
    case 'reinstall':
      return `the portal's stored Bitrix24 tokens cannot be opened (${fence.reason}). Install the app again on this portal ` +
        'to give the server new tokens; call logging resumes when the install finishes.';
    case 'operator':
      return `${fence.reason} The server operator must restore it from a backup and restart the server.`;
  }
}

/** The one-paragraph text for GET /api/status. */
export function fenceNotice(fences: Fence[]): string | null {
  if (fences.length === 0) return null;
  return 'This portal is fenced off: call logging and the PBX link are paused because some of its stored data cannot be read. ' +
    fences.map((f) => fenceAdvice(f)).join(' ');
}
