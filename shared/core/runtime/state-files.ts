/**
 * The state-file service every integration gets as `ctx.state`: one on-disk format and one way
 * to write it. A write is atomic and durable (temp file beside it, fsync, rename, fsync of the
 * directory), so a crash leaves the old or the new version, never an empty file (pygtail#56).
 * A read goes through readRegularFile (a FIFO or directory planted at the path is refused without
 * blocking, and so is a file over MAX_STATE_BYTES): an error is never read as "no state".
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { readRegularFile, readRegularFileSync } from '../fs/regular-file.js';
import type { StateFiles, StateRead } from '../integration.js';

/** State files are positions and names, never data: a bigger one is not ours. */
export const MAX_STATE_BYTES = 64 << 20;

/**
 * The envelope: which integration and instance wrote it, and its own versioned document. No
 * timestamp: the same state always makes the same file (the file's mtime says when).
 */
interface Envelope {
  telltale_state: 1;
  type: string;
  instance: string;
  data: unknown;
}

function isEnvelope(v: unknown): v is Envelope {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as Record<string, unknown>)['telltale_state'] === 1 && 'data' in v;
}

function decode(text: string): StateRead {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { kind: 'corrupt', reason: `not JSON (${(e as Error).message})` };
  }
  if (typeof doc === 'object' && doc !== null && 'telltale_state' in doc && !isEnvelope(doc)) {
    return { kind: 'corrupt', reason: `unknown state format ${JSON.stringify((doc as Record<string, unknown>)['telltale_state'])}` };
  }
  // A bare document is what integrations wrote before the envelope: hand it over as it is.
  return isEnvelope(doc) ? { kind: 'ok', data: doc.data, legacy: false } : { kind: 'ok', data: doc, legacy: true };
}

/** ENOENT is "no state yet"; anything else (not a regular file, too big, EACCES) is unusable. */
function readError(e: unknown): StateRead {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
  return { kind: 'corrupt', reason: (e as Error).message };
}

export function createStateFiles(stateDir: string, owner: { type: string; instance: string }): StateFiles {
  const pathOf = (name: string): string => (isAbsolute(name) ? name : join(stateDir, name));
  const encode = (data: unknown): string =>
    JSON.stringify({ telltale_state: 1, type: owner.type, instance: owner.instance, data } satisfies Envelope, null, 1) + '\n';
  /** Async writes to one file are chained: two never share the temp file. */
  const writing = new Map<string, Promise<void>>();

  const fsyncDirSync = (dir: string): void => {
    try {
      const dfd = openSync(dir, 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch {
      /* some filesystems refuse fsync on a directory; the rename is still atomic */
    }
  };

  return {
    path: pathOf,

    readSync(name) {
      try {
        return decode(readRegularFileSync(pathOf(name), MAX_STATE_BYTES).data.toString('utf8'));
      } catch (e) {
        return readError(e);
      }
    },

    async read(name) {
      try {
        return decode((await readRegularFile(pathOf(name), MAX_STATE_BYTES)).data.toString('utf8'));
      } catch (e) {
        return readError(e);
      }
    },

    writeSync(name, data) {
      const path = pathOf(name);
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.tmp-${process.pid}`;
      const fd = openSync(tmp, 'w', 0o644);
      try {
        writeSync(fd, encode(data));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      fsyncDirSync(dirname(path));
    },

    write(name, data) {
      const path = pathOf(name);
      const text = encode(data);
      const next = (writing.get(path) ?? Promise.resolve()).catch(() => undefined).then(async () => {
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.tmp-${process.pid}`;
        const fh = await open(tmp, 'w', 0o644);
        try {
          await fh.writeFile(text);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
        try {
          const dh = await open(dirname(path), 'r');
          try {
            await dh.sync();
          } finally {
            await dh.close();
          }
        } catch {
          /* as in writeSync */
        }
      });
      writing.set(path, next);
      void next.finally(() => {
        if (writing.get(path) === next) writing.delete(path);
      }).catch(() => undefined);
      return next;
    },
  };
}
