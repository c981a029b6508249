import { describe, expect, it } from 'vitest';
import { createLogger, MAX_LOG_VALUE_CHARS } from '../logger.js';

describe('logger', () => {
  it('bounds the message and every field value: content from files never makes a huge line', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (l) => void lines.push(l), now: () => 0 });
    const big = 'x'.repeat(10 * 1024 * 1024);
    log.warn(big, { message: big, resource: 'File[/a]', n: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(3 * MAX_LOG_VALUE_CHARS);
    expect(lines[0]).toContain(`(+${big.length - MAX_LOG_VALUE_CHARS} chars)`);
    expect(lines[0]).toContain('resource=File[/a] n=3');
  });
});
