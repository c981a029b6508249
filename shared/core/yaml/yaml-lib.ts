/**
 * The yaml package (eemeli/yaml: positions for every node), loaded on first use. It is ~70
 * CommonJS files, a third of a one-shot's start-up, which `--version`, `--help` and a config read
 * from the parsed-config cache never need. Its Node entry is CommonJS, so a synchronous require
 * loads the same module an import would.
 */
import { createRequire } from 'node:module';

type YamlLib = typeof import('yaml');
let lib: YamlLib | undefined;

export function yamlLib(): YamlLib {
  return (lib ??= createRequire(import.meta.url)('yaml') as YamlLib);
}
