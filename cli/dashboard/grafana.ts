/**
 * The dashboard as Grafana dashboard JSON over a Graphite datasource. Typed against the npm
 * package `@grafana/schema` (the JSON model Grafana itself generates its types from), so a change
 * of Grafana's model breaks our typecheck rather than a user's import.
 *
 * Events come in twice: as Grafana annotations from Graphite events by tag (vertical lines on every
 * panel with what/data on hover) and, like the graphite format, as drawAsInfinite targets.
 */
import type { AnnotationQuery, Dashboard, DataQuery, DataSourceRef, Panel, RowPanel, VariableModel } from '@grafana/schema';

/**
 * Grafana's Graphite datasource query as its annotation editor stores it: `fromAnnotations` with
 * `tags` asks graphite-web's /events/get_data for events with those tags.
 */
interface GraphiteAnnotationQuery extends DataQuery {
  fromAnnotations: true;
  tags: string[];
  textEditor: false;
}
import type { DashboardModel, Graph } from './model.js';

const DATASOURCE: DataSourceRef = { type: 'graphite', uid: '${datasource}' };

function panel(g: Graph, id: number, y: number, x: number): Panel {
  const right = g.targets.filter((t) => t.right).map((t) => t.alias);
  const thresholds = g.targets.filter((t) => t.kind === 'threshold').map((t) => t.alias);
  return {
    id,
    type: 'timeseries',
    title: g.title,
    datasource: DATASOURCE,
    gridPos: { h: 8, w: 12, x, y },
    targets: g.targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), target: t.expr, datasource: DATASOURCE })),
    fieldConfig: {
      defaults: { custom: { axisLabel: g.leftLabel, spanNulls: true } },
      overrides: [
        ...right.map((name) => ({
          matcher: { id: 'byName', options: name },
          properties: [
            { id: 'custom.axisPlacement', value: 'right' },
            { id: 'custom.axisLabel', value: g.rightLabel ?? '' },
            { id: 'unit', value: 'ms' },
          ],
        })),
        ...thresholds.map((name) => ({
          matcher: { id: 'byName', options: name },
          properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }],
        })),
      ],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'none' } },
  };
}

export function toGrafana(m: DashboardModel): Dashboard {
  const panels: (Panel | RowPanel)[] = [];
  let id = 1;
  let y = 0;
  let section = '';
  let col = 0;
  for (const g of m.graphs) {
    if (g.section !== section) {
      section = g.section;
      if (col !== 0) y += 8;
      col = 0;
      panels.push({ id: id++, type: 'row', title: section, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
      y += 1;
    }
    panels.push(panel(g, id++, y, col * 12));
    col = (col + 1) % 2;
    if (col === 0) y += 8;
  }
  const events: AnnotationQuery<GraphiteAnnotationQuery> = {
    name: 'telltale events',
    datasource: DATASOURCE,
    enable: true,
    iconColor: 'purple',
    target: { refId: 'events', fromAnnotations: true, tags: m.eventTags, textEditor: false },
  };
  const datasource: VariableModel = { name: 'datasource', label: 'Graphite', type: 'datasource', query: 'graphite' };
  return {
    title: m.title,
    uid: m.title.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40),
    tags: ['telltale'],
    editable: true,
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    refresh: '1m',
    timezone: 'browser',
    templating: { list: [datasource] },
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        events,
      ],
    },
    panels,
  };
}
