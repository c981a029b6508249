/**
 * The metrics table of an integration README, read back row by row so test/conformance can
 * compare it with the catalogue (metrics.ts): `| name | type | unit | description |` (or
 * `meaning`), the name in backticks, `\|` for a literal bar. Backticks elsewhere are Markdown
 * formatting and do not count.
 */
import type { MetricDoc } from '../../shared/core/integration.js';

export type MetricRow = Pick<MetricDoc, 'name' | 'type' | 'unit' | 'description'>;

const HEADER = /^\|\s*(?:name|metric)\s*\|\s*type\s*\|\s*unit\s*\|\s*(?:description|meaning)\s*\|\s*$/i;
const SEPARATOR = /^\|[\s|:-]+\|\s*$/;

export function readmeMetricRows(readme: string): MetricRow[] {
  const rows: MetricRow[] = [];
  let inTable = false;
  for (const line of readme.split('\n')) {
    if (HEADER.test(line)) {
      inTable = true;
      continue;
    }
    if (!inTable) continue;
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    if (SEPARATOR.test(line)) continue;
    const cells = line
      .trimEnd()
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replaceAll('\\|', '|').replaceAll('`', ''));
    const [name = '', type = '', unit = '', ...rest] = cells;
    rows.push({ name, type: type as MetricRow['type'], unit, description: rest.join('|') });
  }
  return rows;
}

/** A catalogue entry as a README row (what a fixed README should say). */
export function metricRow(m: MetricRow): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|');
  return `| \`${cell(m.name)}\` | ${m.type} | ${cell(m.unit)} | ${cell(m.description)} |`;
}
