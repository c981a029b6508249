/**
 * Alerting for one host instance: samples go through the threshold engine (alerts.ts); what
 * fires or recovers is counted, logged, sent as an event, and queued to every webhook
 * (webhook.ts) without waiting.
 */
import { hostname } from 'node:os';
import type { IntegrationContext } from '../../shared/core/integration.js';
import { hostNode } from '../../shared/emitter/names.js';
import { createAlertEngine, describeAlert, type AlertEvent } from './alerts.js';
import type { HostConfig } from './config.js';
import type { ThresholdRule } from './metrics.js';
import { createWebhookSink, type AlertPayload, type WebhookSink } from './webhook.js';

export interface Alerting {
  /** One sample of a metric the engine may watch. */
  observe(name: string, value: number, now: number): void;
  /** Metrics under `prefix` are gone (a device or interface removed): recover their alerts. */
  forget(prefix: string, now: number): void;
  /** `alerts.active`, when any threshold is configured. */
  report(): void;
  /** Webhook deliveries in flight finish or are counted as dropped. */
  stop(): Promise<void>;
}

export function createAlerting(rules: ThresholdRule[], config: HostConfig, ctx: Pick<IntegrationContext, 'emitter' | 'log' | 'self' | 'name'>): Alerting {
  const { emitter, log, self } = ctx;
  const engine = createAlertEngine(rules);
  const webhooks: WebhookSink[] = config.alerts.flatMap((a) => (a.type === 'webhook' ? [createWebhookSink(a, { log, emitter, onLost: (n) => self.error('sending', n) })] : []));
  let host: string | undefined;

  const raise = (e: AlertEvent): void => {
    emitter.counter(e.state === 'fired' ? 'alerts.fired' : 'alerts.recovered');
    host ??= hostname();
    const full = emitter.prefix ? `${emitter.prefix}.${e.metric}` : e.metric;
    const text = describeAlert(e, full, host);
    const round = (v: number): number => Math.round(v * 1e4) / 1e4;
    const fields = { metric: full, value: e.gone ? undefined : round(e.value), threshold: e.threshold, clear: round(e.clear), key: e.key };
    if (e.state === 'fired') log.warn(text, fields);
    else log.info(text, fields);
    // A vertical line on the host's graphs where the threshold was crossed or recovered.
    emitter.event(`${e.key} ${e.state === 'fired' ? 'alert' : 'recovered'}`, {
      tags: ['host', hostNode(host), e.state === 'fired' ? 'alert' : 'recovered', e.key],
      data: text,
      when: Math.floor(e.at / 1000),
    });
    if (webhooks.length === 0) return;
    const payload: AlertPayload = {
      text,
      state: e.state,
      ...(e.gone ? { gone: true } : {}),
      metric: full,
      key: e.key,
      value: e.value,
      direction: e.direction,
      threshold: e.threshold,
      clear: e.clear,
      hold_ms: e.holdMs,
      host,
      instance: ctx.name,
      since: new Date(e.since).toISOString(),
      at: new Date(e.at).toISOString(),
    };
    for (const w of webhooks) w.send(payload);
  };

  return {
    observe(name, value, now) {
      if (engine.watches(name)) for (const e of engine.observe(name, value, now)) raise(e);
    },
    forget(prefix, now) {
      for (const e of engine.forget(prefix, now)) raise(e);
    },
    report() {
      if (rules.length > 0) emitter.gauge('alerts.active', engine.active());
    },
    async stop() {
      await Promise.all(webhooks.map((w) => w.stop()));
    },
  };
}
