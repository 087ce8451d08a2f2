/**
 * The `pve-usb-gadget image ...` commands, minus argument parsing: each takes the parsed options (as
 * strings, the way commander hands them over) and the effects, prints lines, and returns its result.
 */
import path from 'node:path';
import type { Exec } from '../ports/exec.js';
import { createImage, type CreateImageResult } from './create.js';
import { ImageError } from './errors.js';
import { createLicenceImage, DEFAULT_LICENCE_SIZE } from './licence.js';
import { formatInspection, inspectImage, type ImageInspection } from './inspect.js';
import type { ProgressSink } from './progress.js';
import { downloadRelease, findRelease, releasesForBranch, unraidReleases, type DownloadResult, type Fetch, type UnraidRelease } from './releases.js';
import { formatSize, parseSize } from './size.js';
import type { DebianSyslinux } from './unraid.js';

/** Sparse files: a generous default costs nothing until written. unRAID keeps its config and plugins on the stick. */
export const DEFAULT_SIZE = '1G';
export const DEFAULT_UNRAID_SIZE = '4G';

export interface ImageCommandDeps {
  exec: Exec;
  fetch: Fetch;
  progress: ProgressSink;
  print: (line: string) => void;
  /** tests only */
  searchPath?: string;
  debianSyslinux?: DebianSyslinux;
}

export interface CreateCommandOptions {
  file: string;
  size?: string;
  label?: string;
  fromDir?: string;
  fromZip?: string;
  unraid?: boolean;
  /** download this unRAID version first (needs branchesUrl) */
  unraidVersion?: string;
  branch?: string;
  branchesUrl?: string;
  /** where downloaded zips go; default: next to the image */
  downloadDir?: string;
  /** false: keep unRAID's EFI- (UEFI boot off) */
  uefi?: boolean;
  staticIp?: string;
  gateway?: string;
  dns?: string;
  force?: boolean;
  /** a licence-only stick for unRAID 7.3+ internal boot (licence.ts) */
  unraidLicence?: boolean;
  keyFile?: string;
}

/** --unraid-licence: label UNRAID and the key file only; the boot-stick options do not apply. */
async function licenceCommand(o: CreateCommandOptions, deps: ImageCommandDeps): Promise<CreateImageResult> {
  const other = (['unraid', 'unraidVersion', 'fromZip', 'fromDir', 'staticIp', 'gateway', 'dns'] as const).filter((k) => o[k] !== undefined && o[k] !== false);
  if (other.length > 0) {
    const flags = other.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new ImageError(`--unraid-licence makes a licence-only stick; ${flags.join(', ')} belong to a boot stick`, { fix: 'drop them, or drop --unraid-licence for a full boot stick (--unraid)' });
  }
  if (o.label !== undefined && o.label.toUpperCase() !== 'UNRAID') {
    throw new ImageError(`unRAID finds its licence stick by the label UNRAID, not "${o.label}"`, { key: 'label', fix: 'drop --label' });
  }
  const r = await createLicenceImage({ file: o.file, sizeBytes: parseSize(o.size ?? DEFAULT_LICENCE_SIZE), keyFile: o.keyFile, force: o.force }, { exec: deps.exec, progress: deps.progress, log: deps.print, searchPath: deps.searchPath });
  for (const line of createSummary(r)) deps.print(line);
  deps.print(r.keyFile ? `  key file: ${r.keyFile}` : '  no key file: unRAID starts a trial on this GUID, or you copy your key to config/ later');
  deps.print('The licence follows the stick\'s GUID: pve-usb-gadget enable <vmid> --image <this file> writes vendor_id, product_id and serial into the notes.');
  return r;
}

