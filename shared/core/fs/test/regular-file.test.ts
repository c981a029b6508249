import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileTooBigError, readRegularFile } from '../regular-file.js';

const dir = mkdtempSync(join(tmpdir(), 'telltale-regular-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readRegularFile with a scratch buffer', () => {
  it('reads into the scratch buffer when it is big enough, and into a new one when it is not', async () => {
    const f = join(dir, 'a');
    writeFileSync(f, 'x'.repeat(100_000));
    const scratch = Buffer.alloc(1 << 20);
    const r = await readRegularFile(f, 1 << 20, scratch);
    expect(r.buffer).toBe(scratch);
    expect(r.data.toString()).toBe('x'.repeat(100_000));
    const small = Buffer.alloc(10);
    const r2 = await readRegularFile(f, 1 << 20, small);
    expect(r2.buffer).not.toBe(small);
    expect(r2.data.toString()).toBe('x'.repeat(100_000));
  });

  it('a scratch buffer larger than the limit never lets more than max+1 bytes in', async () => {
    const f = join(dir, 'big');
    writeFileSync(f, 'y'.repeat(5000));
    const err = await readRegularFile(f, 1000, Buffer.alloc(1 << 20)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FileTooBigError);
    // procfs sizes are 0, so only the read itself can stop it: at max+1.
    const proc = await readRegularFile('/proc/self/maps', 1000, Buffer.alloc(1 << 20)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(proc).toBeInstanceOf(FileTooBigError);
    expect((proc as FileTooBigError).bytes).toBe(1001);
  });

  it('the data of one read is exactly the file, whatever an earlier, longer file left in the buffer', async () => {
    const long = join(dir, 'long');
    const short = join(dir, 'short');
    writeFileSync(long, 'L'.repeat(200_000));
    writeFileSync(short, 'short\n');
    const first = await readRegularFile(long, 1 << 20);
    const second = await readRegularFile(short, 1 << 20, first.buffer);
    expect(second.buffer).toBe(first.buffer);
    expect(second.data.toString()).toBe('short\n');
  });
});
