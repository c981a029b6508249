/**
 * Which config file a command reads (--config, $TELLTALE_CONFIG, /etc/telltale/integrations.yaml,
 * else the built-in defaults) and loading it, with its parse cached for the next start.
 */
import { existsSync } from 'node:fs';
import { registry } from '../integrations/index.js';
import type { LoadedConfig, LoadOptions } from '../shared/core/config/load.js';
import { cacheSubdir } from './cache-dir.js';
import { version } from './version.js';

function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (flag) return flag;
  if (env['TELLTALE_CONFIG']) return env['TELLTALE_CONFIG'];
  return existsSync('/etc/telltale/integrations.yaml') ? '/etc/telltale/integrations.yaml' : undefined;
}

/**
 * The file's config (or the defaults), validated. Its parse is kept in the user's cache
 * directory so the next start with the same file skips the YAML parser (parsed-cache.ts).
 */
export async function loadConfig(flag: string | undefined, env: NodeJS.ProcessEnv, select?: LoadOptions['select']): Promise<LoadedConfig> {
  const path = resolveConfigPath(flag, env);
  const { defaultConfig, loadConfigFile, parserIdentity } = await import('../shared/core/config/load.js');
  const opts: LoadOptions = { registry, env, ...(select ? { select } : {}) };
  if (!path) return defaultConfig(opts);
  const dir = cacheSubdir('config', env);
  if (dir) {
    try {
      const { openParsedConfigCache } = await import('../shared/core/config/parsed-cache.js');
      opts.cache = openParsedConfigCache(dir, `telltale ${version()}; ${parserIdentity()}`);
    } catch {
      // The parser cannot be identified: parse every time rather than risk another's entries.
    }
  }
  return loadConfigFile(path, opts);
}
