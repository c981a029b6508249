/**
 * Command gauges: a shell command or a file whose whole output is one number.
 *
 * A timed-out command is killed with its whole process group (it runs detached, so `sh -c
 * "a | b"` and its grandchildren go too), and the result is settled by our own timer: a
 * grandchild that escaped and still holds the stdout pipe cannot keep the sample waiting.
 */
import { readFile } from 'node:fs/promises';

export type NumberResult = { ok: true; value: number } | { ok: false; error: string };

const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const MAX_OUTPUT = 4096;

/** The single number in `text` (surrounding whitespace allowed), or a reason it is not one. */
export function parseSingleNumber(text: string): NumberResult {
  const t = text.trim();
  if (t === '') return { ok: false, error: 'empty output' };
  if (!NUMBER.test(t)) return { ok: false, error: `not a single number: ${JSON.stringify(t.length > 60 ? t.slice(0, 60) + '…' : t)}` };
  const value = Number(t);
  return Number.isFinite(value) ? { ok: true, value } : { ok: false, error: `out of range: ${t}` };
}

export function runCommand(command: string, timeoutMs: number, signal: AbortSignal): Promise<NumberResult> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ ok: false, error: 'stopped' });
    // Loaded on the first command, not imported: a host without `commands:` never needs it.
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let settled = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const finish = (r: NumberResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => {
      killGroup();
      finish({ ok: false, error: `timed out after ${timeoutMs}ms` });
    }, timeoutMs);
    const onAbort = (): void => {
      killGroup();
      finish({ ok: false, error: 'stopped' });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.length > MAX_OUTPUT) {
        killGroup();
        finish({ ok: false, error: `more than ${MAX_OUTPUT} bytes of output` });
      }
    });
    child.stderr.on('data', (d: string) => {
      if (err.length < 500) err += d;
    });
    child.on('error', (e) => finish({ ok: false, error: e.message }));
    child.on('close', (code, sig) => {
      if (code !== 0) {
        const why = sig ? `killed by ${sig}` : `exit status ${code}`;
        return finish({ ok: false, error: `${why}${err.trim() ? `: ${err.trim().slice(0, 200)}` : ''}` });
      }
      finish(parseSingleNumber(out));
    });
  });
}

export async function readNumberFile(path: string, timeoutMs: number, signal: AbortSignal): Promise<NumberResult> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const onAbort = (): void => ctl.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const text = await readFile(path, { encoding: 'utf8', signal: ctl.signal });
    return text.length > MAX_OUTPUT ? { ok: false, error: `more than ${MAX_OUTPUT} bytes` } : parseSingleNumber(text);
  } catch (e) {
    if (ctl.signal.aborted) return { ok: false, error: signal.aborted ? 'stopped' : `timed out after ${timeoutMs}ms` };
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}
