import * as fsp from 'node:fs/promises';

/**
 * The few file operations the store needs, behind an interface so tests can inject a failing disk
 * (ENOSPC halfway through a write) and prove the old file survives.
 */
export interface WritableHandle {
  write(buffer: Uint8Array): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface StoreFs {
  open(path: string, flags: 'a' | 'w'): Promise<WritableHandle>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  size(path: string): Promise<number>;
  /** fsync a directory, so a rename in it survives a power cut. */
  syncDir(path: string): Promise<void>;
}

export const nodeFs: StoreFs = {
  open: (path, flags) => fsp.open(path, flags, 0o600),
  readFile: (path) => fsp.readFile(path),
  rename: (from, to) => fsp.rename(from, to),
  link: (existing, newPath) => fsp.link(existing, newPath),
  unlink: (path) => fsp.unlink(path),
  mkdir: async (path) => {
    await fsp.mkdir(path, { recursive: true, mode: 0o700 });
  },
  rm: (path) => fsp.rm(path, { recursive: true, force: true }),
  readdir: (path) => fsp.readdir(path),
  size: async (path) => (await fsp.stat(path)).size,
  syncDir: async (path) => {
    const dir = await fsp.open(path, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  },
};

export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

export const isMissing = (err: unknown): boolean => errorCode(err) === 'ENOENT';

/** Writes all of `buffer`: a regular file may accept a write in parts. */
export async function writeAll(handle: WritableHandle, buffer: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await handle.write(buffer.subarray(offset));
    if (bytesWritten <= 0) throw Object.assign(new Error('the disk accepted no bytes'), { code: 'EIO' });
    offset += bytesWritten;
  }
}
