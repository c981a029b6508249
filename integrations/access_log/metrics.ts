/** Every metric access_log emits: the README table and the live page titles come from this list. */
import type { MetricDoc } from '../../shared/core/integration.js';

export const accessLogMetrics: readonly MetricDoc[] = [
  { name: '<src>.requests', type: 'counter', unit: 'count', description: 'Parsed requests (lines with a valid status)' },
  { name: '<src>.good', type: 'counter', unit: 'count', description: 'Requests answered 2xx or 3xx' },
  { name: '<src>.bad', type: 'counter', unit: 'count', description: 'Requests answered 4xx or 5xx (499 included)' },
  { name: '<src>.status.<N>xx', type: 'counter', unit: 'count', description: 'Requests per status class, 1xx to 5xx (1xx is neither good nor bad)' },
  { name: '<src>.status.<code>', type: 'counter', unit: 'count', description: 'Requests per status code (100–599)' },
  { name: '<src>.status.none', type: 'counter', unit: 'count', description: 'Requests logged with - for a status (varnishncsa: piped requests); neither good nor bad, not timed' },
  { name: '<src>.method.<METHOD>', type: 'counter', unit: 'count', description: 'Requests per method; unknown or junk methods are OTHER' },
  {
    name: '<src>.response_time',
    type: 'timer',
    unit: 'ms',
    description: 'Response time of each request; 101 (WebSocket lifetimes, logged when the tunnel closes) and status-less lines (Varnish pipes, the same) excluded',
  },
  {
    name: '<src>.first_byte_time',
    type: 'timer',
    unit: 'ms',
    description: 'Time to first byte of each request, when the format has one (%{Varnish:time_firstbyte}x, Apache %^FB); same exclusions',
  },
  {
    name: '<src>.cache.<handling>',
    type: 'counter',
    unit: 'count',
    description:
      'varnishncsa formats: requests per handling, hit, miss, pass, pipe, synth (only hit, miss from %{Varnish:hitmiss}x alone), sent every flush like requests; other (when non-zero) for any other word or -',
  },
  { name: '<src>.bytes', type: 'counter', unit: 'bytes', description: 'Response bytes as logged (%b/%O, $body_bytes_sent)' },
  { name: '<src>.unparsed', type: 'counter', unit: 'count', description: 'Lines not counted as requests: format mismatch, too long, NUL or invalid UTF-8' },
  { name: '<src>.lines.too_long', type: 'counter', unit: 'count', description: 'Lines over max_line_bytes, skipped (also in unparsed)' },
  { name: '<src>.lines.invalid', type: 'counter', unit: 'count', description: 'Lines with NUL bytes or invalid UTF-8, skipped (also in unparsed)' },
  { name: '<src>.tailer.rotations', type: 'counter', unit: 'count', description: 'Files that left their path (rename rotation or delete)' },
  { name: '<src>.tailer.truncations', type: 'counter', unit: 'count', description: 'Truncations seen (copytruncate), including regrowth past the old end' },
  { name: '<src>.tailer.recovered_lines', type: 'counter', unit: 'count', description: 'Lines read from a rotated copy after a truncation (also counted normally)' },
  { name: '<src>.tailer.gaps', type: 'counter', unit: 'count', description: 'Times unread lines may have been lost: truncation with no copy found, file gone while stopped' },
  { name: '<prefix.><path.key>.<METHOD>.<STATUS><.suffix>', type: 'counter', unit: 'count', description: 'compat: mod_statsd — requests per path key, method and status' },
  { name: '<prefix.><path.key>.<METHOD>.<STATUS><.suffix>', type: 'timer', unit: 'ms', description: 'compat: mod_statsd — integer response time per path key, method and status' },
];
