/**
 * unRAID release specifics: recognise a release zip, adjust the extracted tree the way unRAID's USB
 * creator does (EFI- → EFI, ldlinux.c32 at the root, static network), and pick the syslinux installer.
 *
 * Syslinux must install ldlinux.sys from the same build as the .c32 modules the release ships (a
 * different patch level fails at "Failed to load ldlinux.c32"), so the release's own Linux installer
 * (`syslinux/syslinux_linux`, the mtools build, which takes --offset and needs no root) is preferred.
 */
import { copyFile, chmod, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ImageError } from './errors.js';
import { applyStaticNetwork, type StaticNetwork } from './network-cfg.js';

export const UNRAID_LABEL = 'UNRAID';

/** Members every unRAID release zip has (compared case-insensitively). */
export const UNRAID_REQUIRED = ['bzimage', 'bzroot', 'syslinux/syslinux.cfg', 'syslinux/ldlinux.c32', 'syslinux/mbr.bin'] as const;

export interface UnraidZipCheck {
  /** the zip has EFI-/ (UEFI boot disabled as shipped) */
  hasEfiDisabled: boolean;
  hasEfi: boolean;
  hasLinuxInstaller: boolean;
  warnings: string[];
}

/** Checks zip member names; throws an ImageError listing what a release should have and lacks. */
export function checkUnraidZip(zip: string, names: readonly string[]): UnraidZipCheck {
  const lower = new Set(names.map((n) => n.toLowerCase().replace(/\/$/, '')));
  const hasDir = (d: string) => [...lower].some((n) => n === d || n.startsWith(`${d}/`));
  const missing = UNRAID_REQUIRED.filter((r) => !lower.has(r));
  if (missing.length > 0) {
    const tops = new Set(names.map((n) => n.split('/')[0]));
    const nested = tops.size === 1 && UNRAID_REQUIRED.every((r) => lower.has(`${[...tops][0]?.toLowerCase()}/${r}`));
    throw new ImageError(
      `${path.basename(zip)} does not look like an unRAID release: missing ${missing.join(', ')}` +
        (nested ? ` at the top level (everything is inside "${[...tops][0]}/")` : ''),
      {
        path: zip,
        fix: nested
          ? 'use the release zip as downloaded (files at the top level), or re-zip the folder contents'
          : 'use an unRAIDServer-<version>-x86_64.zip from unRAID, or drop --unraid for a plain image',
      },
    );
  }
  const hasEfiDisabled = hasDir('efi-');
  const hasEfi = hasDir('efi');
  const warnings: string[] = [];
  if (!hasEfiDisabled && !hasEfi) warnings.push('the release has no EFI- or EFI folder: the image will not boot with UEFI');
  return { hasEfiDisabled, hasEfi, hasLinuxInstaller: lower.has('syslinux/syslinux_linux'), warnings };
}

/** The real (on-disk) name of `name` inside `dir`, matched case-insensitively, or undefined. */
async function findCaseless(dir: string, name: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  return names.find((n) => n === name) ?? names.find((n) => n.toLowerCase() === name.toLowerCase());
}

export async function resolveCaseless(root: string, rel: string): Promise<string | undefined> {
  let cur = root;
  for (const part of rel.split('/')) {
    const real = await findCaseless(cur, part);
    if (!real) return undefined;
    cur = path.join(cur, real);
  }
  return cur;
}

/**
 * Edits the extracted release in `staging` before it is copied: what unRAID's creator does, without
 * touching the zip. Returns lines for the operator.
 */
export async function prepareUnraidTree(
  staging: string,
  opts: { uefi: boolean; network?: StaticNetwork },
): Promise<{ lines: string[]; warnings: string[] }> {
  const lines: string[] = [];
  const warnings: string[] = [];
  const efiDash = await findCaseless(staging, 'EFI-');
  const efi = (await readdir(staging)).find((n) => n.toUpperCase() === 'EFI');
  if (opts.uefi && efiDash && !efi) {
    await rename(path.join(staging, efiDash), path.join(staging, 'EFI'));
    lines.push('UEFI boot enabled: renamed EFI- to EFI');
  } else if (!opts.uefi && efi && !efiDash) {
    await rename(path.join(staging, efi), path.join(staging, 'EFI-'));
    lines.push('UEFI boot disabled: renamed EFI to EFI-');
  } else if (efiDash && efi) {
    warnings.push('warning: the release has both EFI and EFI-; left as they are');
  }
  const ldlinux = await resolveCaseless(staging, 'syslinux/ldlinux.c32');
  if (ldlinux) await copyFile(ldlinux, path.join(staging, 'ldlinux.c32'));
  if (opts.network) {
    const configDir = (await resolveCaseless(staging, 'config')) ?? path.join(staging, 'config');
    await mkdir(configDir, { recursive: true });
    const cfg = (await resolveCaseless(configDir, 'network.cfg')) ?? path.join(configDir, 'network.cfg');
    const before = await readFile(cfg, 'utf8').catch(() => undefined);
    await writeFile(cfg, applyStaticNetwork(before, opts.network));
    const n = opts.network;
    lines.push(`static network: ${n.address}/${n.prefix} gateway ${n.gateway}${n.dns.length ? ` dns ${n.dns.join(',')}` : ''}`);
  }
  return { lines, warnings };
}

