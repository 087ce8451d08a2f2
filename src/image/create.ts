/**
 * `image create`: a sparse image file holding an MBR with one active FAT32-LBA partition at 1 MiB, a
 * FAT32 filesystem with a label, and optionally files from a directory, a zip, or an unRAID release made
 * bootable. Everything is built in a temporary file next to the target and moved into place at the end,
 * so a failure leaves nothing half-written.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Exec } from '../ports/exec.js';
import { errnoOf } from '../errors.js';
import { ImageError } from './errors.js';
import { FatVolume } from './fat.js';
import { installBootRecord } from './boot-record.js';
import { buildMbr, PARTITION_TYPE_FAT32_LBA } from './mbr.js';
import { checkLabel, copyPayload, formatFat32 } from './mtools.js';
import { parseStaticNetwork, type StaticNetworkInput } from './network-cfg.js';
import { clustersNeeded, scanPayload, type Payload } from './payload.js';
import type { ProgressSink } from './progress.js';
import { checkImageSize, formatSize, MIB, PARTITION_OFFSET_BYTES, PARTITION_START_LBA, SECTOR_BYTES } from './size.js';
import { checkTarget, moveIntoPlace } from './target.js';
import { requireTools, type ToolPaths } from './tools.js';
import { checkUnraidZip, chooseSyslinux, DEBIAN_SYSLINUX, prepareUnraidTree, UNRAID_LABEL, type DebianSyslinux, type SyslinuxChoice } from './unraid.js';
import { extractZip, listZip } from './zip.js';

export const DEFAULT_LABEL = 'USBSTICK';

export interface CreateImageOptions {
  file: string;
  sizeBytes: number;
  /** default USBSTICK; UNRAID (and only that) in unRAID mode */
  label?: string;
  fromDir?: string;
  fromZip?: string;
  /** fromZip is an unRAID release: make it bootable the way unRAID's USB creator does */
  unraid?: { uefi?: boolean; network?: StaticNetworkInput };
  force?: boolean;
}

export interface CreateImageDeps {
  exec: Exec;
  progress: ProgressSink;
  /** one line of information or warning, as it happens */
  log: (line: string) => void;
  /** where tools are looked up (default PATH plus sbin dirs) */
  searchPath?: string;
  debianSyslinux?: DebianSyslinux;
}

export interface ImageLayout {
  sizeBytes: number;
  sectorBytes: number;
  partition: { index: 1; startLba: number; sectors: number; type: number; active: boolean };
  filesystem: { type: 'FAT32'; label: string; clusterBytes: number; clusters: number; volumeId: string };
}

export interface CreateImageResult {
  file: string;
  layout: ImageLayout;
  files: number;
  bytes: number;
  /** unRAID mode: where the boot record came from */
  bootloader?: { source: 'release' | 'debian'; installer: string };
  warnings: string[];
  /** lines to paste into the VM's notes */
  notes: string[];
}

interface Plan {
  target: string;
  label: string;
  tools: ToolPaths;
}

async function plan(opts: CreateImageOptions, deps: CreateImageDeps): Promise<Plan> {
  checkImageSize(opts.sizeBytes);
  if (opts.fromDir !== undefined && opts.fromZip !== undefined) {
    throw new ImageError('give either a directory or a zip to copy from, not both', { fix: 'drop --from-dir or --from-zip' });
  }
  if (opts.unraid && opts.fromZip === undefined) {
    throw new ImageError('unRAID mode needs the release zip', { fix: 'pass --from-zip unRAIDServer-<version>-x86_64.zip (or download one first)' });
  }
  let label = checkLabel(opts.label ?? (opts.unraid ? UNRAID_LABEL : DEFAULT_LABEL));
  if (opts.unraid && label !== UNRAID_LABEL) {
    throw new ImageError(`unRAID boots only from a volume labelled ${UNRAID_LABEL}, not "${label}"`, { key: 'label', fix: 'drop --label' });
  }
  label = opts.unraid ? UNRAID_LABEL : label;
  const target = await checkTarget(opts);
  const needed = ['mkfs.fat', 'mmd', 'mcopy'];
  if (opts.fromZip !== undefined) needed.push('unzip');
  if (opts.unraid) needed.push('mattrib'); // the syslinux installer runs mtools itself
  const tools = await requireTools(needed, deps.searchPath);
  return { target, label, tools };
}

