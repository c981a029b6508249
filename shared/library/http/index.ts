/**
 * `telltale/http`: request metrics for node:http servers and Express apps, given an emitter.
 */
export {
  createHttpMetrics,
  UNMATCHED_ROUTE,
  OVERFLOW_ROUTE,
  ABORTED,
  type HttpMetrics,
  type HttpMetricsOptions,
} from './http-metrics.js';
export { instrumentServer, type ServerInstrumentation, type ServerInstrumentationOptions } from './node-http.js';
export {
  instrumentExpress,
  expressMetrics,
  type ExpressInstrumentation,
  type ExpressLikeApp,
  type ExpressMetricsOptions,
  type ExpressMetricsMiddleware,
  type ExpressLikeRequest,
} from './express.js';
export { routeNode, guessTemplate, methodNode, statusClass } from './route-names.js';
