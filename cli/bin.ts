#!/usr/bin/env node
/**
 * The `telltale` executable: turns on the compile cache before the command's modules are
 * compiled (an import would be compiled before any code of the importer runs), then runs it.
 */
import { enableCompileCache } from './compile-cache.js';

enableCompileCache();
await import('./main.js');
