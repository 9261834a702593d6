import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { createDebouncedWrite } from '../debounced-write.js';
import { createKeyedSerial } from '../keyed-serial.js';
import type { Logger } from '../log.js';
import { replaceFile } from '../store/document.js';
import { nodeFs } from '../store/fs.js';
import type { LinkMarksStore } from '../store/types.js';

/**
 * The supervisor's own small, durable memory, in one JSON file under DATA_DIR (the Store has no place for it):
 * per portal, the time up to which the PBX link is known to have heard everything (`coveredUntil`), so that after
 * a restart or an outage the calls that ended meanwhile are read back from the PBX's call history.
 * Written like the store's documents (temp file, fdatasync, the previous version kept as `.bak`, rename), debounced;
 * `flush()` writes at once.
 *
 * A damaged file never stops the server: the `.bak` is read instead, else the marks start empty with a warning
 * (`marksLost()`), and the link then recovers a bounded default window (pbx/gap-recovery.ts `lostMarkFallback`).
 *
 * The webhook key used to live here too (`webhookKeySecret`); it now has its own file (store/webhook-key.ts).
 * A key still found here is handed over by `legacyWebhookKey()` and kept in this file until `dropLegacyWebhookKey()`
 * (called once the key file is durable), so a failed migration never loses it.
 */

const fileSchema = z.object({
  version: z.union([z.literal(1), z.literal(2)]),
  webhookKeySecret: z.string().min(32).optional(),
  portals: z.record(z.string(), z.object({ coveredUntil: z.number() })),
});

type LinkStateData = z.infer<typeof fileSchema>;

/** The file version of the coverage marks offers what a store that keeps them itself does (store/types.ts). */
export type LinkStateFile = LinkMarksStore;

export function createLinkStateFile(path: string, opts: { debounceMs?: number; log?: Logger } = {}): LinkStateFile {
  const debounceMs = opts.debounceMs ?? 1_000;
  let data: LinkStateData = { version: 2, portals: {} };
  let lost = false;
  /** False while the file on disk is damaged: it must not become the .bak of the next write. */
  let primaryGood = true;
  let dirty = false;
  /** One write of the file at a time. */
  const writes = createKeyedSerial();

  async function write(): Promise<void> {
    if (!dirty) return;
    dirty = false;
    await replaceFile(nodeFs, path, JSON.stringify(data, null, 2), primaryGood);
    primaryGood = true;
  }

  /** A failed write leaves the marks dirty: the next write (scheduled or flushed) writes them again. */
  function writeInTurn(): Promise<void> {
    return writes.run(path, write).catch((err: unknown) => {
      dirty = true;
      throw err;
    });
  }

  const debounced = createDebouncedWrite(debounceMs, () => writeInTurn().catch(() => undefined));

  function schedule(): void {
    dirty = true;
    debounced.request();
  }

  async function read(file: string): Promise<{ ok: true; data: LinkStateData } | { ok: false; missing: boolean }> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const missing = typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT';
      return { ok: false, missing };
    }
    try {
      const parsed = fileSchema.safeParse(JSON.parse(text));
      return parsed.success ? { ok: true, data: parsed.data } : { ok: false, missing: false };
    } catch {
      return { ok: false, missing: false };
    }
  }

  return {
    async load() {
      const primary = await read(path);
      if (primary.ok) {
        data = primary.data;
        return;
      }
      primaryGood = primary.missing;
      const backup = await read(`${path}.bak`);
      if (backup.ok) {
        opts.log?.warn({ file: path }, `${path} is ${primary.missing ? 'missing' : 'damaged'}; using its previous version ${path}.bak`);
        data = backup.data;
        // Rewritten from the copy at the next change; the damaged file must not become the next .bak.
        dirty = true;
        await write().catch(() => undefined);
        return;
      }
      if (primary.missing && backup.missing) return;
      lost = true;
      opts.log?.warn({ file: path },
        `${path} and its .bak are damaged: the PBX links' coverage marks are lost. The server starts anyway; each link recovers a ` +
        'bounded default window of call history (since the newest call stored for the portal, at most 24 hours back)');
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
    marksLost: () => lost,
    legacyWebhookKey: () => data.webhookKeySecret,
    dropLegacyWebhookKey() {
      if (data.webhookKeySecret === undefined) return;
      data = { version: 2, portals: data.portals };
      schedule();
    },
    async flush() {
      debounced.cancel();
      await writeInTurn();
    },
  };
}
