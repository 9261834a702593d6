/**
 * Tasks one after another per key, keys side by side: the one ordering mechanism of the server (issue 15 point 3).
 *
 * Used wherever a read-modify-write must see every earlier write of the same thing finished: a call's record
 * (calls/service.ts), a CRM record's phonebook entry (contacts/sync.ts), a portal's settings and bindings
 * (contacts/api-support.ts), a number's missed-call task (calls/missed-call-tasks.ts), a portal's PBX link
 * (pbx/link-lifecycle.ts), the portals document (store/portals.ts), every store document's writes
 * (store/document.ts) and the PBX coverage marks file (pbx/link-state.ts).
 *
 * A task that fails (throws or rejects) fails only its own caller: the next task of the key still runs. A key is
 * forgotten as soon as its last task has settled, so the map holds only keys with work queued or running — a
 * server that sees millions of calls keeps no entry per call.
 */
export interface KeyedSerial {
  /** Runs `task` once every task queued earlier on `key` has settled; settles as `task` does. */
  run<T>(key: string, task: () => T | Promise<T>): Promise<T>;
  /** Resolves once no task is queued or running on any key, including tasks queued while waiting. */
  idle(): Promise<void>;
  /** How many keys have a task queued or running. */
  keys(): number;
}

export function createKeyedSerial(): KeyedSerial {
  /** Per key: settles (never rejects) when the last task queued on the key has settled. */
  const tails = new Map<string, Promise<void>>();
  return {
    run<T>(key: string, task: () => T | Promise<T>): Promise<T> {
      const result = (tails.get(key) ?? Promise.resolve()).then(task);
      const settled = (): void => {
        if (tails.get(key) === tail) tails.delete(key);
      };
      const tail: Promise<void> = result.then(settled, settled);
      tails.set(key, tail);
      return result;
    },
    async idle() {
      while (tails.size > 0) await Promise.all([...tails.values()]);
    },
    keys: () => tails.size,
  };
}
