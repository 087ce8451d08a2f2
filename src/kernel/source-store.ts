/**
 * The dummy_hcd.c files this node has: one folder per upstream version under
 * /var/lib/pve-usb-gadget/kernel-sources/<version>/ (dummy_hcd.c and `origin`: where it came from).
 * Downloads land here, and so do files an admin gives with --kernel-source, so a kernel upgrade can
 * build offline from what was had before. Never a copy of kernel code in our repository: only on the node.
 */
import type { HostFs } from '../ports/host-fs.js';
import { compareVersions, parseVersion, sameSeries, versionText, type LinuxVersion } from './version.js';

export const SOURCE_STORE = '/var/lib/pve-usb-gadget/kernel-sources';

export interface StoredSource {
  version: LinuxVersion;
  /** host-absolute path of the stored dummy_hcd.c */
  path: string;
  text: string;
  /** a URL or the path it was imported from */
  origin: string;
}

/** Is this text a dummy_hcd.c at all (and not an HTML error page, an empty file, another driver)? */
export function looksLikeDummyHcd(text: string): boolean {
  return text.includes('dummy_hcd') && text.includes('dummy_udc') && text.includes('MODULE_LICENSE');
}

export class SourceStore {
  constructor(
    private readonly fs: HostFs,
    readonly dir: string = SOURCE_STORE,
  ) {}

  put(version: LinuxVersion, text: string, origin: string): StoredSource {
    const dir = `${this.dir}/${versionText(version)}`;
    this.fs.mkdir(dir, { recursive: true, mode: 0o755 });
    this.fs.writeAtomic(`${dir}/dummy_hcd.c`, text, 0o644);
    this.fs.writeAtomic(`${dir}/origin`, `${origin}\n`, 0o644);
    return { version, path: `${dir}/dummy_hcd.c`, text, origin };
  }

  get(version: LinuxVersion): StoredSource | undefined {
    const dir = `${this.dir}/${versionText(version)}`;
    const text = this.fs.readTextIfExists(`${dir}/dummy_hcd.c`);
    if (text === undefined || !looksLikeDummyHcd(text)) return undefined;
    return { version, path: `${dir}/dummy_hcd.c`, text, origin: (this.fs.readTextIfExists(`${dir}/origin`) ?? 'unknown').trim() };
  }

  /** every stored version, newest first */
  versions(): LinuxVersion[] {
    return this.fs
      .list(this.dir)
      .map((n) => parseVersion(n))
      .filter((v): v is LinuxVersion => v !== undefined && this.fs.exists(`${this.dir}/${versionText(v)}/dummy_hcd.c`))
      .sort((a, b) => compareVersions(b, a));
  }

  /** the newest stored file of a series ("6.6") */
  newestOf(series: LinuxVersion): StoredSource | undefined {
    const v = this.versions().find((x) => sameSeries(x, series));
    return v === undefined ? undefined : this.get(v);
  }
}
