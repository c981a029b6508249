/** Worker thread entry of a parallel backfill: loadRunFile() for the paths the service sends. */
import { workerData } from 'node:worker_threads';
import { serveTasks } from '../../shared/core/worker-pool.js';
import { loadRunFile, type FileKind, type Loaded, type LoadOptions } from './load.js';

const options = workerData as LoadOptions;

serveTasks<{ path: string; kind: FileKind }, Loaded>(async ({ path, kind }) => ({ out: await loadRunFile(path, kind, options) }));