/** Rough minimum for a payload, for the "too small" message: data + FAT overhead + offset + slack. */
function suggestedSize(payloadClusters: number, clusterBytes: number): number {
  const data = payloadClusters * clusterBytes;
  return Math.ceil((data * (1 + 8 / clusterBytes) * 1.03) / MIB) * MIB + 2 * MIB;
}

interface Staged {
  payload?: Payload;
  syslinux?: SyslinuxChoice;
}

/** Extracts and adjusts a zip in a staging dir next to the target, or scans a directory as it is. */
async function stageSource(
  opts: CreateImageOptions,
  ctx: { tools: ToolPaths; staging: () => Promise<string>; say: (l: string) => void; warn: (l: string[]) => void },
  deps: CreateImageDeps,
): Promise<Staged> {
  if (opts.fromDir !== undefined) {
    const from = path.resolve(opts.fromDir);
    if (!(await stat(from).then((s) => s.isDirectory(), () => false))) {
      throw new ImageError(`${from} is not a directory`, { path: from, fix: 'give the directory whose contents go on the stick' });
    }
    return { payload: await scanPayload(from) };
  }
  if (opts.fromZip === undefined) return {};
  const zip = path.resolve(opts.fromZip);
  const names = await listZip(deps.exec, ctx.tools, zip);
  if (opts.unraid) checkUnraidZip(zip, names).warnings.forEach((w) => ctx.warn([`warning: ${w}`]));
  const staging = await ctx.staging();
  ctx.say(`extracting ${path.basename(zip)}`);
  await extractZip(deps.exec, ctx.tools, zip, staging);
  let syslinux: SyslinuxChoice | undefined;
  if (opts.unraid) {
    const network = opts.unraid.network ? parseStaticNetwork(opts.unraid.network) : undefined;
    const prepared = await prepareUnraidTree(staging, { uefi: opts.unraid.uefi ?? true, network });
    prepared.lines.forEach(ctx.say);
    prepared.warnings.forEach((w) => ctx.warn([w]));
    syslinux = await chooseSyslinux(staging, deps.debianSyslinux ?? DEBIAN_SYSLINUX);
    if (syslinux.source === 'debian') ctx.warn(syslinux.lines);
    else syslinux.lines.forEach(ctx.say);
  }
  return { payload: await scanPayload(staging), syslinux };
}

const readerOf = (file: string) => async (offset: number, length: number) => {
  const h = await open(file, 'r');
  try {
    const b = Buffer.alloc(length);
    await h.read(b, 0, length, offset);
    return b;
  } finally {
    await h.close();
  }
};

/** The sparse file with its MBR and an empty FAT32; returns the volume as mkfs.fat made it. */
async function buildEmptyImage(tmp: string, sizeBytes: number, mbr: Buffer, label: string, tools: ToolPaths, deps: CreateImageDeps): Promise<FatVolume> {
  const fh = await open(tmp, 'wx', 0o600).catch((err: unknown) => {
    throw new ImageError(`cannot create a file in ${path.dirname(tmp)}`, { path: path.dirname(tmp), errno: errnoOf(err), cause: err });
  });
  try {
    await fh.truncate(sizeBytes); // sparse: only what is written takes space
    await fh.write(mbr, 0, SECTOR_BYTES, 0);
  } finally {
    await fh.close();
  }
  await formatFat32(deps.exec, tools, tmp, sizeBytes / SECTOR_BYTES - PARTITION_START_LBA, label);
  const vol = await FatVolume.open(readerOf(tmp), PARTITION_OFFSET_BYTES);
  if (!vol || vol.boot.type !== 'FAT32') {
    throw new ImageError(`mkfs.fat did not produce a FAT32 filesystem (${vol?.boot.type ?? 'none found'})`, { path: tmp });
  }
  return vol;
}

