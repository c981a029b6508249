/**
 * cloudwatch_billing's running code (a poller): each `once()` fetches the billing series from
 * CloudWatch, emits them as timestamped datapoints with a derived spend rate, and counts failures.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Emitter, EmitterStats } from '../../shared/emitter/types.js';
import type { Integration, IntegrationContext } from '../../shared/core/integration.js';
import { createLifecycle } from '../../shared/core/lifecycle.js';
import { createBillingClient, resolveCredentials } from './client.js';
import type { CloudwatchBillingConfig } from './config.js';
import { BillingError, classifyAwsError, describeAwsError, type BillingFailure } from './errors.js';
import { buildDatapoints } from './output.js';
import { billingWindow } from './plan.js';
import { fetchBilling, type PollResult } from './poll.js';

/**
 * Drop reasons that mean "the transport did not deliver" (as opposed to content another
 * integration got wrong, like `invalid` or `too_many_keys`, which says nothing about the sink).
 */
const DELIVERY_DROPS = ['overflow', 'send_error', 'closed'];

/** Delivery failures summed over every sink, lines still queued, and lines sent so far. */
function sinkTotals(stats: EmitterStats): { failed: number; queued: number; sent: number; detail: string } {
  let failed = 0;
  let queued = 0;
  let sent = 0;
  const detail: string[] = [];
  for (const [name, s] of Object.entries(stats.sinks)) {
    const n = s.errors + DELIVERY_DROPS.reduce((a, r) => a + (s.dropped[r] ?? 0), 0);
    failed += n;
    queued += s.queued;
    sent += s.sent;
    if (n > 0 || s.queued > 0) detail.push(`${name}${s.lastError ? ` (${s.lastError})` : ''}`);
  }
  return { failed, queued, sent, detail: detail.join(', ') };
}

/** AWS rejects signatures more than 5 minutes off; the SDK corrects from 4 minutes on. */
const CLOCK_WARN_SECONDS = 240;

/** How long a poll waits for the sinks to take its datapoints before calling the sink down. */
const SINK_WAIT_MS = 6_000;

/**
 * `flush()` hands lines to the transports; a Graphite connection may still be connecting (or
 * failing to). Poll the sink stats with a deadline until the queue is empty or a transport
 * error shows up, so that `--once` can exit 69 instead of 0 when carbon is down. Other
 * integrations share the sinks under `telltale run`: a queue that never empties but keeps
 * sending is busy, not down.
 */
