/**
 * What a restart resumes from: per host directory, the newest report handled (and its mtime at
 * the last rescan), saved in the instance's state file so a restart emits the reports written
 * while telltale was down instead of only each host's newest one.
 */
import { basename, dirname } from 'node:path';
import type { IntegrationContext } from '../../shared/core/integration.js';

/** `<YYYYMMDDHHMM>.yaml` (and `.json` for the json terminus); never Puppet's temp names. */
export const REPORT_NAME_RE = /^\d{12}\.(?:yaml|json)$/;

export interface ResumeState {
  /** Per host directory: its mtime at the last rescan and the newest report name handled. */
  readonly dirSeen: Map<string, { mtimeMs: number; newest: string }>;
  /** Per host directory: the newest report handled by the previous run (from the state file). */
  readonly resumeFrom: Map<string, string>;
  readonly statePath: string;
  load(): Promise<void>;
  /** Saves when something changed; saves are chained so two never run at once. */
  persist(): Promise<void>;
  noteHandled(path: string): void;
  isNewReport(hostDir: string, name: string): boolean;
}

export function createResumeState(
  ctx: Pick<IntegrationContext, 'state' | 'log'>,
  reportdir: string | undefined,
  count: (name: string) => void,
): ResumeState {
  const log = ctx.log;
  const dirSeen = new Map<string, { mtimeMs: number; newest: string }>();
  const resumeFrom = new Map<string, string>();
  let stateLoaded = false;
  let stateDirty = false;
  let saving: Promise<void> = Promise.resolve();
  const stateFile = 'puppet_reports-state.json';
  const statePath = ctx.state.path(stateFile);

  const noteHandled = (path: string): void => {
    const host = basename(dirname(path));
    const name = basename(path);
    const seen = dirSeen.get(host);
    if (!seen) dirSeen.set(host, { mtimeMs: -1, newest: name });
    else if (name > seen.newest) seen.newest = name;
    else return;
    stateDirty = true;
  };

  /**
   * The state file remembers the newest report handled per host directory, so a restart emits
   * the reports written while telltale was down instead of only each host's newest one.
   */
  const load = async (): Promise<void> => {
    if (stateLoaded || reportdir === undefined) return;
    stateLoaded = true;
    const read = await ctx.state.read(stateFile);
    if (read.kind === 'missing') return;
    if (read.kind === 'corrupt') {
      count('errors.state');
      log.warn('ignoring unreadable state file (only the newest report per host is emitted at start)', { file: statePath, error: read.reason });
      return;
    }
    const st = (read.data ?? {}) as { version?: unknown; reportdir?: unknown; hosts?: unknown };
    if (st.version !== 1 || st.reportdir !== reportdir || typeof st.hosts !== 'object' || st.hosts === null) return;
    for (const [dir, name] of Object.entries(st.hosts as Record<string, unknown>)) {
      if (typeof name === 'string' && REPORT_NAME_RE.test(name)) resumeFrom.set(dir, name);
    }
  };

  const saveState = async (): Promise<void> => {
    if (reportdir === undefined || !stateDirty) return;
    stateDirty = false;
    const hosts: Record<string, string> = {};
    for (const [dir, seen] of dirSeen) if (seen.newest !== '') hosts[dir] = seen.newest;
    try {
      await ctx.state.write(stateFile, { version: 1, reportdir, hosts });
    } catch (e) {
      stateDirty = true;
      count('errors.state');
      log.warn('cannot save state', { file: statePath, error: (e as Error).message });
    }
  };

  /** Saves are chained so two never write the temp file at once. */
  const persist = (): Promise<void> => (saving = saving.then(saveState));

  const isNewReport = (hostDir: string, name: string): boolean => {
    const seen = dirSeen.get(basename(hostDir));
    return seen === undefined || name > seen.newest;
  };

  return { dirSeen, resumeFrom, statePath, load, persist, noteHandled, isNewReport };
}
