import type { NotesProblem } from '../errors.js';

/** At most this many problems are kept; a last one says how many more there were. */
export const MAX_PROBLEMS = 50;

/** Collects problems in order of their line in the notes (problems without a line come first). */
export class ProblemCollector {
  private readonly items: { key: string; message: string; line: number; order: number }[] = [];

  add(key: string, message: string, line = 0): void {
    this.items.push({ key, message: line > 0 ? `line ${line}: ${message}` : message, line, order: this.items.length });
  }

  get size(): number {
    return this.items.length;
  }

  /** Keys that already have a problem (so "is required" is not said on top of "is invalid"). */
  has(key: string): boolean {
    return this.items.some((p) => p.key === key);
  }

  list(): NotesProblem[] {
    const sorted = [...this.items].sort((a, b) => a.line - b.line || a.order - b.order);
    const kept: NotesProblem[] = sorted.slice(0, MAX_PROBLEMS).map(({ key, message }) => ({ key, message }));
    if (sorted.length > MAX_PROBLEMS) {
      kept.push({
        key: 'usb-gadget',
        message: `${sorted.length - MAX_PROBLEMS} more problems not shown; fix the ones above first`,
      });
    }
    return kept;
  }
}
