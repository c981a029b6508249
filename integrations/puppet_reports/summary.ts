/**
 * The agent's last_run_summary.yaml: plain YAML with only the metric sections, turned into a Run.
 */
import { checkComplete, finiteNumber, isObj, loadYaml, type Obj } from './parse.js';
import { deriveStatus, metricValue, RunParseError, type Run, type RunMetric } from './run.js';

/**
 * Parse an agent's last_run_summary.yaml (`YAML.dump(report.raw_summary)`: plain YAML, no
 * tags). It has no status, host or noop field: the host comes from config, the status is derived
 * (`deriveStatus`), noop_pending is `events.noop > 0`, and the timestamp is `time.last_run` (the
 * end of the run). A catalog failure leaves only `version` and `time.last_run` (Puppet 4.9) or
 * metrics without `time.config_retrieval` (Puppet 7): both derive to `failed`.
 */
export function parseSummary(text: string, host: string, where: string): Run {
  checkComplete(text, where);
  const doc = loadYaml(text, where);
  if (!isObj(doc)) throw new RunParseError('incomplete', `${where}: not a YAML mapping`);
  const timeBlock = doc['time'];
  if (!isObj(timeBlock)) throw new RunParseError('incomplete', `${where}: no time section`);
  const lastRun = finiteNumber(timeBlock['last_run']);
  if (lastRun === undefined) throw new RunParseError('incomplete', `${where}: no time.last_run (written last in its section; truncated?)`);
  const metrics: RunMetric[] = [];
  const sections = ['resources', 'time', 'changes', 'events'];
  const present = sections.filter((s) => isObj(doc[s]));
  // Either the full set (a run) or just `time` (a catalog failure); a partial set is a cut file.
  if (present.length !== sections.length && present.join() !== 'time') {
    throw new RunParseError('incomplete', `${where}: has sections ${present.join(', ')} but not all of ${sections.join(', ')}`);
  }
  for (const category of present) {
    for (const [name, raw] of Object.entries(doc[category] as Obj)) {
      if (category === 'time' && name === 'last_run') continue;
      const value = finiteNumber(raw);
      if (value === undefined) throw new RunParseError('parse', `${where}: ${category}.${name} is not a number`);
      metrics.push({ category, name, label: undefined, value });
    }
  }
  const events = doc['events'];
  if (isObj(events) && finiteNumber(events['total']) === undefined) {
    throw new RunParseError('incomplete', `${where}: no events.total (written last; truncated)`);
  }
  const noopEvents = metricValue(metrics, 'events', 'noop');
  const total = metricValue(metrics, 'time', 'total') ?? 0;
  return {
    host,
    time: lastRun,
    endTime: lastRun,
    status: deriveStatus(metrics),
    statusSource: 'derived',
    reportFormat: undefined,
    key: `${host}@${lastRun}@${total}`,
    transactionUuid: undefined,
    noop: undefined,
    noopPending: isObj(events) ? (noopEvents ?? 0) > 0 : undefined,
    correctiveChange: undefined,
    transactionCompleted: undefined,
    cachedCatalogStatus: undefined,
    metrics,
    logLevels: undefined,
    failedResources: undefined,
    environment: undefined,
    parsedBy: 'summary',
  };
}
