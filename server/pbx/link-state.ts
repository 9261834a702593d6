import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * The supervisor's own small, durable memory, in one JSON file under DATA_DIR (the Store has no place for it):
 * - per portal, the time up to which the PBX link is known to have heard everything (`coveredUntil`), so that
 *   after a restart or an outage the calls that ended meanwhile are read back from the PBX's call history;
 * - the server-side key that derives each portal's unguessable webhook path.
 * Written atomically (temp file + rename), debounced; `flush()` writes at once.
 */

const fileSchema = z.object({
  version: z.literal(1),
  webhookKeySecret: z.string().min(32),
  portals: z.record(z.string(), z.object({ coveredUntil: z.number() })),
});

type LinkStateData = z.infer<typeof fileSchema>;

export interface LinkStateFile {
  load(): Promise<void>;
  coveredUntil(memberId: string): number | undefined;
  setCoveredUntil(memberId: string, at: number): void;
  forget(memberId: string): void;
  webhookKeySecret(): string;
  flush(): Promise<void>;
}

export function createLinkStateFile(path: string, opts: { debounceMs?: number } = {}): LinkStateFile {
  const debounceMs = opts.debounceMs ?? 1_000;
  let data: LinkStateData = { version: 1, webhookKeySecret: randomBytes(32).toString('base64url'), portals: {} };
  let dirty = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> = Promise.resolve();

  async function write(): Promise<void> {
    if (!dirty) return;
    dirty = false;
    const text = JSON.stringify(data, null, 2);
    const tmp = `${path}.${process.pid}.tmp`;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, path);
  }

  function schedule(): void {
    dirty = true;
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      writing = writing.then(write).catch(() => {
        dirty = true;
      });
    }, debounceMs);
    timer.unref?.();
  }

  return {
    async load() {
      let text: string | undefined;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        text = undefined;
      }
      let json: unknown;
      try {
        json = text === undefined ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      // A missing or damaged file starts afresh: the worst case is one recovery window not looked at.
      const parsed = json === undefined ? undefined : fileSchema.safeParse(json);
      if (parsed?.success) {
        data = parsed.data;
      } else {
        dirty = true;
        await write();
      }
    },
    coveredUntil: (memberId) => data.portals[memberId]?.coveredUntil,
    setCoveredUntil(memberId, at) {
      const prev = data.portals[memberId]?.coveredUntil ?? 0;
      if (at <= prev) return;
      data.portals[memberId] = { coveredUntil: at };
      schedule();
    },
    forget(memberId) {
      if (!(memberId in data.portals)) return;
      delete data.portals[memberId];
      schedule();
    },
    webhookKeySecret: () => data.webhookKeySecret,
    async flush() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const run = writing.then(write);
      // A failed write must not poison the chain: later writes still run (and this one is retried by them).
      writing = run.catch(() => {
        dirty = true;
      });
      await run;
    },
  };
}
