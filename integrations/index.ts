/**
 * The registry: an explicit, typed list. No self-registration through import side effects, so
 * what ships is exactly what is listed here. Add one line per integration.
 */
import type { IntegrationDefinition, Shape } from '../shared/core/integration.js';
import { puppetReports } from './puppet_reports/index.js';
import { host } from './host/index.js';
import { supervisor } from './supervisor/index.js';
import { cloudwatchBilling } from './cloudwatch_billing/index.js';
import { accessLog } from './access_log/index.js';

export const registry: readonly IntegrationDefinition<Shape>[] = [
  // integrations are added here, one line each
  puppetReports,
  host,
  supervisor,
  cloudwatchBilling,
  accessLog,
] as readonly IntegrationDefinition<Shape>[];

export function findIntegration(type: string): IntegrationDefinition<Shape> | undefined {
  return registry.find((d) => d.type === type);
}
