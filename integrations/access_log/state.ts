/**
 * The read-position document. ctx.state writes it atomically (temp file, fsync, rename, fsync of
 * the directory) so a crash leaves either the old or the new version, never an empty file
 * (pygtail#56), and reads the bare documents older versions wrote.
 */
import type { StateRead } from '../../shared/core/integration.js';

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

/** Validates what the state file held (ctx.state writes and reads it: one format, atomic, fsync'd). */
export function loadState(read: StateRead): LoadResult {
  if (read.kind !== 'ok') return read;
  const d = read.data as Partial<StateDoc> | null;
  if (typeof d !== 'object' || d === null || d.version !== 1 || !Array.isArray(d.files)) {
    return { kind: 'corrupt', reason: 'not a version 1 state document' };
  }
  const bad = d.files.findIndex((f) => !isRecord(f));
  if (bad >= 0) return { kind: 'corrupt', reason: `files[${bad}] is malformed` };
  return { kind: 'ok', doc: { version: 1, files: d.files } };
}

/** The document saved in the state file. */
export function stateDoc(files: FileRecord[]): StateDoc {
  return { version: 1, files };
}
