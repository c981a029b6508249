/**
 * supervisord's side of the envelope (`EventListenerPool._eventEnvelope`), for the drivers in
 * tests and the benchmark (plain JS so bench/supervisor.mjs can import it without a build).
 */

/** Code points in a UTF-8 buffer, counted as Python's `len(str)` would. */
export function codePointLength(buf) {
  let n = 0;
  for (const b of buf) if ((b & 0xc0) !== 0x80) n++;
  return n;
}

/** `unit: 'chars'` is supervisor 4.x (len in code points), `'bytes'` is 3.x. */
export function formatEnvelope(h, payload, unit = 'chars') {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const len = unit === 'bytes' ? body.length : codePointLength(body);
  const head = `ver:3.0 server:${h.server ?? 'supervisor'} serial:${h.serial} pool:${h.pool ?? 'telltale'} poolserial:${h.poolserial} eventname:${h.eventname} len:${len}\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), body]);
}