export async function createImage(opts: CreateImageOptions, deps: CreateImageDeps): Promise<CreateImageResult> {
  const { target, label, tools } = await plan(opts, deps);
  const dir = path.dirname(target);
  const base = path.basename(target);
  const warnings: string[] = [];
  const say = (line: string) => deps.log(line);
  const warn = (lines: string[]) => {
    warnings.push(lines.join(' ').replace(/!!! /g, ''));
    lines.forEach(say);
  };
  let staging: string | undefined;
  const tmp = path.join(dir, `.${base}.tmp-${randomBytes(4).toString('hex')}`);
  let tmpMayExist = false;
  try {
    const makeStaging = async () => (staging = await mkdtemp(path.join(dir, `.${base}.staging-`)));
    const { payload, syslinux } = await stageSource(opts, { tools, staging: makeStaging, say, warn }, deps);
    const partitionSectors = opts.sizeBytes / SECTOR_BYTES - PARTITION_START_LBA;
    if (payload && payload.bytes > partitionSectors * SECTOR_BYTES) {
      throw new ImageError(`${formatSize(payload.bytes)} of files do not fit a ${formatSize(opts.sizeBytes)} image`, {
        key: 'size',
        fix: `give a size of at least ${formatSize(suggestedSize(Math.ceil(payload.bytes / 4096) + payload.entries.length, 4096))}`,
      });
    }
    const mbr = buildMbr({
      diskSignature: randomBytes(4).readUInt32LE(0) || 1,
      partition: { active: true, type: PARTITION_TYPE_FAT32_LBA, startLba: PARTITION_START_LBA, sectors: partitionSectors },
    });
    tmpMayExist = true;
    const vol = await buildEmptyImage(tmp, opts.sizeBytes, mbr, label, tools, deps);
    if (payload) {
      const need = clustersNeeded(payload, vol.clusterBytes);
      if (need > vol.boot.clusters - 1) {
        throw new ImageError(
          `the files need ${formatSize(need * vol.clusterBytes)} on FAT32 but a ${formatSize(opts.sizeBytes)} image holds ${formatSize((vol.boot.clusters - 1) * vol.clusterBytes)}`,
          { key: 'size', fix: `give a size of at least ${formatSize(suggestedSize(need, vol.clusterBytes))}` },
        );
      }
      await copyPayload(deps.exec, tools, tmp, payload, deps.progress);
    }
    if (syslinux) {
      await installBootRecord(tmp, mbr, syslinux, deps);
      say('MBR boot code written (bytes 0..439; partition table kept)');
    }
    const fsync = await open(tmp, 'r+');
    await fsync.sync().finally(() => fsync.close());
    await moveIntoPlace(tmp, target, opts.force ?? false);
    tmpMayExist = false;
    return {
      file: target,
      layout: {
        sizeBytes: opts.sizeBytes,
        sectorBytes: SECTOR_BYTES,
        partition: { index: 1, startLba: PARTITION_START_LBA, sectors: partitionSectors, type: PARTITION_TYPE_FAT32_LBA, active: true },
        filesystem: {
          type: 'FAT32',
          label,
          clusterBytes: vol.clusterBytes,
          clusters: vol.boot.clusters,
          volumeId: vol.boot.volumeId.toString(16).padStart(8, '0').toUpperCase().replace(/^(.{4})/, '$1-'),
        },
      },
      files: payload?.files ?? 0,
      bytes: payload?.bytes ?? 0,
      bootloader: syslinux && { source: syslinux.source, installer: syslinux.installer },
      warnings,
      notes: ['[usb-gadget]', `image = ${target}`],
    };
  } finally {
    if (tmpMayExist) await rm(tmp, { force: true });
    if (staging) await rm(staging, { recursive: true, force: true });
  }
}
