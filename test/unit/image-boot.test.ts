/**
 * The real proof: SeaBIOS in QEMU boots the image — MBR code → active partition → syslinux boot record
 * → ldlinux.sys → syslinux.cfg → menu.c32 — on images made by both installer paths (about 1 s each).
 * Skipped only where QEMU is not installed (it is not a runtime dependency of the product).
 * The UEFI boot (OVMF → EFI/boot/bootx64.efi → menu) takes about 11 s under TCG, so it runs only with
 * PVUG_SLOW_TESTS=1 (and package ovmf installed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImage } from '../../src/image/create.js';
import { silentProgress } from '../../src/image/progress.js';
import { buildFakeUnraidZip } from '../image/fake-unraid.js';
import { recordingExec, requireHostTools } from '../image/host-tools.js';

const haveQemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0;
const OVMF = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const slowUefi = haveQemu && process.env.PVUG_SLOW_TESTS === '1' && existsSync(OVMF);
let work: string;

beforeAll(() => {
  requireHostTools();
  work = mkdtempSync(path.join(tmpdir(), 'pvug-boot-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Boots `img` read-only (snapshot) and resolves with the serial output once `until` shows up. */
function bootUntil(img: string, until: RegExp, limitMs: number, firmware: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const q = spawn(
      'qemu-system-x86_64',
      ['-accel', 'tcg', '-m', '256', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot', ...firmware, '-drive', `file=${img},format=raw,snapshot=on`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const timer = setTimeout(() => {
      q.kill('SIGKILL');
      reject(new Error(`no ${until} on the serial console within ${limitMs} ms; got: ${out.slice(-500)}`));
    }, limitMs);
    q.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      // menus are drawn with cursor moves between characters: match on the text without escapes
      if (until.test(out.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, ''))) {
        clearTimeout(timer);
        q.kill('SIGKILL');
        resolve(out);
      }
    });
    q.on('error', reject);
  });
}

describe.skipIf(!haveQemu)('BIOS boot under QEMU', () => {
  for (const installer of ['linux', 'foreign'] as const) {
    it(`reaches the unRAID syslinux menu (${installer === 'linux' ? "release's installer" : "Debian's fallback"})`, async () => {
      const zip = buildFakeUnraidZip(work, `boot-${installer}`, { installer, serialConsole: true });
      const img = path.join(work, `boot-${installer}.img`);
      await createImage({ file: img, sizeBytes: 64 * 1024 * 1024, fromZip: zip, unraid: {} }, { exec: recordingExec().exec, progress: silentProgress, log: () => {} });
      const serial = await bootUntil(img, /Lime Technology, Inc\.[\s\S]*Unraid OS/, 25_000);
      expect(serial).toMatch(/SYSLINUX \d/);
    }, 40_000);
  }
});

describe.skipIf(!slowUefi)('UEFI boot under QEMU (OVMF)', () => {
  it('reaches the syslinux menu from EFI/boot/bootx64.efi', async () => {
    const zip = buildFakeUnraidZip(work, 'boot-uefi', { serialConsole: true });
    const img = path.join(work, 'boot-uefi.img');
    await createImage({ file: img, sizeBytes: 64 * 1024 * 1024, fromZip: zip, unraid: {} }, { exec: recordingExec().exec, progress: silentProgress, log: () => {} });
    const firmware = ['-machine', 'q35', '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF}`, '-drive', `if=pflash,format=raw,snapshot=on,file=${OVMF_VARS}`];
    const serial = await bootUntil(img, /Press \[Tab\] to edit options/, 50_000, firmware);
    expect(serial).toMatch(/UEFI QEMU HARDDISK/);
  }, 60_000);
});
