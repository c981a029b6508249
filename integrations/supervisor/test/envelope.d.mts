export function codePointLength(buf: Buffer): number;
export function formatEnvelope(
  h: { server?: string; serial: number; pool?: string; poolserial: number; eventname: string },
  payload: string | Buffer,
  unit?: 'chars' | 'bytes',
): Buffer;
