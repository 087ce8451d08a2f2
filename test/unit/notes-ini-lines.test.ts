import { describe, expect, it } from 'vitest';
import { parseSectionHeader, parseStrictIni, parseValue } from '../../src/notes/ini-lines.js';

describe('parseValue', () => {
  it('cuts an inline comment only after a blank', () => {
    expect(parseValue(' super            ; super | high | full')).toEqual({ value: 'super' });
    expect(parseValue(' /a#b;c ')).toEqual({ value: '/a#b;c' });
    expect(parseValue(' x\t# tab comment')).toEqual({ value: 'x' });
    expect(parseValue(' ; only a comment')).toEqual({ value: '' });
  });

  it('keeps blanks and comment characters inside double quotes', () => {
    expect(parseValue(' "  Stick #1 ; x " ; comment')).toEqual({ value: '  Stick #1 ; x ' });
    expect(parseValue(' "open')).toEqual({ error: 'the quoted value has no closing "' });
    expect(parseValue(' "a" b')).toHaveProperty('error');
  });
});

describe('parseSectionHeader', () => {
  it('tells headers, malformed headers and other lines apart', () => {
    expect(parseSectionHeader(' [ a.b ] ; c')).toBe('a.b');
    expect(parseSectionHeader('[a')).toBeNull();
    expect(parseSectionHeader('[]')).toBeNull();
    expect(parseSectionHeader('[a] b')).toBeNull();
    expect(parseSectionHeader('a = [b]')).toBeUndefined();
  });
});

describe('parseStrictIni', () => {
  it('keeps duplicates, dotted section names and __proto__ as plain data with line numbers', () => {
    const doc = parseStrictIni('[usb-gadget.lun1]\nimage = /a\nIMAGE = /b\n__proto__ = x\n[__proto__]\n', 10);
    expect(doc.problems).toEqual([]);
    expect(doc.sections.map((s) => [s.name, s.line])).toEqual([
      ['usb-gadget.lun1', 10],
      ['__proto__', 14],
    ]);
    expect(doc.sections[0]?.entries).toEqual([
      { key: 'image', value: '/a', line: 11 },
      { key: 'IMAGE', value: '/b', line: 12 },
      { key: '__proto__', value: 'x', line: 13 },
    ]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('reports lines without "=", bad key names and entries before any section', () => {
    const doc = parseStrictIni('top = 1\n[s]\nflag\nbad key = 1\n= v\n[broken\n');
    expect(doc.preamble).toEqual([{ key: 'top', value: '1', line: 1 }]);
    expect(doc.problems.map((p) => [p.line, p.sectionIndex])).toEqual([
      [3, 0],
      [4, 0],
      [5, 0],
      [6, 0],
    ]);
    expect(doc.problems[0]?.message).toContain('expected "key = value"');
    expect(doc.problems[1]?.message).toContain('key name');
    expect(doc.problems[3]?.message).toContain('[name]');
  });

  it('parses a long hostile line in linear time (no regex backtracking)', () => {
    const doc = parseStrictIni(`[s]\nk = ${' '.repeat(200_000)}x${' \t'.repeat(100_000)};`);
    expect(doc.sections[0]?.entries[0]?.value).toBe('x');
  });
});
