/**
 * Users ↔ extensions. A binding says which Bitrix24 user sits at which PBX extension: one extension per user and
 * one user per extension. Auto-bind proposes pairs with the same e-mail (trimmed, case-insensitive) or whose
 * Bitrix24 UF_PHONE_INNER is the extension number; it never overrides a manual binding and never guesses when a
 * match is ambiguous — those cases come back as conflicts for a person to decide.
 */
import type { PbxExtension } from '../pbx/adapter.js';
import type { Binding } from '../store/records.js';
import type { CrmUser } from './bitrix-crm.js';

export interface BindingConflict {
  userId: number;
  extension: string;
  reason: string;
}

export interface AutoBindPair {
  userId: number;
  extension: string;
  reason: 'email' | 'inner';
}

export interface AutoBindPlan {
  /** Pairs auto-bind makes (new or kept). */
  pairs: AutoBindPair[];
  conflicts: BindingConflict[];
  /** The full binding list to save: manual bindings kept, auto ones recomputed. */
  bindings: Binding[];
}

function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

function innerKey(inner: string): string {
  return inner.trim();
}

/**
 * Recomputes the automatic bindings from the current users and extensions. Manual bindings stay as they are and
 * their user and extension are off-limits; an extension matched by two users, or a user matching two extensions,
 * is a conflict and bound to nobody.
 */
export function planAutoBind(users: CrmUser[], extensions: PbxExtension[], current: Binding[]): AutoBindPlan {
  const manual = current.filter((b) => b.source === 'manual');
  const manualByUser = new Map(manual.map((b) => [b.userId, b.extension]));
  const manualByExtension = new Map(manual.map((b) => [b.extension, b.userId]));
  const conflicts: BindingConflict[] = [];

  // Every (user, extension) match, one reason each (e-mail wins when both say the same pair).
  const matches = new Map<string, AutoBindPair>();
  const byEmail = new Map<string, PbxExtension[]>();
  for (const ext of extensions) {
    const key = emailKey(ext.email);
    if (!key) continue;
    byEmail.set(key, [...(byEmail.get(key) ?? []), ext]);
  }
  const byNumber = new Map(extensions.map((ext) => [innerKey(ext.number), ext]));
  for (const user of users) {
    for (const ext of byEmail.get(emailKey(user.email)) ?? []) {
      if (emailKey(user.email)) matches.set(`${user.id}\u0000${ext.number}`, { userId: user.id, extension: ext.number, reason: 'email' });
    }
    const inner = innerKey(user.innerPhone);
    const ext = inner ? byNumber.get(inner) : undefined;
    if (ext && !matches.has(`${user.id}\u0000${ext.number}`)) {
      matches.set(`${user.id}\u0000${ext.number}`, { userId: user.id, extension: ext.number, reason: 'inner' });
    }
  }

  const candidates: AutoBindPair[] = [];
  for (const pair of matches.values()) {
    const manualExt = manualByUser.get(pair.userId);
    if (manualExt !== undefined) {
      if (manualExt !== pair.extension) {
        conflicts.push({ ...pair, reason: `user ${pair.userId} is bound manually to extension ${manualExt}` });
      }
      continue;
    }
    const manualUser = manualByExtension.get(pair.extension);
    if (manualUser !== undefined) {
      conflicts.push({ ...pair, reason: `extension ${pair.extension} is bound manually to user ${manualUser}` });
      continue;
    }
    candidates.push(pair);
  }

  const perUser = new Map<number, AutoBindPair[]>();
  const perExtension = new Map<string, AutoBindPair[]>();
  for (const pair of candidates) {
    perUser.set(pair.userId, [...(perUser.get(pair.userId) ?? []), pair]);
    perExtension.set(pair.extension, [...(perExtension.get(pair.extension) ?? []), pair]);
  }
  const pairs: AutoBindPair[] = [];
  for (const pair of candidates) {
    const sameUser = perUser.get(pair.userId) ?? [];
    const sameExtension = perExtension.get(pair.extension) ?? [];
    if (sameUser.length > 1) {
      const others = sameUser.filter((p) => p !== pair).map((p) => p.extension).join(', ');
      conflicts.push({ ...pair, reason: `user ${pair.userId} also matches extension ${others}` });
    } else if (sameExtension.length > 1) {
      const others = sameExtension.filter((p) => p !== pair).map((p) => p.userId).join(', ');
      conflicts.push({ ...pair, reason: `extension ${pair.extension} also matches user ${others}` });
    } else {
      pairs.push(pair);
    }
  }

  const bindings: Binding[] = [...manual, ...pairs.map((p) => ({ userId: p.userId, extension: p.extension, source: p.reason }))];
  return { pairs, conflicts, bindings };
}

export interface BindingChange {
  userId: number;
  /** null unbinds the user. */
  extension: string | null;
}

export interface ManualBindPlan {
  bindings: Binding[];
  conflicts: BindingConflict[];
}

/**
 * Applies manual changes in order. Binding a user moves them off their old extension; taking an extension that
 * another user holds is refused as a conflict (unbind that user first, possibly earlier in the same request).
 * Unknown users or extensions are refused too.
 */
export function planManualBind(
  current: Binding[],
  changes: BindingChange[],
  known: { userIds: Set<number>; extensions: Set<string> | null },
): ManualBindPlan {
  const bindings = new Map<number, Binding>(current.map((b) => [b.userId, b]));
  const conflicts: BindingConflict[] = [];
  for (const change of changes) {
    if (change.extension === null) {
      bindings.delete(change.userId);
      continue;
    }
    const extension = change.extension.trim();
    if (!known.userIds.has(change.userId)) {
      conflicts.push({ userId: change.userId, extension, reason: `user ${change.userId} is not an active Bitrix24 user` });
      continue;
    }
    if (known.extensions && !known.extensions.has(extension)) {
      conflicts.push({ userId: change.userId, extension, reason: `extension ${extension} does not exist on the PBX` });
      continue;
    }
    const holder = [...bindings.values()].find((b) => b.extension === extension && b.userId !== change.userId);
    if (holder) {
      conflicts.push({ userId: change.userId, extension, reason: `extension ${extension} is bound to user ${holder.userId}` });
      continue;
    }
    bindings.set(change.userId, { userId: change.userId, extension, source: 'manual' });
  }
  return { bindings: [...bindings.values()], conflicts };
}
