import { describe, expect, it } from 'vitest';
import { eventFamily, readPayload, stateOfEvent } from '../payload.js';

describe('supervisor payload tokens', () => {
  it('reads the known tokens of the first line; a value may hold colons, the last repeated key wins', () => {
    const f = readPayload(Buffer.from('processname:wörker groupname:g:1 from_state:STARTING tries:0 tries:2 expected:1 when:17 pid:4 :x junk'));
    expect(f).toEqual({ processname: 'wörker', groupname: 'g:1', from_state: 'STARTING', tries: '2', expected: '1', when: '17' });
  });

  it('never reads tokens from the data after the first line, for short and long payloads alike', () => {
    for (const fill of [0, 4000]) {
      const payload = Buffer.from(`processname:spew groupname:spew pid:1 channel:stdout\nprocessname:evil groupname:evil ${'y'.repeat(fill)}`);
      const f = readPayload(payload);
      expect(f.processname, `payload of ${payload.length} bytes`).toBe('spew');
      expect(f.groupname).toBe('spew');
    }
    expect(readPayload(Buffer.from('\nprocessname:evil'))).toEqual({ processname: undefined, groupname: undefined, from_state: undefined, tries: undefined, expected: undefined, when: undefined });
  });

  it('decodes undecodable bytes as replacement characters instead of throwing', () => {
    expect(readPayload(Buffer.from([...Buffer.from('processname:a'), 0xff, 0xfe, ...Buffer.from(' groupname:b')])).processname).toBe('a\ufffd\ufffd');
  });

  it('maps event names to families and PROCESS_STATE_* names to their state', () => {
    expect(stateOfEvent('PROCESS_STATE_RUNNING')).toBe('RUNNING');
    expect(stateOfEvent('PROCESS_STATE_NOPE')).toBeUndefined();
    expect(stateOfEvent('TICK_5')).toBeUndefined();
    expect(eventFamily('PROCESS_STATE_BACKOFF')).toBe('process_state');
    expect(eventFamily('PROCESS_STATE_NOPE')).toBeUndefined();
    expect(eventFamily('TICK_3600')).toBe('tick');
  });
});
