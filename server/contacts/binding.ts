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
  /** Only what applying would change, for the preview: a kept pair is not news to the admin. */
  changes: BindingMove[];
}

/** One user's extension before and after (null: none). */
export interface BindingMove {
  userId: number;
  from: string | null;
  to: string | null;
  reason: 'email' | 'inner' | 'manual' | null;
}

/** The users whose extension differs between two binding lists, in user id order. */
export function bindingChanges(before: Binding[], after: Binding[]): BindingMove[] {
  const was = new Map(before.map((b) => [b.userId, b]));
  const now = new Map(after.map((b) => [b.userId, b]));
  const userIds = [...new Set([...was.keys(), ...now.keys()])].sort((a, b) => a - b);
  return userIds.flatMap((userId) => {
    const from = was.get(userId)?.extension ?? null;
    const to = now.get(userId);
    return from === (to?.extension ?? null) ? [] : [{ userId, from, to: to?.extension ?? null, reason: to?.source ?? null }];
  });
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
function manualConflict(pair: AutoBindPair, manual: Binding[], nameOf: (userId: number) => string): BindingConflict | undefined {
  const byUser = manual.find((b) => b.userId === pair.userId);
  if (byUser) {
    return byUser.extension === pair.extension
      ? undefined
      : { userId: pair.userId, extension: pair.extension, reason: `${nameOf(pair.userId)} is bound manually to extension ${byUser.extension}` };
  }
  const byExtension = manual.find((b) => b.extension === pair.extension);
  if (byExtension) return { userId: pair.userId, extension: pair.extension, reason: `extension ${pair.extension} is bound manually to ${nameOf(byExtension.userId)}` };
  return undefined;
}

/**
 * Recomputes the automatic bindings from the current users and extensions: e-mail pairs first, then inner-number
 * pairs for what is left. Manual bindings stay as they are and their user and extension are off-limits.
 */
export function planAutoBind(users: CrmUser[], extensions: PbxExtension[], current: Binding[]): AutoBindPlan {
  const manual = current.filter((b) => b.source === 'manual');
  const names = new Map(users.map((u) => [u.id, u.name]));
  const nameOf = (userId: number): string => names.get(userId) ?? `Bitrix24 user #${userId}`;
  const conflicts: BindingConflict[] = [];
  const pairs: AutoBindPair[] = [];
  const userTaken = new Set<number>(manual.map((b) => b.userId));
  const extensionTaken = new Set<string>(manual.map((b) => b.extension));

  const take = (pair: AutoBindPair): void => {
    const clash = manualConflict(pair, manual, nameOf);
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
      const ids = sameUsers.map((u) => u.name).join(', ');
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
      const ids = claimants.map((u) => u.name).join(', ');
      for (const u of claimants) conflicts.push({ userId: u.id, extension: number, reason: `extension ${number} is the inner number of ${ids}` });
      continue;
    }
    const [user] = claimants;
    if (user) take({ userId: user.id, extension: number, reason: 'inner' });
  }
  // An inner number pointing at a manually bound extension is worth telling the admin about.
  for (const user of users) {
    if (userTaken.has(user.id)) continue;
    const ext = byNumber.get(innerKey(user.innerPhone));
    const clash = ext ? manualConflict({ userId: user.id, extension: ext.number, reason: 'inner' }, manual, nameOf) : undefined;
    if (clash) conflicts.push(clash);
  }

  const bindings: Binding[] = [...manual, ...pairs.map((p) => ({ userId: p.userId, extension: p.extension, source: p.reason }))];
  return { pairs, conflicts, bindings, changes: bindingChanges(current, bindings) };
}

export interface BindingChange {
  userId: number;
  /** null unbinds the user. */
  extension: string | null;
}

export interface ManualBindPlan {
  /** The bindings to save: the changes applied when there is no conflict, else the current ones unchanged. */
  bindings: Binding[];
  conflicts: BindingConflict[];
  /** False when a conflict refused the whole request. */
  applied: boolean;
}

/**
 * Applies manual changes as one whole: the final state is checked, not each change in order, so two users may swap
 * extensions in one request (1001 ↔ 1002) without an unbind first. Any conflict — an unknown user or extension, or
 * an extension that ends up with two users — refuses the whole request and keeps the current bindings: half a
 * swap would ring the wrong person. Conflicts name the people (`names`: Bitrix24 user id → display name).
 */
export function planManualBind(
  current: Binding[],
  changes: BindingChange[],
  known: { names: ReadonlyMap<number, string>; extensions: Set<string> | null },
): ManualBindPlan {
  const nameOf = (userId: number): string => known.names.get(userId) ?? `Bitrix24 user #${userId}`;
  const conflicts: BindingConflict[] = [];
  const next = new Map<number, Binding>(current.map((b) => [b.userId, b]));
  const changed = new Set<number>();
  for (const change of changes) {
    changed.add(change.userId);
    if (change.extension === null) {
      next.delete(change.userId);
      continue;
    }
    const extension = change.extension.trim();
    if (!known.names.has(change.userId)) {
      conflicts.push({ userId: change.userId, extension, reason: `${nameOf(change.userId)} is not an active Bitrix24 user` });
      continue;
    }
    if (known.extensions && !known.extensions.has(extension)) {
      conflicts.push({ userId: change.userId, extension, reason: `extension ${extension} does not exist on the PBX` });
      continue;
    }
    next.set(change.userId, { userId: change.userId, extension, source: 'manual' });
  }
  const holders = new Map<string, number[]>();
  for (const binding of next.values()) holders.set(binding.extension, [...(holders.get(binding.extension) ?? []), binding.userId]);
  for (const [extension, userIds] of holders) {
    if (userIds.length < 2) continue;
    for (const userId of userIds.filter((id) => changed.has(id))) {
      const others = userIds.filter((id) => id !== userId).map(nameOf).join(', ');
      conflicts.push({ userId, extension, reason: `extension ${extension} would also ring ${others}: give one of them another extension` });
    }
  }
  if (conflicts.length > 0) return { bindings: current, conflicts, applied: false };
  return { bindings: [...next.values()], conflicts, applied: true };
}
