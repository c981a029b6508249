// `npm run bench`: runs every bench/*.mjs in turn (each prints its own table), after `npm run
// build`. A failing bench is reported and the others still run; the exit code says if any failed.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort((a, b) => (a === 'emitter.mjs' ? -1 : b === 'emitter.mjs' ? 1 : a.localeCompare(b)));
const failed = [];
for (const f of benches) {
  console.log(`\n===== bench/${f} =====`);
  // A guard against a hung bench, not a budget: the library bench alone takes ~10 minutes on a
  // slow VM (it needs that many ABBA blocks to tell 5% apart there).
  const r = spawnSync(process.execPath, [dir + f], { stdio: 'inherit', timeout: 25 * 60_000 });
  if (r.status !== 0) failed.push(`${f} (exit ${r.status ?? r.signal})`);
}
if (failed.length > 0) {
  console.log(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
