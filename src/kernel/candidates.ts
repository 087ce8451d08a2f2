/**
 * Which dummy_hcd.c to try for a kernel, in order. Pure: the kernel's upstream version in, an ordered
 * list of source references out; build-module.ts fetches each and keeps the first that builds with the
 * hrtimer scheduler (a jiffies one only when nothing else builds, with a warning).
 *
 * Why this order (README "Supported kernels"):
 *  1. a long-term series' own newest file (linux-X.Y.y): the kernel's own APIs and every fix;
 *  2. for a series that is not long-term (6.8, 6.14, 6.17, 7.0 ...; they stop getting fixes within
 *     months), the newest long-term series below it that has the hrtimer scheduler: it carries the
 *     2025-26 fixes, and an older file usually uses only APIs the newer kernel still has (6.6 on 6.8);
 *     when an API it uses is gone (from_timer in 6.16, hrtimer_init in 6.17...) it does not build and
 *  3. the series' own newest file comes next;
 *  4. last, the exact upstream version the kernel was made from (vX.Y.Z), which for an end-of-life
 *     series is the same file as 3 and for a brand-new kernel may be the only one that exists.
 */
import { compareVersions, seriesText, versionText, type LinuxVersion } from './version.js';

/** Long-term series (kernel.org "longterm"): extend when kernel.org names a new one. */
export const LONGTERM_SERIES: readonly string[] = ['5.15', '6.1', '6.6', '6.12', '6.18'];

export type SourceRef =
  /** the newest release of a stable branch (kernel.org linux-X.Y.y) */
  | { kind: 'series'; series: string }
  /** exactly this release (kernel.org tag vX.Y.Z) */
  | { kind: 'release'; version: string };

export interface Candidate {
  ref: SourceRef;
  why: string;
}

export const refText = (r: SourceRef): string => (r.kind === 'series' ? `linux-${r.series}.y` : `v${r.version}`);

const seriesVersion = (s: string): LinuxVersion => {
  const [major = 0, minor = 0] = s.split('.').map(Number);
  return { major, minor, patch: 0 };
};

/**
 * Series whose files have the hrtimer scheduler (in their newest release): every series from 6.10 on,
 * and 6.1 / 6.6, which got the backport. 5.15 never did.
 */
export function seriesHasHrtimer(series: string): boolean {
  const v = seriesVersion(series);
  return compareVersions(v, seriesVersion('6.10')) >= 0 || series === '6.1' || series === '6.6';
}

export function sourceCandidates(kernel: LinuxVersion): Candidate[] {
  const own = seriesText(kernel);
  const out: Candidate[] = [];
  const add = (ref: SourceRef, why: string) => {
    if (!out.some((c) => refText(c.ref) === refText(ref))) out.push({ ref, why });
  };
  if (LONGTERM_SERIES.includes(own)) {
    add({ kind: 'series', series: own }, `${own} is a long-term series: its own newest file has its APIs and every fix`);
  } else {
    const below = LONGTERM_SERIES.filter((s) => seriesHasHrtimer(s) && compareVersions(seriesVersion(s), kernel) < 0)
      .sort((a, b) => compareVersions(seriesVersion(b), seriesVersion(a)))[0];
    if (below !== undefined) {
      add({ kind: 'series', series: below }, `${own} is not a long-term series: the newest long-term file below it (${below}) has the latest fixes and usually only APIs ${own} still has`);
    }
    add({ kind: 'series', series: own }, `the newest file of the kernel's own series ${own}`);
  }
  add({ kind: 'release', version: versionText(kernel) }, `exactly the upstream version of the kernel (${versionText(kernel)})`);
  return out;
}