export interface ElfFacts {
  elf: boolean;
  x86_64: boolean;
  /** built from syslinux's mtools/ directory: writes through mtools, takes --offset, needs no root */
  mtoolsVariant: boolean;
}

export function elfFacts(bytes: Buffer): ElfFacts {
  const elf = bytes.length > 20 && bytes.readUInt32BE(0) === 0x7f454c46;
  return {
    elf,
    x86_64: elf && bytes[4] === 2 && bytes[5] === 1 && bytes.readUInt16LE(18) === 0x3e,
    mtoolsVariant: elf && bytes.includes('mattrib'),
  };
}

export interface SyslinuxChoice {
  installer: string;
  source: 'release' | 'debian';
  /** file whose first 440 bytes become the MBR boot code */
  mbrBin: string;
  lines: string[];
}

export interface DebianSyslinux {
  /** /usr/bin/syslinux (Debian package syslinux: the mtools build) */
  installer?: string;
  /** /usr/lib/syslinux/modules/bios (syslinux-common) */
  modulesDir: string;
  /** /usr/lib/syslinux/mbr/mbr.bin (syslinux-common) */
  mbrBin: string;
}

export const DEBIAN_SYSLINUX: DebianSyslinux = {
  installer: '/usr/bin/syslinux',
  modulesDir: '/usr/lib/syslinux/modules/bios',
  mbrBin: '/usr/lib/syslinux/mbr/mbr.bin',
};

const usable = (f: ElfFacts) => f.elf && f.x86_64 && f.mtoolsVariant && process.arch === 'x64';

/**
 * The release's own installer when it is a Linux x86-64 mtools build; otherwise Debian's syslinux, and
 * then the release's syslinux/*.c32 and mbr.bin are replaced by Debian's so all parts come from one build.
 */
export async function chooseSyslinux(staging: string, debian: DebianSyslinux): Promise<SyslinuxChoice> {
  const mbrBin = await resolveCaseless(staging, 'syslinux/mbr.bin');
  for (const candidate of ['syslinux/syslinux_linux', 'syslinux/syslinux']) {
    const p = await resolveCaseless(staging, candidate);
    if (!p || !mbrBin) continue;
    if (usable(elfFacts(await readFile(p)))) {
      await chmod(p, 0o700);
      return { installer: p, source: 'release', mbrBin, lines: [`boot record: the release's own syslinux (${candidate})`] };
    }
  }
  const fallbackOk =
    debian.installer !== undefined &&
    (await readFile(debian.installer).then((b) => usable(elfFacts(b)), () => false)) &&
    (await stat(debian.modulesDir).then((s) => s.isDirectory(), () => false)) &&
    (await stat(debian.mbrBin).then((s) => s.isFile(), () => false));
  if (!fallbackOk || !debian.installer) {
    throw new ImageError('the release has no Linux syslinux installer usable without root, and Debian\'s syslinux is not installed', {
      fix: 'apt-get install -y syslinux syslinux-common (used instead of the release\'s own installer)',
    });
  }
  const replaced: string[] = [];
  const sysDir = await resolveCaseless(staging, 'syslinux');
  if (sysDir) {
    for (const name of await readdir(sysDir)) {
      if (!name.toLowerCase().endsWith('.c32')) continue;
      const ours = path.join(debian.modulesDir, name.toLowerCase());
      if (await stat(ours).then((s) => s.isFile(), () => false)) {
        await copyFile(ours, path.join(sysDir, name));
        replaced.push(name);
      }
    }
    await copyFile(debian.mbrBin, path.join(sysDir, 'mbr.bin'));
  }
  await copyFile(path.join(debian.modulesDir, 'ldlinux.c32'), path.join(staging, 'ldlinux.c32'));
  return {
    installer: debian.installer,
    source: 'debian',
    mbrBin: debian.mbrBin,
    lines: [
      '!!! WARNING: this release has no Linux x86-64 mtools syslinux installer (syslinux/syslinux_linux).',
      `!!! Using Debian's ${debian.installer} instead, and replacing the release's syslinux modules`,
      `!!! (${replaced.join(', ') || 'none found'}) and mbr.bin with Debian's, so that ldlinux.sys and the`,
      '!!! modules come from the same syslinux build. BIOS boot of unRAID with these is NOT what unRAID ships;',
      '!!! if it fails, boot with UEFI or use a release that ships syslinux_linux.',
    ],
  };
}
