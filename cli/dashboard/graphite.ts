/**
 * The dashboard in graphite-web's own format: the `state` its dashboard UI saves to
 * `/dashboard/save/<name>` and loads from `/dashboard/load/<name>` (graphite-web 1.1
 * dashboard.js getState/applyState): graphs as [id, render params, render URL].
 */
import type { DashboardModel, Graph } from './model.js';

export interface GraphiteRenderParams {
  target: string[];
  title: string;
  vtitle?: string;
  vtitleRight?: string;
  from?: string;
  lineMode?: string;
  hideLegend?: string;
}

export interface GraphiteDashboardState {
  name: string;
  timeConfig: {
    type: 'relative';
    relativeStartQuantity: string;
    relativeStartUnits: string;
    relativeUntilQuantity: string;
    relativeUntilUnits: string;
  };
  refreshConfig: { enabled: boolean; interval: number };
  graphSize: { width: number; height: number };
  defaultGraphParams: { from: string; until: string; width: number; height: number };
  graphs: [string, GraphiteRenderParams, string][];
}

export function renderParams(g: Graph): GraphiteRenderParams {
  return {
    target: g.targets.map((t) => t.expr),
    title: g.title,
    ...(g.leftLabel ? { vtitle: g.leftLabel } : {}),
    ...(g.rightLabel ? { vtitleRight: g.rightLabel } : {}),
    lineMode: 'connected',
  };
}

/** `/render?…` for one graph: repeated `target=` like graphite-web's own UI writes it. */
export function renderUrl(p: GraphiteRenderParams, extra: Record<string, string | number> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...p, ...extra })) {
    if (Array.isArray(v)) for (const t of v) q.append(k, t);
    else if (v !== undefined) q.append(k, String(v));
  }
  return `/render?${q}`;
}

export function toGraphite(m: DashboardModel): GraphiteDashboardState {
  const size = { width: 800, height: 400 };
  return {
    name: m.title.replace(/[^A-Za-z0-9_.-]+/g, '_'),
    timeConfig: { type: 'relative', relativeStartQuantity: '6', relativeStartUnits: 'hours', relativeUntilQuantity: '', relativeUntilUnits: 'now' },
    refreshConfig: { enabled: true, interval: 60_000 },
    graphSize: size,
    defaultGraphParams: { from: '-6hours', until: 'now', ...size },
    graphs: m.graphs.map((g) => {
      const p = renderParams(g);
      return [g.id, p, renderUrl(p, { from: '-6hours', until: 'now', ...size })];
    }),
  };
}
