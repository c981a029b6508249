/**
 * Reads small /proc files into one reused buffer, synchronously.
 *
 * Why sync: procfs reads are generated in memory by the kernel and never wait on a disk, so a
 * blocking read costs a few microseconds, while fs.promises would add a thread-pool round trip,
 * a FileHandle and a fresh Buffer per file per second. (statfs, which can hang on a dead NFS
 * mount, is the one call the sampler keeps asynchronous.)
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface ProcReader {
  /** The file's text, or throws the fs error (ENOENT…). */
  read(path: string): string;
}

const MAX_BYTES = 4 * 1024 * 1024;

export function createProcReader(initialBytes = 16 * 1024): ProcReader {
  let buf = Buffer.allocUnsafe(initialBytes);
  return {
    read(path) {
      const fd = openSync(path, 'r');
      try {
        let len = 0;
        for (;;) {
          if (len === buf.length) {
            // /proc files report size 0, so the only way to know is to fill the buffer; grow once
            // and keep the bigger buffer for the next interval.
            if (buf.length >= MAX_BYTES) throw new Error(`${path} is larger than ${MAX_BYTES} bytes`);
            const bigger = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(bigger, 0, 0, len);
            buf = bigger;
          }
          const n = readSync(fd, buf, len, buf.length - len, null);
          if (n === 0) break;
          len += n;
        }
        return buf.toString('latin1', 0, len);
      } finally {
        closeSync(fd);
      }
    },
  };
}
