/**
 * Progress for long steps (download, copy). On a terminal: one redrawn bar line. Elsewhere (a log, a
 * pipe): a plain line every 10 %, so logs stay readable. Driven only by byte counts, never by time.
 */
import { formatSize } from './size.js';

export interface ProgressSink {
  /** a new step; `total` in bytes when known */
  start(label: string, total?: number): void;
  /** bytes done so far in the current step */
  update(done: number): void;
  /** the step is over */
  end(): void;
}

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export const silentProgress: ProgressSink = { start() {}, update() {}, end() {} };

export function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export function createProgress(out: ProgressOutput): ProgressSink {
  return out.isTTY ? ttyProgress(out) : lineProgress(out);
}

function ttyProgress(out: ProgressOutput): ProgressSink {
  let label = '';
  let total: number | undefined;
  let shown = '';
  let active = false;
  const draw = (done: number) => {
    let text: string;
    if (total && total > 0) {
      const pct = Math.floor((Math.min(done, total) / total) * 100);
      const tail = ` ${String(pct).padStart(3)}% ${formatSize(done)} / ${formatSize(total)}`;
      const width = Math.max(10, Math.min(40, (out.columns ?? 80) - label.length - tail.length - 4));
      text = `${label} ${bar(done / total, width)}${tail}`;
    } else {
      text = `${label} ${formatSize(done)}`;
    }
    if (text !== shown) {
      out.write(`\r\x1b[K${text}`);
      shown = text;
    }
  };
  return {
    start(l, t) {
      if (active) out.write('\n');
      label = l;
      total = t;
      shown = '';
      active = true;
      draw(0);
    },
    update(done) {
      if (active) draw(done);
    },
    end() {
      if (!active) return;
      if (total) draw(total);
      out.write('\n');
      active = false;
    },
  };
}

function lineProgress(out: ProgressOutput): ProgressSink {
  let label = '';
  let total: number | undefined;
  let lastStep = -1;
  let last = 0;
  let active = false;
  return {
    start(l, t) {
      label = l;
      total = t;
      lastStep = 0;
      last = 0;
      active = true;
      out.write(`${label}${total ? ` (${formatSize(total)})` : ''}...\n`);
    },
    update(done) {
      if (!active) return;
      last = done;
      if (!total) return;
      const step = Math.floor((Math.min(done, total) / total) * 10);
      if (step > lastStep && step < 10) {
        lastStep = step;
        out.write(`${label}: ${step * 10}% (${formatSize(done)} of ${formatSize(total)})\n`);
      }
    },
    end() {
      if (!active) return;
      out.write(`${label}: done (${formatSize(total ?? last)})\n`);
      active = false;
    },
  };
}
