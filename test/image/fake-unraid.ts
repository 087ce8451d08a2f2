/**
 * Builds small "unRAID-shaped" release zips from Debian's syslinux files: the layout of a real
 * unRAIDServer-<version>-x86_64.zip (bzimage, bzroot, syslinux/, EFI-/, config/), tiny dummy payloads.
 * Debian's /usr/bin/syslinux is the same mtools build unRAID ships as syslinux/syslinux_linux.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DEBIAN_BIOS = '/usr/lib/syslinux/modules/bios';
export const DEBIAN_MBR = '/usr/lib/syslinux/mbr/mbr.bin';

/** unRAID's mbr.bin is 447 bytes: syslinux's 440-byte MBR code, six zero bytes, then 0x80. */
export function unraidStyleMbrBin(): Buffer {
  return Buffer.concat([readFileSync(DEBIAN_MBR).subarray(0, 440), Buffer.alloc(6), Buffer.from([0x80])]);
}

export const STOCK_NETWORK_CFG = '# Generated network settings\r\nUSE_DHCP="yes"\r\nIPADDR=\r\nNETMASK=\r\nGATEWAY=\r\nBONDING="yes"\r\nBRIDGING="yes"\r\n';

export interface FakeReleaseOptions {
  /** what syslinux/syslinux_linux is: Debian's mtools syslinux, a non-Linux blob, or absent */
  installer?: 'linux' | 'foreign' | 'none';
  /** ship EFI- (as unRAID does) or EFI */
  efiFolder?: 'EFI-' | 'EFI' | 'none';
  /** leave out these members */
  omit?: string[];
  /** put everything under this folder inside the zip */
  nestUnder?: string;
  /** add a symlink config/evil -> /etc/hostname */
  withSymlink?: boolean;
  /** syslinux also talks on the first serial port (for boot tests under QEMU) */
  serialConsole?: boolean;
}

/** Writes the release tree under `work/tree` and returns the zip path `work/name.zip`. */
export function buildFakeUnraidZip(work: string, name: string, o: FakeReleaseOptions = {}): string {
  const top = path.join(work, `${name}-tree`);
  const root = o.nestUnder ? path.join(top, o.nestUnder) : top;
  const put = (rel: string, data: Buffer | string) => {
    if (o.omit?.includes(rel)) return;
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), data);
  };
  put('bzimage', 'not a kernel\n');
  put('bzimage.sha256', '0'.repeat(64));
  put('bzroot', Buffer.alloc(200_000, 7));
  put('bzroot-gui', 'gui\n');
  put('changes.txt', 'Version 0.0.0-test\n');
  put('make_bootable_linux', '#!/bin/sh\nexit 1\n');
  put('config/network.cfg', STOCK_NETWORK_CFG);
  put('config/ident.cfg', 'NAME="Tower"\r\n');
  put('config/go', '#!/bin/bash\r\n/usr/local/sbin/emhttp &\r\n');
  const syslinuxCfg = `${o.serialConsole ? 'serial 0 115200\r\n' : ''}default menu.c32\r\nmenu title Lime Technology, Inc.\r\nprompt 0\r\ntimeout 50\r\nlabel Unraid OS\r\n  menu default\r\n  kernel /bzimage\r\n  append initrd=/bzroot\r\n`;
  put('syslinux/syslinux.cfg', syslinuxCfg);
  for (const m of ['ldlinux.c32', 'menu.c32', 'libutil.c32', 'libcom32.c32', 'mboot.c32']) {
    put(`syslinux/${m}`, readFileSync(path.join(DEBIAN_BIOS, m)));
  }
  put('syslinux/mbr.bin', unraidStyleMbrBin());
  if ((o.installer ?? 'linux') === 'linux') put('syslinux/syslinux_linux', readFileSync('/usr/bin/syslinux'));
  if (o.installer === 'foreign') {
    // a macOS-style binary: what unRAID's syslinux/syslinux is in the USB creator's bundle
    put('syslinux/syslinux', Buffer.concat([Buffer.from([0xcf, 0xfa, 0xed, 0xfe]), Buffer.alloc(1000)]));
  }
  const efi = o.efiFolder ?? 'EFI-';
  if (efi !== 'none') {
    // unRAID's EFI folder: syslinux.efi as the removable-media loader, with its own modules and config
    put(`${efi}/boot/bootx64.efi`, readFileSync('/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi'));
    for (const m of ['ldlinux.e64', 'menu.c32', 'libutil.c32', 'libcom32.c32']) {
      put(`${efi}/boot/${m}`, readFileSync(path.join('/usr/lib/syslinux/modules/efi64', m)));
    }
    put(`${efi}/boot/syslinux.cfg`, syslinuxCfg);
  }
  if (o.withSymlink) symlinkSync('/etc/hostname', path.join(root, 'config', 'evil'));
  const zip = path.join(work, `${name}.zip`);
  // -y stores symlinks as links (as a hostile archive would)
  execFileSync('zip', ['-q', '-X', '-r', '-y', zip, '.'], { cwd: top });
  return zip;
}