export async function imageCreateCommand(o: CreateCommandOptions, deps: ImageCommandDeps): Promise<CreateImageResult> {
  if (o.unraidLicence === true) return licenceCommand(o, deps);
  if (o.keyFile !== undefined) throw new ImageError('--key-file goes with --unraid-licence', { key: 'key-file', fix: 'add --unraid-licence, or copy the key to config/ of a boot stick with --from-dir' });
  const unraid = o.unraid === true || o.unraidVersion !== undefined;
  if ((o.staticIp !== undefined || o.gateway !== undefined || o.dns !== undefined) && !unraid) {
    throw new ImageError('--static-ip, --gateway and --dns only apply to unRAID images', { fix: 'add --unraid' });
  }
  if (o.staticIp !== undefined && o.gateway === undefined) {
    throw new ImageError('--static-ip needs --gateway', { key: 'gateway', fix: 'add --gateway ADDRESS' });
  }
  if ((o.gateway !== undefined || o.dns !== undefined) && o.staticIp === undefined) {
    throw new ImageError('--gateway and --dns need --static-ip (without it unRAID uses DHCP)', { key: 'static-ip', fix: 'add --static-ip ADDRESS/PREFIX' });
  }
  const sizeBytes = parseSize(o.size ?? (unraid ? DEFAULT_UNRAID_SIZE : DEFAULT_SIZE));
  let fromZip = o.fromZip;
  if (o.unraidVersion !== undefined) {
    if (fromZip !== undefined) throw new ImageError('give either --from-zip or an unRAID version to download, not both', { fix: 'drop one of them' });
    if (!o.branchesUrl) throw new ImageError('no unRAID release list URL configured', { key: 'unraid.branches_url', fix: 'set it in the settings' });
    const release = await findRelease({ branchesUrl: o.branchesUrl, version: o.unraidVersion, branch: o.branch, fetch: deps.fetch });
    const dl = await downloadRelease({ release, destDir: o.downloadDir ?? path.dirname(path.resolve(o.file)), fetch: deps.fetch, progress: deps.progress });
    deps.print(`${dl.reused ? 'using already downloaded' : 'downloaded'} ${dl.file} (${formatSize(dl.bytes)}, checksum ok)`);
    fromZip = dl.file;
  }
  const result = await createImage(
    {
      file: o.file,
      sizeBytes,
      label: o.label,
      fromDir: o.fromDir,
      fromZip,
      unraid: unraid
        ? { uefi: o.uefi ?? true, network: o.staticIp !== undefined ? { staticIp: o.staticIp, gateway: o.gateway ?? '', dns: o.dns } : undefined }
        : undefined,
      force: o.force,
    },
    { exec: deps.exec, progress: deps.progress, log: deps.print, searchPath: deps.searchPath, debianSyslinux: deps.debianSyslinux },
  );
  for (const line of createSummary(result)) deps.print(line);
  return result;
}

export function createSummary(r: CreateImageResult): string[] {
  const { partition: p, filesystem: f } = r.layout;
  return [
    `created ${r.file}: ${formatSize(r.layout.sizeBytes)} (sparse)`,
    `  MBR, partition 1: FAT32 LBA (0x0c), active, sectors ${p.startLba}..${p.startLba + p.sectors - 1}`,
    `  FAT32 "${f.label}", volume id ${f.volumeId}, ${f.clusters} clusters of ${formatSize(f.clusterBytes)}`,
    `  ${r.files} files, ${formatSize(r.bytes)} copied${r.bootloader ? `; boot record from ${r.bootloader.source === 'release' ? 'the release' : "Debian's syslinux"}` : ''}`,
    ...(r.warnings.length > 0 ? ['', `${r.warnings.length} warning(s) above; read them before booting.`] : []),
    '',
    'Add to the VM notes:',
    ...r.notes.map((l) => `  ${l}`),
  ];
}

export async function imageInspectCommand(o: { file: string }, deps: Pick<ImageCommandDeps, 'print'>): Promise<ImageInspection> {
  const r = await inspectImage(o.file);
  for (const line of formatInspection(r)) deps.print(line);
  return r;
}

export async function imageReleasesCommand(
  o: { branchesUrl?: string; branch?: string },
  deps: Pick<ImageCommandDeps, 'fetch' | 'print'>,
): Promise<UnraidRelease[]> {
  if (!o.branchesUrl) throw new ImageError('no unRAID release list URL configured', { key: 'unraid.branches_url', fix: 'set it in the settings' });
  const all: UnraidRelease[] = [];
  for (const branch of await unraidReleases({ branchesUrl: o.branchesUrl, fetch: deps.fetch })) {
    if (o.branch && branch.name.toLowerCase() !== o.branch.toLowerCase()) continue;
    const releases = await releasesForBranch({ branch, fetch: deps.fetch });
    deps.print(`${branch.name}:`);
    for (const r of releases) {
      deps.print(`  ${r.version.padEnd(16)} ${(r.date ?? '').padEnd(10)} ${r.size ? formatSize(r.size).padStart(9) : ''}${r.md5 || r.sha256 ? '' : '  (no checksum)'}`);
    }
    if (releases.length === 0) deps.print('  (none)');
    all.push(...releases);
  }
  return all;
}

export async function imageDownloadCommand(
  o: { branchesUrl?: string; version: string; branch?: string; dir: string; force?: boolean },
  deps: Pick<ImageCommandDeps, 'fetch' | 'print' | 'progress'>,
): Promise<DownloadResult> {
  if (!o.branchesUrl) throw new ImageError('no unRAID release list URL configured', { key: 'unraid.branches_url', fix: 'set it in the settings' });
  const release = await findRelease({ branchesUrl: o.branchesUrl, version: o.version, branch: o.branch, fetch: deps.fetch });
  const r = await downloadRelease({ release, destDir: o.dir, fetch: deps.fetch, progress: deps.progress, force: o.force });
  deps.print(`${r.reused ? 'already downloaded' : 'downloaded'}: ${r.file} (${formatSize(r.bytes)}, md5 ${r.md5}, checksum ok)`);
  return r;
}