async function awaitDelivery(e: Emitter, before: number, signal: AbortSignal): Promise<{ ok: true } | { ok: false; detail: string }> {
  const deadline = Date.now() + SINK_WAIT_MS;
  const sentAtStart = sinkTotals(e.stats()).sent;
  for (;;) {
    const t = sinkTotals(e.stats());
    if (t.failed > before) return { ok: false, detail: t.detail };
    if (t.queued === 0) return { ok: true };
    if (Date.now() >= deadline || signal.aborted) {
      return t.sent > sentAtStart ? { ok: true } : { ok: false, detail: `${t.detail}: ${t.queued} line(s) still queued, none sent` };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function createCloudwatchBilling(config: CloudwatchBillingConfig, ctx: IntegrationContext): Integration {
  const log = ctx.log;
  const e = ctx.emitter;
  let client: CloudWatchClient | undefined;
  let inFlight: Promise<void> | undefined;
  const life = createLifecycle(ctx.signal, () => {
    client?.destroy();
    client = undefined;
  });

  const recordResult = (r: PollResult, datapoints: number, decreases: number): void => {
    e.counter('poller.api_calls.list_metrics', r.calls.listMetrics);
    e.counter('poller.api_calls.get_metric_data', r.calls.getMetricData);
    if (r.retries) e.counter('poller.retries', r.retries);
    e.counter('poller.metrics_requested', r.metricsRequested);
    e.gauge('poller.series', r.series.length);
    e.gauge('poller.series_empty', r.empty);
    e.counter('poller.datapoints', datapoints);
    const dropped: Record<string, number> = {
      ...r.skipped,
      non_finite: r.nonFinite,
      length_mismatch: r.mismatched,
      result_error: r.resultErrors.length,
    };
    for (const [reason, n] of Object.entries(dropped)) if (n > 0) e.counter(`poller.dropped.${reason}`, n);
    if (decreases) e.counter('poller.rate_skipped', decreases);
  };

  const poll = async (): Promise<void> => {
    const started = ctx.clock.now();
    const signal = AbortSignal.any([life.signal, AbortSignal.timeout(config.timeout)]);
    try {
      client ??= createBillingClient(config, ctx.env, log);
      await resolveCredentials(client, config, ctx.env, signal);
      const window = billingWindow(ctx.clock.now(), config.lookback);
      const r = await fetchBilling(client, window, config.accounts, signal, log);
      checkClock(client.config.systemClockOffset);
      const fetched = r.series.reduce((n, s) => n + s.points.length, 0);
      ctx.self.received(fetched);

      const before = sinkTotals(e.stats()).failed;
      const { datapoints, decreases } = buildDatapoints(r.series, { spendRate: config.spend_rate });
      for (const d of datapoints) e.datapoint(d.name, d.value, d.ts);
      ctx.self.emitted(datapoints.length);
      recordResult(r, datapoints.length, decreases);

      if (r.nonFinite || r.mismatched) {
        log.warn('dropped CloudWatch datapoints that are not numbers', { non_finite: r.nonFinite, length_mismatch: r.mismatched });
      }
      if (r.incomplete) log.warn('CloudWatch marked results PartialData without a NextToken; the next poll re-reads them', { series: r.incomplete });
      log.debug('poll done', {
        series: r.series.length,
        empty: r.empty,
        datapoints: datapoints.length,
        api_calls: r.calls.listMetrics + r.calls.getMetricData,
        metrics_requested: r.metricsRequested,
        window_start: window.startSec,
        window_end: window.endSec,
      });

      let failure: BillingError | undefined;
      if (r.resultErrors.length) {
        const forbidden = r.resultErrors.some((x) => x.status === 'Forbidden');
        const first = r.resultErrors[0]!;
        failure = new BillingError(
          forbidden ? 'auth' : 'temporary',
          `GetMetricData answered ${r.resultErrors.length} of ${r.series.length} series with ${first.status} (first: ${first.key}${first.message ? `: ${first.message}` : ''}); ` +
            `the other series were sent${forbidden ? '; check the IAM policy' : '; the next run re-reads the window'}`,
        );
      }
      await e.flush();
      const delivery = await awaitDelivery(e, before, signal);
      if (!delivery.ok) {
        failure = new BillingError(
          'sink',
          `metrics could not be delivered to ${delivery.detail}; the next run re-sends the last ${Math.round(config.lookback / 3_600_000)}h`,
        );
      }
      if (failure) throw failure;
      e.gauge('poller.success', 1);
    } catch (err) {
      const typed = err instanceof BillingError ? err : new BillingError(classifyAwsError(err), describeAwsError(err), { cause: err });
      fail(typed.category);
      throw typed;
    } finally {
      e.timing('poller.duration_ms', Math.max(0, ctx.clock.now() - started));
    }
  };

  // The SDK re-signs with AWS's time after a "Signature expired" (it reads the Date header),
  // so requests work on a host whose clock is off; the window and the emitter's timestamp
  // checks still use the local clock, so say so.
  const checkClock = (offsetMs: number | undefined): void => {
    const offset = Math.round((offsetMs ?? 0) / 1000);
    e.gauge('poller.clock_offset_s', offset);
    if (Math.abs(offset) >= CLOCK_WARN_SECONDS) {
      log.warn(`this host's clock is ${Math.round(Math.abs(offset) / 60)} min ${offset > 0 ? 'behind' : 'ahead of'} AWS; the poll window may miss or skip the newest hour: fix NTP`, {
        offset_s: offset,
      });
    }
  };

  const fail = (category: BillingFailure): void => {
    ctx.self.error(category === 'sink' ? 'sending' : category === 'software' ? 'processing' : 'receiving');
    e.counter(`poller.failures.${category}`);
    e.gauge('poller.success', 0);
  };

  return {
    async once(): Promise<void> {
      if (life.stopped) return;
      if (inFlight) return inFlight;
      inFlight = life.track(poll());
      try {
        await inFlight;
      } finally {
        inFlight = undefined;
      }
    },
    stop: life.stop,
  };
}
