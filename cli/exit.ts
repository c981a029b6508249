/**
 * Exiting without losing output. Into a pipe whose reader empties it late, a write the kernel
 * cannot take yet waits in the process, and `process.exit()` right after it drops it: a
 * `--print` run piped into `grep`, `check` or `dashboard` piped into another program.
 */
export function exitWhenWritten(code: number): Promise<never> {
  return new Promise<never>(() => {
    const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
    let left = pending.length;
    if (left === 0) process.exit(code);
    for (const s of pending) {
      let done = false;
      const one = (): void => {
        if (done) return;
        done = true;
        if (--left === 0) process.exit(code);
      };
      s.once('drain', one);
      s.once('error', one);
    }
  });
}
