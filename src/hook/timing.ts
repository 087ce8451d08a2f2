/**
 * PVE_USB_GADGET_TIMING=1 (for `npm run bench`): the hook prints one stderr line at the end with the
 * milliseconds since the process started at which each step finished, e.g.
 * `pve-usb-gadget timing: main=212 deps=260 validated=390 ... end=1204`. Off by default; no effect then.
 * Besides the pre-start steps (deps.checkpoint), `lock-acquired` and `lock-released` (deps.mark) show how
 * long the host lock was held; a run that takes the lock twice keeps the last pair (parseTimingLine).
 */
export interface StepTimer {
  mark(step: string): void;
  /** the timing line, or undefined when timing is off */
  line(): string | undefined;
}

export const TIMING_PREFIX = 'pve-usb-gadget timing:';

/** `now` gives milliseconds since the process started (performance.now() does). */
export function stepTimer(env: NodeJS.ProcessEnv, now: () => number = () => performance.now()): StepTimer {
  if (env.PVE_USB_GADGET_TIMING !== '1') return { mark: () => {}, line: () => undefined };
  const marks: string[] = [];
  return {
    mark: (step) => {
      marks.push(`${step}=${Math.round(now())}`);
    },
    line: () => `${TIMING_PREFIX} ${marks.join(' ')}`,
  };
}

/** Parses a timing line back into step → ms (the bench's side); undefined when `text` holds none. */
export function parseTimingLine(text: string): Record<string, number> | undefined {
  const line = text.split('\n').find((l) => l.startsWith(TIMING_PREFIX));
  if (line === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const pair of line.slice(TIMING_PREFIX.length).trim().split(/\s+/)) {
    const m = /^([a-z-]+)=(\d+)$/.exec(pair);
    if (m?.[1] !== undefined) out[m[1]] = Number(m[2]);
  }
  return out;
}
