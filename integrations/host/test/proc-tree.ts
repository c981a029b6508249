/**
 * Fixture /proc trees for the host tests: a temp directory seeded from fixtures/proc (captured
 * from a real machine), whose counter files each test rewrites between samples.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface ProcTree {
  root: string;
  write(file: string, text: string): void;
  remove(file: string): void;
  cleanup(): void;
}

export function procTree(): ProcTree {
  const root = mkdtempSync(join(tmpdir(), 'telltale-proc-'));
  cpSync(join(FIXTURES, 'proc'), root, { recursive: true });
  return {
    root,
    write: (file, text) => writeFileSync(join(root, file), text),
    remove: (file) => rmSync(join(root, file), { force: true }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** One /proc/diskstats line (kernel 5.5+ layout, 17 counters). */
export function diskLine(name: string, c: { reads?: number; sectorsRead?: number; msRead?: number; writes?: number; sectorsWritten?: number; msWrite?: number }): string {
  const f = [c.reads ?? 0, 0, c.sectorsRead ?? 0, c.msRead ?? 0, c.writes ?? 0, 0, c.sectorsWritten ?? 0, c.msWrite ?? 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  return `   8       0 ${name} ${f.join(' ')}`;
}

const NET_HEADER =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';

/** /proc/net/dev with the given interfaces; big rx byte counts run into the colon, as the kernel prints them. */
export function netDev(ifaces: Record<string, { rxBytes?: number; rxPackets?: number; rxErrs?: number; rxDrop?: number; txBytes?: number; txPackets?: number; txErrs?: number; txDrop?: number }>): string {
  let out = NET_HEADER;
  for (const [name, c] of Object.entries(ifaces)) {
    const rx = [c.rxBytes ?? 0, c.rxPackets ?? 0, c.rxErrs ?? 0, c.rxDrop ?? 0, 0, 0, 0, 0];
    const tx = [c.txBytes ?? 0, c.txPackets ?? 0, c.txErrs ?? 0, c.txDrop ?? 0, 0, 0, 0, 0];
    out += `${name.padStart(6)}:${String(rx[0]).padStart(8)} ${rx.slice(1).join(' ')} ${tx.join(' ')}\n`;
  }
  return out;
}

/** /proc/meminfo where memory.percent comes out at `percent` of 10 GiB. */
export function meminfo(percent: number): string {
  const totalKb = 10 * 1024 * 1024;
  const availableKb = Math.round(totalKb * (1 - percent / 100));
  return `MemTotal:       ${totalKb} kB\nMemFree:        ${Math.round(availableKb / 2)} kB\nMemAvailable:   ${availableKb} kB\nBuffers:            8544 kB\nCached:           297392 kB\n`;
}
