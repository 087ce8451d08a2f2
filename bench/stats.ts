/** Pure helpers for `npm run bench`: median and spread of repeated runs, and the hook's time shares. */

export interface Stat {
  n: number;
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, in percent: how far the runs of one figure lie apart */
  spreadPct: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function stat(values: readonly number[]): Stat {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN, spreadPct: Number.NaN };
  const med = median(finite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  return { n: finite.length, median: med, min, max, spreadPct: med === 0 ? 0 : ((max - min) / med) * 100 };
}

/** a / b of two medians; NaN when either is missing */
export function ratio(a: Stat, b: Stat): number {
  return a.n > 0 && b.n > 0 && b.median !== 0 ? a.median / b.median : Number.NaN;
}

/**
 * Where a pre-start's wall time goes, from the hook's timing marks (ms since its process started, see
 * src/hook/timing.ts) and the wall time the caller measured (spawn to exit).
 */
export interface PreStartShares {
  /** node itself and the hook bundle (compile + module evaluation), until main() runs */
  nodeStartup: number;
  /** settings, secret, CA, state folder */
  setup: number;
  /** GET the VM config (notes) and the USB mapping upkeep */
  api: number;
  /** host lock, leftovers of an earlier run, validation and image policy around them */
  lockAndChecks: number;
  /** modprobe (cold) or the loaded check (warm) */
  modules: number;
  /** state record, quirk, configfs writes, UDC bind */
  configfs: number;
  /** bound → the host has enumerated the gadget */
  enumeration: number;
  /** lock release, syslog copy (logger), process exit */
  finish: number;
}

export const SHARE_NAMES: Record<keyof PreStartShares, string> = {
  nodeStartup: 'Node start-up + bundle load',
  setup: 'settings, secret, CA',
  api: 'Proxmox API calls',
  lockAndChecks: 'host lock, leftovers, checks',
  modules: 'module loading',
  configfs: 'state, quirk, configfs, bind',
  enumeration: 'waiting for enumeration',
  finish: 'unlock, syslog copy, exit',
};

/**
 * Marks: main, deps, validated, cleaned, modules, recorded, quirk, configfs, bound, enumerated, mapping,
 * done, end. `validated` comes after the API read of the VM config; the notes check before it is tiny.
 */
export function preStartShares(t: Record<string, number>, wallMs: number): PreStartShares | undefined {
  const need = ['main', 'deps', 'validated', 'cleaned', 'modules', 'bound', 'enumerated', 'end'];
  if (!need.every((k) => typeof t[k] === 'number')) return undefined;
  const g = (k: string) => t[k]!;
  const mapping = t.mapping ?? g('enumerated');
  return {
    nodeStartup: g('main'),
    setup: g('deps') - g('main'),
    api: g('validated') - g('deps') + (mapping - g('enumerated')),
    lockAndChecks: g('cleaned') - g('validated'),
    modules: g('modules') - g('cleaned'),
    configfs: g('bound') - g('modules'),
    enumeration: g('enumerated') - g('bound'),
    finish: wallMs - mapping,
  };
}

/**
 * How long a pre-start held the host lock (marks lock-acquired, lock-released: src/hook/pre-start.ts
 * withLock): the part of it other VMs' starts wait for. NaN when the run has no such marks (an older hook).
 */
export function lockHeldMs(t: Record<string, number> | undefined): number {
  const from = t?.['lock-acquired'];
  const to = t?.['lock-released'];
  return from !== undefined && to !== undefined ? to - from : Number.NaN;
}

/** Median of each share over several pre-starts. */
export function medianShares(all: readonly PreStartShares[]): PreStartShares | undefined {
  if (all.length === 0) return undefined;
  const keys = Object.keys(SHARE_NAMES) as (keyof PreStartShares)[];
  return Object.fromEntries(keys.map((k) => [k, median(all.map((s) => s[k]))])) as unknown as PreStartShares;
}
