/**
 * The hub's own metrics, reported through the root emitter it is attached to as
 * `<root>.telltale.live.*`, and their entries for the page's catalogue.
 */
import type { Emitter } from '../emitter/types.js';
import type { LiveCatalogueEntry } from './catalogue.js';

/** The hub's running totals the self-metrics are deltas of. */
export interface HubTotals {
  clients: number;
  sentBytes: number;
  skippedBatches: number;
  resyncs: number;
  terminated: number;
  rejected: Partial<Record<string, number>>;
}

export interface HubSelfMetrics {
  readonly catalogue: LiveCatalogueEntry[];
  /** Gauges now, counters as the increase since the last report. */
  report(totals: HubTotals, refusedSeries: number): void;
}

export function createHubSelfMetrics(root: Emitter): HubSelfMetrics {
  const out = root.child({ prefix: 'telltale.live' });
  const prefix = out.prefix;
  const catalogue = ((): LiveCatalogueEntry[] => {
    const doc = (name: string, type: LiveCatalogueEntry['type'], unit: string, description: string): LiveCatalogueEntry => ({
      pattern: `${prefix}.${name}`,
      type,
      unit,
      description,
      integration: 'live',
    });
    return [
      doc('clients', 'gauge', 'count', 'pages connected'),
      doc('sent_bytes', 'counter', 'bytes', 'bytes written to pages'),
      doc('dropped_batches', 'counter', 'count', 'batches skipped for slow pages'),
      doc('resyncs', 'counter', 'count', 'fresh hellos sent to pages that fell behind'),
      doc('terminated', 'counter', 'count', 'pages disconnected (stalled or no pong)'),
      doc('handshake_rejected.<reason>', 'counter', 'count', 'connections refused by reason'),
      doc('series_refused', 'gauge', 'count', 'distinct series not shown (max_series)'),
    ];
  })();
  const reported = new Map<string, number>();
  const delta = (name: string, total: number): void => {
    const prev = reported.get(name) ?? 0;
    if (total > prev) out.counter(name, total - prev);
    reported.set(name, total);
  };
  return {
    catalogue,
    report(totals, refusedSeries) {
      out.gauge('clients', totals.clients);
      delta('sent_bytes', totals.sentBytes);
      delta('dropped_batches', totals.skippedBatches);
      delta('resyncs', totals.resyncs);
      delta('terminated', totals.terminated);
      for (const [reason, n] of Object.entries(totals.rejected)) delta(`handshake_rejected.${reason}`, n ?? 0);
      out.gauge('series_refused', refusedSeries);
    },
  };
}
