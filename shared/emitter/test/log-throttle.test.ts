import { describe, expect, it } from 'vitest';
import { createLogThrottle } from '../log-throttle.js';

describe('createLogThrottle', () => {
  it('logs the first of a key, then at most one per interval carrying how many were held back', () => {
    let t = 0;
    const th = createLogThrottle(60_000, () => t);
    expect(th.pass('disk')).toBe(0);
    t = 1_000;
    expect(th.pass('disk')).toBeUndefined();
    expect(th.pass('disk')).toBeUndefined();
    expect(th.pass('net')).toBe(0); // keys are independent
    t = 60_000;
    expect(th.pass('disk')).toBe(2);
    t = 60_500;
    expect(th.pass('disk')).toBeUndefined();
    th.reset('disk'); // a new outage is reported at once
    expect(th.pass('disk')).toBe(0);
    expect(th.pass()).toBe(0);
  });
});
