/**
 * The library entries load nothing of the integrations and no dependency: a program that only
 * wants the emitter must not pay for the AWS SDK, chokidar, ws, uPlot or the YAML parsers. Each
 * entry is imported by its bare name (the package's own exports map, resolved against the dist/
 * that the global setup built) in a fresh Node, and everything the loader resolved is recorded.
 */
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { recordLoadedModules } from '../helpers/loaded-modules.js';

// What each entry may load, as paths under dist/shared/, and which built-ins. Everything else --
// dist/integrations, dist/cli, shared/core (but its logger), shared/live, any package under
// node_modules -- is a failure.
const ENTRIES: Record<string, { areas: string[]; builtins: string[]; exports: string[] }> = {
  telltale: {
    areas: ['library/index.js', 'library/emitter.js', 'library/app/', 'library/http/', 'emitter/', 'core/log/'],
    builtins: ['node:dgram', 'node:http', 'node:net', 'node:perf_hooks', 'node:util'],
    exports: ['createEmitter', 'createApp', 'instrumentServer', 'instrumentExpress', 'createLogger'],
  },
  'telltale/emitter': { areas: ['library/emitter.js', 'emitter/'], builtins: [], exports: ['createEmitter', 'createMemorySink', 'sanitizePath'] },
  'telltale/app': {
    areas: ['library/app/', 'emitter/', 'core/log/'],
    builtins: ['node:dgram', 'node:net', 'node:perf_hooks', 'node:util'],
    exports: ['createApp', 'parseAppFlags', 'createNoopEmitter'],
  },
  'telltale/http': {
    areas: ['library/http/', 'emitter/names.js'],
    builtins: ['node:http', 'node:perf_hooks'],
    exports: ['instrumentServer', 'instrumentExpress', 'createHttpMetrics'],
  },
};

describe('library import footprint', () => {
  for (const [specifier, allowed] of Object.entries(ENTRIES)) {
    it(`import '${specifier}' loads only ${allowed.areas.join(', ')} of dist/shared and no package`, async () => {
      const code = `const m = await import(${JSON.stringify(specifier)}); process.stdout.write(JSON.stringify(Object.keys(m)));`;
      const r = await recordLoadedModules(['--input-type=module', '-e', code], { cwd: REPO_ROOT });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(expect.arrayContaining(allowed.exports));

      expect(r.packages).toEqual([]);
      const telltaleFiles = r.files.map((f) => relative(REPO_ROOT, f));
      const outside = telltaleFiles.filter((f) => !allowed.areas.some((a) => f.startsWith('dist/shared/' + a)));
      expect(outside).toEqual([]);
      // Not vacuous: the entry's own folder was loaded.
      expect(telltaleFiles.some((f) => f.startsWith('dist/shared/' + allowed.areas[0]))).toBe(true);
      expect(r.builtins.filter((b) => !allowed.builtins.includes(b))).toEqual([]);
    });
  }
});
