import { describe, expect, it } from 'vitest';
import { countLogLevelsInBlock, countLogLevelsInBytes, failedEntryChunks, splitRootBlocks } from '../report-blocks.js';

/** Log blocks as Psych writes them, and as a hostile or odd file might. */
const LOG_BLOCKS = [
  "logs:\n- level: notice\n  message: ok\n- level: err\n  message: 'level: warning'\n  source: x\n- level: 'info'\n- level: \"debug\"  \n",
  'logs:\n- !ruby/object:Puppet::Util::Log\n  level: :notice\n  message: m\n- level: warning\n  message: |-\n    multi\n    line\n  level: deep\n',
  // Continuations at other indents, a level that is not a word, `level:` without its space.
  'logs:\n- level: notice\n   level: warning\n    level: err\n- level: not a word\n- level:err\n-  level: crit\n',
  // Other line terminators the multiline RegExp honours: the bytes path defers to it.
  'logs:\n- level: notice\r- level: err\r\n  message: a\u2028- level: warning\n',
  // The block's very first bytes, and no newline at the end.
  '- level: alert\n- level: emerg',
  'logs:\n  level: info\n- level: notice ünïcode\n- message: ✓\n  level: err\n',
];

describe('puppet report blocks from bytes', () => {
  it('log levels from the bytes equal the pattern over the decoded block', () => {
    for (const text of LOG_BLOCKS) {
      expect(countLogLevelsInBytes(Buffer.from(text)), JSON.stringify(text)).toEqual(countLogLevelsInBlock(text));
    }
    // The fixtures do count something, in both: the comparison is not of two empty results.
    expect(countLogLevelsInBytes(Buffer.from(LOG_BLOCKS[0]!))).toEqual({ notice: 1, err: 1, info: 1, debug: 1 });
  });

  it('root blocks are byte offsets; anything but a Psych layout at column 0 is refused', () => {
    const text = '---\nhost: h\nlogs:\n- level: x\nmetrics:\n  a: 1\n...\n';
    const b = splitRootBlocks(Buffer.from(text));
    expect([...(b?.keys() ?? [])]).toEqual(['host', 'logs', 'metrics']);
    expect(text.slice(b!.get('logs')!.start, b!.get('logs')!.end)).toBe('logs:\n- level: x\n');
    for (const bad of ['{"host": "h"}\n', '---', 'host: h\n\tmetrics: 1\n', 'host: h\nhost: again\n', 'hôst: h\n', '  host: h\n']) {
      expect(splitRootBlocks(Buffer.from(bad)), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('failed entries are cut out in order, each once, both flags found', () => {
    const block =
      'resource_statuses:\n  Exec[a]:\n    title: a\n    failed: true\n    events: []\n  File[b]:\n    failed: false\n' +
      '  Service[c]:\n    failed_to_restart: true\n    failed: true\n  Exec[d]:\n    failed: true\n';
    expect(failedEntryChunks(Buffer.from(block))).toEqual([
      '  Exec[a]:\n    title: a\n    failed: true\n    events: []\n',
      '  Service[c]:\n    failed_to_restart: true\n    failed: true\n',
      '  Exec[d]:\n    failed: true\n',
    ]);
  });
});
