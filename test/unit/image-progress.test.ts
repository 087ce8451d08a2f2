import { describe, expect, it } from 'vitest';
import { bar, createProgress } from '../../src/image/progress.js';

const sink = (isTTY: boolean) => {
  const written: string[] = [];
  return { out: { write: (s: string) => written.push(s), isTTY, columns: 80 }, written };
};

describe('progress', () => {
  it('draws a bar', () => {
    expect(bar(0.5, 10)).toBe('[#####-----]');
    expect(bar(2, 4)).toBe('[####]');
    expect(bar(-1, 4)).toBe('[----]');
  });

  it('redraws one line on a terminal, only when the text changes, and ends it', () => {
    const { out, written } = sink(true);
    const p = createProgress(out);
    p.start('copying', 1000);
    p.update(500);
    p.update(500);
    p.update(1000);
    p.end();
    expect(written.every((w) => w.startsWith('\r\x1b[K') || w === '\n')).toBe(true);
    expect(written.filter((w) => w.includes(' 50%'))).toHaveLength(1);
    expect(written.at(-1)).toBe('\n');
    expect(written.some((w) => w.includes('100%'))).toBe(true);
  });

  it('prints plain lines every 10 % elsewhere', () => {
    const { out, written } = sink(false);
    const p = createProgress(out);
    p.start('downloading x.zip', 100 * 1024);
    for (let i = 1; i <= 100; i++) p.update(i * 1024);
    p.end();
    expect(written[0]).toBe('downloading x.zip (100 KiB)...\n');
    expect(written.filter((w) => /: \d0% /.test(w))).toHaveLength(9);
    expect(written.at(-1)).toBe('downloading x.zip: done (100 KiB)\n');
    expect(written.join('')).not.toContain('\r');
  });

  it('copes with an unknown total', () => {
    const { out, written } = sink(false);
    const p = createProgress(out);
    p.start('downloading');
    p.update(2048);
    p.end();
    expect(written).toEqual(['downloading...\n', 'downloading: done (2 KiB)\n']);
  });
});
