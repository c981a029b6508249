/**
 * The read-position file. Written atomically (temp file, fsync, rename, fsync of the directory)
 * so a crash leaves either the old or the new version, never an empty file (pygtail#56).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface FileRecord {
  /** Where the file was last seen (for messages and for finding it after a rotation). */
  path: string;
  dev: number;
  ino: number;
  /** Base64 of the file's first bytes (up to 1 KiB): inode numbers get reused, contents don't. */
  fp: string;
  /** Byte offset of the first line not yet counted. */
  offset: number;
  source: string;
  /** Size when saved: a file read to its end (offset >= size) that is gone later lost nothing. Absent in older files. */
  size?: number;
  /** Already left its path (rotation counted) when saved: a restart must not count it again. */
  rotated?: boolean;
}

export interface StateDoc {
  version: 1;
  files: FileRecord[];
}

export type LoadResult = { kind: 'missing' } | { kind: 'ok'; doc: StateDoc } | { kind: 'corrupt'; reason: string };

function isRecord(v: unknown): v is FileRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r['path'] === 'string' &&
    typeof r['dev'] === 'number' &&
    typeof r['ino'] === 'number' &&
    typeof r['fp'] === 'string' &&
    typeof r['offset'] === 'number' &&
    Number.isInteger(r['offset']) &&
    (r['offset'] as number) >= 0 &&
    typeof r['source'] === 'string' &&
    (r['size'] === undefined || (typeof r['size'] === 'number' && Number.isInteger(r['size']) && r['size'] >= 0)) &&
    (r['rotated'] === undefined || typeof r['rotated'] === 'boolean')
  );
}

export function loadState(path: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: (e as Error).message };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { kind: 'corrupt', reason: `not JSON (${(e as Error).message})` };
  }
  const d = doc as Partial<StateDoc> | null;
  if (typeof d !== 'object' || d === null || d.version !== 1 || !Array.isArray(d.files)) {
    return { kind: 'corrupt', reason: 'not a version 1 state document' };
  }
  const bad = d.files.findIndex((f) => !isRecord(f));
  if (bad >= 0) return { kind: 'corrupt', reason: `files[${bad}] is malformed` };
  return { kind: 'ok', doc: { version: 1, files: d.files } };
}

export function saveState(path: string, files: FileRecord[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, JSON.stringify({ version: 1, files } satisfies StateDoc, null, 1) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself is only durable once the directory entry is.
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some filesystems refuse fsync on a directory; the rename is still atomic */
  }
}
