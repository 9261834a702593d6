/**
 * Users ↔ extensions. A binding says which Bitrix24 user sits at which PBX extension: one extension per user and
 * one user per extension.
 *
 * Auto-bind follows the vendor's manual (yeastar-bitrix24-manual-zh.txt, "自动绑定": a Bitrix24 account and a PBX
 * extension with the same e-mail address are bound): the e-mail (trimmed, case-insensitive) decides. Bitrix24's
 * UF_PHONE_INNER may add pairs for users and extensions the e-mail left unbound, but never vetoes an e-mail pair.
 * A true conflict — one e-mail on two extensions, or on two users — is reported and bound to nobody. Manual
 * bindings are never overridden.
 */
import type { PbxExtension } from '../pbx/adapter.js';
import type { Binding } from '../store/records.js';
import type { CrmUser } from '../bitrix/users.js';

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

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k) out.set(k, [...(out.get(k) ?? []), item]);
  }
  return out;
}

/** Manual bindings win: a match touching a manually bound user or extension is a conflict, not a pair. */
function manualConflict(pair: AutoBindPair, manual: Binding[]): BindingConflict | undefined {
  const byUser = manual.find((b) => b.userId === pair.userId);
  if (byUser) {
    return byUser.extension === pair.extension
      ? undefined
      : { userId: pair.userId, extension: pair.extension, reason: `user ${pair.userId} is bound manually to extension ${byUser.extension}` };
  }
  const byExtension = manual.find((b) => b.extension === pair.extension);
  if (byExtension) return { userId: pair.userId, extension: pair.extension, reason: `extension ${pair.extension} is bound manually to user ${byExtension.userId}` };
  return undefined;
}

/**
 * Recomputes the automatic bindings from the current users and extensions: e-mail pairs first, then inner-number
 * pairs for what is left. Manual bindings stay as they are and their user and extension are off-limits.
 */
export function planAutoBind(users: CrmUser[], extensions: PbxExtension[], current: Binding[]): AutoBindPlan {
  const manual = current.filter((b) => b.source === 'manual');
  const conflicts: BindingConflict[] = [];
  const pairs: AutoBindPair[] = [];
  const userTaken = new Set<number>(manual.map((b) => b.userId));
  const extensionTaken = new Set<string>(manual.map((b) => b.extension));

  const take = (pair: AutoBindPair): void => {
    const clash = manualConflict(pair, manual);
    if (clash) conflicts.push(clash);
    else if (!userTaken.has(pair.userId) && !extensionTaken.has(pair.extension)) pairs.push(pair);
    userTaken.add(pair.userId);
    extensionTaken.add(pair.extension);
  };

  // 1. E-mail: the manual's rule. One address on several extensions (or users) is a true conflict: nobody guesses.
  const extensionsByEmail = groupBy(extensions, (e) => emailKey(e.email));
  const usersByEmail = groupBy(users, (u) => emailKey(u.email));
  for (const [email, sameUsers] of usersByEmail) {
    const sameExtensions = extensionsByEmail.get(email) ?? [];
    if (sameExtensions.length === 0) continue;
    if (sameExtensions.length > 1 || sameUsers.length > 1) {
      const numbers = sameExtensions.map((e) => e.number).join(', ');
      const ids = sameUsers.map((u) => u.id).join(', ');
      const reason = sameExtensions.length > 1
        ? `the e-mail ${email} is on ${sameExtensions.length} extensions (${numbers}); bind one by hand`
        : `the e-mail ${email} belongs to ${sameUsers.length} users (${ids}); bind one by hand`;
      for (const u of sameUsers) for (const e of sameExtensions) conflicts.push({ userId: u.id, extension: e.number, reason });
      // Held back from the inner-number pass too: a conflict is shown and skipped, never settled behind the admin's back.
      for (const u of sameUsers) userTaken.add(u.id);
      for (const e of sameExtensions) extensionTaken.add(e.number);
      continue;
    }
    const [user] = sameUsers;
    const [extension] = sameExtensions;
    if (user && extension) take({ userId: user.id, extension: extension.number, reason: 'email' });
  }

  // 2. UF_PHONE_INNER adds pairs among what the e-mail left free; it never undoes an e-mail pair.
  const byNumber = new Map(extensions.map((e) => [innerKey(e.number), e]));
  const innerClaims = groupBy(users.filter((u) => !userTaken.has(u.id)), (u) => {
    const ext = byNumber.get(innerKey(u.innerPhone));
    return ext && !extensionTaken.has(ext.number) ? ext.number : '';
  });
  for (const [number, claimants] of innerClaims) {
    if (claimants.length > 1) {
      const ids = claimants.map((u) => u.id).join(', ');
      for (const u of claimants) conflicts.push({ userId: u.id, extension: number, reason: `extension ${number} is the inner number of users ${ids}` });
      continue;
    }
    const [user] = claimants;
    if (user) take({ userId: user.id, extension: number, reason: 'inner' });
  }
  // An inner number pointing at a manually bound extension is worth telling the admin about.
  for (const user of users) {
    if (userTaken.has(user.id)) continue;
    const ext = byNumber.get(innerKey(user.innerPhone));
    const clash = ext ? manualConflict({ userId: user.id, extension: ext.number, reason: 'inner' }, manual) : undefined;
    if (clash) conflicts.push(clash);
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
