import { describe, expect, it } from 'vitest';
import { formatValue, sanitizeNode, sanitizePath, sanitizeSetMember } from '../names.js';

describe('sanitizePath', () => {
  it.each([
    ['plain.name', 'plain.name'],
    ['with space.x', 'with_space.x'],
    ['colon:x.pipe|y', 'colon_x.pipe_y'],
    ['new\nline', 'new_line'],
    ['a/b', 'a_b'],
    ['tag;k=v', 'tag_k_v'],
    ['ünïcödé.ok', '_n_c_d_.ok'],
    ['a..b', 'a.b'],
    ['.lead.trail.', 'lead.trail'],
    ['#@!', ''],
    ['', ''],
    ['x__y', 'x__y'],
    ['x  y', 'x_y'],
    ['cr\r\nlf', 'cr_lf'],
  ])('%j -> %j', (raw, want) => {
    expect(sanitizePath(raw)).toBe(want);
  });

  it('never produces characters outside [A-Za-z0-9_-.], empty nodes, or leading/trailing dots', () => {
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const len = Math.floor(Math.random() * 30);
      for (let j = 0; j < len; j++) s += String.fromCharCode(Math.floor(Math.random() * 0x300));
      const out = sanitizePath(s);
      expect(out).toMatch(/^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)?$/);
    }
  });

  it('caps node and path lengths', () => {
    expect(sanitizePath('x'.repeat(10_000)).length).toBe(200);
    const long = Array.from({ length: 100 }, () => 'y'.repeat(50)).join('.');
    expect(sanitizePath(long).length).toBeLessThanOrEqual(900);
  });

  it('lone surrogates are replaced (carbon drops the connection on invalid UTF-8)', () => {
    expect(sanitizePath('a\uD800b')).toBe('a_b');
  });
});

describe('sanitizeNode', () => {
  it('turns dots into underscores so a value adds no hierarchy', () => {
    expect(sanitizeNode('web01.example.com')).toBe('web01_example_com');
  });
});

describe('sanitizeSetMember', () => {
  it('replaces statsd separators only', () => {
    expect(sanitizeSetMember('a:b|c\nd#e,f ü')).toBe('a_b_c_d_e_f ü');
  });
});

describe('formatValue', () => {
  it.each([
    [1, '1'],
    [-3, '-3'],
    [0.5, '0.5'],
    [1e21, '1000000000000000000000'],
    [1e-7, '0'],
    [-0, '0'],
    [1.7207819999999998, '1.720782'],
    [0.0000015, '0.000002'],
    [-2.5, '-2.5'],
  ])('%s -> %s', (v, want) => expect(formatValue(v)).toBe(want));

  it('formats whole thousandths (the fast path) exactly as the general rule does', () => {
    // The general rule, without the fast path: round to 6 decimals, shortest text, no exponent.
    const general = (v: number): string => {
      if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
      if (Math.abs(v) >= 1e21) return BigInt(Math.round(v)).toString();
      const r = Math.round(v * 1e6) / 1e6;
      if (r === 0) return '0';
      const t = String(r);
      return t.includes('e') ? r.toFixed(6).replace(/\.?0+$/, '') : t;
    };
    const values: number[] = [];
    for (let k = -1_000_000; k <= 1_000_000; k++) values.push(k / 1000);
    let a = 12345;
    for (let i = 0; i < 200_000; i++) {
      a = (Math.imul(a, 1103515245) + 12345) >>> 0;
      const k = Math.floor((a / 2 ** 32) * 1e12);
      values.push(k / 1000, k / 1000 + 1e-9, -k / 1000, k / 1e6, (k * 100 + 597) / 1000);
    }
    const wrong = values.filter((v) => formatValue(v) !== general(v));
    expect(wrong.slice(0, 5).map((v) => [v, formatValue(v), general(v)])).toEqual([]);
    expect(formatValue(1.234)).toBe('1.234');
    expect(formatValue(-0.05)).toBe('-0.05');
  });
});
