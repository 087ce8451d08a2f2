/**
 * Getting the dummy_hcd.c a candidate names: from kernel.org's stable tree when it answers, else the
 * newest stored file that fits (SourceStore), so an offline node still builds for a stable update of a
 * series it had before. A series ref is resolved to a release through that branch's Makefile first, so
 * every stored file has an exact version.
 */
import type { SourceRef } from './candidates.js';
import { looksLikeDummyHcd, type SourceStore, type StoredSource } from './source-store.js';
import { parseVersion, versionFromMakefile, versionText, type LinuxVersion } from './version.js';

export const KERNEL_ORG_PLAIN = 'https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git/plain';
export const UDC_SOURCE = 'drivers/usb/gadget/udc/dummy_hcd.c';

/** GET a text file; rejects on any failure (network, HTTP status, size) with a short reason. */
export type Download = (url: string) => Promise<string>;

export function httpsDownload(timeoutMs = 30_000, maxBytes = 4 << 20): Download {
  return async (url) => {
    if (!url.startsWith('https://')) throw new Error(`not an https URL: ${url}`);
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err)));
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > maxBytes) throw new Error(`more than ${maxBytes} bytes`);
    return text;
  };
}

export interface Fetched {
  source?: StoredSource;
  /** why nothing was had, when source is undefined; what was used, otherwise */
  detail: string;
}

export async function fetchSource(ref: SourceRef, store: SourceStore, download: Download | undefined, baseUrl = KERNEL_ORG_PLAIN): Promise<Fetched> {
  const wanted: LinuxVersion | undefined = ref.kind === 'release' ? parseVersion(ref.version) : parseVersion(ref.series);
  if (wanted === undefined) return { detail: `not a version: ${JSON.stringify(ref)}` };
  let offline = 'no download';
  if (download !== undefined) {
    try {
      let version = wanted;
      if (ref.kind === 'series') {
        const v = versionFromMakefile(await download(`${baseUrl}/Makefile?h=linux-${ref.series}.y`));
        if (v === undefined) throw new Error(`no version in linux-${ref.series}.y's Makefile`);
        version = v;
      }
      const have = store.get(version);
      if (have) return { source: have, detail: `v${versionText(version)} (stored)` };
      const url = `${baseUrl}/${UDC_SOURCE}?h=v${versionText(version)}`;
      const text = await download(url);
      if (!looksLikeDummyHcd(text)) throw new Error(`${url} is not a dummy_hcd.c`);
      return { source: store.put(version, text, url), detail: `v${versionText(version)} (downloaded)` };
    } catch (err) {
      offline = `download failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  const stored = ref.kind === 'release' ? store.get(wanted) : store.newestOf(wanted);
  if (stored) return { source: stored, detail: `v${versionText(stored.version)} (stored; ${offline})` };
  return { detail: `none stored, ${offline}` };
}
