/**
 * A write that gathers the changes of `delayMs` into one: the PBX coverage marks, in the file store
 * (pbx/link-state.ts) and in PostgreSQL (store/postgres/link-marks.ts). A mark only moves forward and a lost last
 * second is read back from the PBX's call history, so waiting costs nothing and saves a write per call event.
 */
export interface DebouncedWrite {
  /** Writes once `delayMs` after the first request since the last write; later requests join that write. */
  request(): void;
  /** Forgets a waiting write (the caller writes at once instead). */
  cancel(): void;
}

/** `write` must not reject: it reports its own failure (the next request writes again). */
export function createDebouncedWrite(delayMs: number, write: () => Promise<void>): DebouncedWrite {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    request() {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        void write();
      }, delayMs);
      // A waiting write never keeps the process alive: shutdown flushes the marks itself.
      timer.unref?.();
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
