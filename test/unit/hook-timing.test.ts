// PVE_USB_GADGET_TIMING=1: the per-step timing line the bench reads, and its parser.
import { describe, expect, it } from 'vitest';
import { parseTimingLine, stepTimer, TIMING_PREFIX } from '../../src/hook/timing.js';

const clock = (...values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
};

describe('stepTimer', () => {
  it('is silent unless PVE_USB_GADGET_TIMING is exactly 1', () => {
    for (const env of [{}, { PVE_USB_GADGET_TIMING: '0' }, { PVE_USB_GADGET_TIMING: 'yes' }]) {
      const t = stepTimer(env, clock(5));
      t.mark('main');
      expect(t.line()).toBeUndefined();
    }
  });

  it('records each step at the rounded milliseconds since start, in order', () => {
    const t = stepTimer({ PVE_USB_GADGET_TIMING: '1' }, clock(211.6, 260.2, 1204.49));
    t.mark('main');
    t.mark('deps');
    t.mark('end');
    expect(t.line()).toBe(`${TIMING_PREFIX} main=212 deps=260 end=1204`);
  });
});

describe('parseTimingLine', () => {
  it('reads back what stepTimer wrote, from the middle of stderr', () => {
    const t = stepTimer({ PVE_USB_GADGET_TIMING: '1' }, clock(10, 20, 35));
    for (const s of ['main', 'modules', 'end']) t.mark(s);
    const stderr = `pve-usb-gadget[100]: WARNING: something\n${t.line()}\n`;
    expect(parseTimingLine(stderr)).toEqual({ main: 10, modules: 20, end: 35 });
  });

  it('returns undefined when the output has no timing line', () => {
    expect(parseTimingLine('pve-usb-gadget[100]: built pvug-100\n')).toBeUndefined();
  });

  it('skips malformed pairs instead of inventing numbers', () => {
    expect(parseTimingLine(`${TIMING_PREFIX} main=12 bogus deps=x end=40`)).toEqual({ main: 12, end: 40 });
  });
});
