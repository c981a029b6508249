#!/usr/bin/env node
/**
 * The `telltale` executable: turns on the compile cache before the command's modules are
 * compiled (an import would be compiled before any code of the importer runs), answers
 * `--version` without loading the command at all, then runs it.
 */
import { enableCompileCache } from './compile-cache.js';
import { version } from './version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  process.stdout.write(`telltale ${version()}\n`);
} else {
  enableCompileCache();
  await import('./main.js');
}
